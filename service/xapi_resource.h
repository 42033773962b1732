// XapiResource: the xAPI Statements resource of `jiritsu serve` under /xapi/
// (docs/xapi.md): POST/PUT/GET /xapi/statements, GET /xapi/about and, for hr
// and auditors, GET /xapi/unmapped.
//
// Write path (one writer at a time, under write_mutex_, so two requests
// with the same statement id can never both be "new"):
//   validate every statement (xapi/statement.h; 400 names what/where/why)
//   -> per statement: same id stored with the same ComparisonHash: no-op;
//      a different one: 409 for the whole request
//   -> map (xapi/mapping.h) and submit the learning events through the
//      ingestion pipeline (durable, deduplicated by (source, id))
//   -> append the audit records (raw statement + mapping outcome) to
//      jiritsu.xapi and flush
//   -> apply them to the StatementStore, answer 200 [ids] / 204.
// Learning events go first: after a failure the client retries, the events
// are dropped as duplicates, and the audit record is written then. The
// store is a projection of jiritsu.xapi; a tailer thread applies the topic
// (rebuilding a deleted store, and picking up records another instance
// wrote when several serve processes share a Kafka log).
//
// Lifecycle: Create() (opens the store, catches up with the topic, starts
// the tailer) -> Register() before HttpService::Start() -> Stop() (or
// destroy). The log, pipeline and metrics must outlive it.
// Thread-safety: handlers run on HTTP workers; shared state is locked.
// Failure: Create -> the store's or the log's Status.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/event_log.h"
#include "core/metrics.h"
#include "core/status.h"
#include "service/config.h"
#include "service/ingest_pipeline.h"
#include "xapi/mapping.h"
#include "xapi/store.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace jiritsu::service {

class HttpService;
struct RequestContext;

// The LRS store directory for `config` (docs/configuration.md [xapi] store_dir).
std::string XapiStoreDir(const ServeConfig& config);

class XapiResource {
 public:
  static Result<std::unique_ptr<XapiResource>> Create(const ServeConfig& config, EventLog* log,
                                                      IngestPipeline* pipeline,
                                                      MetricsRegistry* metrics);
  ~XapiResource();
  void Register(HttpService* http);
  void Stop();

 private:
  XapiResource(const ServeConfig& config, EventLog* log, IngestPipeline* pipeline,
               MetricsRegistry* metrics);
  Status CatchUp();
  // Applies one poll of jiritsu.xapi in one write, with its last offset.
  Status ApplyPolled(const std::vector<LogRecord>& records);
  void TailLoop();

  void About(const RequestContext& ctx, httplib::Response& res);
  void PostStatements(const RequestContext& ctx, httplib::Response& res);
  void PutStatement(const RequestContext& ctx, httplib::Response& res);
  void GetStatements(const RequestContext& ctx, httplib::Response& res);
  void ListUnmapped(const RequestContext& ctx, httplib::Response& res);
  // Shared by POST and PUT: stores `body` (one statement or an array);
  // writes the error response and returns false on failure; `ids` receives
  // the statement ids in request order.
  bool Store(const RequestContext& ctx, httplib::Response& res, const std::string& body,
             const std::string& put_id, std::vector<std::string>* ids);
  // The X-Experience-API-Version check (400 when missing/unsupported); sets
  // the response header.
  bool CheckVersion(const RequestContext& ctx, httplib::Response& res, std::string* version);
  void Count(std::string_view outcome, int64_t n = 1);

  ServeConfig config_;
  EventLog* log_;
  IngestPipeline* pipeline_;
  MetricsRegistry* metrics_;
  xapi::Mapper mapper_;
  std::unique_ptr<xapi::StatementStore> store_;
  std::unique_ptr<LogProducer> producer_;
  std::mutex write_mutex_;
  int64_t last_stored_us_ = 0;  // under write_mutex_
  std::unique_ptr<LogConsumer> consumer_;
  std::thread tailer_;
  std::atomic<bool> stopping_{false};
};

}  // namespace jiritsu::service
