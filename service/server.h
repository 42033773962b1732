// HttpService: the HTTP API of `jiritsu serve` (cpp-httplib, one port):
// ingestion, queries, health, readiness and metrics, behind authentication
// and role-based authorization. Endpoints, roles and status codes are
// documented in docs/configuration.md ("HTTP API") and docs/operations.md.
//
// Routing: every route is registered through AddRoute() with a name (the
// `route` label of the HTTP metrics) and the roles allowed to call it (0 =
// public). The wrapper authenticates (401 with WWW-Authenticate on missing
// or invalid credentials), checks the role (403), times the request, maps
// exceptions to 500, and the handler then checks row-level access (an
// employee reads only their own rows, a manager their current reports; both
// get 403 whether or not the row exists). Other modules (the xAPI endpoints)
// add their routes the same way before Start().
//
// Lifecycle: Create() -> AddRoute()* -> Start() -> Stop() (or destroy).
// The log, dedupe index, monitor and metrics in ServiceDeps must outlive the
// service. Thread-safety: handlers run on the server's worker pool; every
// shared component they touch is thread-safe. Failure: Create ->
// kInvalidArgument (bad keys); Start -> kUnavailable when the port cannot be
// bound.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/dedupe_index.h"
#include "core/event_log.h"
#include "core/metrics.h"
#include "core/replay.h"
#include "core/status.h"
#include "service/auth.h"
#include "service/config.h"
#include "service/ingest_pipeline.h"
#include "service/runner_monitor.h"
#include "service/views.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace jiritsu::service {

class XapiResource;

struct ServiceDeps {
  EventLog* log = nullptr;       // ingestion target; null: POST /v1/events answers 503
  DedupeIndex* dedupe = nullptr;
  std::string views_root;        // ViewGenerations root the runner serves
  std::vector<std::string> view_families;
  RunnerMonitor* runner = nullptr;  // null: this process runs no projections
  MetricsRegistry* metrics = nullptr;
  // Unix seconds, for token expiry (tests inject a clock). Default: system.
  std::function<int64_t()> clock_s;
  // For as-of builds (POST /v1/as-of-stores); null factory: disabled.
  ProjectorFactory projector_factory;
  int32_t view_version = 0;
  // Seals personal fields at ingestion, deletes keys on accepted erasures,
  // reveals personal fields in query responses. Null: none of that (tests of
  // other concerns).
  KeyStore* keys = nullptr;
};

struct RequestContext {
  const httplib::Request& request;
  const Principal* principal;  // null on public routes
};
using RouteHandler = std::function<void(const RequestContext&, httplib::Response&)>;

// A registered route as AddRoute() received it (for the authorization matrix
// test, which checks that every route has an expectation row).
struct RouteInfo {
  std::string method;
  std::string pattern;
  std::string name;
  uint32_t allowed_roles = 0;  // 0 = public
};

class HttpService {
 public:
  static Result<std::unique_ptr<HttpService>> Create(const ServeConfig& config, ServiceDeps deps);
  ~HttpService();

  void AddRoute(const std::string& method, const std::string& pattern, const std::string& name,
                uint32_t allowed_roles, RouteHandler handler);
  Status Start();
  int port() const { return port_; }
  // The reader of the served views (tests inspect its refresher).
  ViewReader& views() { return *views_; }
  // Every route registered so far, in registration order. Not synchronized
  // with AddRoute(): call after the routes are added.
  const std::vector<RouteInfo>& routes() const { return routes_; }
  void Stop();

  // {"error": {"code": ..., "message": ...}} with `status`.
  static void SendError(httplib::Response& res, int status, std::string_view code,
                        std::string_view message);

 private:
  HttpService(const ServeConfig& config, ServiceDeps deps);
  void RegisterRoutes();
  void CollectMetrics(MetricsRegistry& metrics);

  // Handlers.
  void PostEvents(const RequestContext& ctx, httplib::Response& res);
  void Healthz(const RequestContext& ctx, httplib::Response& res);
  void Readyz(const RequestContext& ctx, httplib::Response& res);
  void Metrics(const RequestContext& ctx, httplib::Response& res);
  void Lag(const RequestContext& ctx, httplib::Response& res);
  void EmployeeQuery(const RequestContext& ctx, httplib::Response& res, const std::string& what);
  void Reports(const RequestContext& ctx, httplib::Response& res);
  void OrgQuery(const RequestContext& ctx, httplib::Response& res, const std::string& what);
  void ListRejections(const RequestContext& ctx, httplib::Response& res);
  void ListDeadLetters(const RequestContext& ctx, httplib::Response& res);
  void ViewTime(const RequestContext& ctx, httplib::Response& res);
  void StartAsOfBuild(const RequestContext& ctx, httplib::Response& res);
  void AsOfBuildStatus(const RequestContext& ctx, httplib::Response& res);

  // The views a read request targets (current, or ?as_of_store= for hr and
  // auditor); writes the error response and returns null on failure.
  std::shared_ptr<const ViewSnapshot> ViewsFor(const RequestContext& ctx, httplib::Response& res);
  // Row-level check for employee-scoped reads; writes 403 when denied.
  bool MayReadEmployee(const RequestContext& ctx, const ViewSnapshot& views,
                       const std::string& employee, httplib::Response& res);
  // limit/cursor parameters; writes 400 and returns false when invalid.
  bool PageParams(const RequestContext& ctx, httplib::Response& res, size_t* limit,
                  std::string* after_key);
  // Sends a query result (JSON) with ETag / If-None-Match, or its error.
  void SendQueryResult(const RequestContext& ctx, httplib::Response& res,
                       const Result<std::string>& result);

  ServeConfig config_;
  ServiceDeps deps_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<XapiResource> xapi_;  // [xapi] enabled and a log owned
  std::unique_ptr<ViewReader> views_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::vector<RouteInfo> routes_;

  // One as-of build at a time, on its own thread (core/replay.h BuildAsOf).
  struct AsOfBuild {
    std::string name;
    std::string state;  // building | ready | failed
    std::string message;
  };
  std::mutex as_of_mutex_;
  std::map<std::string, AsOfBuild> as_of_builds_;
  std::unique_ptr<Replayer> as_of_replayer_;
  std::thread as_of_thread_;
  bool as_of_running_ = false;
};

// Strong ETag of a response body (64-bit FNV-1a, hex, quoted).
std::string EtagOf(std::string_view body);
// True when an If-None-Match header value matches `etag` ("*" or a list;
// weak prefixes ignored).
bool IfNoneMatchMatches(std::string_view header, std::string_view etag);

}  // namespace jiritsu::service
