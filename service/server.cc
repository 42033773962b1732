#include "service/server.h"

#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/logging.h"
#include "core/projection_runtime.h"
#include "core/swap_coordinator.h"
#include "core/thread_name.h"
#include "processors/json.h"
#include "schemas/codec.h"
#include "service/request_parsing.h"
#include "service/xapi_resource.h"

namespace jiritsu::service {
namespace {

using processors::Json;

constexpr char kIdPattern[] = "([A-Za-z0-9._:@-]{1,128})";
constexpr char kJsonType[] = "application/json";

int64_t SystemNowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "data.step: must be >= 1, got 0" -> field "data.step".
std::string FieldOf(const std::string& reason) {
  const size_t colon = reason.find(": ");
  if (colon == std::string::npos || reason.find(' ') < colon) return "";
  return reason.substr(0, colon);
}

// The event type named by a (possibly invalid) event, for metrics labels:
// only known type names, so a client cannot create label values at will.
std::string TypeOfEventText(const std::string& text) {
  simdjson::dom::parser parser;
  std::string_view type;
  if (parser.parse(text)["type"].get_string().get(type) == simdjson::SUCCESS) {
    if (std::optional<EventType> known = ParseEventType(type)) return std::string(EventTypeName(*known));
  }
  return "unknown";
}

std::string Status503Reason(const Status& status) {
  return "the event log is unavailable (" + status.ToString() +
         "); nothing of this request is known to be durable, retrying is safe";
}

int HttpStatusForQuery(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound: return 404;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded: return 503;
    default: return 500;
  }
}

const char* CodeName(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 404: return "not_found";
    case 409: return "not_ready";
    case 503: return "unavailable";
    default: return "internal";
  }
}

// httplib's ThreadPool queues accepted connections without limit; this one
// blocks the accept loop once `max_pending` connections wait, so further
// clients wait in the kernel's listen backlog instead of in our memory.
class BoundedThreadPool : public httplib::TaskQueue {
 public:
  BoundedThreadPool(size_t threads, size_t max_pending) : max_pending_(std::max<size_t>(1, max_pending)) {
    for (size_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this] {
        NameCurrentThread("jr-http-work");
        Work();
      });
    }
  }
  ~BoundedThreadPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [this] { return jobs_.size() < max_pending_ || shutdown_; });
    jobs_.push_back(std::move(fn));
    work_.notify_one();
  }
  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      if (shutdown_ && workers_.empty()) return;
      shutdown_ = true;
    }
    work_.notify_all();
    space_.notify_all();
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
    workers_.clear();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty()) return;  // shut down and drained
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      space_.notify_one();
      job();
    }
  }

  const size_t max_pending_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable space_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  bool shutdown_ = false;
};

}  // namespace

std::string EtagOf(std::string_view body) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : body) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char buffer[24];
  std::snprintf(buffer, sizeof(buffer), "\"%016" PRIx64 "\"", hash);
  return buffer;
}

bool IfNoneMatchMatches(std::string_view header, std::string_view etag) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
    pos = comma + 1;
  }
  return false;
}

void HttpService::SendError(httplib::Response& res, int status, std::string_view code,
                            std::string_view message) {
  Json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  res.status = status;
  res.set_content(body.Dump(), kJsonType);
}

HttpService::HttpService(const ServeConfig& config, ServiceDeps deps)
    : config_(config), deps_(std::move(deps)), server_(std::make_unique<httplib::Server>()) {}

HttpService::~HttpService() { Stop(); }

Result<std::unique_ptr<HttpService>> HttpService::Create(const ServeConfig& config,
                                                         ServiceDeps deps) {
  if (deps.metrics == nullptr) return InvalidArgument("HttpService needs a metrics registry");
  if (!deps.clock_s) deps.clock_s = SystemNowS;
  std::unique_ptr<HttpService> service(new HttpService(config, std::move(deps)));
  JIRITSU_ASSIGN_OR_RETURN(service->auth_, Authenticator::Create(config));
  if (service->deps_.log != nullptr) {
    if (service->deps_.dedupe == nullptr) return InvalidArgument("ingestion needs a dedupe index");
    IngestPipeline::Options options;
    options.max_queued_events = static_cast<size_t>(config.max_queued_events);
    options.flush_timeout = std::chrono::milliseconds(config.flush_timeout_ms);
    options.key_store = service->deps_.keys;
    JIRITSU_ASSIGN_OR_RETURN(service->pipeline_,
                             IngestPipeline::Start(service->deps_.log, service->deps_.dedupe,
                                                   service->deps_.metrics, options));
  }
  service->views_ = std::make_unique<ViewReader>(service->deps_.views_root,
                                                 service->deps_.view_families, config.refresh_ms,
                                                 config.as_of_dir, service->deps_.keys,
                                                 service->deps_.metrics);
  service->RegisterRoutes();
  if (config.xapi_enabled && service->pipeline_) {
    JIRITSU_ASSIGN_OR_RETURN(service->xapi_,
                             XapiResource::Create(config, service->deps_.log, service->pipeline_.get(),
                                                  service->deps_.metrics));
    service->xapi_->Register(service.get());
  }
  service->deps_.metrics->AddCollector(
      [s = service.get()](MetricsRegistry& metrics) { s->CollectMetrics(metrics); });
  return service;
}

void HttpService::AddRoute(const std::string& method, const std::string& pattern,
                           const std::string& name, uint32_t allowed_roles, RouteHandler handler) {
  routes_.push_back(RouteInfo{method, pattern, name, allowed_roles});
  Histogram* latency = deps_.metrics->GetHistogram(
      "jiritsu_http_request_duration_seconds", "HTTP request latency by route", LatencyBuckets(),
      {{"method", method}, {"route", name}});
  auto wrapped = [this, method, name, allowed_roles, latency, handler = std::move(handler)](
                     const httplib::Request& req, httplib::Response& res) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<Principal> principal;
    bool proceed = true;
    if (allowed_roles != 0) {
      Result<Principal> authenticated =
          auth_->Authenticate(req.get_header_value("Authorization"), deps_.clock_s());
      if (!authenticated.ok()) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"jiritsu\"");
        SendError(res, 401, "unauthenticated", authenticated.status().message());
        proceed = false;
      } else if (!authenticated->Has(allowed_roles)) {
        SendError(res, 403, "forbidden",
                  "role(s) [" + RoleNames(authenticated->roles) + "] may not call " + name +
                      " (allowed: " + RoleNames(allowed_roles) + ")");
        proceed = false;
      } else {
        principal = std::move(authenticated).value();
      }
    }
    if (proceed) {
      try {
        handler(RequestContext{req, principal ? &*principal : nullptr}, res);
      } catch (const std::exception& error) {
        ModuleLogger("service")->error("{} {}: {}", method, req.path, error.what());
        SendError(res, 500, "internal", "internal error");
      }
    }
    latency->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    deps_.metrics
        ->GetCounter("jiritsu_http_requests_total", "HTTP requests by route and status code",
                     {{"code", std::to_string(res.status)}, {"method", method}, {"route", name}})
        ->Increment();
  };
  if (method == "GET") server_->Get(pattern, wrapped);
  else if (method == "POST") server_->Post(pattern, wrapped);
  else if (method == "PUT") server_->Put(pattern, wrapped);
  else if (method == "DELETE") server_->Delete(pattern, wrapped);
}

void HttpService::RegisterRoutes() {
  const uint32_t readers = kRoleEmployee | kRoleManager | kReadAllRoles;
  using std::placeholders::_1;
  using std::placeholders::_2;
  // hr only for employee.erasure.requested (checked per event).
  AddRoute("POST", "/v1/events", "events", kRoleSource | kRoleHr,
           [this](const RequestContext& c, httplib::Response& r) { PostEvents(c, r); });
  AddRoute("GET", "/healthz", "healthz", 0,
           [this](const RequestContext& c, httplib::Response& r) { Healthz(c, r); });
  AddRoute("GET", "/readyz", "readyz", 0,
           [this](const RequestContext& c, httplib::Response& r) { Readyz(c, r); });
  AddRoute("GET", "/metrics", "metrics", kRoleOps | kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) { Metrics(c, r); });
  AddRoute("GET", "/v1/lag", "lag", kRoleOps | kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) { Lag(c, r); });
  AddRoute("GET", "/v1/view-time", "view_time", readers | kRoleOps,
           [this](const RequestContext& c, httplib::Response& r) { ViewTime(c, r); });
  for (const char* what : {"step-status", "engagement", "rejections"}) {
    AddRoute("GET", std::string("/v1/employees/") + kIdPattern + "/" + what,
             std::string("employee_") + what, readers,
             [this, w = std::string(what)](const RequestContext& c, httplib::Response& r) {
               EmployeeQuery(c, r, w);
             });
  }
  AddRoute("GET", std::string("/v1/employees/") + kIdPattern + "/reports", "employee_reports",
           kRoleManager | kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) { Reports(c, r); });
  for (const char* what : {"engagement", "kpis"}) {
    AddRoute("GET", std::string("/v1/org-units/") + kIdPattern + "/" + what,
             std::string("org_") + what, kReadAllRoles,
             [this, w = std::string(what)](const RequestContext& c, httplib::Response& r) {
               OrgQuery(c, r, w);
             });
  }
  AddRoute("GET", "/v1/org-units", "org_units", kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) { OrgQuery(c, r, "roots"); });
  AddRoute("POST", "/v1/as-of-stores", "as_of_build", kRoleAuditor,
           [this](const RequestContext& c, httplib::Response& r) { StartAsOfBuild(c, r); });
  AddRoute("GET", std::string("/v1/as-of-stores/") + kIdPattern, "as_of_status", kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) { AsOfBuildStatus(c, r); });
  AddRoute("GET", "/v1/rejections", "rejections", kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) { ListRejections(c, r); });
  AddRoute("GET", "/v1/dead-letters", "dead_letters", kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) { ListDeadLetters(c, r); });
  // Read-only aggregates for the dashboard (hr, auditor; no personal data).
  AddRoute("GET", std::string("/v1/org-units/") + kIdPattern, "org_unit", kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) {
             std::shared_ptr<const ViewSnapshot> views = ViewsFor(c, r);
             if (views) SendQueryResult(c, r, views->query->OrgUnit(std::string(c.request.matches[1])));
           });
  AddRoute("GET", "/v1/step-distribution", "step_distribution", kReadAllRoles,
           [this](const RequestContext& c, httplib::Response& r) {
             std::shared_ptr<const ViewSnapshot> views = ViewsFor(c, r);
             if (!views) return;
             const std::string org = c.request.get_param_value("org_unit");
             SendQueryResult(c, r,
                             views->query->StepDistribution(
                                 org.empty() ? std::nullopt : std::optional<std::string_view>(org)));
           });

  server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 404: SendError(res, 404, "not_found", "no such endpoint"); break;
      case 413:
        SendError(res, 413, "payload_too_large", "request body exceeds [server] max_body_bytes");
        break;
      default: SendError(res, res.status, "error", "HTTP " + std::to_string(res.status));
    }
  });
  if (!config_.static_dir.empty()) server_->set_mount_point("/", config_.static_dir);
  // xAPI: every response carries X-Experience-API-Version (also 401/403/404).
  server_->set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.path.starts_with("/xapi/") && !res.has_header("X-Experience-API-Version")) {
      res.set_header("X-Experience-API-Version", "2.0.0");
    }
  });
}

Status HttpService::Start() {
  server_->new_task_queue = [threads = config_.threads, pending = config_.max_pending_connections] {
    return new BoundedThreadPool(static_cast<size_t>(threads), static_cast<size_t>(pending));
  };
  server_->set_payload_max_length(static_cast<size_t>(config_.max_body_bytes));
  server_->set_read_timeout(config_.read_timeout_s, 0);
  server_->set_write_timeout(config_.write_timeout_s, 0);
  // httplib writes headers and body in separate sends; with Nagle on, a
  // keep-alive client's delayed ACK held every answer ~40 ms (ops/loadtest:
  // p50 43 ms for a point read).
  server_->set_tcp_nodelay(true);
  if (config_.port == 0) {
    port_ = server_->bind_to_any_port(config_.listen_address);
    if (port_ <= 0) return Unavailable("cannot bind " + config_.listen_address + ":<any>");
  } else {
    if (!server_->bind_to_port(config_.listen_address, config_.port)) {
      return Unavailable("cannot bind " + config_.listen_address + ":" + std::to_string(config_.port));
    }
    port_ = config_.port;
  }
  thread_ = std::thread([this] {
    NameCurrentThread("jr-http");
    server_->listen_after_bind();
  });
  // httplib's stop() only interrupts a server that is already running: a
  // Stop() right after Start() would otherwise leave accept() blocked forever.
  for (int i = 0; i < 10000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_->is_running()) return Unavailable("the HTTP server did not start");
  views_->Start();
  return Status::Ok();
}

void HttpService::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
  if (views_) views_->Stop();  // null when Create failed before making it
  if (xapi_) xapi_->Stop();
  if (pipeline_) pipeline_->Stop();
  {
    std::lock_guard lock(as_of_mutex_);
    if (as_of_replayer_) as_of_replayer_->Stop();
  }
  if (as_of_thread_.joinable()) as_of_thread_.join();
}

// ---------------------------------------------------------------- ingestion

void HttpService::PostEvents(const RequestContext& ctx, httplib::Response& res) {
  const httplib::Request& req = ctx.request;
  if (!pipeline_) {
    SendError(res, 503, "ingestion_disabled", "this server does not own an event log");
    return;
  }
  if (static_cast<int64_t>(req.body.size()) > config_.max_body_bytes) {
    SendError(res, 413, "payload_too_large", "request body exceeds [server] max_body_bytes");
    return;
  }
  HeaderList headers(req.headers.begin(), req.headers.end());
  std::vector<std::string> texts;
  HttpError error;
  if (!ParseEventsBody(req.get_header_value("Content-Type"), headers, req.body, &texts, &error)) {
    SendError(res, error.status, error.code, error.message);
    return;
  }
  if (static_cast<int64_t>(texts.size()) > config_.max_batch_events) {
    SendError(res, 413, "batch_too_large",
              "batch of " + std::to_string(texts.size()) + " events exceeds [ingest] max_batch_events = " +
                  std::to_string(config_.max_batch_events));
    return;
  }

  // Validate everything first: a request is ingested whole or not at all.
  std::vector<IngestItem> items;
  std::vector<Event> events;
  Json errors = Json::MakeArray();
  Json forbidden = Json::MakeArray();
  for (size_t i = 0; i < texts.size(); ++i) {
    Result<Event> decoded = texts[i].size() > kMaxEventBytes
                                ? Result<Event>(InvalidArgument(
                                      "event: " + std::to_string(texts[i].size()) +
                                      " bytes exceeds the " + std::to_string(kMaxEventBytes) +
                                      "-byte limit"))
                                : DecodeJsonEvent(texts[i]);
    if (!decoded.ok()) {
      Json error;
      error["index"] = static_cast<int64_t>(i);
      error["field"] = FieldOf(decoded.status().message());
      error["message"] = decoded.status().message();
      errors.Push(std::move(error));
      deps_.metrics
          ->GetCounter("jiritsu_ingest_events_total", "Events offered to ingestion by outcome and type",
                       {{"outcome", "rejected"}, {"type", TypeOfEventText(texts[i])}})
          ->Increment();
      continue;
    }
    // Erasure requests come from HR (whatever their source); every other
    // event from a `source` credential allowed to send its source.
    const bool erasure = decoded->type == EventType::kEmployeeErasureRequested;
    const bool allowed = erasure ? ctx.principal->Has(kRoleHr)
                                 : ctx.principal->Has(kRoleSource) &&
                                       SourceAllowed(ctx.principal->sources, decoded->source);
    if (!allowed) {
      Json error;
      error["index"] = static_cast<int64_t>(i);
      error["source"] = decoded->source;
      error["type"] = EventTypeName(decoded->type);
      error["reason"] = erasure ? "only role hr may request an erasure"
                        : ctx.principal->Has(kRoleSource)
                            ? "this credential may not send events of this source"
                            : "role hr may send only employee.erasure.requested";
      forbidden.Push(std::move(error));
      continue;
    }
    items.push_back(IngestItem{std::move(texts[i]), std::string(EventTypeName(decoded->type))});
    events.push_back(std::move(decoded).value());
  }
  if (!forbidden.array()->empty()) {
    Json body;
    body["error"]["code"] = "forbidden_source";
    body["error"]["message"] =
        "this credential may not send some of these events (their source or type); nothing was "
        "ingested";
    body["events"] = std::move(forbidden);
    res.status = 403;
    res.set_content(body.Dump(), kJsonType);
    return;
  }
  if (!errors.array()->empty()) {
    Json body;
    body["error"]["code"] = "invalid_events";
    body["error"]["message"] = std::to_string(errors.array()->size()) + " of " +
                               std::to_string(texts.size()) +
                               " event(s) are invalid; nothing was ingested";
    body["errors"] = std::move(errors);
    res.status = 400;
    res.set_content(body.Dump(), kJsonType);
    return;
  }

  Result<std::future<SubmitResult>> submitted = pipeline_->Submit(std::move(items));
  if (!submitted.ok()) {
    res.set_header("Retry-After", std::to_string(config_.retry_after_s));
    if (submitted.status().code() == StatusCode::kResourceExhausted) {
      deps_.metrics->GetCounter("jiritsu_ingest_throttled_total", "Ingestion requests refused with 429")
          ->Increment();
      SendError(res, 429, "queue_full", submitted.status().message());
    } else {
      SendError(res, 503, "unavailable", submitted.status().message());
    }
    return;
  }
  std::future<SubmitResult>& future = *submitted;
  if (future.wait_for(std::chrono::milliseconds(config_.request_timeout_ms)) !=
      std::future_status::ready) {
    res.set_header("Retry-After", std::to_string(config_.retry_after_s));
    SendError(res, 503, "timeout",
              "the log did not confirm the events in time; the outcome is unknown, retrying is "
              "safe (duplicates are dropped)");
    return;
  }
  SubmitResult result = future.get();
  if (!result.status.ok()) {
    res.set_header("Retry-After", std::to_string(config_.retry_after_s));
    SendError(res, 503, "log_unavailable", Status503Reason(result.status));
    return;
  }
  Json body;
  Json results = Json::MakeArray();
  int64_t accepted = 0, duplicates = 0, rejected = 0;
  for (size_t i = 0; i < result.items.size(); ++i) {
    Json row;
    row["index"] = static_cast<int64_t>(i);
    row["id"] = events[i].id;
    row["source"] = events[i].source;
    switch (result.items[i].outcome) {
      case LineOutcome::kAccepted: row["status"] = "accepted"; ++accepted; break;
      case LineOutcome::kDuplicate: row["status"] = "duplicate"; ++duplicates; break;
      default:
        row["status"] = "rejected";
        row["message"] = result.items[i].reason;
        ++rejected;
    }
    results.Push(std::move(row));
  }
  body["accepted"] = accepted;
  body["duplicates"] = duplicates;
  body["rejected"] = rejected;
  body["results"] = std::move(results);
  res.status = 202;
  res.set_content(body.Dump(), kJsonType);
}

// ---------------------------------------------------------------- health

void HttpService::Healthz(const RequestContext&, httplib::Response& res) {
  Json body;
  if (deps_.runner != nullptr) {
    const RunnerSnapshot runner = deps_.runner->Snapshot();
    if (runner.exited && !runner.exit_status.ok()) {
      body["status"] = "failed";
      body["reason"] = "projection runner stopped: " + runner.exit_status.ToString();
      res.status = 503;
      res.set_content(body.Dump(), kJsonType);
      return;
    }
  }
  body["status"] = "ok";
  res.status = 200;
  res.set_content(body.Dump(), kJsonType);
}

void HttpService::Readyz(const RequestContext&, httplib::Response& res) {
  Json reasons = Json::MakeArray();
  Json body;
  if (deps_.runner != nullptr) {
    const RunnerSnapshot runner = deps_.runner->Snapshot();
    if (runner.exited) {
      reasons.Push("projection runner stopped: " + runner.exit_status.ToString());
    } else if (!runner.reported) {
      reasons.Push("projection runner has not reported progress yet");
    } else {
      if (runner.total_lag > config_.ready_max_lag_events) {
        reasons.Push("lag " + std::to_string(runner.total_lag) + " records exceeds [health] ready_max_lag_events = " +
                     std::to_string(config_.ready_max_lag_events));
      }
      if (runner.any_stalled) reasons.Push("a partition is stalled");
    }
    body["lag_records"] = runner.total_lag;
  }
  if (pipeline_ && !pipeline_->log_healthy()) reasons.Push("the last ingestion commit failed (log unavailable)");
  Result<std::shared_ptr<const ViewSnapshot>> views = views_->Current();
  if (!views.ok()) reasons.Push("views: " + views.status().message());
  const bool ready = reasons.array()->empty();
  body["ready"] = ready;
  body["reasons"] = std::move(reasons);
  res.status = ready ? 200 : 503;
  res.set_content(body.Dump(), kJsonType);
}

void HttpService::Metrics(const RequestContext&, httplib::Response& res) {
  res.status = 200;
  res.set_content(deps_.metrics->Expose(), "text/plain; version=0.0.4; charset=utf-8");
}

void HttpService::Lag(const RequestContext& ctx, httplib::Response& res) {
  Json body;
  if (deps_.runner == nullptr) {
    body["runner"] = "disabled";
  } else {
    const RunnerSnapshot runner = deps_.runner->Snapshot();
    body["runner"] = runner.exited ? "stopped" : runner.reported ? "running" : "starting";
    body["total_lag_records"] = runner.total_lag;
    body["events_applied"] = runner.events_applied;
    Json partitions = Json::MakeArray();
    for (const PartitionLag& lag : runner.partitions) {
      Json row;
      row["topic"] = lag.tp.topic;
      row["partition"] = lag.tp.partition;
      row["position"] = lag.position;
      row["end"] = lag.end;
      row["lag_records"] = lag.lag;
      row["lag_seconds"] = std::isnan(lag.lag_seconds) ? Json() : Json(lag.lag_seconds);
      row["stalled"] = lag.stalled;
      partitions.Push(std::move(row));
    }
    body["partitions"] = std::move(partitions);
  }
  SendQueryResult(ctx, res, body.Dump());
}

// ---------------------------------------------------------------- queries

std::shared_ptr<const ViewSnapshot> HttpService::ViewsFor(const RequestContext& ctx,
                                                          httplib::Response& res) {
  const std::string as_of_store = ctx.request.get_param_value("as_of_store");
  if (!as_of_store.empty() && !ctx.principal->Has(kReadAllRoles)) {
    SendError(res, 403, "forbidden", "as-of stores are readable by the auditor and hr roles only");
    return nullptr;
  }
  if (!as_of_store.empty()) {
    std::lock_guard lock(as_of_mutex_);
    auto it = as_of_builds_.find(as_of_store);
    if (it != as_of_builds_.end() && it->second.state != "ready") {
      SendError(res, 409, "not_ready", "as-of store \"" + as_of_store + "\" is " + it->second.state);
      return nullptr;
    }
  }
  Result<std::shared_ptr<const ViewSnapshot>> views =
      as_of_store.empty() ? views_->Current() : views_->AsOf(as_of_store);
  if (!views.ok()) {
    const int status = views.status().code() == StatusCode::kInvalidArgument ? 400
                       : as_of_store.empty()                                   ? 503
                                                                              : 404;
    SendError(res, status, status == 503 ? "views_unavailable" : CodeName(status),
              views.status().message());
    return nullptr;
  }
  return *views;
}

bool HttpService::MayReadEmployee(const RequestContext& ctx, const ViewSnapshot& views,
                                  const std::string& employee, httplib::Response& res) {
  const Principal& p = *ctx.principal;
  if (p.Has(kReadAllRoles)) return true;
  if (p.Has(kRoleEmployee) && p.subject == employee) return true;
  if (p.Has(kRoleManager)) {
    if (p.subject == employee) return true;  // a manager is an employee too
    Result<std::string> manager = views.query->ManagerOf(employee);
    if (manager.ok() && *manager == p.subject) return true;
  }
  // Same answer whether or not the employee exists.
  SendError(res, 403, "forbidden", "not allowed to read this employee's data");
  return false;
}

bool HttpService::PageParams(const RequestContext& ctx, httplib::Response& res, size_t* limit,
                             std::string* after_key) {
  auto param = [&](const char* name) {
    return ctx.request.has_param(name) ? std::optional<std::string>(ctx.request.get_param_value(name))
                                       : std::nullopt;
  };
  Result<size_t> parsed_limit = ParseLimitParam(param("limit"), config_.default_page_size,
                                                config_.max_page_size);
  if (!parsed_limit.ok()) {
    SendError(res, 400, "bad_request", parsed_limit.status().message());
    return false;
  }
  *limit = *parsed_limit;
  Result<std::string> key = ParseCursorParam(param("cursor"));
  if (!key.ok()) {
    SendError(res, 400, "bad_request", key.status().message());
    return false;
  }
  *after_key = std::move(key).value();
  return true;
}

void HttpService::SendQueryResult(const RequestContext& ctx, httplib::Response& res,
                                  const Result<std::string>& result) {
  if (!result.ok()) {
    const int status = HttpStatusForQuery(result.status());
    SendError(res, status, CodeName(status), result.status().message());
    return;
  }
  const std::string etag = EtagOf(*result);
  res.set_header("ETag", etag);
  res.set_header("Cache-Control", "private, no-cache");
  if (IfNoneMatchMatches(ctx.request.get_header_value("If-None-Match"), etag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(*result, kJsonType);
}

// Adds "next_cursor" to a JSON object text.
static std::string WithCursor(const std::string& json, const std::string& next_key) {
  std::string out = json.substr(0, json.size() - 1);
  out += ",\"next_cursor\":";
  if (next_key.empty()) {
    out += "null";
  } else {
    AppendJsonString(&out, Base64UrlEncode(next_key));
  }
  return out + "}";
}

static Result<std::optional<int64_t>> AsOfParam(const httplib::Request& req) {
  return ParseAsOfParam(req.has_param("as_of") ? std::optional<std::string>(req.get_param_value("as_of"))
                                               : std::nullopt);
}

void HttpService::EmployeeQuery(const RequestContext& ctx, httplib::Response& res,
                                const std::string& what) {
  const std::string employee = ctx.request.matches[1];
  std::shared_ptr<const ViewSnapshot> views = ViewsFor(ctx, res);
  if (!views || !MayReadEmployee(ctx, *views, employee, res)) return;
  const processors::QueryService& q = *views->query;
  if (what == "step-status") {
    const std::string program = ctx.request.get_param_value("program");
    SendQueryResult(ctx, res,
                    q.StepStatus(employee, program.empty() ? std::nullopt
                                                           : std::optional<std::string_view>(program)));
  } else if (what == "engagement") {
    Result<std::optional<int64_t>> as_of = AsOfParam(ctx.request);
    if (!as_of.ok()) return SendQueryResult(ctx, res, as_of.status());
    SendQueryResult(ctx, res, q.Engagement(employee, *as_of));
  } else {
    size_t limit = 0;
    std::string after;
    if (!PageParams(ctx, res, &limit, &after)) return;
    std::string next;
    Result<std::string> page = q.RejectionsPage(employee, after, limit, &next);
    SendQueryResult(ctx, res, page.ok() ? Result<std::string>(WithCursor(*page, next)) : page);
  }
}

static std::string WithCursor(const std::string& json, const std::string& next_key);

void HttpService::Reports(const RequestContext& ctx, httplib::Response& res) {
  const std::string manager = ctx.request.matches[1];
  if (!ctx.principal->Has(kReadAllRoles) && ctx.principal->subject != manager) {
    return SendError(res, 403, "forbidden", "a manager lists only their own reports");
  }
  size_t limit = 0;
  std::string after;
  if (!PageParams(ctx, res, &limit, &after)) return;
  std::shared_ptr<const ViewSnapshot> views = ViewsFor(ctx, res);
  if (!views) return;
  Result<const std::map<std::string, std::vector<std::string>>*> reports = views->Reports();
  if (!reports.ok()) return SendQueryResult(ctx, res, reports.status());
  Json list = Json::MakeArray();
  std::string next;
  auto it = (*reports)->find(manager);
  if (it != (*reports)->end()) {
    const std::vector<std::string>& all = it->second;
    auto start = std::upper_bound(all.begin(), all.end(), after);
    size_t shown = 0;
    for (auto e = start; e != all.end(); ++e) {
      if (shown == limit) {
        next = *(e - 1);
        break;
      }
      list.Push(*e);
      ++shown;
    }
  }
  Json body;
  body["manager"] = manager;
  body["limit"] = static_cast<int64_t>(limit);
  body["reports"] = std::move(list);
  SendQueryResult(ctx, res, WithCursor(body.Dump(), next));
}

// Length-prefixed parts: no two parameter lists share a key.
static std::string MemoKey(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (std::string_view part : parts) {
    key += std::to_string(part.size());
    key += ':';
    key += part;
  }
  return key;
}

void HttpService::OrgQuery(const RequestContext& ctx, httplib::Response& res,
                           const std::string& what) {
  std::shared_ptr<const ViewSnapshot> views = ViewsFor(ctx, res);
  if (!views) return;
  const processors::QueryService& q = *views->query;
  if (what == "roots") {
    Json body;
    const std::vector<std::string> roots = q.RootOrgUnits();
    body["root_org_units"] = Json(Json::Array(roots.begin(), roots.end()));
    return SendQueryResult(ctx, res, body.Dump());
  }
  // Roll-ups over a subtree cost milliseconds each (the roots cover the
  // company) and a snapshot never changes: answers are memoized per snapshot,
  // keyed by every parameter the answer depends on (the route checked the
  // role already; org queries have no per-row authorization).
  const std::string org = ctx.request.matches[1];
  if (what == "engagement") {
    Result<std::optional<int64_t>> as_of = AsOfParam(ctx.request);
    if (!as_of.ok()) return SendQueryResult(ctx, res, as_of.status());
    const std::string key =
        MemoKey({"engagement", org, *as_of ? std::to_string(**as_of) : std::string()});
    auto compute = [org, as_of = *as_of](const processors::QueryService& query) {
      return query.OrgEngagement(org, as_of);
    };
    SendQueryResult(ctx, res, views->Memoized(key, compute));
  } else {
    const std::string period = ctx.request.get_param_value("period");
    if (period.empty()) {
      return SendError(res, 400, "bad_request", "period: required (FY2025 | 2025Q3 | 2025-07)");
    }
    const std::string profile = ctx.request.get_param_value("profile");
    const std::string key = MemoKey({"kpi", org, period, profile});
    auto compute = [org, period, profile](const processors::QueryService& query) {
      return query.Kpi(org, period,
                       profile.empty() ? std::nullopt : std::optional<std::string_view>(profile));
    };
    SendQueryResult(ctx, res, views->Memoized(key, compute));
  }
}

void HttpService::ListRejections(const RequestContext& ctx, httplib::Response& res) {
  size_t limit = 0;
  std::string after;
  if (!PageParams(ctx, res, &limit, &after)) return;
  std::shared_ptr<const ViewSnapshot> views = ViewsFor(ctx, res);
  if (!views) return;
  std::string next;
  Result<std::string> page = views->query->RejectionsPage(std::nullopt, after, limit, &next);
  SendQueryResult(ctx, res, page.ok() ? Result<std::string>(WithCursor(*page, next)) : page);
}

void HttpService::ListDeadLetters(const RequestContext& ctx, httplib::Response& res) {
  size_t limit = 0;
  std::string after;
  if (!PageParams(ctx, res, &limit, &after)) return;
  std::shared_ptr<const ViewSnapshot> views = ViewsFor(ctx, res);
  if (!views) return;
  auto it = views->store->NewIterator(kDeadLetterFamily);
  if (after.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(after);
    if (it->Valid() && it->key() == after) it->Next();
  }
  std::string rows;
  std::string last_key;
  std::string next;
  size_t shown = 0;
  for (; it->Valid(); it->Next()) {
    if (shown == limit) {
      next = last_key;
      break;
    }
    if (!rows.empty()) rows += ",";
    rows.append(it->value());  // each dead letter is a JSON object
    last_key.assign(it->key().data(), it->key().size());
    ++shown;
  }
  if (!it->status().ok()) return SendQueryResult(ctx, res, it->status());
  SendQueryResult(ctx, res,
                  WithCursor("{\"limit\":" + std::to_string(limit) + ",\"dead_letters\":[" + rows + "]}",
                             next));
}

void HttpService::ViewTime(const RequestContext& ctx, httplib::Response& res) {
  std::shared_ptr<const ViewSnapshot> views = ViewsFor(ctx, res);
  if (!views) return;
  Result<std::optional<int64_t>> time = views->query->ViewTime();
  if (!time.ok()) return SendQueryResult(ctx, res, time.status());
  Json body;
  body["view_time"] = *time ? Json(FormatRfc3339(**time, 0)) : Json();
  body["views"] = std::filesystem::path(views->dir).filename().string();
  SendQueryResult(ctx, res, body.Dump());
}

// ---------------------------------------------------------------- as-of builds

void HttpService::StartAsOfBuild(const RequestContext& ctx, httplib::Response& res) {
  if (!deps_.projector_factory || deps_.log == nullptr || config_.as_of_dir.empty()) {
    return SendError(res, 503, "as_of_disabled",
                     "as-of builds need [query] as_of_dir and a process that owns the log");
  }
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  std::string_view name;
  std::string_view as_of_text;
  if (parser.parse(ctx.request.body).get_object().get(body) != simdjson::SUCCESS) {
    return SendError(res, 400, "bad_request", "body: must be a JSON object {\"name\", \"as_of\"}");
  }
  if (body["name"].get_string().get(name) != simdjson::SUCCESS) {
    return SendError(res, 400, "bad_request", "name: required string");
  }
  if (body["as_of"].get_string().get(as_of_text) != simdjson::SUCCESS) {
    return SendError(res, 400, "bad_request", "as_of: required RFC 3339 time");
  }
  const std::string store(name);
  if (store.empty() || store.size() > 128 || store.front() == '.' ||
      store.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
          std::string::npos) {
    return SendError(res, 400, "bad_request", "name: must match [A-Za-z0-9._-]{1,128} and not start with '.'");
  }
  int32_t offset = 0;
  Result<int64_t> as_of = ParseRfc3339(as_of_text, &offset);
  if (!as_of.ok()) return SendError(res, 400, "bad_request", "as_of: " + as_of.status().message());
  const std::string target = config_.as_of_dir + "/" + store;
  std::lock_guard lock(as_of_mutex_);
  std::error_code error;
  if (as_of_builds_.count(store) || std::filesystem::exists(target, error)) {
    return SendError(res, 409, "exists", "as-of store \"" + store + "\" exists already");
  }
  if (as_of_running_) return SendError(res, 409, "busy", "another as-of build is running");
  if (as_of_thread_.joinable()) as_of_thread_.join();
  ReplayOptions options;
  options.views_root = deps_.views_root;
  options.view_version = deps_.view_version;
  options.progress_bar = false;
  options.snapshot = false;
  as_of_replayer_ = std::make_unique<Replayer>(deps_.log, deps_.projector_factory, options);
  as_of_builds_[store] = AsOfBuild{store, "building", ""};
  as_of_running_ = true;
  AsOfRequest request;
  request.as_of_time_us = *as_of;
  request.as_of_utc_offset_minutes = offset;
  request.target_dir = target;
  ModuleLogger("service")->info("as-of build {} as of {} requested by {}", store, as_of_text,
                                ctx.principal->subject);
  as_of_thread_ = std::thread([this, store, request] {
    NameCurrentThread("jr-as-of");
    Result<ReplayReport> report = as_of_replayer_->BuildAsOf(request);
    std::lock_guard lock(as_of_mutex_);
    AsOfBuild& build = as_of_builds_[store];
    build.state = report.ok() ? "ready" : "failed";
    build.message = report.ok() ? "events applied: " + std::to_string(report->events)
                                : report.status().ToString();
    as_of_running_ = false;
  });
  Json out;
  out["name"] = store;
  out["status"] = "building";
  out["as_of"] = std::string(as_of_text);
  res.status = 202;
  res.set_header("Location", "/v1/as-of-stores/" + store);
  res.set_content(out.Dump(), kJsonType);
}

void HttpService::AsOfBuildStatus(const RequestContext& ctx, httplib::Response& res) {
  const std::string name = ctx.request.matches[1];
  Json out;
  out["name"] = name;
  {
    std::lock_guard lock(as_of_mutex_);
    auto it = as_of_builds_.find(name);
    if (it != as_of_builds_.end()) {
      out["status"] = it->second.state;
      out["message"] = it->second.message;
      return SendQueryResult(ctx, res, out.Dump());
    }
  }
  std::error_code error;
  if (config_.as_of_dir.empty() ||
      !std::filesystem::is_directory(config_.as_of_dir + "/" + name, error)) {
    return SendError(res, 404, "not_found", "no as-of store \"" + name + "\"");
  }
  out["status"] = "ready";
  out["message"] = "";
  SendQueryResult(ctx, res, out.Dump());
}

// ---------------------------------------------------------------- metrics

void HttpService::CollectMetrics(MetricsRegistry& metrics) {
  if (deps_.runner != nullptr) deps_.runner->Publish(&metrics);
  if (pipeline_) {
    metrics.GetGauge("jiritsu_ingest_queue_events", "Events queued or being committed by ingestion")
        ->Set(static_cast<double>(pipeline_->queued_events()));
    metrics.GetGauge("jiritsu_ingest_log_healthy", "1 when the last ingestion commit succeeded")
        ->Set(pipeline_->log_healthy() ? 1 : 0);
  }
  Result<std::shared_ptr<const ViewSnapshot>> views = views_->Current();
  if (views.ok()) {
    metrics.GetGauge("jiritsu_views_store_bytes", "Approximate RocksDB size of the served views (SST + memtables)")
        ->Set(static_cast<double>((*views)->store->ApproximateSizeBytes()));
    // The runtime keeps the count; views from before it did are counted
    // (bounded) until their next checkpoint stores it.
    Result<std::optional<int64_t>> stored = StoredDeadLetterCount(*(*views)->store);
    int64_t count = 0;
    if (stored.ok() && stored->has_value()) {
      count = **stored;
    } else {
      auto it = (*views)->store->NewIterator(kDeadLetterFamily);
      for (it->SeekToFirst(); it->Valid() && count < 10'000'000; it->Next()) ++count;
    }
    metrics.GetGauge("jiritsu_dlq_records", "Dead letters recorded in the served views")
        ->Set(static_cast<double>(count));
    Result<std::optional<int64_t>> time = (*views)->query->ViewTime();
    if (time.ok() && *time) {
      metrics.GetGauge("jiritsu_view_time_seconds", "View time T (latest employee event time folded), Unix seconds")
          ->Set(static_cast<double>(**time) / 1e6);
    }
  }
  if (deps_.dedupe != nullptr) {
    std::error_code error;
    uint64_t bytes = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(deps_.dedupe->dir(), error)) {
      if (entry.is_regular_file(error)) bytes += entry.file_size(error);
    }
    metrics.GetGauge("jiritsu_ingest_index_bytes", "On-disk size of the ingestion dedupe index")
        ->Set(static_cast<double>(bytes));
  }
  // Replay progress, from the file `jiritsu replay` rewrites (core/replay.h).
  std::ifstream progress(deps_.views_root + "/REPLAY-PROGRESS.json");
  if (progress) {
    std::stringstream text;
    text << progress.rdbuf();
    simdjson::dom::parser parser;
    simdjson::dom::object object;
    if (parser.parse(text.str()).get_object().get(object) == simdjson::SUCCESS) {
      auto number = [&](const char* key) {
        double value = 0;
        simdjson::dom::element e;
        if (object[key].get(e) == simdjson::SUCCESS) {
          if (e.is_int64()) value = static_cast<double>(e.get_int64().value());
          else if (e.is_double()) value = e.get_double().value();
        }
        return value;
      };
      bool done = true;
      if (object["done"].get_bool().get(done) != simdjson::SUCCESS) done = true;
      const pid_t pid = static_cast<pid_t>(number("pid"));
      metrics.GetGauge("jiritsu_replay_running", "1 while a replay of this views root is running")
          ->Set(!done && ProcessAlive(pid) ? 1 : 0);
      metrics.GetGauge("jiritsu_replay_events", "Events applied by the latest replay")->Set(number("events"));
      metrics.GetGauge("jiritsu_replay_records_remaining", "Records the latest replay still has to read")
          ->Set(number("records_remaining"));
      metrics.GetGauge("jiritsu_replay_events_per_second", "Replay throughput")->Set(number("events_per_s"));
      metrics.GetGauge("jiritsu_replay_eta_seconds", "Estimated seconds until the replay caught up")
          ->Set(number("eta_s"));
    }
  }
}

}  // namespace jiritsu::service
