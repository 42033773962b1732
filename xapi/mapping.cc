#include "xapi/mapping.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "schemas/codec.h"
#include "xapi/statement.h"

namespace jiritsu::xapi {
namespace {

using simdjson::dom::element;

constexpr std::string_view kAdl = "http://adlnet.gov/expapi/verbs/";
constexpr std::string_view kCmi5 = "https://w3id.org/xapi/adl/verbs/";
constexpr std::string_view kCmi5Progress = "https://w3id.org/xapi/cmi5/result/extensions/progress";

bool IsIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '@' ||
         c == '-';
}

// The event schemas' id pattern ^[A-Za-z0-9._:@-]{1,128}$.
bool IsJiritsuId(std::string_view text) {
  return !text.empty() && text.size() <= 128 && std::all_of(text.begin(), text.end(), IsIdChar);
}

void AppendQuoted(std::string* out, std::string_view text) {
  out->push_back('"');
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      *out += buffer;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

std::string Number(double value) {
  // Two decimals: hours and scores need no more, and the text is stable.
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", std::round(value * 100) / 100);
  return buffer;
}

// The event time of a statement: its timestamp, else stored, as RFC 3339
// (microseconds, original offset) accepted by the event codec.
std::optional<std::string> EventTime(element statement) {
  std::string_view text;
  if (statement["timestamp"].get_string().get(text) != simdjson::SUCCESS &&
      statement["stored"].get_string().get(text) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  int32_t offset = 0;
  Result<int64_t> time = ParseTimestamp(text, &offset);
  if (!time.ok()) return std::nullopt;
  // The codec accepts years 1970..9999 only.
  if (*time < 0 || *time >= int64_t{253402300800} * 1'000'000) return std::nullopt;
  return FormatRfc3339(*time, offset);
}

std::string CloudEvent(std::string_view id, std::string_view source, std::string_view type,
                       std::string_view subject, std::string_view time, const std::string& data) {
  std::string out = "{\"specversion\":\"1.0\",\"id\":";
  AppendQuoted(&out, id);
  out += ",\"source\":";
  AppendQuoted(&out, source);
  out += ",\"type\":";
  AppendQuoted(&out, type);
  out += ",\"subject\":";
  AppendQuoted(&out, subject);
  out += ",\"time\":";
  AppendQuoted(&out, time);
  out += ",\"datacontenttype\":\"application/json\",\"data\":" + data + "}";
  return out;
}

// Score 0..100 from result.score: scaled (when >= 0), else raw within
// [min, max], else raw when it already is 0..100.
std::optional<double> Score100(element statement) {
  element score;
  if (statement["result"]["score"].get(score) != simdjson::SUCCESS) return std::nullopt;
  double scaled = 0, raw = 0, min = 0, max = 0;
  if (score["scaled"].get_double().get(scaled) == simdjson::SUCCESS) {
    return scaled >= 0 ? std::optional<double>(scaled * 100) : std::optional<double>(0.0);
  }
  if (score["raw"].get_double().get(raw) != simdjson::SUCCESS) return std::nullopt;
  if (score["min"].get_double().get(min) == simdjson::SUCCESS &&
      score["max"].get_double().get(max) == simdjson::SUCCESS && max > min) {
    return std::clamp((raw - min) / (max - min) * 100, 0.0, 100.0);
  }
  if (raw >= 0 && raw <= 100) return raw;
  return std::nullopt;
}

double Hours(element statement) {
  std::string_view duration;
  if (statement["result"]["duration"].get_string().get(duration) != simdjson::SUCCESS) return 0;
  std::optional<double> seconds = DurationSeconds(duration);
  if (!seconds) return 0;
  return std::clamp(*seconds / 3600, 0.0, 10000.0);
}

double Progress(element statement, double fallback) {
  element ext;
  if (statement["result"]["extensions"].get(ext) == simdjson::SUCCESS) {
    double progress = 0;
    if (ext[kCmi5Progress].get_double().get(progress) == simdjson::SUCCESS) {
      return std::clamp(progress, 0.0, 100.0);
    }
  }
  return fallback;
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kMapped: return "mapped";
    case Outcome::kVoiding: return "voiding";
    case Outcome::kUnmappedActor: return "unmapped_actor";
    case Outcome::kUnmappedVerb: return "unmapped_verb";
    case Outcome::kUnmappedActivity: return "unmapped_activity";
  }
  return "unknown";
}

const std::vector<VerbMapping>& VerbTable() {
  static const std::vector<VerbMapping> table = {
      {"http://adlnet.gov/expapi/verbs/registered", "registered", "learning.enrolled"},
      {"http://adlnet.gov/expapi/verbs/launched", "launched", "learning.progressed"},
      {"http://adlnet.gov/expapi/verbs/attempted", "attempted", "learning.progressed"},
      {"http://adlnet.gov/expapi/verbs/progressed", "progressed", "learning.progressed"},
      {"http://adlnet.gov/expapi/verbs/completed", "completed", "learning.completed"},
      {"http://adlnet.gov/expapi/verbs/passed", "passed", "learning.completed"},
      {"http://adlnet.gov/expapi/verbs/failed", "failed", "learning.completed"},
      {"http://adlnet.gov/expapi/verbs/scored", "scored", "learning.progressed"},
      {"http://adlnet.gov/expapi/verbs/mastered", "mastered", "learning.completed"},
      {"http://adlnet.gov/expapi/verbs/satisfied", "satisfied", "learning.completed"},
      {"https://w3id.org/xapi/adl/verbs/satisfied", "satisfied", "learning.completed"},
      {"https://w3id.org/xapi/adl/verbs/waived", "waived", "learning.completed"},
      {"http://adlnet.gov/expapi/verbs/waived", "waived", "learning.completed"},
      {"https://w3id.org/xapi/adl/verbs/abandoned", "abandoned", "learning.withdrawn"},
      {"http://adlnet.gov/expapi/verbs/abandoned", "abandoned", "learning.withdrawn"},
      {"http://adlnet.gov/expapi/verbs/voided", "voided", ""},
  };
  (void)kAdl;
  (void)kCmi5;
  return table;
}

const VerbMapping* FindVerb(std::string_view iri) {
  for (const VerbMapping& v : VerbTable()) {
    if (v.verb_iri == iri) return &v;
  }
  return nullptr;
}

std::optional<std::string> Mapper::EmployeeOf(element actor) const {
  // A Group is not a learner: its statements stay unmapped.
  std::string_view object_type;
  if (actor["objectType"].get_string().get(object_type) == simdjson::SUCCESS && object_type == "Group") {
    return std::nullopt;
  }
  std::string_view mbox, home, name;
  const bool has_mbox = actor["mbox"].get_string().get(mbox) == simdjson::SUCCESS;
  const bool has_account = actor["account"]["homePage"].get_string().get(home) == simdjson::SUCCESS &&
                           actor["account"]["name"].get_string().get(name) == simdjson::SUCCESS;
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  for (const ActorRule& rule : config_.actors) {
    if (has_mbox && !rule.mbox.empty() && lower(rule.mbox) == lower(mbox)) return rule.employee;
    if (has_account && !rule.account_home_page.empty() && rule.account_home_page == home &&
        rule.account_name == name) {
      return rule.employee;
    }
  }
  if (has_account) {
    for (const std::string& page : config_.account_home_pages) {
      if (page == home && IsJiritsuId(name)) return std::string(name);
    }
  }
  if (has_mbox) {
    const size_t at = mbox.find('@');
    if (at != std::string_view::npos && mbox.starts_with("mailto:")) {
      const std::string domain = lower(mbox.substr(at + 1));
      const std::string_view local = mbox.substr(7, at - 7);
      for (const std::string& d : config_.mbox_domains) {
        if (lower(d) == domain && IsJiritsuId(local)) return std::string(local);
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> Mapper::CourseOf(std::string_view activity_id) const {
  for (const ActivityRule& rule : config_.activities) {
    if (rule.activity_id == activity_id) return rule.course_id;
  }
  for (const std::string& prefix : config_.course_id_prefixes) {
    if (activity_id.starts_with(prefix) && IsJiritsuId(activity_id.substr(prefix.size()))) {
      return std::string(activity_id.substr(prefix.size()));
    }
  }
  return std::nullopt;
}

Mapped Mapper::Map(element statement, std::string_view source) const {
  Mapped out;
  std::string_view verb_iri, id;
  xapi::IgnoreError(statement["verb"]["id"].get_string().get(verb_iri));
  xapi::IgnoreError(statement["id"].get_string().get(id));
  const VerbMapping* verb = FindVerb(verb_iri);
  element actor = statement["actor"].value_unsafe();
  std::optional<std::string> employee = EmployeeOf(actor);
  if (employee) out.employee = *employee;
  if (verb != nullptr && verb->short_name == "voided") {
    out.outcome = Outcome::kVoiding;
    std::string_view target;
    xapi::IgnoreError(statement["object"]["id"].get_string().get(target));
    out.voided_statement_id = std::string(target);
    return out;
  }
  if (verb == nullptr) {
    out.outcome = Outcome::kUnmappedVerb;
    out.reason = "verb " + std::string(verb_iri) + " has no learning event mapping";
    return out;
  }
  if (!employee) {
    out.outcome = Outcome::kUnmappedActor;
    std::optional<std::string> identity = AgentIdentity(actor);
    out.reason = "actor " + identity.value_or("(group without identifier)") +
                 " matches no [xapi] actor mapping";
    return out;
  }
  std::string_view object_type = "Activity", activity_id;
  xapi::IgnoreError(statement["object"]["objectType"].get_string().get(object_type));
  xapi::IgnoreError(statement["object"]["id"].get_string().get(activity_id));
  std::optional<std::string> course;
  if (object_type == "Activity") course = CourseOf(activity_id);
  if (!course) {
    out.outcome = Outcome::kUnmappedActivity;
    out.reason = object_type != "Activity"
                     ? "the object is a " + std::string(object_type) + ", not an Activity"
                     : "activity " + std::string(activity_id) + " matches no [xapi] course mapping";
    return out;
  }
  out.course_id = *course;
  std::optional<std::string> time = EventTime(statement);
  if (!time) {
    out.outcome = Outcome::kUnmappedActivity;
    out.reason = "the statement's time is outside 1970..9999, which learning events cannot carry";
    return out;
  }
  std::string data = "{\"course_id\":";
  AppendQuoted(&data, *course);
  const std::string_view type = verb->event_type;
  const std::string_view name = verb->short_name;
  if (type == "learning.enrolled") {
    data += ",\"provider\":\"xapi\"";
  } else if (type == "learning.progressed") {
    double fallback = 0;
    if (name == "scored") fallback = 0;
    data += ",\"progress_percent\":" + Number(Progress(statement, fallback));
    data += ",\"hours\":" + Number(Hours(statement));
  } else if (type == "learning.completed") {
    bool passed = true;
    if (name == "failed") {
      passed = false;
    } else if (name == "completed") {
      bool success = true;
      if (statement["result"]["success"].get_bool().get(success) == simdjson::SUCCESS) passed = success;
    }
    data += ",\"hours\":" + Number(Hours(statement));
    if (std::optional<double> score = Score100(statement)) data += ",\"score\":" + Number(*score);
    data += passed ? ",\"passed\":true" : ",\"passed\":false";
  } else if (type == "learning.withdrawn") {
    data += ",\"reason\":\"xAPI abandoned\"";
  }
  data += "}";
  out.outcome = Outcome::kMapped;
  out.event_type = std::string(type);
  out.event_json = CloudEvent(EventIdFor(id), source, type, *employee, *time, data);
  return out;
}

std::string EventIdFor(std::string_view statement_id) {
  std::string out = "xapi-";
  for (char c : statement_id) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string VoidedEventJson(std::string_view voiding_statement_id, std::string_view source,
                            std::string_view employee, std::string_view time,
                            std::string_view voided_source, std::string_view voided_event_id) {
  std::string data = "{\"voided_source\":";
  AppendQuoted(&data, voided_source);
  data += ",\"voided_id\":";
  AppendQuoted(&data, voided_event_id);
  data += ",\"reason\":";
  AppendQuoted(&data, "xAPI statement " + std::string(voiding_statement_id) + " voided it");
  data += "}";
  return CloudEvent(EventIdFor(voiding_statement_id), source, "learning.voided", employee, time, data);
}

}  // namespace jiritsu::xapi
