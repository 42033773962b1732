#include "schemas/json_schema.h"

#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/catalog.h"
#include "schemas/codec.h"
#include "schemas/event_fields.h"
#include "schemas/json_text.h"

namespace jiritsu {
namespace {

using fields::IntRule;
using fields::NumRule;
using fields::Presence;
using fields::Str;

// A minimal ordered JSON tree, enough to print schemas deterministically.
class Json {
 public:
  enum Kind { kRaw, kString, kArray, kObject };

  static Json Raw(std::string text) { return Json(kRaw, std::move(text)); }
  static Json String(std::string_view text) { return Json(kString, std::string(text)); }
  static Json Bool(bool b) { return Raw(b ? "true" : "false"); }
  static Json Int(int64_t v) {
    std::string text;
    json_text::AppendInt(&text, v);
    return Raw(std::move(text));
  }
  static Json Number(double v) {
    std::string text;
    json_text::AppendDouble(&text, v);
    return Raw(std::move(text));
  }
  static Json Array() { return Json(kArray, {}); }
  static Json Object() { return Json(kObject, {}); }
  static Json Strings(std::span<const std::string_view> items) {
    Json array = Array();
    for (std::string_view item : items) array.Push(String(item));
    return array;
  }

  Json& Set(std::string_view key, Json value) {
    for (auto& [k, v] : members_) {
      if (k == key) {
        v = std::move(value);
        return *this;
      }
    }
    members_.emplace_back(std::string(key), std::move(value));
    return *this;
  }
  Json& Push(Json value) {
    members_.emplace_back(std::string(), std::move(value));
    return *this;
  }
  bool empty() const { return members_.empty(); }

  void Print(std::string* out, int indent) const {
    switch (kind_) {
      case kRaw: out->append(text_); return;
      case kString: AppendJsonString(out, text_); return;
      case kArray:
      case kObject: break;
    }
    const char open = kind_ == kArray ? '[' : '{';
    const char close = kind_ == kArray ? ']' : '}';
    if (members_.empty()) {
      out->push_back(open);
      out->push_back(close);
      return;
    }
    // Short arrays of scalars stay on one line.
    if (kind_ == kArray && AllScalars() && members_.size() <= 8) {
      out->push_back('[');
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i > 0) out->append(", ");
        members_[i].second.Print(out, indent);
      }
      out->push_back(']');
      return;
    }
    out->push_back(open);
    for (size_t i = 0; i < members_.size(); ++i) {
      out->append(i == 0 ? "\n" : ",\n");
      out->append(static_cast<size_t>(indent + 2), ' ');
      if (kind_ == kObject) {
        AppendJsonString(out, members_[i].first);
        out->append(": ");
      }
      members_[i].second.Print(out, indent + 2);
    }
    out->push_back('\n');
    out->append(static_cast<size_t>(indent), ' ');
    out->push_back(close);
  }

 private:
  Json(Kind kind, std::string text) : kind_(kind), text_(std::move(text)) {}
  bool AllScalars() const {
    for (const auto& m : members_) {
      if (m.second.kind_ == kArray || m.second.kind_ == kObject) return false;
    }
    return true;
  }

  Kind kind_;
  std::string text_;
  std::vector<std::pair<std::string, Json>> members_;
};

std::string Document(const Json& json) {
  std::string out;
  json.Print(&out, 0);
  out.push_back('\n');
  return out;
}

std::string IdRegex() { return "^" + std::string(kIdPattern) + "$"; }

Json StringSchema(Str rule, std::string_view doc) {
  Json s = Json::Object();
  if (!doc.empty()) s.Set("description", Json::String(doc));
  switch (rule) {
    case Str::kId:
      s.Set("type", Json::String("string")).Set("pattern", Json::String(IdRegex()));
      break;
    case Str::kText:
      s.Set("type", Json::String("string")).Set("maxLength", Json::Int(kMaxTextChars));
      break;
    case Str::kNonEmptyText:
      s.Set("type", Json::String("string"))
          .Set("minLength", Json::Int(1))
          .Set("maxLength", Json::Int(kMaxTextChars));
      break;
    case Str::kPeriod:
      s.Set("type", Json::String("string"))
          .Set("pattern",
               Json::String("^(?:FY[0-9]{4}|[0-9]{4}Q[1-4]|[0-9]{4}-(?:0[1-9]|1[0-2]))$"));
      break;
    case Str::kMetric: s.Set("enum", Json::Strings(kKpiMetricNames)); break;
    case Str::kPersonalText:
    case Str::kPersonalNonEmptyText: {
      // Plaintext from a producer, or the sealed value ingestion stores.
      Json plain = Json::Object();
      plain.Set("type", Json::String("string"));
      plain.Set("pattern", Json::String("^(?!jiritsu-enc:v1:)"));
      if (rule == Str::kPersonalNonEmptyText) plain.Set("minLength", Json::Int(1));
      plain.Set("maxLength", Json::Int(kMaxTextChars));
      Json sealed = Json::Object();
      sealed.Set("type", Json::String("string"))
          .Set("pattern", Json::String(kSealedPattern))
          .Set("maxLength", Json::Int(static_cast<int64_t>(kMaxSealedChars)));
      Json any = Json::Array();
      any.Push(std::move(plain));
      any.Push(std::move(sealed));
      s.Set("anyOf", std::move(any));
      break;
    }
  }
  return s;
}

// Collects `properties`, `required` and per-field presence of one struct.
class SchemaWriter {
 public:
  Json properties = Json::Object();
  std::vector<std::string_view> required;
  std::vector<std::pair<std::string_view, Presence::Mode>> presence;
  std::vector<std::string_view> at_least_one;
  Json defs = Json::Object();

  void String(std::string_view name, std::string*, Str rule, Presence p, std::string_view doc) {
    Add(name, StringSchema(rule, doc), p);
  }
  void OptString(std::string_view name, std::optional<std::string>*, Str rule,
                 std::string_view doc) {
    Add(name, StringSchema(rule, doc), fields::kOptional);
  }
  void Int(std::string_view name, int32_t* value, IntRule rule, Presence p,
           std::string_view doc) {
    Json s = Json::Object();
    s.Set("description", Json::String(doc)).Set("type", Json::String("integer"));
    if (rule.positional) {
      s.Set("minimum", Json::Int(1)).Set("maximum", Json::Int(kMaxProgramSteps));
    } else {
      s.Set("minimum", Json::Int(rule.lo)).Set("maximum", Json::Int(rule.hi));
    }
    if (p.mode == Presence::kOptional) s.Set("default", Json::Int(*value));
    Add(name, std::move(s), p);
  }
  void OptInt(std::string_view name, std::optional<int32_t>*, IntRule rule, std::string_view doc) {
    int32_t unused = 0;
    Int(name, &unused, rule, fields::kRequired, doc);  // no default for a true optional
    MakeOptional(name);
  }
  void Number(std::string_view name, double* value, NumRule rule, Presence p,
              std::string_view doc) {
    Json s = Json::Object();
    s.Set("description", Json::String(doc)).Set("type", Json::String("number"));
    if (rule.bounded) s.Set("minimum", Json::Number(rule.lo)).Set("maximum", Json::Number(rule.hi));
    if (p.mode == Presence::kOptional) s.Set("default", Json::Number(*value));
    Add(name, std::move(s), p);
  }
  void OptNumber(std::string_view name, std::optional<double>*, NumRule rule,
                 std::string_view doc) {
    double unused = 0;
    Number(name, &unused, rule, fields::kRequired, doc);
    MakeOptional(name);
  }
  void Bool(std::string_view name, bool* value, Presence p, std::string_view doc) {
    Json s = Json::Object();
    s.Set("description", Json::String(doc)).Set("type", Json::String("boolean"));
    if (p.mode == Presence::kOptional) s.Set("default", Json::Bool(*value));
    Add(name, std::move(s), p);
  }
  template <class E>
  void Enum(std::string_view name, E* value, std::span<const std::string_view> names, Presence p,
            std::string_view doc) {
    Json s = Json::Object();
    s.Set("description", Json::String(doc)).Set("enum", Json::Strings(names));
    if (p.mode == Presence::kOptional) {
      s.Set("default", Json::String(names[static_cast<size_t>(*value)]));
    }
    Add(name, std::move(s), p);
  }
  void IdList(std::string_view name, std::vector<std::string>*, std::string_view doc) {
    Json s = Json::Object();
    s.Set("description", Json::String(doc))
        .Set("type", Json::String("array"))
        .Set("items", StringSchema(Str::kId, ""))
        .Set("maxItems", Json::Int(kMaxRequiredCourses))
        .Set("uniqueItems", Json::Bool(true))
        .Set("default", Json::Array());
    Add(name, std::move(s), fields::kOptional);
  }
  void Steps(std::string_view name, std::vector<ProgramStep>*, std::string_view doc);
  void AtLeastOne(std::span<const std::string_view> names, bool) {
    at_least_one.assign(names.begin(), names.end());
  }

  // The object schema of the collected fields.
  Json ObjectSchema(std::string_view description) const {
    Json s = Json::Object();
    if (!description.empty()) s.Set("description", Json::String(description));
    s.Set("type", Json::String("object"));
    s.Set("required", Json::Strings(required));
    s.Set("properties", properties);
    s.Set("additionalProperties", Json::Bool(false));
    if (!at_least_one.empty()) {
      Json any = Json::Array();
      for (std::string_view n : at_least_one) {
        std::string_view one[] = {n};
        any.Push(Json::Object().Set("required", Json::Strings(one)));
      }
      s.Set("anyOf", std::move(any));
    }
    return s;
  }

 private:
  void Add(std::string_view name, Json schema, Presence p) {
    properties.Set(name, std::move(schema));
    if (p.mode == Presence::kRequired) required.push_back(name);
    presence.emplace_back(name, p.mode);
  }
  void MakeOptional(std::string_view name) {
    required.pop_back();
    presence.back().second = Presence::kOptional;
    (void)name;
  }
};

void SchemaWriter::Steps(std::string_view name, std::vector<ProgramStep>*, std::string_view doc) {
  SchemaWriter step_writer;
  ProgramStep step;
  fields::VisitFields(step_writer, step, 1);
  defs.Set("step", step_writer.ObjectSchema("One step of a programme."));
  // Step i of the array must say "step": i (steps are numbered 1..n in order).
  Json prefix = Json::Array();
  for (int32_t i = 1; i <= kMaxProgramSteps; ++i) {
    prefix.Push(Json::Object()
                    .Set("$ref", Json::String("#/$defs/step"))
                    .Set("properties", Json::Object().Set("step", Json::Object().Set(
                                                                      "const", Json::Int(i)))));
  }
  Json s = Json::Object();
  s.Set("description", Json::String(doc))
      .Set("type", Json::String("array"))
      .Set("minItems", Json::Int(1))
      .Set("maxItems", Json::Int(kMaxProgramSteps))
      .Set("prefixItems", std::move(prefix))
      .Set("items", Json::Bool(false));
  Add(name, std::move(s), fields::kRequired);
}

std::string_view TopicOf(EventType type) {
  switch (FamilyOf(type)) {
    case Family::kReference: return "jiritsu.reference";
    case Family::kEmployee: return "jiritsu.employee";
    case Family::kInterview: return "jiritsu.interview";
    case Family::kLearning: return "jiritsu.learning";
    case Family::kDeclaration: return "jiritsu.declaration";
    case Family::kApproval: return "jiritsu.approval";
  }
  return "";
}

// declaration.submitted: which fields each kind requires or forbids;
// `*always_required` receives the fields every kind requires.
Json DeclarationKindRules(std::vector<std::string_view>* always_required) {
  always_required->clear();
  Json rules = Json::Array();
  for (size_t k = 0; k < kDeclarationKindNames.size(); ++k) {
    DeclarationSubmitted d;
    d.kind = static_cast<DeclarationKind>(k);
    SchemaWriter w;
    fields::VisitFields(w, d);
    std::vector<std::string_view> required;
    Json forbidden = Json::Object();
    if (k == 0) always_required->assign(w.required.begin(), w.required.end());
    std::erase_if(*always_required, [&](std::string_view f) {
      return std::find(w.required.begin(), w.required.end(), f) == w.required.end();
    });
    for (const auto& [field, mode] : w.presence) {
      if (field == "declaration_id" || field == "kind") continue;
      if (mode == Presence::kRequired) required.push_back(field);
      if (mode == Presence::kForbidden) forbidden.Set(field, Json::Bool(false));
    }
    Json then = Json::Object();
    if (!required.empty()) then.Set("required", Json::Strings(required));
    then.Set("properties", std::move(forbidden));
    std::string_view kind_required[] = {"kind"};
    rules.Push(Json::Object()
                   .Set("if", Json::Object()
                                  .Set("properties", Json::Object().Set(
                                                         "kind", Json::Object().Set(
                                                                     "const", Json::String(kDeclarationKindNames[k]))))
                                  .Set("required", Json::Strings(kind_required)))
                   .Set("then", std::move(then)));
  }
  return rules;
}

}  // namespace

std::string EnvelopeJsonSchema() {
  Json props = Json::Object();
  props.Set("specversion", Json::Object()
                               .Set("description", Json::String("CloudEvents version."))
                               .Set("const", Json::String("1.0")));
  props.Set("id", Json::Object()
                      .Set("description", Json::String("Unique per source; (source, id) is the "
                                                       "event's identity (duplicates are dropped)."))
                      .Set("type", Json::String("string"))
                      .Set("minLength", Json::Int(1))
                      .Set("maxLength", Json::Int(kMaxEventIdChars)));
  props.Set("source",
            Json::Object()
                .Set("description", Json::String("The producing system, an RFC 3986 URI-reference "
                                                 "(ASCII; percent-encode anything else)."))
                .Set("type", Json::String("string"))
                .Set("minLength", Json::Int(1))
                .Set("maxLength", Json::Int(kMaxSourceChars))
                .Set("format", Json::String("uri-reference"))
                .Set("pattern", Json::String(
                                    "^(?:[A-Za-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$")));
  std::vector<std::string_view> type_names;
  for (int i = 0; i < kEventTypeCount; ++i) type_names.push_back(EventTypeName(static_cast<EventType>(i)));
  props.Set("type", Json::Object()
                        .Set("description", Json::String("Event type; selects the data schema."))
                        .Set("enum", Json::Strings(type_names)));
  props.Set("subject",
            Json::Object()
                .Set("description",
                     Json::String("The employee id for employee-scoped types (required there); for "
                                  "org.unit.defined / program.defined the entity id (optional, must "
                                  "equal data.org_unit_id / data.program_id); free for kpi.target.set."))
                .Set("type", Json::String("string"))
                .Set("pattern", Json::String(IdRegex())));
  props.Set("time",
            Json::Object()
                .Set("description",
                     Json::String("Event time, RFC 3339 with a UTC offset (Z or ±hh:mm), up to 6 "
                                  "fractional digits (more only if zeros), years 1970..9999, a real "
                                  "calendar date, no leap second."))
                .Set("type", Json::String("string"))
                .Set("format", Json::String("date-time"))
                .Set("pattern",
                     Json::String("^(?:19[7-9][0-9]|[2-9][0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
                                  "[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6}0*)?"
                                  "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$")));
  props.Set("schemaversion",
            Json::Object()
                .Set("description", Json::String("Version of the data schema (CloudEvents extension "
                                                 "attribute); older versions are upcast on read."))
                .Set("type", Json::String("integer"))
                .Set("minimum", Json::Int(1))
                .Set("maximum", Json::Int(kCurrentSchemaVersion))
                .Set("default", Json::Int(1)));
  props.Set("datacontenttype", Json::Object()
                                   .Set("description", Json::String("Optional; JSON only."))
                                   .Set("const", Json::String("application/json")));
  props.Set("data", Json::Object()
                        .Set("description", Json::String("The type's payload; see <type>.schema.json."))
                        .Set("type", Json::String("object")));

  std::string_view required[] = {"specversion", "id", "source", "type", "time", "data"};
  Json schema = Json::Object();
  schema.Set("$schema", Json::String("https://json-schema.org/draft/2020-12/schema"))
      .Set("$id", Json::String(std::string(kSchemaBaseUri) + "envelope.schema.json"))
      .Set("title", Json::String("Jiritsu event envelope (CloudEvents 1.0, structured mode)"))
      .Set("description",
           Json::String("One JSON object of at most 65536 bytes. Unknown lowercase a-z0-9 names are "
                        "CloudEvents extension attributes and are ignored; any other unknown name is "
                        "rejected. See docs/events.md."))
      .Set("type", Json::String("object"))
      .Set("required", Json::Strings(required))
      .Set("properties", std::move(props))
      .Set("patternProperties",
           Json::Object().Set("^[a-z0-9]+$",
                              Json::Object().Set("description",
                                                 Json::String("CloudEvents extension attribute (ignored)."))))
      .Set("additionalProperties", Json::Bool(false));
  return Document(schema);
}

std::string EventJsonSchema(EventType type) {
  const std::string name(EventTypeName(type));
  SchemaWriter writer;
  fields::WithDataType(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T value{};
    fields::VisitFields(writer, value);
  });
  Json data = writer.ObjectSchema("");
  if (type == EventType::kDeclarationSubmitted) {
    // Presence depends on `kind`; the base lists only what every kind needs.
    std::vector<std::string_view> always_required;
    Json rules = DeclarationKindRules(&always_required);
    data.Set("required", Json::Strings(always_required));
    data.Set("allOf", std::move(rules));
  }

  Json props = Json::Object();
  props.Set("type", Json::Object().Set("const", Json::String(name)));
  props.Set("data", std::move(data));

  std::string description = "Topic " + std::string(TopicOf(type)) + ", key = ";
  if (IsEmployeeScoped(type)) {
    description += "subject (the employee id, required).";
  } else if (type == EventType::kKpiTargetSet) {
    description +=
        "subject (optional; recommended kpi:<org_unit_id>:<period>:<profile or all>:<metric>).";
  } else {
    description += type == EventType::kOrgUnitDefined
                       ? "subject = data.org_unit_id (subject optional, defaults to it)."
                       : "subject = data.program_id (subject optional, defaults to it).";
  }
  description += " See docs/events.md#" + [&] {
    std::string anchor = name;
    std::erase(anchor, '.');
    return anchor;
  }() + ".";

  Json schema = Json::Object();
  schema.Set("$schema", Json::String("https://json-schema.org/draft/2020-12/schema"))
      .Set("$id", Json::String(std::string(kSchemaBaseUri) + name + ".schema.json"))
      .Set("title", Json::String(name))
      .Set("description", Json::String(description))
      .Set("allOf", Json::Array().Push(Json::Object().Set("$ref", Json::String("envelope.schema.json"))));
  if (IsEmployeeScoped(type)) {
    std::string_view required[] = {"subject"};
    schema.Set("required", Json::Strings(required));
  }
  schema.Set("properties", std::move(props));
  if (!writer.defs.empty()) schema.Set("$defs", writer.defs);
  return Document(schema);
}

}  // namespace jiritsu
