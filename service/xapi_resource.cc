#include "service/xapi_resource.h"

#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "core/logging.h"
#include "core/thread_name.h"
#include "core/topics.h"
#include "processors/json.h"
#include "schemas/codec.h"
#include "service/jwt.h"
#include "service/server.h"
#include "xapi/statement.h"

namespace jiritsu::service {
namespace {

using processors::Json;
using simdjson::dom::element;

constexpr char kJsonType[] = "application/json";
constexpr char kVersionHeader[] = "X-Experience-API-Version";

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// {"error": {"code", "message", "where", "why"}}: the validation message
// "where: why" split for clients that want the parts.
void SendXapiError(httplib::Response& res, int status, std::string_view code, const std::string& message,
                   std::optional<size_t> index = std::nullopt) {
  Json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  const size_t colon = message.find(": ");
  if (colon != std::string::npos && message.find(' ') >= colon) {
    body["error"]["where"] = message.substr(0, colon);
    body["error"]["why"] = message.substr(colon + 2);
  }
  if (index) body["error"]["index"] = static_cast<int64_t>(*index);
  res.status = status;
  res.set_content(body.Dump(), kJsonType);
}

void AppendQuoted(std::string* out, std::string_view text) { processors::AppendJsonQuoted(out, text); }

// RFC 9110 HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT") for Last-Modified.
std::string HttpDate(int64_t time_us) {
  const std::time_t seconds = static_cast<std::time_t>(time_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof(buffer), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buffer;
}

// The statement as stored: the client's properties in their order, minus
// id/stored/authority/version, then the LRS-assigned ones.
std::string CompleteStatement(element statement, const std::string& id, const std::string& stored,
                              const std::string& authority, const std::string& version) {
  std::string out = "{\"id\":";
  AppendQuoted(&out, id);
  const simdjson::dom::object range_1 = statement.get_object().value_unsafe();
  for (auto field : range_1) {
    if (field.key == "id" || field.key == "stored" || field.key == "authority" || field.key == "version") continue;
    out += ",";
    AppendQuoted(&out, field.key);
    out += ":" + simdjson::to_string(field.value);
  }
  // The LRS sets timestamp to stored when the client gave none (xAPI-Data 2.4.7).
  if (statement["timestamp"].error() != simdjson::SUCCESS) {
    out += ",\"timestamp\":";
    AppendQuoted(&out, stored);
  }
  out += ",\"stored\":";
  AppendQuoted(&out, stored);
  out += ",\"authority\":" + authority;
  out += ",\"version\":";
  std::string_view given;
  if (statement["version"].get_string().get(given) == simdjson::SUCCESS) {
    AppendQuoted(&out, given);
  } else {
    AppendQuoted(&out, version);
  }
  return out + "}";
}

// ---- GET filters ----------------------------------------------------------

struct Filters {
  std::optional<std::string> agent;  // AgentIdentity
  std::string verb;
  std::string activity;
  std::string registration;
  bool related_activities = false;
  bool related_agents = false;
  std::optional<int64_t> since_us;
  std::optional<int64_t> until_us;
  std::string format = "exact";
  bool ascending = false;
};

void CollectAgents(element value, std::vector<std::string>* out) {
  if (std::optional<std::string> id = xapi::AgentIdentity(value)) out->push_back(*id);
}

bool MatchesAgent(element statement, const std::string& agent, bool related) {
  std::vector<std::string> ids;
  CollectAgents(statement["actor"].value_unsafe(), &ids);
  element object = statement["object"].value_unsafe();
  std::string_view type;
  xapi::IgnoreError(object["objectType"].get_string().get(type));
  if (type == "Agent" || type == "Group") CollectAgents(object, &ids);
  if (related) {
    element e;
    if (statement["authority"].get(e) == simdjson::SUCCESS) CollectAgents(e, &ids);
    auto context_agents = [&](element holder) {
      element ctx;
      if (holder["context"].get(ctx) != simdjson::SUCCESS) return;
      if (ctx["instructor"].get(e) == simdjson::SUCCESS) CollectAgents(e, &ids);
      if (ctx["team"].get(e) == simdjson::SUCCESS) CollectAgents(e, &ids);
      simdjson::dom::array list;
      if (ctx["contextAgents"].get_array().get(list) == simdjson::SUCCESS) {
        for (element item : list) {
          if (item["agent"].get(e) == simdjson::SUCCESS) CollectAgents(e, &ids);
        }
      }
      if (ctx["contextGroups"].get_array().get(list) == simdjson::SUCCESS) {
        for (element item : list) {
          if (item["group"].get(e) == simdjson::SUCCESS) CollectAgents(e, &ids);
        }
      }
    };
    context_agents(statement);
    // Members of groups in actor / object.
    for (element holder : {statement["actor"].value_unsafe(), object}) {
      simdjson::dom::array members;
      if (holder["member"].get_array().get(members) == simdjson::SUCCESS) {
        for (element m : members) CollectAgents(m, &ids);
      }
    }
    if (type == "SubStatement") {
      CollectAgents(object["actor"].value_unsafe(), &ids);
      element sub_object = object["object"].value_unsafe();
      std::string_view sub_type;
      xapi::IgnoreError(sub_object["objectType"].get_string().get(sub_type));
      if (sub_type == "Agent" || sub_type == "Group") CollectAgents(sub_object, &ids);
      context_agents(object);
    }
  }
  return std::find(ids.begin(), ids.end(), agent) != ids.end();
}

bool MatchesActivity(element statement, const std::string& activity, bool related) {
  auto object_is = [&](element holder) {
    element object = holder["object"].value_unsafe();
    std::string_view type = "Activity", id;
    xapi::IgnoreError(object["objectType"].get_string().get(type));
    return type == "Activity" && object["id"].get_string().get(id) == simdjson::SUCCESS && id == activity;
  };
  if (object_is(statement)) return true;
  if (!related) return false;
  auto context_has = [&](element holder) {
    element activities;
    if (holder["context"]["contextActivities"].get(activities) != simdjson::SUCCESS) return false;
    const simdjson::dom::object range_2 = activities.get_object().value_unsafe();
    for (auto field : range_2) {
      simdjson::dom::array list;
      std::string_view id;
      if (field.value.get_array().get(list) == simdjson::SUCCESS) {
        for (element item : list) {
          if (item["id"].get_string().get(id) == simdjson::SUCCESS && id == activity) return true;
        }
      } else if (field.value["id"].get_string().get(id) == simdjson::SUCCESS && id == activity) {
        return true;
      }
    }
    return false;
  };
  if (context_has(statement)) return true;
  element object = statement["object"].value_unsafe();
  std::string_view type;
  xapi::IgnoreError(object["objectType"].get_string().get(type));
  return type == "SubStatement" && (object_is(object) || context_has(object));
}

bool Matches(element statement, const Filters& f) {
  if (f.agent && !MatchesAgent(statement, *f.agent, f.related_agents)) return false;
  if (!f.verb.empty()) {
    std::string_view verb;
    xapi::IgnoreError(statement["verb"]["id"].get_string().get(verb));
    if (verb != f.verb) return false;
  }
  if (!f.activity.empty() && !MatchesActivity(statement, f.activity, f.related_activities)) return false;
  if (!f.registration.empty()) {
    std::string_view registration;
    if (statement["context"]["registration"].get_string().get(registration) != simdjson::SUCCESS ||
        Lower(registration) != Lower(f.registration)) {
      return false;
    }
  }
  return true;
}

// format=ids: agents reduced to their identifier, activities to their id,
// verbs to their id (xAPI-Communication 2.1.3).
std::string IdsOnly(element value, std::string_view key);

std::string IdsAgent(element agent) {
  std::string out = "{";
  bool first = true;
  const simdjson::dom::object range_3 = agent.get_object().value_unsafe();
  for (auto field : range_3) {
    if (field.key == "name") continue;
    if (field.key == "member") {
      out += std::string(first ? "" : ",") + "\"member\":[";
      bool first_member = true;
      const simdjson::dom::array range_4 = field.value.get_array().value_unsafe();
      for (element m : range_4) {
        out += std::string(first_member ? "" : ",") + IdsAgent(m);
        first_member = false;
      }
      out += "]";
      first = false;
      continue;
    }
    out += std::string(first ? "" : ",");
    AppendQuoted(&out, field.key);
    out += ":" + simdjson::to_string(field.value);
    first = false;
  }
  return out + "}";
}

std::string IdsOnly(element value, std::string_view key) {
  if (!value.is_object()) return simdjson::to_string(value);
  if (key == "actor" || key == "authority" || key == "instructor" || key == "team" || key == "agent" ||
      key == "group") {
    return IdsAgent(value);
  }
  if (key == "verb") {
    std::string out = "{\"id\":";
    AppendQuoted(&out, value["id"].get_string().value_unsafe());
    return out + "}";
  }
  std::string_view type;
  xapi::IgnoreError(value["objectType"].get_string().get(type));
  if (key == "object" && (type == "Agent" || type == "Group")) return IdsAgent(value);
  if ((key == "object" && (type.empty() || type == "Activity")) || key == "activity") {
    std::string out = "{";
    if (!type.empty()) out += "\"objectType\":\"Activity\",";
    out += "\"id\":";
    AppendQuoted(&out, value["id"].get_string().value_unsafe());
    return out + "}";
  }
  std::string out = "{";
  bool first = true;
  const simdjson::dom::object range_5 = value.get_object().value_unsafe();
  for (auto field : range_5) {
    out += first ? "" : ",";
    first = false;
    AppendQuoted(&out, field.key);
    out += ":";
    if (field.key == "contextActivities") {
      std::string inner = "{";
      bool first_list = true;
      const simdjson::dom::object range_6 = field.value.get_object().value_unsafe();
      for (auto list : range_6) {
        inner += first_list ? "" : ",";
        first_list = false;
        AppendQuoted(&inner, list.key);
        inner += ":";
        if (list.value.is_array()) {
          inner += "[";
          bool first_item = true;
          const simdjson::dom::array range_7 = list.value.get_array().value_unsafe();
          for (element item : range_7) {
            inner += (first_item ? "" : ",") + IdsOnly(item, "activity");
            first_item = false;
          }
          inner += "]";
        } else {
          inner += IdsOnly(list.value, "activity");
        }
      }
      out += inner + "}";
    } else {
      out += IdsOnly(field.value, field.key);
    }
  }
  return out + "}";
}

// The language tags of an Accept-Language header, by descending q
// (stable), lower case, "*" and q=0 dropped.
std::vector<std::string> AcceptedLanguages(std::string_view header) {
  std::vector<std::pair<double, std::string>> tags;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string item(header.substr(pos, comma - pos));
    pos = comma + 1;
    double q = 1;
    if (const size_t semicolon = item.find(';'); semicolon != std::string::npos) {
      const size_t eq = item.find("q=", semicolon);
      if (eq != std::string::npos) q = std::strtod(item.c_str() + eq + 2, nullptr);
      item.resize(semicolon);
    }
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    if (item.empty() || item == "*" || q <= 0) continue;
    tags.emplace_back(q, Lower(item));
  }
  std::stable_sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& [q, tag] : tags) out.push_back(std::move(tag));
  return out;
}

// format=canonical (xAPI-Communication 2.1.3): every language map reduced to
// the one entry that best matches Accept-Language (exact tag, then the same
// primary language), else its first entry.
std::string Canonical(element value, std::string_view key, const std::vector<std::string>& languages) {
  if (value.is_array()) {
    std::string out = "[";
    bool first = true;
    const simdjson::dom::array list = value.get_array().value_unsafe();
    for (element item : list) {
      out += (first ? "" : ",") + Canonical(item, "", languages);
      first = false;
    }
    return out + "]";
  }
  if (!value.is_object()) return simdjson::to_string(value);
  const simdjson::dom::object obj = value.get_object().value_unsafe();
  const bool language_map = key == "display" || key == "description" || key == "name";
  if (language_map && obj.size() > 0) {
    std::string_view chosen_key;
    element chosen;
    for (int pass = 0; pass < 2 && chosen_key.empty(); ++pass) {
      for (const std::string& wanted : languages) {
        for (auto field : obj) {
          const std::string tag = Lower(field.key);
          const bool match = pass == 0 ? tag == wanted
                                       : tag.substr(0, tag.find('-')) == wanted.substr(0, wanted.find('-'));
          if (match && chosen_key.empty()) {
            chosen_key = field.key;
            chosen = field.value;
          }
        }
      }
    }
    if (chosen_key.empty()) {
      for (auto field : obj) {
        chosen_key = field.key;
        chosen = field.value;
        break;
      }
    }
    std::string out = "{";
    AppendQuoted(&out, chosen_key);
    return out + ":" + simdjson::to_string(chosen) + "}";
  }
  std::string out = "{";
  bool first = true;
  for (auto field : obj) {
    out += first ? "" : ",";
    first = false;
    AppendQuoted(&out, field.key);
    // Extensions are opaque: no language maps inside them.
    out += ":" + (field.key == "extensions" ? simdjson::to_string(field.value)
                                            : Canonical(field.value, field.key, languages));
  }
  return out + "}";
}

std::string Formatted(const std::string& statement_json, const std::string& format,
                      const std::vector<std::string>& languages) {
  if (format != "ids" && format != "canonical") return statement_json;
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(statement_json).get(root) != simdjson::SUCCESS) return statement_json;
  if (format == "canonical") return Canonical(root, "", languages);
  return IdsOnly(root, "statement");
}

Result<bool> BoolParam(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return false;
  const std::string value = req.get_param_value(name);
  if (value == "true") return true;
  if (value == "false") return false;
  return InvalidArgument(std::string(name) + ": must be true or false, got \"" + value + "\"");
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string XapiStoreDir(const ServeConfig& config) {
  if (!config.xapi_store_dir.empty()) return config.xapi_store_dir;
  if (!config.kafka_bootstrap.empty()) {
    // Beside the ingestion dedupe index, which is local state of this process too.
    if (!config.dedupe_dir.empty()) {
      return (std::filesystem::path(config.dedupe_dir).parent_path() / "xapi-statements").string();
    }
    return "./jiritsu-xapi-statements";
  }
  return config.store_dir + "/xapi-statements";
}

XapiResource::XapiResource(const ServeConfig& config, EventLog* log, IngestPipeline* pipeline,
                           MetricsRegistry* metrics)
    : config_(config), log_(log), pipeline_(pipeline), metrics_(metrics), mapper_(config.xapi_mapping) {}

XapiResource::~XapiResource() { Stop(); }

Result<std::unique_ptr<XapiResource>> XapiResource::Create(const ServeConfig& config, EventLog* log,
                                                           IngestPipeline* pipeline,
                                                           MetricsRegistry* metrics) {
  if (log == nullptr || pipeline == nullptr || metrics == nullptr) {
    return InvalidArgument("the xAPI endpoints need the event log, ingestion and metrics");
  }
  std::unique_ptr<XapiResource> resource(new XapiResource(config, log, pipeline, metrics));
  JIRITSU_RETURN_IF_ERROR(log->EnsureTopics({TopicSpec{std::string(kXapiTopic), 1, false}}));
  JIRITSU_ASSIGN_OR_RETURN(resource->store_, xapi::StatementStore::Open(XapiStoreDir(config)));
  JIRITSU_ASSIGN_OR_RETURN(resource->producer_, log->NewProducer());
  ConsumerOptions options;
  options.group_id = "jiritsu-xapi-store";
  JIRITSU_ASSIGN_OR_RETURN(resource->consumer_, log->NewConsumer(options));
  JIRITSU_ASSIGN_OR_RETURN(int64_t next, resource->store_->NextOffset());
  JIRITSU_RETURN_IF_ERROR(resource->consumer_->Assign({{TopicPartition{std::string(kXapiTopic), 0}, next}}));
  JIRITSU_RETURN_IF_ERROR(resource->CatchUp());
  resource->tailer_ = std::thread([r = resource.get()] {
    NameCurrentThread("jr-xapi-tail");
    r->TailLoop();
  });
  // Pre-register the outcome series so dashboards see zeros.
  for (const char* outcome : {"mapped", "voiding", "unmapped_actor", "unmapped_verb", "unmapped_activity",
                              "unmapped_event_rejected", "duplicate", "conflict", "invalid"}) {
    resource->Count(outcome, 0);
  }
  return resource;
}

void XapiResource::Count(std::string_view outcome, int64_t n) {
  Counter* counter = metrics_->GetCounter("jiritsu_xapi_statements_total",
                                          "xAPI statements by outcome (mapped, unmapped_*, voiding, "
                                          "duplicate, conflict, invalid)",
                                          {{"outcome", std::string(outcome)}});
  for (int64_t i = 0; i < n; ++i) counter->Increment();
}

Status XapiResource::CatchUp() {
  JIRITSU_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset(TopicPartition{std::string(kXapiTopic), 0}));
  JIRITSU_ASSIGN_OR_RETURN(int64_t next, store_->NextOffset());
  int idle = 0;
  while (next < end && idle < 100) {
    std::vector<LogRecord> records;
    JIRITSU_RETURN_IF_ERROR(consumer_->Poll(std::chrono::milliseconds(100), 1000, &records));
    idle = records.empty() ? idle + 1 : 0;
    if (records.empty()) continue;
    JIRITSU_RETURN_IF_ERROR(ApplyPolled(records));
    next = records.back().offset + 1;
  }
  return Status::Ok();
}

Status XapiResource::ApplyPolled(const std::vector<LogRecord>& records) {
  std::vector<xapi::StoredRecord> parsed_records;
  std::set<std::string> ids;
  for (const LogRecord& record : records) {
    Result<xapi::StoredRecord> parsed = xapi::ParseRecord(record.value);
    if (!parsed.ok()) {
      ModuleLogger("xapi")->error("jiritsu.xapi offset {}: {} (skipped)", record.offset, parsed.status().ToString());
      continue;
    }
    // One write holds each id once (a retried request may repeat a record).
    if (ids.insert(parsed->id).second) parsed_records.push_back(std::move(parsed).value());
  }
  return store_->ApplyAll(parsed_records, records.back().offset);
}

void XapiResource::TailLoop() {
  while (!stopping_.load()) {
    std::vector<LogRecord> records;
    Status polled = consumer_->Poll(std::chrono::milliseconds(200), 1000, &records);
    if (!polled.ok()) {
      ModuleLogger("xapi")->warn("jiritsu.xapi tailer: {}", polled.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    if (records.empty()) continue;
    Status applied = ApplyPolled(records);
    if (!applied.ok()) ModuleLogger("xapi")->error("xAPI store: {}", applied.ToString());
  }
}

void XapiResource::Stop() {
  stopping_.store(true);
  if (tailer_.joinable()) tailer_.join();
}

void XapiResource::Register(HttpService* http) {
  http->AddRoute("GET", "/xapi/about", "xapi_about", 0,
                 [this](const RequestContext& c, httplib::Response& r) { About(c, r); });
  http->AddRoute("POST", "/xapi/statements", "xapi_statements_post", kRoleSource,
                 [this](const RequestContext& c, httplib::Response& r) { PostStatements(c, r); });
  http->AddRoute("PUT", "/xapi/statements", "xapi_statements_put", kRoleSource,
                 [this](const RequestContext& c, httplib::Response& r) { PutStatement(c, r); });
  http->AddRoute("GET", "/xapi/statements", "xapi_statements_get", kRoleSource | kReadAllRoles,
                 [this](const RequestContext& c, httplib::Response& r) { GetStatements(c, r); });
  http->AddRoute("GET", "/xapi/unmapped", "xapi_unmapped", kReadAllRoles,
                 [this](const RequestContext& c, httplib::Response& r) { ListUnmapped(c, r); });
}

bool XapiResource::CheckVersion(const RequestContext& ctx, httplib::Response& res, std::string* version) {
  const std::string requested = ctx.request.get_header_value(kVersionHeader);
  auto patch = [&](std::string_view prefix) {
    if (requested == std::string(prefix).substr(0, prefix.size() - 1)) return true;  // "1.0"
    if (!requested.starts_with(prefix)) return false;
    const std::string rest = requested.substr(prefix.size());
    return !rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (patch("1.0.")) {
    *version = "1.0.3";
  } else if (patch("2.0.")) {
    *version = "2.0.0";
  } else {
    res.set_header(kVersionHeader, "2.0.0");
    SendXapiError(res, 400, "bad_version",
                  requested.empty() ? std::string(kVersionHeader) + ": header required (1.0.x or 2.0.x)"
                                    : std::string(kVersionHeader) + ": unsupported version \"" + requested +
                                          "\" (supported: 1.0.0-1.0.3, 2.0.0)");
    return false;
  }
  res.set_header(kVersionHeader, *version);
  return true;
}

void XapiResource::About(const RequestContext&, httplib::Response& res) {
  res.set_header(kVersionHeader, "2.0.0");
  res.status = 200;
  res.set_content(
      "{\"version\":[\"1.0.0\",\"1.0.1\",\"1.0.2\",\"1.0.3\",\"2.0.0\"],"
      "\"extensions\":{\"https://jiritsu.example/xapi/extensions/mapping\":\"docs/xapi.md\"}}",
      kJsonType);
}

void XapiResource::PostStatements(const RequestContext& ctx, httplib::Response& res) {
  std::string version;
  if (!CheckVersion(ctx, res, &version)) return;
  if (ctx.request.has_param("statementId")) {
    return SendXapiError(res, 400, "bad_request", "statementId: not allowed on POST (use PUT)");
  }
  std::vector<std::string> ids;
  if (!Store(ctx, res, ctx.request.body, "", &ids)) return;
  std::string body = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) body += ",";
    AppendQuoted(&body, ids[i]);
  }
  res.status = 200;
  res.set_content(body + "]", kJsonType);
}

void XapiResource::PutStatement(const RequestContext& ctx, httplib::Response& res) {
  std::string version;
  if (!CheckVersion(ctx, res, &version)) return;
  const std::string id = ctx.request.get_param_value("statementId");
  if (id.empty()) return SendXapiError(res, 400, "bad_request", "statementId: required query parameter on PUT");
  if (!xapi::IsUuid(id)) return SendXapiError(res, 400, "bad_request", "statementId: must be a UUID, got \"" + id + "\"");
  for (const auto& [name, value] : ctx.request.params) {
    if (name != "statementId") return SendXapiError(res, 400, "bad_request", name + ": unknown parameter on PUT");
  }
  std::vector<std::string> ids;
  if (!Store(ctx, res, ctx.request.body, id, &ids)) return;
  res.status = 204;
}

bool XapiResource::Store(const RequestContext& ctx, httplib::Response& res, const std::string& body,
                         const std::string& put_id, std::vector<std::string>* ids) {
  const httplib::Request& req = ctx.request;
  std::string media = Lower(req.get_header_value("Content-Type"));
  if (const size_t semicolon = media.find(';'); semicolon != std::string::npos) media.resize(semicolon);
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (media.starts_with("multipart/")) {
    SendXapiError(res, 400, "attachments_unsupported",
                  "Content-Type: multipart requests (attachment bodies, signed statements) are not "
                  "supported by this LRS; send application/json with fileUrl attachments (docs/xapi.md)");
    return false;
  }
  if (media != "application/json") {
    SendXapiError(res, 400, "bad_content_type", "Content-Type: must be application/json, got \"" + media + "\"");
    return false;
  }
  if (static_cast<int64_t>(body.size()) > config_.max_body_bytes) {
    SendXapiError(res, 413, "payload_too_large", "body: exceeds [server] max_body_bytes");
    return false;
  }
  simdjson::dom::parser parser;
  element root;
  if (auto error = parser.parse(body).get(root); error != simdjson::SUCCESS) {
    Count("invalid");
    SendXapiError(res, 400, "malformed_json", std::string("body: not valid JSON (") + simdjson::error_message(error) + ")");
    return false;
  }
  std::vector<element> statements;
  if (root.is_array()) {
    if (!put_id.empty()) {
      SendXapiError(res, 400, "bad_request", "body: PUT takes one statement, not an array");
      return false;
    }
    const simdjson::dom::array list = root.get_array().value_unsafe();
    for (element item : list) statements.push_back(item);
  } else {
    statements.push_back(root);
  }
  if (static_cast<int64_t>(statements.size()) > config_.max_batch_events) {
    SendXapiError(res, 413, "batch_too_large",
                  "body: " + std::to_string(statements.size()) + " statements exceed [ingest] max_batch_events = " +
                      std::to_string(config_.max_batch_events));
    return false;
  }
  // 1. Validate everything: a request is stored whole or not at all.
  std::vector<std::string> given_ids(statements.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < statements.size(); ++i) {
    const std::string path = statements.size() > 1 || root.is_array() ? "statement[" + std::to_string(i) + "]" : "statement";
    Status valid = xapi::ValidateStatement(statements[i], path);
    if (!valid.ok()) {
      Count("invalid");
      SendXapiError(res, 400, "invalid_statement", valid.message(), i);
      return false;
    }
    std::string_view id;
    if (statements[i]["id"].get_string().get(id) == simdjson::SUCCESS) given_ids[i] = Lower(id);
    if (!put_id.empty()) {
      if (given_ids[i].empty()) {
        given_ids[i] = Lower(put_id);
      } else if (given_ids[i] != Lower(put_id)) {
        SendXapiError(res, 400, "bad_request",
                      path + ".id: differs from the statementId parameter (" + put_id + ")");
        return false;
      }
    }
    if (!given_ids[i].empty() && !seen.insert(given_ids[i]).second) {
      SendXapiError(res, 400, "duplicate_id", path + ".id: appears twice in this request", i);
      return false;
    }
  }

  std::lock_guard lock(write_mutex_);
  // `stored` strictly increases, one microsecond per statement of a batch,
  // so the stored order (GET, `more`) is the order of arrival.
  const int64_t first_stored_us = std::max(NowUs(), last_stored_us_ + 1);
  last_stored_us_ = first_stored_us + static_cast<int64_t>(statements.size());
  std::string authority = "{\"objectType\":\"Agent\",\"account\":{\"homePage\":\"urn:jiritsu:lrs-client\",\"name\":";
  AppendQuoted(&authority, ctx.principal->subject);
  authority += "}}";
  // The learning events' source: the credential's first exact source.
  std::string source;
  for (const std::string& candidate : ctx.principal->sources) {
    if (candidate.find('*') == std::string::npos) {
      source = candidate;
      break;
    }
  }
  if (source.empty()) {
    SendXapiError(res, 403, "forbidden",
                  "this credential has no exact CloudEvents source (only patterns); configure the LRS client "
                  "in [[xapi.clients]] with a source");
    return false;
  }
  std::string version;
  version = req.get_header_value(kVersionHeader).starts_with("2.") ? "2.0.0" : "1.0.0";

  struct Pending {
    size_t index;
    int64_t stored_us = 0;
    std::string id;
    std::string complete;  // statement JSON as stored
    std::string hash;
    xapi::Mapped mapped;
    std::string voided_target;
    std::string compensation_json;  // learning.voided for a target voided before it arrived
  };
  std::vector<Pending> pending;
  std::map<std::string, size_t> pending_by_id;
  simdjson::dom::parser complete_parser;
  std::vector<std::string> out_ids(statements.size());
  for (size_t i = 0; i < statements.size(); ++i) {
    const int64_t stored_us = first_stored_us + static_cast<int64_t>(i);
    const std::string stored = xapi::FormatTimestampUtc(stored_us);
    std::string id = given_ids[i].empty() ? xapi::NewUuid() : given_ids[i];
    out_ids[i] = id;
    const std::string hash = xapi::ComparisonHash(statements[i]);
    Result<xapi::StoredRecord> existing = store_->Get(id);
    if (existing.ok()) {
      if (existing->hash == hash) {
        Count("duplicate");
        continue;  // same statement again: a no-op
      }
      Count("conflict");
      SendXapiError(res, 409, "conflict",
                    "statement[" + std::to_string(i) + "].id: statement " + id +
                        " exists with different content (statements are immutable)", i);
      return false;
    }
    if (existing.status().code() != StatusCode::kNotFound) {
      SendXapiError(res, 503, "store_unavailable", "xAPI store: " + existing.status().message());
      return false;
    }
    Pending p;
    p.index = i;
    p.stored_us = stored_us;
    p.id = id;
    p.hash = hash;
    p.complete = CompleteStatement(statements[i], id, stored, authority, version);
    element complete;
    if (complete_parser.parse(p.complete).get(complete) != simdjson::SUCCESS) {
      SendXapiError(res, 500, "internal", "statement could not be completed");
      return false;
    }
    p.mapped = mapper_.Map(complete, source);
    if (p.mapped.outcome == xapi::Outcome::kVoiding) {
      const std::string target = Lower(p.mapped.voided_statement_id);
      p.voided_target = target;
      // The target: stored already, or earlier in this request.
      std::string target_verb;
      std::optional<xapi::StoredRecord> target_record;
      Result<xapi::StoredRecord> stored_target = store_->Get(target);
      if (stored_target.ok()) target_record = *stored_target;
      auto in_request = pending_by_id.find(target);
      if (target_record) {
        simdjson::dom::parser target_parser;
        element t;
        std::string_view verb;
        if (target_parser.parse(target_record->statement).get(t) == simdjson::SUCCESS &&
            t["verb"]["id"].get_string().get(verb) == simdjson::SUCCESS) {
          target_verb = std::string(verb);
        }
      } else if (in_request != pending_by_id.end()) {
        if (pending[in_request->second].mapped.outcome == xapi::Outcome::kVoiding) target_verb = xapi::kVoidedVerb;
      }
      if (target_verb == xapi::kVoidedVerb) {
        Count("invalid");
        SendXapiError(res, 400, "invalid_statement",
                      "statement[" + std::to_string(i) + "].object.id: " + target +
                          " is itself a voiding statement, which cannot be voided", i);
        return false;
      }
      // Compensate the target's learning event (when it produced one).
      std::string employee, voided_source, voided_event;
      if (target_record && target_record->outcome == "mapped") {
        employee = target_record->employee;
        voided_source = target_record->source;
        voided_event = target_record->event_id;
      } else if (in_request != pending_by_id.end() &&
                 pending[in_request->second].mapped.outcome == xapi::Outcome::kMapped) {
        employee = pending[in_request->second].mapped.employee;
        voided_source = source;
        voided_event = xapi::EventIdFor(pending[in_request->second].id);
      }
      if (!employee.empty()) {
        simdjson::dom::parser time_parser;
        element c;
        std::string_view ts;
        int32_t offset = 0;
        xapi::IgnoreError(time_parser.parse(p.complete).get(c));
        if (c["timestamp"].get_string().get(ts) != simdjson::SUCCESS) ts = stored;
        Result<int64_t> t = xapi::ParseTimestamp(ts, &offset);
        const std::string time = t.ok() && *t >= 0 ? FormatRfc3339(*t, offset) : FormatRfc3339(stored_us, 0);
        p.mapped.employee = employee;
        p.mapped.event_type = "learning.voided";
        p.mapped.event_json = xapi::VoidedEventJson(id, source, employee, time, voided_source, voided_event);
      }
    }
    // A voiding statement that arrived before its target (xAPI-Data
    // 2.3.2.s2.b5: accepted): the target's learning event is compensated
    // right away, under the voiding statement's event id.
    if (p.mapped.outcome == xapi::Outcome::kMapped) {
      if (std::optional<std::string> voiding_id = store_->VoidedBy(id)) {
        Result<xapi::StoredRecord> voiding = store_->Get(*voiding_id);
        if (voiding.ok() && voiding->event_id.empty()) {
          simdjson::dom::parser voiding_parser;
          element v;
          std::string_view ts;
          int32_t offset = 0;
          std::string time = FormatRfc3339(stored_us, 0);
          if (voiding_parser.parse(voiding->statement).get(v) == simdjson::SUCCESS &&
              v["timestamp"].get_string().get(ts) == simdjson::SUCCESS) {
            Result<int64_t> t = xapi::ParseTimestamp(ts, &offset);
            if (t.ok() && *t >= 0) time = FormatRfc3339(*t, offset);
          }
          p.compensation_json = xapi::VoidedEventJson(*voiding_id, voiding->source, p.mapped.employee, time,
                                                      source, xapi::EventIdFor(id));
        }
      }
    }
    pending_by_id[id] = pending.size();
    pending.push_back(std::move(p));
  }
  *ids = out_ids;
  if (pending.empty()) return true;

  // 2. Learning events first (durable and deduplicated by (source, id)).
  std::vector<IngestItem> items;
  std::vector<size_t> item_owner;
  for (size_t k = 0; k < pending.size(); ++k) {
    if (pending[k].mapped.event_json.empty()) continue;
    items.push_back(IngestItem{pending[k].mapped.event_json, pending[k].mapped.event_type});
    item_owner.push_back(k);
    if (!pending[k].compensation_json.empty()) {
      items.push_back(IngestItem{pending[k].compensation_json, "learning.voided"});
      item_owner.push_back(k);
    }
  }
  std::vector<std::string> rejected(pending.size());
  if (!items.empty()) {
    Result<std::future<SubmitResult>> submitted = pipeline_->Submit(std::move(items));
    if (!submitted.ok()) {
      res.set_header("Retry-After", std::to_string(config_.retry_after_s));
      SendXapiError(res, submitted.status().code() == StatusCode::kResourceExhausted ? 429 : 503, "unavailable",
                    "ingestion: " + submitted.status().message() + "; nothing was stored, retrying is safe");
      return false;
    }
    if (submitted->wait_for(std::chrono::milliseconds(config_.request_timeout_ms)) != std::future_status::ready) {
      res.set_header("Retry-After", std::to_string(config_.retry_after_s));
      SendXapiError(res, 503, "timeout", "ingestion: the log did not confirm in time; retrying is safe");
      return false;
    }
    SubmitResult result = submitted->get();
    if (!result.status.ok()) {
      res.set_header("Retry-After", std::to_string(config_.retry_after_s));
      SendXapiError(res, 503, "log_unavailable", "ingestion: " + result.status.ToString() + "; retrying is safe");
      return false;
    }
    for (size_t j = 0; j < result.items.size() && j < item_owner.size(); ++j) {
      if (result.items[j].outcome == LineOutcome::kRejected && rejected[item_owner[j]].empty()) {
        rejected[item_owner[j]] = result.items[j].reason;
      }
    }
  }

  // 3. Audit records to jiritsu.xapi, flushed; then the store.
  std::vector<xapi::StoredRecord> records;
  for (size_t k = 0; k < pending.size(); ++k) {
    Pending& p = pending[k];
    std::string outcome(xapi::OutcomeName(p.mapped.outcome));
    std::string reason = p.mapped.reason;
    if (!rejected[k].empty()) {
      outcome = "unmapped_event_rejected";
      reason = "the mapped " + p.mapped.event_type + " event was rejected: " + rejected[k];
    }
    Json record;
    record["id"] = p.id;
    record["stored"] = xapi::FormatTimestampUtc(p.stored_us);
    record["stored_us"] = p.stored_us;
    record["client"] = ctx.principal->subject;
    record["source"] = source;
    record["hash"] = p.hash;
    record["outcome"] = outcome;
    record["reason"] = reason;
    record["employee"] = p.mapped.employee;
    record["course_id"] = p.mapped.course_id;
    record["event_type"] = p.mapped.event_type;
    record["event_id"] = p.mapped.event_json.empty() || !rejected[k].empty() ? "" : xapi::EventIdFor(p.id);
    record["voided_target"] = p.voided_target;
    std::string text = record.Dump();
    text.pop_back();
    text += ",\"statement\":" + p.complete + "}";
    Result<xapi::StoredRecord> parsed = xapi::ParseRecord(text);
    if (!parsed.ok()) {
      SendXapiError(res, 500, "internal", "audit record: " + parsed.status().message());
      return false;
    }
    Status appended = producer_->Append(std::string(kXapiTopic), p.id, text);
    if (!appended.ok()) {
      res.set_header("Retry-After", std::to_string(config_.retry_after_s));
      SendXapiError(res, 503, "log_unavailable", "jiritsu.xapi: " + appended.ToString() + "; retrying is safe");
      return false;
    }
    records.push_back(std::move(parsed).value());
  }
  Status flushed = producer_->Flush(std::chrono::milliseconds(config_.flush_timeout_ms));
  if (!flushed.ok()) {
    res.set_header("Retry-After", std::to_string(config_.retry_after_s));
    SendXapiError(res, 503, "log_unavailable", "jiritsu.xapi: " + flushed.ToString() + "; retrying is safe");
    return false;
  }
  Status applied = store_->ApplyAll(records);
  if (!applied.ok()) {
    // Durable in the log: the tailer applies them; answer as stored.
    ModuleLogger("xapi")->error("xAPI store apply: {}", applied.ToString());
  }
  for (const xapi::StoredRecord& record : records) Count(record.outcome);
  return true;
}

void XapiResource::GetStatements(const RequestContext& ctx, httplib::Response& res) {
  std::string version;
  if (!CheckVersion(ctx, res, &version)) return;
  const httplib::Request& req = ctx.request;
  static const std::set<std::string> kKnown = {
      "statementId", "voidedStatementId", "agent", "verb", "activity", "registration",
      "related_activities", "related_agents", "since", "until", "limit", "format",
      "attachments", "ascending", "cursor"};
  for (const auto& [name, value] : req.params) {
    if (!kKnown.count(name)) return SendXapiError(res, 400, "bad_request", name + ": unknown query parameter");
  }
  res.set_header("X-Experience-API-Consistent-Through", xapi::FormatTimestampUtc(NowUs()));
  Filters f;
  if (req.has_param("format")) {
    f.format = req.get_param_value("format");
    if (f.format != "exact" && f.format != "ids" && f.format != "canonical") {
      return SendXapiError(res, 400, "bad_request", "format: must be ids, exact or canonical, got \"" + f.format + "\"");
    }
  }
  Result<bool> attachments = BoolParam(req, "attachments");
  if (!attachments.ok()) return SendXapiError(res, 400, "bad_request", attachments.status().message());
  const bool own_only = !ctx.principal->Has(kReadAllRoles);
  auto visible = [&](const xapi::StoredRecord& r) { return !own_only || r.client == ctx.principal->subject; };

  const bool single = req.has_param("statementId") || req.has_param("voidedStatementId");
  if (single) {
    if (req.has_param("statementId") && req.has_param("voidedStatementId")) {
      return SendXapiError(res, 400, "bad_request", "statementId, voidedStatementId: give only one");
    }
    for (const auto& [name, value] : req.params) {
      if (name != "statementId" && name != "voidedStatementId" && name != "format" && name != "attachments") {
        return SendXapiError(res, 400, "bad_request",
                             name + ": not allowed together with statementId / voidedStatementId");
      }
    }
    const bool voided = req.has_param("voidedStatementId");
    const std::string id = Lower(req.get_param_value(voided ? "voidedStatementId" : "statementId"));
    if (!xapi::IsUuid(id)) {
      return SendXapiError(res, 400, "bad_request",
                           std::string(voided ? "voidedStatementId" : "statementId") + ": must be a UUID");
    }
    Result<xapi::StoredRecord> record = store_->Get(id);
    // Voided iff a voiding statement names it and it is not itself a
    // voiding statement (xAPI-Data 2.3.2.s2.b3).
    const bool is_voided = record.ok() && record->voided_target.empty() && store_->VoidedBy(id).has_value();
    if (!record.ok() || !visible(*record) || is_voided != voided) {
      if (record.ok() || record.status().code() == StatusCode::kNotFound) {
        return SendXapiError(res, 404, "not_found",
                             std::string(voided ? "voidedStatementId" : "statementId") + ": no " +
                                 (voided ? "voided " : "") + "statement " + id);
      }
      return SendXapiError(res, 503, "store_unavailable", record.status().message());
    }
    res.set_header("Last-Modified", HttpDate(record->stored_us));
    res.status = 200;
    res.set_content(Formatted(record->statement, f.format, AcceptedLanguages(req.get_header_value("Accept-Language"))), kJsonType);
    return;
  }

  if (req.has_param("agent")) {
    simdjson::dom::parser agent_parser;
    element agent;
    const std::string text = req.get_param_value("agent");
    if (agent_parser.parse(text).get(agent) != simdjson::SUCCESS) {
      return SendXapiError(res, 400, "bad_request", "agent: must be a JSON Agent or identified Group");
    }
    f.agent = xapi::AgentIdentity(agent);
    if (!f.agent) return SendXapiError(res, 400, "bad_request", "agent: needs exactly one inverse functional identifier");
  }
  f.verb = req.get_param_value("verb");
  if (!f.verb.empty() && !xapi::IsIri(f.verb)) return SendXapiError(res, 400, "bad_request", "verb: must be an IRI");
  f.activity = req.get_param_value("activity");
  if (!f.activity.empty() && !xapi::IsIri(f.activity)) {
    return SendXapiError(res, 400, "bad_request", "activity: must be an IRI");
  }
  f.registration = req.get_param_value("registration");
  if (!f.registration.empty() && !xapi::IsUuid(f.registration)) {
    return SendXapiError(res, 400, "bad_request", "registration: must be a UUID");
  }
  for (const char* name : {"related_activities", "related_agents", "ascending"}) {
    Result<bool> value = BoolParam(req, name);
    if (!value.ok()) return SendXapiError(res, 400, "bad_request", value.status().message());
    if (std::string_view(name) == "related_activities") f.related_activities = *value;
    if (std::string_view(name) == "related_agents") f.related_agents = *value;
    if (std::string_view(name) == "ascending") f.ascending = *value;
  }
  for (const char* name : {"since", "until"}) {
    if (!req.has_param(name)) continue;
    Result<int64_t> t = xapi::ParseTimestamp(req.get_param_value(name));
    if (!t.ok()) return SendXapiError(res, 400, "bad_request", std::string(name) + ": " + t.status().message());
    (std::string_view(name) == "since" ? f.since_us : f.until_us) = *t;
  }
  size_t limit = static_cast<size_t>(config_.default_page_size);
  if (req.has_param("limit")) {
    const std::string text = req.get_param_value("limit");
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < 0) {
      return SendXapiError(res, 400, "bad_request", "limit: must be a non-negative integer, got \"" + text + "\"");
    }
    // 0 means "the server's maximum" (xAPI-Communication 2.1.3).
    limit = value == 0 ? static_cast<size_t>(config_.max_page_size)
                       : std::min<size_t>(static_cast<size_t>(value), static_cast<size_t>(config_.max_page_size));
  }
  std::string after;
  if (req.has_param("cursor")) {
    Result<std::string> decoded = Base64UrlDecode(req.get_param_value("cursor"));
    if (!decoded.ok() || decoded->empty()) return SendXapiError(res, 400, "bad_request", "cursor: not a cursor from a more URL");
    after = *decoded;
  }

  std::string body = "{\"statements\":[";
  size_t shown = 0;
  std::string last_key, next_key;
  int64_t last_modified_us = 0;
  const std::vector<std::string> languages = AcceptedLanguages(req.get_header_value("Accept-Language"));
  simdjson::dom::parser parser;
  Status scanned = store_->Scan(f.ascending, after, [&](const std::string& key, const xapi::StoredRecord& r) {
    if (f.since_us && r.stored_us <= *f.since_us) return f.ascending ? true : false;
    if (f.until_us && r.stored_us > *f.until_us) return f.ascending ? false : true;
    if (!visible(r) || (r.voided_target.empty() && store_->VoidedBy(r.id))) return true;
    element statement;
    if (parser.parse(r.statement).get(statement) != simdjson::SUCCESS) return true;
    if (!Matches(statement, f)) return true;
    if (shown == limit) {
      next_key = last_key;
      return false;
    }
    if (shown) body += ",";
    body += Formatted(r.statement, f.format, languages);
    last_modified_us = std::max(last_modified_us, r.stored_us);
    ++shown;
    last_key = key;
    return true;
  });
  if (!scanned.ok()) return SendXapiError(res, 503, "store_unavailable", scanned.message());
  body += "],\"more\":";
  if (next_key.empty()) {
    body += "\"\"";
  } else {
    std::string more = "/xapi/statements?";
    for (const auto& [name, value] : req.params) {
      if (name == "cursor") continue;
      more += UrlEncode(name) + "=" + UrlEncode(value) + "&";
    }
    more += "cursor=" + Base64UrlEncode(next_key);
    AppendQuoted(&body, more);
  }
  res.set_header("Last-Modified", HttpDate(last_modified_us > 0 ? last_modified_us : NowUs()));
  res.status = 200;
  res.set_content(body + "}", kJsonType);
}

void XapiResource::ListUnmapped(const RequestContext& ctx, httplib::Response& res) {
  const httplib::Request& req = ctx.request;
  size_t limit = static_cast<size_t>(config_.default_page_size);
  if (req.has_param("limit")) {
    const std::string text = req.get_param_value("limit");
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < 1 || value > config_.max_page_size) {
      return SendXapiError(res, 400, "bad_request",
                           "limit: must be 1.." + std::to_string(config_.max_page_size) + ", got \"" + text + "\"");
    }
    limit = static_cast<size_t>(value);
  }
  std::string after;
  if (req.has_param("cursor")) {
    Result<std::string> decoded = Base64UrlDecode(req.get_param_value("cursor"));
    if (!decoded.ok() || decoded->empty()) return SendXapiError(res, 400, "bad_request", "cursor: not a cursor returned by this API");
    after = *decoded;
  }
  std::vector<std::string> records;
  std::string next;
  Status s = store_->Unmapped(after, limit, &records, &next);
  if (!s.ok()) return SendXapiError(res, 503, "store_unavailable", s.message());
  std::string body = "{\"limit\":" + std::to_string(limit) + ",\"unmapped\":[";
  for (size_t i = 0; i < records.size(); ++i) body += (i ? "," : "") + records[i];
  body += "],\"next_cursor\":";
  if (next.empty()) {
    body += "null";
  } else {
    AppendQuoted(&body, Base64UrlEncode(next));
  }
  res.status = 200;
  res.set_content(body + "}", kJsonType);
}

}  // namespace jiritsu::service
