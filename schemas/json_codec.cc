// CloudEvents JSON codec: DecodeJsonEvent, DecodeBinaryModeEvent,
// EncodeJsonEvent.
//
// Decoding parses with a thread_local simdjson DOM parser (its buffers are
// reused, so a warm decoder allocates only the Event's own strings), then
// checks rules in a fixed order and reports the first violation:
//   1. size limit, 2. JSON syntax, 3. top-level names (unknown/duplicate, in
//   document order), 4. envelope attributes in the order specversion, id,
//   source, type, subject, time, schemaversion, datacontenttype, data,
//   5. data: unknown/duplicate field names (document order), then each field
//   in struct order (schemas/event_fields.h), then whole-object rules,
//   6. reference events: subject == entity id.
#include <simdjson.h>

#include <array>
#include <cassert>
#include <cmath>
#include <new>
#include <string>
#include <string_view>

#include "schemas/catalog.h"
#include "schemas/codec.h"
#include "schemas/event_fields.h"
#include "schemas/json_text.h"

namespace jiritsu {
namespace {

namespace dom = simdjson::dom;
using fields::IntRule;
using fields::NumRule;
using fields::Presence;
using fields::Str;

// ---- value rules -----------------------------------------------------------

constexpr std::array<bool, 256> MakeIdCharTable() {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (char c : std::string_view("._:@-")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
constexpr std::array<bool, 256> kIdChar = MakeIdCharTable();

bool IsId(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdChars) return false;
  for (unsigned char c : s) {
    if (!kIdChar[c]) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// FY2025 | 2025Q3 | 2025-07
bool IsPeriod(std::string_view s) {
  if (s.size() == 6 && s.substr(0, 2) == "FY") return AllDigits(s.substr(2));
  if (s.size() == 6 && s[4] == 'Q') return AllDigits(s.substr(0, 4)) && s[5] >= '1' && s[5] <= '4';
  if (s.size() == 7 && s[4] == '-' && AllDigits(s.substr(0, 4)) && AllDigits(s.substr(5))) {
    const int month = (s[5] - '0') * 10 + (s[6] - '0');
    return month >= 1 && month <= 12;
  }
  return false;
}

bool FitsTextLimit(std::string_view s) {
  // Bytes >= code points, so the count is needed only for long strings.
  return s.size() <= kMaxTextChars || json_text::CountCodePoints(s) <= kMaxTextChars;
}

bool CheckString(std::string_view s, Str rule) {
  switch (rule) {
    case Str::kId: return IsId(s);
    case Str::kText: return FitsTextLimit(s);
    case Str::kNonEmptyText: return !s.empty() && FitsTextLimit(s);
    case Str::kPeriod: return IsPeriod(s);
    case Str::kMetric: return IsKpiMetricName(s);
    case Str::kPersonalText:
      return HasSealedPrefix(s) ? IsWellFormedSealed(s) : FitsTextLimit(s);
    case Str::kPersonalNonEmptyText:
      return HasSealedPrefix(s) ? IsWellFormedSealed(s) : !s.empty() && FitsTextLimit(s);
  }
  return false;
}

std::string JoinNames(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out.push_back('|');
    out.append(n);
  }
  return out;
}

void AppendStringRule(std::string* out, Str rule) {
  switch (rule) {
    case Str::kId:
      out->append("must be an id matching ").append(kIdPattern);
      return;
    case Str::kText: out->append("must be a string of at most 4000 characters"); return;
    case Str::kNonEmptyText: out->append("must be a string of 1..4000 characters"); return;
    case Str::kPeriod: out->append("must be a period FYyyyy, yyyyQn or yyyy-mm"); return;
    case Str::kPersonalText:
      out->append("must be a string of at most 4000 characters (or a sealed value)");
      return;
    case Str::kPersonalNonEmptyText:
      out->append("must be a string of 1..4000 characters (or a sealed value)");
      return;
    case Str::kMetric: {
      static const std::string kMetrics = JoinNames(kKpiMetricNames);
      out->append("must be one of ").append(kMetrics);
      return;
    }
  }
}

// RFC 3986 URI-reference characters ('%' handled separately).
constexpr std::array<bool, 256> MakeUriCharTable() {
  std::array<bool, 256> table{};
  for (char c : std::string_view(
           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=")) {
    table[static_cast<unsigned char>(c)] = true;
  }
  return table;
}
constexpr std::array<bool, 256> kUriChar = MakeUriCharTable();

// '%' must start a percent-encoding.
bool IsUriReference(std::string_view s) {
  const auto is_hex = [](char c) {
    return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!kUriChar[static_cast<unsigned char>(c)]) {
      return false;
    }
  }
  return true;
}

// CloudEvents extension attribute names: lowercase letters and digits.
bool IsExtensionName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || IsDigit(c))) return false;
  }
  return true;
}

// ---- error messages --------------------------------------------------------

// "an array of 3", "an object", "\"lunch\"", "7", "null".
void AppendDisplay(std::string* out, dom::element e) {
  switch (e.type()) {
    case dom::element_type::ARRAY:
      out->append("an array of ");
      json_text::AppendUint(out, e.get_array().value_unsafe().size());
      return;
    case dom::element_type::OBJECT: out->append("an object"); return;
    case dom::element_type::INT64: json_text::AppendInt(out, e.get_int64().value_unsafe()); return;
    case dom::element_type::UINT64:
      json_text::AppendUint(out, e.get_uint64().value_unsafe());
      return;
    case dom::element_type::DOUBLE:
      json_text::AppendDouble(out, e.get_double().value_unsafe());
      return;
    case dom::element_type::STRING:
      json_text::AppendDisplayString(out, e.get_string().value_unsafe());
      return;
    case dom::element_type::BOOL: out->append(e.get_bool().value_unsafe() ? "true" : "false"); return;
    case dom::element_type::NULL_VALUE: out->append("null"); return;
  }
}

// Field names are shown raw when plain, else quoted ("data.\"a b\"").
void AppendName(std::string* out, std::string_view name) {
  bool plain = !name.empty() && name.size() <= 64;
  for (char c : name) {
    if (!(kIdChar[static_cast<unsigned char>(c)] || c == '_') || c == '.') plain = false;
  }
  if (plain) {
    out->append(name);
  } else {
    json_text::AppendDisplayString(out, name);
  }
}

std::string PathOf(std::string_view prefix, std::string_view name) {
  std::string path;
  path.reserve(prefix.size() + name.size() + 1);
  path.append(prefix);
  if (!prefix.empty()) path.push_back('.');
  AppendName(&path, name);
  return path;
}

// "<path>: <rule>, got <value>".
Status RuleError(std::string path, std::string_view rule, dom::element got) {
  path.append(": ").append(rule).append(", got ");
  AppendDisplay(&path, got);
  return InvalidArgument(std::move(path));
}

Status RuleErrorText(std::string path, std::string_view rule, std::string_view got_string) {
  path.append(": ").append(rule).append(", got ");
  json_text::AppendDisplayString(&path, got_string);
  return InvalidArgument(std::move(path));
}

Status Bare(std::string path, std::string_view what) {
  path.append(": ").append(what);
  return InvalidArgument(std::move(path));
}

// ---- numbers ---------------------------------------------------------------

bool GetNumber(dom::element e, double* out) {
  switch (e.type()) {
    case dom::element_type::INT64:
      *out = static_cast<double>(e.get_int64().value_unsafe());
      return true;
    case dom::element_type::UINT64:
      *out = static_cast<double>(e.get_uint64().value_unsafe());
      return true;
    case dom::element_type::DOUBLE:
      *out = e.get_double().value_unsafe() + 0.0;  // -0 -> +0: one canonical zero
      return true;
    default: return false;
  }
}

// Integers, also written as integral doubles ("3.0"), as JSON Schema's
// "integer" accepts them. Values beyond int64 fail (and fail every rule).
bool GetInteger(dom::element e, int64_t* out) {
  switch (e.type()) {
    case dom::element_type::INT64: *out = e.get_int64().value_unsafe(); return true;
    case dom::element_type::DOUBLE: {
      const double d = e.get_double().value_unsafe();
      if (!(d >= -9.2e18 && d <= 9.2e18) || d != std::trunc(d)) return false;
      *out = static_cast<int64_t>(d);
      return true;
    }
    default: return false;
  }
}

// ---- the data decoder (a field visitor, see event_fields.h) ----------------

class JsonFieldReader {
 public:
  JsonFieldReader(std::string_view prefix, dom::object object,
                  std::span<const std::string_view> names)
      : prefix_(prefix), object_(object), names_(names) {
    assert(names.size() <= fields::kMaxFieldsPerStruct);
  }

  const Status& status() const { return status_; }

  // Pass 1: every member must be a known, not repeated field (document order).
  bool Scan() {
    for (dom::key_value_pair member : object_) {
      size_t index = 0;
      while (index < names_.size() && names_[index] != member.key) ++index;
      if (index == names_.size()) {
        status_ = Bare(PathOf(prefix_, member.key), "unknown field");
        return false;
      }
      if (present_[index]) {
        status_ = Bare(PathOf(prefix_, member.key), "duplicate field");
        return false;
      }
      present_[index] = true;
      slots_[index] = member.value;
    }
    return true;
  }

  // Pass 2: the visitor methods, called in the order of `names`.
  void String(std::string_view name, std::string* out, Str rule, Presence presence,
              std::string_view) {
    dom::element e;
    if (!Next(name, presence, &e)) return;
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS || !CheckString(s, rule)) {
      std::string text;
      AppendStringRule(&text, rule);
      status_ = RuleError(PathOf(prefix_, name), text, e);
      return;
    }
    out->assign(s);
  }

  void OptString(std::string_view name, std::optional<std::string>* out, Str rule,
                 std::string_view doc) {
    std::string value;
    const size_t index = next_;
    String(name, &value, rule, fields::kOptional, doc);
    if (status_.ok() && present_[index]) *out = std::move(value);
  }

  void Int(std::string_view name, int32_t* out, IntRule rule, Presence presence,
           std::string_view) {
    dom::element e;
    if (!Next(name, presence, &e)) return;
    int64_t v = 0;
    if (!GetInteger(e, &v) || v < rule.lo || v > rule.hi) {
      std::string text;
      if (rule.positional) {
        text.append("must be ");
        json_text::AppendInt(&text, rule.lo);
        text.append(" (steps are numbered 1..n in order)");
      } else {
        text.append("must be an integer ");
        json_text::AppendInt(&text, rule.lo);
        text.append("..");
        json_text::AppendInt(&text, rule.hi);
      }
      status_ = RuleError(PathOf(prefix_, name), text, e);
      return;
    }
    *out = static_cast<int32_t>(v);
  }

  void OptInt(std::string_view name, std::optional<int32_t>* out, IntRule rule,
              std::string_view doc) {
    int32_t value = 0;
    const size_t index = next_;
    Int(name, &value, rule, fields::kOptional, doc);
    if (status_.ok() && present_[index]) *out = value;
  }

  void Number(std::string_view name, double* out, NumRule rule, Presence presence,
              std::string_view) {
    dom::element e;
    if (!Next(name, presence, &e)) return;
    double v = 0;
    if (!GetNumber(e, &v) || (rule.bounded && (v < rule.lo || v > rule.hi))) {
      std::string text = "must be a number";
      if (rule.bounded) {
        text.push_back(' ');
        json_text::AppendDouble(&text, rule.lo);
        text.append("..");
        json_text::AppendDouble(&text, rule.hi);
      }
      status_ = RuleError(PathOf(prefix_, name), text, e);
      return;
    }
    *out = v;
  }

  void OptNumber(std::string_view name, std::optional<double>* out, NumRule rule,
                 std::string_view doc) {
    double value = 0;
    const size_t index = next_;
    Number(name, &value, rule, fields::kOptional, doc);
    if (status_.ok() && present_[index]) *out = value;
  }

  void Bool(std::string_view name, bool* out, Presence presence, std::string_view) {
    dom::element e;
    if (!Next(name, presence, &e)) return;
    if (e.get_bool().get(*out) != simdjson::SUCCESS) {
      status_ = RuleError(PathOf(prefix_, name), "must be true or false", e);
    }
  }

  template <class E>
  void Enum(std::string_view name, E* out, std::span<const std::string_view> names,
            Presence presence, std::string_view) {
    dom::element e;
    if (!Next(name, presence, &e)) return;
    std::string_view s;
    if (e.get_string().get(s) == simdjson::SUCCESS) {
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == s) {
          *out = static_cast<E>(i);
          return;
        }
      }
    }
    status_ = RuleError(PathOf(prefix_, name), "must be one of " + JoinNames(names), e);
  }

  void IdList(std::string_view name, std::vector<std::string>* out, std::string_view) {
    dom::element e;
    if (!Next(name, fields::kOptional, &e)) return;
    dom::array array;
    if (e.get_array().get(array) != simdjson::SUCCESS || array.size() > kMaxRequiredCourses) {
      status_ = RuleError(PathOf(prefix_, name), "must be an array of at most 100 ids", e);
      return;
    }
    out->reserve(array.size());
    size_t i = 0;
    for (dom::element item : array) {
      std::string_view id;
      if (item.get_string().get(id) != simdjson::SUCCESS || !IsId(id)) {
        std::string rule;
        AppendStringRule(&rule, Str::kId);
        status_ = RuleError(ItemPath(name, i), rule, item);
        return;
      }
      for (const std::string& earlier : *out) {
        if (earlier == id) {
          status_ = RuleErrorText(ItemPath(name, i), "must be unique", id);
          return;
        }
      }
      out->emplace_back(id);
      ++i;
    }
  }

  void Steps(std::string_view name, std::vector<ProgramStep>* out, std::string_view) {
    dom::element e;
    if (!Next(name, fields::kRequired, &e)) return;
    dom::array array;
    if (e.get_array().get(array) != simdjson::SUCCESS || array.size() == 0 ||
        array.size() > static_cast<size_t>(kMaxProgramSteps)) {
      status_ = RuleError(PathOf(prefix_, name), "must be an array of 1..9 steps", e);
      return;
    }
    out->reserve(array.size());
    int32_t position = 1;
    for (dom::element item : array) {
      const std::string item_path = ItemPath(name, static_cast<size_t>(position - 1));
      dom::object object;
      if (item.get_object().get(object) != simdjson::SUCCESS) {
        status_ = RuleError(item_path, "must be an object", item);
        return;
      }
      JsonFieldReader reader(item_path, object, fields::FieldNames<ProgramStep>());
      ProgramStep& step = out->emplace_back();
      if (reader.Scan()) fields::VisitFields(reader, step, position);
      if (!reader.status().ok()) {
        status_ = reader.status();
        return;
      }
      ++position;
    }
  }

  void AtLeastOne(std::span<const std::string_view> names, bool satisfied) {
    if (!status_.ok() || satisfied) return;
    std::string rule = "must contain at least one of ";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i > 0) rule.append(", ");
      rule.append(names[i]);
    }
    status_ = Bare(std::string(prefix_), rule);
  }

 private:
  // Moves to the next field; false when there is nothing to read (absent, or
  // an error was recorded).
  bool Next(std::string_view name, Presence presence, dom::element* e) {
    const size_t index = next_++;
    assert(index < names_.size() && names_[index] == name);
    if (!status_.ok()) return false;
    if (!present_[index]) {
      if (presence.mode == Presence::kRequired) {
        status_ = presence.when_kind.empty()
                      ? Bare(PathOf(prefix_, name), "required")
                      : Bare(PathOf(prefix_, name),
                             "required when kind is " + std::string(presence.when_kind));
      }
      return false;
    }
    if (presence.mode == Presence::kForbidden) {
      status_ = RuleError(PathOf(prefix_, name),
                          "must be absent when kind is " + std::string(presence.when_kind),
                          slots_[index]);
      return false;
    }
    *e = slots_[index];
    return true;
  }

  std::string ItemPath(std::string_view name, size_t index) const {
    std::string path = PathOf(prefix_, name);
    path.push_back('[');
    json_text::AppendUint(&path, index);
    path.push_back(']');
    return path;
  }

  std::string_view prefix_;
  dom::object object_;
  std::span<const std::string_view> names_;
  std::array<dom::element, fields::kMaxFieldsPerStruct> slots_{};
  std::array<bool, fields::kMaxFieldsPerStruct> present_{};
  size_t next_ = 0;
  Status status_;
};

// Upcast hook: decodes `data` written with schema `version` of T into the
// current struct. Only version 1 exists, so it reads T directly. When T's
// shape changes: bump kCurrentSchemaVersion, keep the old shape as a TV1
// struct with its own VisitFields, read that here for version 1 and convert
// it (Upcast(TV1) -> T); the binary codec has the same hook.
template <class T>
Status ReadJsonData(uint32_t version, dom::object object, EventData* out) {
  switch (version) {
    case 1: {
      T& value = out->emplace<T>();
      JsonFieldReader reader("data", object, fields::FieldNames<T>());
      if (reader.Scan()) fields::VisitFields(reader, value);
      return reader.status();
    }
    default: break;
  }
  return Internal("no reader for schema version of " + std::to_string(version));
}

// ---- the envelope ----------------------------------------------------------

// One envelope attribute as received: absent, a string, or (structured mode
// only) some other JSON value.
struct Attr {
  enum Kind : uint8_t { kAbsent, kString, kOther };
  Kind kind = kAbsent;
  bool from_header = false;  // binary mode: `element` is unset
  std::string_view text;     // kString
  dom::element element;      // structured mode only

  static Attr FromElement(dom::element e) {
    Attr a;
    a.element = e;
    a.kind = e.get_string().get(a.text) == simdjson::SUCCESS ? kString : kOther;
    return a;
  }
  static Attr FromHeader(std::string_view value) {
    Attr a;
    a.from_header = true;
    if (!value.empty()) {
      a.kind = kString;
      a.text = value;
    }
    return a;
  }
};

Status AttrError(std::string_view name, std::string_view rule, const Attr& a) {
  if (a.kind == Attr::kOther) return RuleError(std::string(name), rule, a.element);
  return RuleErrorText(std::string(name), rule, a.text);
}

enum AttrIndex : uint8_t {
  kSpecVersion,
  kId,
  kSource,
  kType,
  kSubject,
  kTime,
  kSchemaVersion,
  kDataContentType,
  kData,
  kAttrCount,
};
constexpr std::array<std::string_view, kAttrCount> kAttrNames = {
    "specversion", "id",   "source",        "type", "subject",
    "time",        "schemaversion", "datacontenttype", "data"};

// Index of a known attribute name, or kAttrCount. Dispatches on the first
// byte so that each member costs at most one comparison (hot path).
size_t AttrIndexOf(std::string_view key) {
  if (key.empty()) return size_t{kAttrCount};
  size_t candidate = size_t{kAttrCount};
  switch (key[0]) {
    case 'i': candidate = kId; break;
    case 't': candidate = key.size() == 4 && key[1] == 'y' ? kType : kTime; break;
    case 'd': candidate = key.size() == 4 ? kData : kDataContentType; break;
    case 's':
      candidate = key.size() == 11   ? kSpecVersion
                  : key.size() == 6  ? kSource
                  : key.size() == 7  ? kSubject
                                     : kSchemaVersion;
      break;
    default: return size_t{kAttrCount};
  }
  return kAttrNames[candidate] == key ? candidate : size_t{kAttrCount};
}

// Checks attributes 1..8 (everything but data) and fills the envelope part of
// `event`; `*version` receives the schema version the data was written with.
Status ValidateEnvelope(const std::array<Attr, kAttrCount>& attrs, Event* event,
                        uint32_t* version) {
  const Attr& spec = attrs[kSpecVersion];
  if (spec.kind == Attr::kAbsent) return Bare("specversion", "required");
  if (spec.kind != Attr::kString || spec.text != "1.0") {
    return AttrError("specversion", "must be \"1.0\"", spec);
  }

  const Attr& id = attrs[kId];
  if (id.kind == Attr::kAbsent) return Bare("id", "required");
  if (id.kind != Attr::kString || id.text.empty() ||
      (id.text.size() > kMaxEventIdChars &&
       json_text::CountCodePoints(id.text) > kMaxEventIdChars)) {
    return AttrError("id", "must be a string of 1..256 characters", id);
  }
  event->id.assign(id.text);

  const Attr& source = attrs[kSource];
  if (source.kind == Attr::kAbsent) return Bare("source", "required");
  if (source.kind != Attr::kString || source.text.empty() ||
      source.text.size() > kMaxSourceChars || !IsUriReference(source.text)) {
    return AttrError("source", "must be a URI-reference of 1..1024 characters", source);
  }
  event->source.assign(source.text);

  const Attr& type = attrs[kType];
  if (type.kind == Attr::kAbsent) return Bare("type", "required");
  if (type.kind != Attr::kString) return AttrError("type", "must be a string", type);
  const std::optional<EventType> parsed_type = ParseEventType(type.text);
  if (!parsed_type) {
    std::string message = "type: unknown event type ";
    json_text::AppendDisplayString(&message, type.text);
    return InvalidArgument(std::move(message));
  }
  event->type = *parsed_type;

  const Attr& subject = attrs[kSubject];
  if (subject.kind == Attr::kAbsent) {
    if (IsEmployeeScoped(event->type)) return Bare("subject", "required (the employee id)");
  } else if (subject.kind != Attr::kString || !IsId(subject.text)) {
    std::string rule;
    AppendStringRule(&rule, Str::kId);
    return AttrError("subject", rule, subject);
  } else {
    event->subject.assign(subject.text);
  }

  const Attr& time = attrs[kTime];
  if (time.kind == Attr::kAbsent) return Bare("time", "required");
  if (time.kind != Attr::kString) {
    return AttrError("time", "must be RFC 3339 with a UTC offset", time);
  }
  Result<int64_t> time_us = ParseRfc3339(time.text, &event->utc_offset_minutes);
  if (!time_us.ok()) return time_us.status().WithContext("time");
  event->time_us = *time_us;

  // schemaversion: a JSON integer (structured mode) or decimal digits (header).
  const Attr& sv = attrs[kSchemaVersion];
  *version = 1;
  if (sv.kind != Attr::kAbsent) {
    int64_t value = 0;
    bool is_integer = false;
    bool huge = false;  // beyond int64: certainly unsupported
    if (sv.from_header) {
      is_integer = AllDigits(sv.text);
      huge = sv.text.size() > 18;
      if (!huge) {
        for (char c : sv.text) value = value * 10 + (c - '0');
      }
    } else if (GetInteger(sv.element, &value)) {
      is_integer = true;
    } else if (sv.element.type() == dom::element_type::UINT64) {
      is_integer = huge = true;
    }
    if (!is_integer) return AttrError("schemaversion", "must be an integer", sv);
    if (huge || value < 1 || value > static_cast<int64_t>(kCurrentSchemaVersion)) {
      std::string message = "schemaversion: unsupported version ";
      if (huge && sv.from_header) {
        message.append(sv.text.substr(0, 24));
        if (sv.text.size() > 24) message.append("...");
      } else if (huge) {
        json_text::AppendUint(&message, sv.element.get_uint64().value_unsafe());
      } else {
        json_text::AppendInt(&message, value);
      }
      message.append(" (this build reads 1..");
      json_text::AppendUint(&message, kCurrentSchemaVersion);
      message.push_back(')');
      return InvalidArgument(std::move(message));
    }
    *version = static_cast<uint32_t>(value);
  }

  const Attr& content_type = attrs[kDataContentType];
  if (content_type.kind != Attr::kAbsent &&
      (content_type.kind != Attr::kString || content_type.text != "application/json")) {
    return AttrError("datacontenttype", "must be \"application/json\"", content_type);
  }
  return Status::Ok();
}

// Decodes `data` (already known to be an object), upcasting from `version`,
// then applies the reference-event subject rule.
Status DecodeDataAndSubject(uint32_t version, dom::object data, Event* event) {
  JIRITSU_RETURN_IF_ERROR(fields::WithDataType(event->type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return ReadJsonData<T>(version, data, &event->data);
  }));
  event->schema_version = kCurrentSchemaVersion;  // data is now in the current shape
  if (const std::string* entity_id = fields::EntityIdOf(event->data)) {
    if (event->subject.empty()) {
      event->subject = *entity_id;
    } else if (event->subject != *entity_id) {
      const bool org = event->type == EventType::kOrgUnitDefined;
      std::string rule = org ? "must equal data.org_unit_id " : "must equal data.program_id ";
      json_text::AppendDisplayString(&rule, *entity_id);
      return RuleErrorText("subject", rule, event->subject);
    }
  }
  return Status::Ok();
}

dom::parser& ThreadParser() {
  thread_local dom::parser parser(kMaxEventBytes);
  return parser;
}

Status SizeError(size_t bytes) {
  std::string message = "event: ";
  json_text::AppendUint(&message, bytes);
  message.append(" bytes exceeds the ");
  json_text::AppendUint(&message, kMaxEventBytes);
  message.append("-byte limit");
  return InvalidArgument(std::move(message));
}

Status JsonSyntaxError(simdjson::error_code error) {
  return InvalidArgument(std::string("json: ") + simdjson::error_message(error));
}

Result<Event> DecodeStructured(std::string_view json) {
  if (json.size() > kMaxEventBytes) return SizeError(json.size());
  dom::element root;
  const simdjson::error_code parse_error = ThreadParser().parse(json.data(), json.size()).get(root);
  if (parse_error != simdjson::SUCCESS) return JsonSyntaxError(parse_error);
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return RuleError("event", "must be a JSON object", root);
  }

  std::array<Attr, kAttrCount> attrs{};
  for (dom::key_value_pair member : object) {
    const size_t index = AttrIndexOf(member.key);
    if (index < kAttrCount) {
      if (attrs[index].kind != Attr::kAbsent) return Bare(PathOf("", member.key), "duplicate attribute");
      attrs[index] = Attr::FromElement(member.value);
    } else if (member.key == "data_base64") {
      return Bare("data_base64", "not supported; data must be a JSON object in \"data\"");
    } else if (!IsExtensionName(member.key)) {
      return Bare(PathOf("", member.key),
                  "unknown attribute; extension attribute names are lowercase a-z and 0-9");
    }  // else: a CloudEvents extension attribute, ignored
  }

  Event event;
  uint32_t version = 1;
  JIRITSU_RETURN_IF_ERROR(ValidateEnvelope(attrs, &event, &version));
  const Attr& data = attrs[kData];
  if (data.kind == Attr::kAbsent) return Bare("data", "required");
  dom::object data_object;
  if (data.element.get_object().get(data_object) != simdjson::SUCCESS) {
    return RuleError("data", "must be a JSON object", data.element);
  }
  JIRITSU_RETURN_IF_ERROR(DecodeDataAndSubject(version, data_object, &event));
  return event;
}

Result<Event> DecodeBinaryMode(const CloudEventAttributes& a, std::string_view data_json) {
  const size_t total = a.specversion.size() + a.id.size() + a.source.size() + a.type.size() +
                       a.subject.size() + a.time.size() + a.schemaversion.size() +
                       data_json.size();
  if (total > kMaxEventBytes) return SizeError(total);
  std::array<Attr, kAttrCount> attrs{};
  attrs[kSpecVersion] = Attr::FromHeader(a.specversion);
  attrs[kId] = Attr::FromHeader(a.id);
  attrs[kSource] = Attr::FromHeader(a.source);
  attrs[kType] = Attr::FromHeader(a.type);
  attrs[kSubject] = Attr::FromHeader(a.subject);
  attrs[kTime] = Attr::FromHeader(a.time);
  attrs[kSchemaVersion] = Attr::FromHeader(a.schemaversion);

  Event event;
  uint32_t version = 1;
  JIRITSU_RETURN_IF_ERROR(ValidateEnvelope(attrs, &event, &version));
  dom::element root;
  const simdjson::error_code parse_error =
      ThreadParser().parse(data_json.data(), data_json.size()).get(root);
  if (parse_error != simdjson::SUCCESS) return JsonSyntaxError(parse_error);
  dom::object data_object;
  if (root.get_object().get(data_object) != simdjson::SUCCESS) {
    return RuleError("data", "must be a JSON object", root);
  }
  JIRITSU_RETURN_IF_ERROR(DecodeDataAndSubject(version, data_object, &event));
  return event;
}

// ---- the encoder (a field visitor) -----------------------------------------

class JsonFieldWriter {
 public:
  explicit JsonFieldWriter(std::string* out) : out_(out) {}

  void String(std::string_view name, std::string* value, Str, Presence presence,
              std::string_view) {
    if (presence.mode == Presence::kForbidden || value->empty()) return;
    Key(name);
    AppendJsonString(out_, *value);
  }
  void OptString(std::string_view name, std::optional<std::string>* value, Str,
                 std::string_view) {
    if (!value->has_value() || (*value)->empty()) return;
    Key(name);
    AppendJsonString(out_, **value);
  }
  void Int(std::string_view name, int32_t* value, IntRule, Presence presence,
           std::string_view) {
    if (presence.mode == Presence::kForbidden) return;
    Key(name);
    json_text::AppendInt(out_, *value);
  }
  void OptInt(std::string_view name, std::optional<int32_t>* value, IntRule, std::string_view) {
    if (!value->has_value()) return;
    Key(name);
    json_text::AppendInt(out_, **value);
  }
  void Number(std::string_view name, double* value, NumRule, Presence presence,
              std::string_view) {
    if (presence.mode == Presence::kForbidden) return;
    Key(name);
    json_text::AppendDouble(out_, *value);
  }
  void OptNumber(std::string_view name, std::optional<double>* value, NumRule,
                 std::string_view) {
    if (!value->has_value()) return;
    Key(name);
    json_text::AppendDouble(out_, **value);
  }
  void Bool(std::string_view name, bool* value, Presence presence, std::string_view) {
    if (presence.mode == Presence::kForbidden) return;
    Key(name);
    out_->append(*value ? "true" : "false");
  }
  template <class E>
  void Enum(std::string_view name, E* value, std::span<const std::string_view> names,
            Presence presence, std::string_view) {
    if (presence.mode == Presence::kForbidden) return;
    Key(name);
    const size_t index = static_cast<size_t>(*value);
    AppendJsonString(out_, index < names.size() ? names[index] : std::string_view());
  }
  void IdList(std::string_view name, std::vector<std::string>* ids, std::string_view) {
    Key(name);
    out_->push_back('[');
    for (size_t i = 0; i < ids->size(); ++i) {
      if (i > 0) out_->push_back(',');
      AppendJsonString(out_, (*ids)[i]);
    }
    out_->push_back(']');
  }
  void Steps(std::string_view name, std::vector<ProgramStep>* steps, std::string_view) {
    Key(name);
    out_->push_back('[');
    for (size_t i = 0; i < steps->size(); ++i) {
      if (i > 0) out_->push_back(',');
      out_->push_back('{');
      JsonFieldWriter nested(out_);
      fields::VisitFields(nested, (*steps)[i], static_cast<int32_t>(i + 1));
      out_->push_back('}');
    }
    out_->push_back(']');
  }
  void AtLeastOne(std::span<const std::string_view>, bool) {}

 private:
  void Key(std::string_view name) {
    out_->append(first_ ? "\"" : ",\"");
    first_ = false;
    out_->append(name);
    out_->append("\":");
  }

  std::string* out_;
  bool first_ = true;
};

}  // namespace

Result<Event> DecodeJsonEvent(std::string_view json) {
  try {
    return DecodeStructured(json);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("event: out of memory while decoding");
  } catch (const std::exception& e) {
    return Internal(std::string("event: unexpected exception: ") + e.what());
  }
}

Result<Event> DecodeBinaryModeEvent(const CloudEventAttributes& attributes,
                                    std::string_view data_json) {
  try {
    return DecodeBinaryMode(attributes, data_json);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("event: out of memory while decoding");
  } catch (const std::exception& e) {
    return Internal(std::string("event: unexpected exception: ") + e.what());
  }
}

std::string EncodeJsonEvent(const Event& event) {
  std::string out;
  out.reserve(256 + event.id.size() + event.source.size());
  out.append(R"({"specversion":"1.0","id":)");
  AppendJsonString(&out, event.id);
  out.append(R"(,"source":)");
  AppendJsonString(&out, event.source);
  out.append(R"(,"type":")");
  out.append(EventTypeName(event.type));
  out.push_back('"');
  if (!event.subject.empty()) {
    out.append(R"(,"subject":)");
    AppendJsonString(&out, event.subject);
  }
  out.append(R"(,"time":")");
  out.append(FormatRfc3339(event.time_us, event.utc_offset_minutes));
  // The data below is written in the current shape, whatever version it was
  // originally received in.
  out.append(R"(","schemaversion":)");
  json_text::AppendUint(&out, kCurrentSchemaVersion);
  out.append(R"(,"data":{)");
  std::visit(
      [&](const auto& data) {
        using T = std::decay_t<decltype(data)>;
        JsonFieldWriter writer(&out);
        fields::VisitFields(writer, const_cast<T&>(data));  // writers only read
      },
      event.data);
  out.append("}}");
  return out;
}

}  // namespace jiritsu
