// jiritsu bench: see bench.h.
#include "ops/bench.h"

#include <fcntl.h>
#include <httplib.h>
#include <malloc.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/dedupe_index.h"
#include "core/embedded_log.h"
#include "core/ingest.h"
#include "core/kafka_log.h"
#include "core/kafka_mock_cluster.h"
#include "core/projection_runtime.h"
#include "core/replay.h"
#include "core/state_store.h"
#include "core/store_diff.h"
#include "core/thread_name.h"
#include "core/topics.h"
#include "ops/generator.h"
#include "ops/log_factory.h"
#include "ops/projections.h"
#include "ops/serve.h"
#include "ops/thread_cpu.h"
#include "processors/jiritsu_projector.h"
#include "processors/journal_tail.h"
#include "processors/query.h"
#include "processors/rows.h"
#include "schemas/codec.h"
#include "service/jwt.h"

namespace jiritsu {
namespace {
namespace fs = std::filesystem;

constexpr const char* kBaselines[] = {"raw-read", "decode", "raw-write"};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double CpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

// Resets the kernel's peak-RSS mark (VmHWM) so each phase reports its own
// peak; false where /proc/self/clear_refs is not writable.
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out);
}

double PeakRssMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

struct PhaseResult {
  PhaseResult() = default;
  explicit PhaseResult(std::string phase) : name(std::move(phase)) {}
  std::string name;
  bool skipped = false;
  std::string note;
  int64_t events = 0;
  int64_t bytes = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  double peak_rss_mb = 0;
  std::vector<double> latencies_ms;  // per request / per event, when relevant
  std::map<std::string, double> thread_cpu_s;  // by thread name (ThreadCpuSampler)
  std::map<std::string, std::string> extra;  // JSON fragments (already encoded)

  double per_second() const { return seconds > 0 ? events / seconds : 0; }
  double mb_per_second() const { return seconds > 0 ? bytes / 1e6 / seconds : 0; }
  // Steadier than the wall-clock rate on a shared machine.
  double per_cpu_second() const { return cpu_seconds > 0 ? events / cpu_seconds : 0; }
};

void AppendNumber(std::string* out, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  *out += buffer;
}

// "  replay threads (CPU s): jiritsu 45.1, jr-log-read 30.2, ...": the
// busiest first, those under 0.05 s left out (the JSON has every one).
void PrintThreadCpu(const PhaseResult& result) {
  std::vector<std::pair<double, std::string>> busiest;
  for (const auto& [name, seconds] : result.thread_cpu_s) {
    if (seconds >= 0.05) busiest.emplace_back(seconds, name);
  }
  if (busiest.empty()) return;
  std::sort(busiest.begin(), busiest.end(), std::greater<>());
  std::string line = "  " + result.name + " threads (CPU s):";
  for (size_t i = 0; i < busiest.size(); ++i) {
    char figure[32];
    std::snprintf(figure, sizeof(figure), " %.2f", busiest[i].first);
    line += (i == 0 ? " " : ", ") + busiest[i].second + figure;
  }
  std::printf("%s\n", line.c_str());
}

double Percentile(std::vector<double>* sorted_values, double p) {
  if (sorted_values->empty()) return 0;
  const size_t index = std::min(sorted_values->size() - 1,
                                static_cast<size_t>(p / 100.0 * sorted_values->size()));
  return (*sorted_values)[index];
}

// Everything one bench run shares between phases.
class Bench {
 public:
  explicit Bench(const BenchOptions& options) : options_(options) {}
  int Run();

 private:
  bool Wants(const std::string& phase) const {
    return std::find(options_.phases.begin(), options_.phases.end(), phase) !=
           options_.phases.end();
  }
  std::string WorkloadTag() const {
    return "e" + std::to_string(options_.employees) + "-m" + std::to_string(options_.months) + "-s" +
           std::to_string(options_.seed);
  }
  Status EnsureWorkloadFile();
  Status OpenLogForRun();
  Result<PhaseResult> Ingest();
  Result<PhaseResult> IngestHttp();
  Result<PhaseResult> ReadPhase(const std::string& name, bool decode);
  Result<PhaseResult> RawWrite();
  Result<PhaseResult> Project();
  Result<PhaseResult> Replay();
  Result<PhaseResult> Query();
  Result<PhaseResult> Latency();
  template <typename Each>
  Status ReadAll(Each each, int64_t* records, int64_t* bytes);
  Result<int64_t> TopicEnd(const std::string& topic);
  // syncfs() of the work dir's file system; a failure is reported, not
  // fatal (the figures then include the writeback).
  void SyncWorkDir() const {
    const int fd = ::open(options_.work_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::syncfs(fd) != 0) {
      std::fprintf(stderr,
                   "bench: could not sync %s (%s): the latency may include the setup's writeback\n",
                   options_.work_dir.c_str(), std::strerror(errno));
    }
    if (fd >= 0) ::close(fd);
  }
  // <work dir>/name, removed if it exists.
  std::string FreshDir(const std::string& name) {
    const std::string dir = options_.work_dir + "/" + name;
    fs::remove_all(dir);
    return dir;
  }
  void Report(const std::vector<PhaseResult>& results);

  BenchOptions options_;
  std::string workload_file_;
  std::string store_dir_;  // embedded: <work>/embedded-<tag>; kafka: dedupe index parent
  std::unique_ptr<KafkaMockCluster> mock_;
  std::unique_ptr<EventLog> log_;
  std::string log_description_;
  std::string views_for_query_;
  std::string project_dir_;  // run-views once Project() ran: caught up
  std::string project_digest_;  // of those views, read as views
  // Once replay ran after project: do the rebuilt views equal the live ones?
  std::optional<bool> digests_equal_;
  int64_t log_bytes_ = 0;  // bytes of the replay's input topics, once read
};

Status Bench::EnsureWorkloadFile() {
  workload_file_ = options_.work_dir + "/workload-" + WorkloadTag() + ".jsonl";
  if (fs::exists(workload_file_)) return Status::Ok();
  const std::string partial = workload_file_ + ".partial";
  std::FILE* out = std::fopen(partial.c_str(), "wb");
  if (out == nullptr) return IOError("cannot create " + partial);
  GeneratorOptions generator;
  generator.employees = options_.employees;
  generator.months = options_.months;
  generator.seed = options_.seed;
  const double start = Now();
  auto summary = GenerateEnterprise(generator, [&](std::string_view line) -> Status {
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size() || std::fputc('\n', out) == EOF) {
      return IOError("writing " + partial);
    }
    return Status::Ok();
  });
  const bool closed = std::fclose(out) == 0;
  if (!summary.ok()) return summary.status();
  if (!closed) return IOError("closing " + partial);
  fs::rename(partial, workload_file_);
  std::fprintf(stderr, "bench: generated %s (%lld lines) in %.1f s\n", workload_file_.c_str(),
               static_cast<long long>(summary->lines), Now() - start);
  return Status::Ok();
}

Result<int64_t> Bench::TopicEnd(const std::string& topic) {
  JIRITSU_ASSIGN_OR_RETURN(int32_t partitions, log_->PartitionCount(topic));
  int64_t total = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    JIRITSU_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset({topic, p}));
    total += end;
  }
  return total;
}

// Opens the log the phases run on. The embedded store is reused when it holds
// the same workload and nothing a `project` phase would have to re-read
// (published facts); otherwise it is re-created and loaded, untimed unless
// `ingest` is a phase (then Ingest() loads it, timed).
Status Bench::OpenLogForRun() {
  if (options_.log_kind == "kafka") {
    std::string bootstrap = options_.kafka_bootstrap;
    KafkaLogOptions kafka;
    if (bootstrap.empty()) {
      mock_ = std::make_unique<KafkaMockCluster>();
      JIRITSU_ASSIGN_OR_RETURN(bootstrap, mock_->Start(1));
      kafka.topic_creator = mock_->TopicCreator();
    }
    kafka.bootstrap_servers = bootstrap;
    JIRITSU_ASSIGN_OR_RETURN(kafka.properties, ParseKafkaProperties(options_.kafka_properties));
    kafka.topic_prefix = options_.kafka_topic_prefix;
    JIRITSU_ASSIGN_OR_RETURN(log_, OpenKafkaLog(kafka));
    store_dir_ = options_.work_dir + "/kafka-" + WorkloadTag();
    JIRITSU_RETURN_IF_ERROR(log_->EnsureTopics(AllTopicSpecs(options_.partitions)));
    log_description_ = mock_ ? "kafka (in-process mock cluster)" : log_->Describe();
    // A mock cluster starts empty; a real one is loaded unless it already
    // holds the workload (the caller's responsibility, or --phases ingest).
    JIRITSU_ASSIGN_OR_RETURN(int64_t employees_end, TopicEnd(std::string(kEmployeeTopic)));
    if (employees_end == 0 && !Wants("ingest")) {
      JIRITSU_ASSIGN_OR_RETURN(PhaseResult loaded, Ingest());
      std::fprintf(stderr, "bench: loaded %lld events (untimed)\n",
                   static_cast<long long>(loaded.events));
    }
    return Status::Ok();
  }
  store_dir_ = options_.work_dir + "/embedded-" + WorkloadTag();
  const std::string loaded_marker = store_dir_ + "/BENCH-LOADED";
  bool reuse = fs::exists(loaded_marker) && !Wants("ingest");
  if (reuse) {
    JIRITSU_ASSIGN_OR_RETURN(log_, OpenEmbeddedLog(store_dir_ + "/log"));
    JIRITSU_ASSIGN_OR_RETURN(int64_t facts, TopicEnd(std::string(kFactsTopic)));
    if (facts > 0 && (Wants("project") || Wants("latency"))) {
      std::fprintf(stderr, "bench: %s holds published facts of an earlier run: reloading it\n",
                   store_dir_.c_str());
      log_.reset();
      reuse = false;
    }
  }
  if (!reuse) {
    fs::remove_all(store_dir_);
    fs::create_directories(store_dir_);
    JIRITSU_ASSIGN_OR_RETURN(log_, OpenEmbeddedLog(store_dir_ + "/log"));
  }
  JIRITSU_RETURN_IF_ERROR(log_->EnsureTopics(AllTopicSpecs(options_.partitions)));
  log_description_ = log_->Describe();
  if (!reuse && !Wants("ingest")) {
    JIRITSU_ASSIGN_OR_RETURN(PhaseResult loaded, Ingest());
    std::fprintf(stderr, "bench: loaded %lld events (untimed)\n",
                 static_cast<long long>(loaded.events));
  }
  return Status::Ok();
}

Result<PhaseResult> Bench::Ingest() {
  PhaseResult result("ingest");
  const std::string index_dir = store_dir_ + "/ingest-index";
  fs::remove_all(index_dir);
  fs::create_directories(store_dir_);
  JIRITSU_ASSIGN_OR_RETURN(auto index, DedupeIndex::Open(index_dir));
  JIRITSU_ASSIGN_OR_RETURN(auto rejects,
                           JsonlRejectFile::Create(store_dir_ + "/rejects.jsonl", false));
  // Like `jiritsu ingest` (ops/cmd_ingest.cc): personal fields sealed under
  // keys of a key store next to the log (<store>/keys, DefaultKeysDir of the
  // embedded log; the bench's store dir with Kafka too), fresh like the
  // index, so every employee's key is created in the phase.
  const std::string keys_dir = DefaultKeysDir(store_dir_, /*kafka=*/false);
  fs::remove_all(keys_dir);
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<FileKeyStore> keys, FileKeyStore::Open(keys_dir));
  IngestOptions ingest_options;
  ingest_options.key_store = keys.get();
  JIRITSU_ASSIGN_OR_RETURN(auto ingestor, Ingestor::Create(log_.get(), index.get(), rejects.get(),
                                                           ingest_options));
  std::FILE* in = std::fopen(workload_file_.c_str(), "rb");
  if (in == nullptr) return IOError("cannot open " + workload_file_);
  const double start = Now();
  Status streamed = IngestStream(in, ingestor.get());
  result.seconds = Now() - start;
  std::fclose(in);
  JIRITSU_RETURN_IF_ERROR(streamed);
  JIRITSU_RETURN_IF_ERROR(rejects->Close());
  const IngestStats& stats = ingestor->stats();
  result.events = stats.lines - stats.blank;
  result.bytes = stats.bytes;
  result.extra["accepted"] = std::to_string(stats.accepted);
  result.extra["duplicates"] = std::to_string(stats.duplicates);
  result.extra["rejected"] = std::to_string(stats.rejected);
  if (options_.log_kind == "embedded") {
    std::ofstream(store_dir_ + "/BENCH-LOADED") << WorkloadTag() << "\n";
  }
  return result;
}

// What the ingest-http clients count, summed over the client threads.
struct HttpIngestCounts {
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;
  int64_t requests = 0;
  int64_t http_429 = 0;
  int64_t http_400 = 0;  // batches refused whole (invalid or malformed lines)
  std::vector<double> latencies_ms;  // per request
};

constexpr char kBenchHttpToken[] = "jiritsu-bench-ingest-token";

// One keep-alive client connection of the ingest-http phase. Posts `lines`
// (JSONL lines, none blank) as one JSON-array batch and counts every line's
// verdict; see bench.h for how refused batches are handled.
class HttpIngestClient {
 public:
  HttpIngestClient(int port, HttpIngestCounts* counts) : client_("127.0.0.1", port), counts_(counts) {
    client_.set_keep_alive(true);
    // httplib sends headers and body separately: with Nagle on, each POST
    // waits for the server's delayed ACK (~40 ms).
    client_.set_tcp_nodelay(true);
    client_.set_connection_timeout(10, 0);
    client_.set_read_timeout(120, 0);  // the service's request timeout is 30 s
    client_.set_write_timeout(60, 0);
  }

  Status Post(const std::vector<std::string_view>& lines) {
    std::vector<std::string_view> pending = lines;
    while (!pending.empty()) {
      std::string body = "[";
      for (size_t i = 0; i < pending.size(); ++i) {
        if (i > 0) body += ',';
        body += pending[i];
      }
      body += ']';
      const double t0 = Now();
      httplib::Result res = client_.Post("/v1/events", headers_, body, "application/json");
      counts_->latencies_ms.push_back((Now() - t0) * 1e3);
      ++counts_->requests;
      if (!res) {
        return Unavailable("ingest-http: POST /v1/events failed: " + httplib::to_string(res.error()));
      }
      if (res->status == 202) return CountResults(*res, pending.size());
      if (res->status == 429) {
        ++counts_->http_429;
        const std::string retry_after = res->get_header_value("Retry-After");
        int seconds = -1;
        const auto parsed =
            std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
        if (parsed.ec != std::errc() || parsed.ptr != retry_after.data() + retry_after.size() ||
            seconds < 0) {
          return Unexpected(*res, "429 without a valid Retry-After header");
        }
        std::this_thread::sleep_for(std::chrono::seconds(std::min(seconds, 60)));
        continue;  // the same batch again
      }
      if (res->status != 400) return Unexpected(*res, "unexpected status");
      ++counts_->http_400;
      simdjson::dom::element answer;
      std::string_view code;
      if (parser_.parse(res->body).get(answer) != simdjson::SUCCESS ||
          answer["error"]["code"].get(code) != simdjson::SUCCESS) {
        return Unexpected(*res, "400 without an error code");
      }
      if (code == "malformed_json") {
        // Some line is not JSON, so the array is not either: bisect until the
        // offending line stands alone, which is then rejected.
        if (pending.size() == 1) {
          ++counts_->rejected;
          return Status::Ok();
        }
        const auto middle = pending.begin() + static_cast<std::ptrdiff_t>(pending.size() / 2);
        JIRITSU_RETURN_IF_ERROR(Post(std::vector<std::string_view>(pending.begin(), middle)));
        return Post(std::vector<std::string_view>(middle, pending.end()));
      }
      if (code != "invalid_events") return Unexpected(*res, "unexpected 400");
      // The service lists the invalid events and ingested nothing: drop
      // those (rejected) and send the rest again.
      simdjson::dom::array errors;
      if (answer["errors"].get(errors) != simdjson::SUCCESS) {
        return Unexpected(*res, "invalid_events without errors");
      }
      std::vector<bool> invalid(pending.size(), false);
      int64_t listed = 0;
      for (simdjson::dom::element error : errors) {
        int64_t index = -1;
        if (error["index"].get(index) != simdjson::SUCCESS || index < 0 ||
            index >= static_cast<int64_t>(pending.size()) || invalid[static_cast<size_t>(index)]) {
          return Unexpected(*res, "invalid_events with a bad index");
        }
        invalid[static_cast<size_t>(index)] = true;
        ++listed;
      }
      if (listed == 0) return Unexpected(*res, "invalid_events listing no event");
      counts_->rejected += listed;
      std::vector<std::string_view> rest;
      for (size_t i = 0; i < pending.size(); ++i) {
        if (!invalid[i]) rest.push_back(pending[i]);
      }
      pending = std::move(rest);
    }
    return Status::Ok();
  }

 private:
  Status CountResults(const httplib::Response& res, size_t sent) {
    simdjson::dom::element answer;
    simdjson::dom::array results;
    if (parser_.parse(res.body).get(answer) != simdjson::SUCCESS ||
        answer["results"].get(results) != simdjson::SUCCESS) {
      return Unexpected(res, "202 without results");
    }
    if (results.size() != sent) {
      return Unexpected(res, "202 with " + std::to_string(results.size()) + " results for " +
                                 std::to_string(sent) + " events");
    }
    for (simdjson::dom::element row : results) {
      std::string_view status;
      if (row["status"].get(status) != simdjson::SUCCESS) return Unexpected(res, "result without status");
      if (status == "accepted") {
        ++counts_->accepted;
      } else if (status == "duplicate") {
        ++counts_->duplicates;
      } else if (status == "rejected") {
        ++counts_->rejected;
      } else {
        return Unexpected(res, "result status \"" + std::string(status) + "\"");
      }
    }
    return Status::Ok();
  }

  static Status Unexpected(const httplib::Response& res, const std::string& what) {
    return Internal("ingest-http: POST /v1/events: " + what + ": HTTP " + std::to_string(res.status) +
                    " " + res.body.substr(0, 300));
  }

  httplib::Client client_;
  httplib::Headers headers_{{"Authorization", std::string("Bearer ") + kBenchHttpToken}};
  simdjson::dom::parser parser_;
  HttpIngestCounts* counts_;
};

// ingest-http: see bench.h. The service is built by ServeInstance::Start,
// exactly as `jiritsu serve` builds it, with projections off (only ingestion
// is measured) and xAPI off (another endpoint), over a log of its own.
Result<PhaseResult> Bench::IngestHttp() {
  PhaseResult result("ingest-http");
  if (options_.log_kind == "kafka" && !options_.kafka_bootstrap.empty()) {
    result.skipped = true;
    result.note = "needs a fresh log: not run against a real Kafka cluster (--kafka), whose topics "
                  "it would fill; run it on the embedded log or the mock cluster";
    return result;
  }
  const std::string dir = FreshDir("ingest-http");
  fs::create_directories(dir);
  service::ServeConfig config;
  config.listen_address = "127.0.0.1";
  config.port = 0;
  // One worker per keep-alive connection (a connection holds its worker).
  config.threads = options_.http_connections;
  config.max_batch_events = options_.http_batch;
  config.max_body_bytes = int64_t{64} << 20;
  config.store_dir = dir + "/store";
  config.state_dir = dir + "/state";
  config.keys_dir = dir + "/keys";
  config.dedupe_dir = dir + "/ingest-index";
  config.partitions = options_.partitions;
  config.run_projections = false;
  config.xapi_enabled = false;
  // A service credential (role `source`) allowed every source: an
  // integration hub forwarding all the generator's source systems. Role hr
  // may only send erasure requests, and a per-system credential only its
  // own source.
  config.service_credentials.push_back(
      {"jiritsu-bench", {"/*"}, service::Sha256Hex(kBenchHttpToken)});
  std::unique_ptr<KafkaMockCluster> mock;  // outlives the service
  if (options_.log_kind == "kafka") {
    mock = std::make_unique<KafkaMockCluster>();
    JIRITSU_ASSIGN_OR_RETURN(config.kafka_bootstrap, mock->Start(1));
    for (const TopicSpec& spec : AllTopicSpecs(options_.partitions)) {
      JIRITSU_RETURN_IF_ERROR(mock->CreateTopic(spec.name, spec.partitions));
    }
    config.kafka_properties = options_.kafka_properties;
  }
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<ServeInstance> serve, ServeInstance::Start(config));

  std::ifstream in(workload_file_);
  if (!in) return IOError("cannot open " + workload_file_);
  std::mutex reader_mutex;
  std::mutex status_mutex;
  Status first_error;
  std::atomic<bool> failed{false};
  std::vector<HttpIngestCounts> counts(static_cast<size_t>(options_.http_connections));
  // The next batch of non-blank lines into *storage (under reader_mutex);
  // false at the end of the file.
  auto next_batch = [&](std::vector<std::string>* storage) {
    std::lock_guard lock(reader_mutex);
    storage->clear();
    std::string line;
    while (storage->size() < static_cast<size_t>(options_.http_batch) && std::getline(in, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // as the CLI: skipped
      result.events += 1;
      result.bytes += static_cast<int64_t>(line.size()) + 1;
      storage->push_back(std::move(line));
    }
    return !storage->empty();
  };
  const double cpu_start = CpuSeconds();
  const double start = Now();
  std::vector<std::thread> clients;
  for (int32_t c = 0; c < options_.http_connections; ++c) {
    clients.emplace_back([&, c] {
      HttpIngestClient client(serve->port(), &counts[static_cast<size_t>(c)]);
      std::vector<std::string> storage;
      std::vector<std::string_view> lines;
      while (!failed.load() && next_batch(&storage)) {
        lines.assign(storage.begin(), storage.end());
        Status posted = client.Post(lines);
        if (!posted.ok()) {
          std::lock_guard lock(status_mutex);
          if (first_error.ok()) first_error = posted;
          failed.store(true);
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  result.seconds = Now() - start;
  result.cpu_seconds = CpuSeconds() - cpu_start;  // clients and service: one process
  serve->Stop();
  JIRITSU_RETURN_IF_ERROR(first_error);
  if (in.bad()) return IOError("reading " + workload_file_);
  HttpIngestCounts total;
  for (HttpIngestCounts& c : counts) {
    total.accepted += c.accepted;
    total.duplicates += c.duplicates;
    total.rejected += c.rejected;
    total.requests += c.requests;
    total.http_429 += c.http_429;
    total.http_400 += c.http_400;
    result.latencies_ms.insert(result.latencies_ms.end(), c.latencies_ms.begin(),
                               c.latencies_ms.end());
  }
  if (total.accepted + total.duplicates + total.rejected != result.events) {
    return Internal("ingest-http: " + std::to_string(result.events) + " lines posted but " +
                    std::to_string(total.accepted + total.duplicates + total.rejected) +
                    " verdicts counted");
  }
  result.extra["accepted"] = std::to_string(total.accepted);
  result.extra["duplicates"] = std::to_string(total.duplicates);
  result.extra["rejected"] = std::to_string(total.rejected);
  result.extra["http_requests"] = std::to_string(total.requests);
  result.extra["http_429"] = std::to_string(total.http_429);
  result.extra["http_400"] = std::to_string(total.http_400);
  result.extra["http_batch"] = std::to_string(options_.http_batch);
  result.extra["http_connections"] = std::to_string(options_.http_connections);
  result.extra["log"] = mock ? "\"kafka (in-process mock cluster)\"" : "\"embedded\"";
  return result;
}

// Reads the replay's input topics (reference + the five employee topics) to
// the end offsets seen at the start, calling `each` per record.
template <typename Each>
Status Bench::ReadAll(Each each, int64_t* records, int64_t* bytes) {
  std::vector<std::string> topics = EmployeeSourceTopics();
  topics.emplace_back(kReferenceTopic);
  std::map<TopicPartition, int64_t> starts;
  std::map<TopicPartition, int64_t> ends;
  for (const auto& topic : topics) {
    JIRITSU_ASSIGN_OR_RETURN(int32_t partitions, log_->PartitionCount(topic));
    for (int32_t p = 0; p < partitions; ++p) {
      JIRITSU_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset({topic, p}));
      if (end > 0) ends[{topic, p}] = end;
      starts[{topic, p}] = 0;
    }
  }
  JIRITSU_ASSIGN_OR_RETURN(auto consumer, log_->NewConsumer(ConsumerOptions{"jiritsu-bench", true}));
  JIRITSU_RETURN_IF_ERROR(consumer->Assign(starts));
  std::vector<LogRecord> batch;
  while (!ends.empty()) {
    batch.clear();
    JIRITSU_RETURN_IF_ERROR(consumer->Poll(std::chrono::milliseconds(100), 20000, &batch));
    for (const auto& record : batch) {
      auto end = ends.find({record.topic, record.partition});
      if (end == ends.end() || record.offset >= end->second) continue;
      ++*records;
      *bytes += static_cast<int64_t>(record.value.size());
      each(record);
      if (record.offset + 1 >= end->second) ends.erase(end);
    }
  }
  return Status::Ok();
}

Result<PhaseResult> Bench::ReadPhase(const std::string& name, bool decode) {
  PhaseResult result(name);
  int64_t decoded = 0;
  const double start = Now();
  JIRITSU_RETURN_IF_ERROR(ReadAll(
      [&](const LogRecord& record) {
        if (decode) decoded += DecodeJsonEvent(record.value).ok() ? 1 : 0;
      },
      &result.events, &result.bytes));
  result.seconds = Now() - start;
  if (decode) result.extra["valid"] = std::to_string(decoded);
  log_bytes_ = result.bytes;
  return result;
}

Result<PhaseResult> Bench::RawWrite() {
  PhaseResult result("raw-write");
  const std::string dir = FreshDir("raw-write-scratch");
  StateStoreOptions store_options;
  store_options.column_families = {"bench"};
  store_options.disable_wal = true;
  JIRITSU_ASSIGN_OR_RETURN(auto store, StateStore::Open(dir, store_options));
  // Records are read in chunks of one batch, untimed, so that only the writes
  // are measured; holding all of them first (11M rows at 100 000 x 36) left
  // gigabytes of fragmented heap that slowed every later phase's malloc.
  constexpr size_t kBatchRows = 50'000;
  std::vector<std::pair<std::string, std::string>> rows;
  rows.reserve(kBatchRows);
  StateBatch batch;
  double seconds = 0;
  double cpu_seconds = 0;
  Status write_status;
  auto write_rows = [&] {
    const double cpu_start = CpuSeconds();
    const double start = Now();
    for (const auto& [key, value] : rows) batch.Put("bench", key, value);
    if (write_status.ok()) write_status = store->Write(&batch);
    batch.Clear();
    seconds += Now() - start;
    cpu_seconds += CpuSeconds() - cpu_start;
    rows.clear();
  };
  int64_t records = 0;
  JIRITSU_RETURN_IF_ERROR(ReadAll(
      [&](const LogRecord& record) {
        rows.emplace_back(record.topic + '\0' + std::to_string(record.partition) + '\0' +
                              std::to_string(record.offset),
                          record.value);
        if (rows.size() >= kBatchRows) write_rows();
      },
      &records, &result.bytes));
  write_rows();
  JIRITSU_RETURN_IF_ERROR(write_status);
  const double cpu_start = CpuSeconds();
  const double start = Now();
  JIRITSU_RETURN_IF_ERROR(store->SyncAndFlush());
  result.seconds = seconds + (Now() - start);
  result.cpu_seconds = cpu_seconds + (CpuSeconds() - cpu_start);  // the untimed reads excluded
  result.events = records;
  store.reset();
  fs::remove_all(dir);
  return result;
}

Result<PhaseResult> Bench::Project() {
  PhaseResult result("project");
  const std::string dir = FreshDir("run-views");
  RuntimeOptions runtime_options;
  runtime_options.state_dir = dir;
  runtime_options.group_id = "jiritsu-bench-" + std::to_string(::getpid());
  runtime_options.until_caught_up = true;
  runtime_options.checkpoint_every_events = options_.project_checkpoint_events;
  runtime_options.checkpoint_every_ms = options_.project_checkpoint_ms;
  runtime_options.view_version = kViewVersion;
  runtime_options.catch_up_merge_by_event_time = options_.catch_up_merge;
  runtime_options.low_priority_compactions = options_.low_priority_compactions;
  const MemoryBudget memory = MemoryBudget::FromMb(options_.memory_budget_mb);
  ApplyMemoryBudget(memory, &runtime_options);
  const ProjectorTuning tuning{options_.facts_interval_ms, options_.facts_budget_percent,
                               options_.warm_cache_percent};
  JIRITSU_ASSIGN_OR_RETURN(
      auto runtime,
      ProjectionRuntime::Create(log_.get(), NewProjector(nullptr, memory, tuning), runtime_options));
  const double start = Now();
  JIRITSU_RETURN_IF_ERROR(runtime->Run());
  result.seconds = Now() - start;
  const RuntimeStats stats = runtime->stats();
  result.extra["memory_checkpoints"] = std::to_string(stats.memory_checkpoints);
  result.extra["memory_budget_mb"] = std::to_string(memory.total_bytes >> 20);
  const StoreMemoryUsage store_memory = runtime->store()->MemoryUsage();
  result.extra["views_store_memtables_mb"] = std::to_string(store_memory.memtables >> 20);
  result.extra["views_store_block_cache_mb"] = std::to_string(store_memory.block_cache >> 20);
  result.events = static_cast<int64_t>(stats.events_applied);
  result.bytes = static_cast<int64_t>(stats.bytes_read);
  result.extra["checkpoints"] = std::to_string(stats.checkpoints);
  result.extra["facts_published"] = std::to_string(stats.facts_published);
  result.extra["refolds"] = std::to_string(stats.refolds);
  result.extra["dead_letters"] = std::to_string(stats.dead_letters);
  // Untimed. The rows read as views, as `replay --verify` reads a live store
  // (a snapshot with a journal tail, a waiting-facts row), so that it can
  // equal replay's digest of the same log.
  {
    // Scoped: the reader holds an iterator of the store, which must go first.
    JIRITSU_ASSIGN_OR_RETURN(RowReader view_rows, processors::ViewRowsOf(*runtime->store()));
    JIRITSU_ASSIGN_OR_RETURN(
        StoreDigest digest,
        DigestFamilies(*runtime->store(), ViewColumnFamilies(), RowPredicate{}, view_rows));
    project_digest_ = digest.combined;
  }
  result.extra["digest"] = "\"" + project_digest_ + "\"";
  runtime.reset();
  views_for_query_ = dir;
  project_dir_ = dir;
  return result;
}

Result<PhaseResult> Bench::Replay() {
  PhaseResult result("replay");
  ReplayOptions replay_options;
  replay_options.views_root = FreshDir("replay-views");
  replay_options.view_version = kViewVersion;
  replay_options.checkpoint_every_events = options_.replay_checkpoint_events;
  replay_options.merge_by_event_time = options_.replay_merge;
  replay_options.decode_thread = options_.replay_decode_thread;
  replay_options.wave_partitions = options_.replay_wave_partitions;
  replay_options.reorder_held = options_.replay_reorder;
  replay_options.group_by_key = options_.replay_group_by_key;
  replay_options.snapshot = false;
  replay_options.progress_every_ms = 0;
  Replayer replayer(log_.get(), [] { return NewProjector(); }, replay_options);
  JIRITSU_ASSIGN_OR_RETURN(ReplayReport report, replayer.Rebuild({}));
  result.events = static_cast<int64_t>(report.events);
  result.seconds = report.seconds;
  result.bytes = static_cast<int64_t>(report.bytes_read);
  if (result.bytes == 0) result.bytes = log_bytes_;
  result.extra["digest"] = "\"" + report.digest + "\"";
  result.extra["records"] = std::to_string(report.records);
  result.extra["checkpoints"] = std::to_string(report.checkpoints);
  result.extra["refolds"] = std::to_string(report.refolds);
  // Where the rebuild's time went: the reading is the rest.
  for (const auto& [key, value] :
       {std::pair{"publish_s", report.publish_seconds}, {"sync_s", report.sync_seconds}}) {
    std::string number;
    AppendNumber(&number, value);
    result.extra[key] = number;
  }
  if (!project_digest_.empty()) {
    digests_equal_ = report.digest == project_digest_;
    result.extra["digest_matches_project"] = *digests_equal_ ? "true" : "false";
  }
  if (views_for_query_.empty()) views_for_query_ = report.store_dir;
  return result;
}

Result<PhaseResult> Bench::Query() {
  PhaseResult result("query");
  if (views_for_query_.empty()) {
    // No views from this run: build them (untimed) the live way.
    JIRITSU_ASSIGN_OR_RETURN(PhaseResult built, Project());
    (void)built;
  }
  JIRITSU_ASSIGN_OR_RETURN(auto store, OpenViewsForReading(views_for_query_));
  JIRITSU_ASSIGN_OR_RETURN(auto service, processors::QueryService::Open(store.get()));
  std::vector<std::string> employees;
  {
    const std::string prefix = processors::EmployeeHeaderKey("");
    auto it = store->NewIterator(processors::kEmployeeFamily);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      employees.emplace_back(it->key().substr(prefix.size()));
    }
    JIRITSU_RETURN_IF_ERROR(it->status());
  }
  const std::vector<std::string> roots = service->RootOrgUnits();
  if (employees.empty()) return FailedPrecondition("query: the views hold no employee");
  uint64_t state = options_.seed * 0x9e3779b97f4a7c15ULL + 1;
  auto next = [&state] {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  int64_t errors = 0;
  result.latencies_ms.reserve(options_.queries);
  const double start = Now();
  for (size_t i = 0; i < options_.queries; ++i) {
    if (options_.query_rate > 0) {  // open loop: request i is due at start + i / rate
      const double wait = start + static_cast<double>(i) / options_.query_rate - Now();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
    const uint64_t pick = next();
    const std::string& employee = employees[pick % employees.size()];
    // Latency from when the request was due, so a slow answer delays the
    // next ones' figures too (no coordinated omission).
    const double t0 = options_.query_rate > 0
                          ? std::min(Now(), start + static_cast<double>(i) / options_.query_rate)
                          : Now();
    Result<std::string> answer = std::string();
    switch ((pick >> 32) % 5) {
      case 0:
      case 1:
        answer = service->StepStatus(employee);
        break;
      case 2:
      case 3:
        answer = service->Engagement(employee);
        break;
      default:
        answer = roots.empty() ? service->StepStatus(employee)
                               : service->Kpi(roots[(pick >> 40) % roots.size()], "FY2024");
    }
    result.latencies_ms.push_back((Now() - t0) * 1e3);
    if (answer.ok()) {
      result.bytes += static_cast<int64_t>(answer->size());
    } else {
      ++errors;
    }
  }
  result.seconds = Now() - start;
  result.events = static_cast<int64_t>(options_.queries);
  result.extra["errors"] = std::to_string(errors);
  result.extra["views"] = "\"" + views_for_query_ + "\"";
  result.extra["target_rate"] = std::to_string(options_.query_rate);
  return result;
}

// Live latency: `jiritsu run` continues on the views `project` built (caught
// up) while this thread appends new employee events at a steady rate. The
// events are the workload's own, with new ids and event times shifted past
// the end of the history, so every employee keeps being folded forward.
// Producer: the events are appended as they fall due and flushed (durable)
// at most every latency_linger_ms, as a Kafka producer lingers (linger.ms)
// and as `jiritsu serve` groups concurrent requests into one commit: a flush
// per event or two cost the bench's producer most of a core in fsyncs on a
// 2-core machine, a core taken from the runtime it measures. An event's
// latency counts from its Append, so the linger is part of it. Runtime:
// checkpoint every latency_checkpoint_ms.
// Latency = RuntimeStats::visible_latency_ms (append -> checkpoint commit,
// 1 ms resolution), over the events applied during the phase.
Result<PhaseResult> Bench::Latency() {
  PhaseResult result("latency");
  if (project_dir_.empty()) JIRITSU_RETURN_IF_ERROR(Project().status());  // untimed catch-up
  const size_t wanted = static_cast<size_t>(options_.latency_rate * options_.latency_seconds);
  struct Outgoing {
    std::string topic, key, value;
  };
  std::vector<Event> history;
  {
    std::ifstream in(workload_file_);
    std::string line;
    while (history.size() < wanted && std::getline(in, line)) {
      Result<Event> event = DecodeJsonEvent(line);
      if (event.ok() && IsEmployeeScoped(event->type)) history.push_back(std::move(event).value());
    }
  }
  if (history.empty()) return FailedPrecondition("latency: the workload has no employee event");
  int64_t first_us = history.front().time_us, last_us = history.front().time_us;
  for (const Event& event : history) {
    first_us = std::min(first_us, event.time_us);
    last_us = std::max(last_us, event.time_us);
  }
  // Past every event of the full workload too (its later part was not read).
  const int64_t shift_us = (last_us - first_us) + int64_t{400} * 86'400'000'000 *
                                                      std::max(1, options_.months / 12 + 1);
  std::vector<Outgoing> outgoing;
  outgoing.reserve(wanted);
  for (size_t i = 0; i < wanted; ++i) {
    Event event = history[i % history.size()];
    const size_t pass = i / history.size() + 1;
    event.id += "~live" + std::to_string(pass);
    event.time_us += shift_us * static_cast<int64_t>(pass);
    outgoing.push_back({TopicForFamily(FamilyOf(event.type)), event.subject, EncodeJsonEvent(event)});
  }

  // The setup's writes (the log's load, the untimed catch-up) sit in the
  // page cache until the kernel writes them back, ~30 s later: in the
  // measured seconds, where that writeback slowed the producer's fsyncs
  // (docs/performance.md, twenty-ninth pass). They go to disk first.
  SyncWorkDir();
  RuntimeOptions runtime_options;
  runtime_options.state_dir = project_dir_;
  runtime_options.group_id = "jiritsu-bench-latency-" + std::to_string(::getpid());
  runtime_options.checkpoint_every_ms = options_.latency_checkpoint_ms;
  runtime_options.checkpoint_every_events = 1'000'000;
  runtime_options.view_version = kViewVersion;
  runtime_options.low_priority_compactions = options_.low_priority_compactions;
  const MemoryBudget memory = MemoryBudget::FromMb(options_.memory_budget_mb);
  ApplyMemoryBudget(memory, &runtime_options);
  const ProjectorTuning tuning{options_.facts_interval_ms, options_.facts_budget_percent,
                               options_.warm_cache_percent};
  JIRITSU_ASSIGN_OR_RETURN(
      auto runtime,
      ProjectionRuntime::Create(log_.get(), NewProjector(nullptr, memory, tuning), runtime_options));
  Status run_status;
  std::thread runner([&] {
    NameCurrentThread("jr-runtime");
    run_status = runtime->Run();
  });
  JIRITSU_ASSIGN_OR_RETURN(auto producer, log_->NewProducer());
  // Wait (bounded) for the partition assignment (a group join on Kafka).
  for (int i = 0; i < 600; ++i) {
    bool assigned = false;
    for (const auto& [tp, progress] : runtime->stats().partitions) {
      assigned = assigned || tp.topic == kEmployeeTopic;
    }
    if (assigned) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // warm-up
  const double start = Now();
  double last_flush = start;
  // How long each flush took: the events it carries wait for it.
  std::vector<double> flush_ms;
  size_t sent = 0;
  Status produced;
  while (sent < outgoing.size() && produced.ok()) {
    const double elapsed = Now() - start;
    const size_t due = std::min(outgoing.size(),
                                static_cast<size_t>(elapsed * options_.latency_rate) + 1);
    for (; sent < due && produced.ok(); ++sent) {
      const Outgoing& o = outgoing[sent];
      produced = producer->Append(o.topic, o.key, o.value);
      result.bytes += static_cast<int64_t>(o.value.size());
    }
    const double now = Now();
    const bool flush_due = now - last_flush >= options_.latency_linger_ms / 1000.0 || sent == outgoing.size();
    if (produced.ok() && flush_due) {
      last_flush = now;
      produced = producer->Flush(std::chrono::seconds(30));
      flush_ms.push_back((Now() - now) * 1000);
    }
    const double next_tick = start + static_cast<double>(sent) / options_.latency_rate;
    const double wait = next_tick - Now();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(std::min(wait, 0.001)));
  }
  const double produce_seconds = Now() - start;
  // Wait (bounded) until every produced event is visible.
  for (int i = 0; i < 3000 && produced.ok(); ++i) {
    if (runtime->stats().events_applied >= sent) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5 * options_.latency_checkpoint_ms + 50));
  runtime->Stop();
  runner.join();
  JIRITSU_RETURN_IF_ERROR(produced);
  JIRITSU_RETURN_IF_ERROR(run_status);
  const RuntimeStats stats = runtime->stats();
  for (const auto& [ms, count] : stats.visible_latency_ms) {
    result.latencies_ms.insert(result.latencies_ms.end(), count, static_cast<double>(ms));
  }
  result.events = static_cast<int64_t>(sent);
  result.seconds = produce_seconds;
  result.extra["applied"] = std::to_string(stats.events_applied);
  result.extra["checkpoints"] = std::to_string(stats.checkpoints);
  result.extra["refolds"] = std::to_string(stats.refolds);
  result.extra["target_rate"] = std::to_string(static_cast<int64_t>(options_.latency_rate));
  result.extra["checkpoint_ms"] = std::to_string(options_.latency_checkpoint_ms);
  result.extra["linger_ms"] = std::to_string(options_.latency_linger_ms);
  // The producer's side of the latency: on the embedded log a flush is a
  // write and an fdatasync, whose time the storage decides (the stores'
  // flushes and compactions on the same disk lengthen it); on Kafka, the
  // wait for the acknowledgements.
  std::sort(flush_ms.begin(), flush_ms.end());
  const auto flush_figure = [&](double p) {
    std::string out;
    AppendNumber(&out, Percentile(&flush_ms, p));
    return out;
  };
  result.extra["producer_flushes"] = std::to_string(flush_ms.size());
  result.extra["producer_flush_p50_ms"] = flush_figure(50);
  result.extra["producer_flush_p99_ms"] = flush_figure(99);
  result.extra["producer_flush_max_ms"] = flush_figure(100);
  result.extra["producer_flushes_over_20ms"] =
      std::to_string(flush_ms.end() - std::upper_bound(flush_ms.begin(), flush_ms.end(), 20.0));
  // The global views (KPIs) follow the employee views by the facts'
  // deferral (RuntimeStats::facts_deferral_ms) plus a checkpoint.
  result.extra["facts_interval_ms"] = std::to_string(options_.facts_interval_ms);
  result.extra["facts_budget_percent"] = std::to_string(options_.facts_budget_percent);
  result.extra["facts_cost_us"] = std::to_string(stats.facts_cost_us);
  result.extra["facts_waiting"] = std::to_string(stats.facts_waiting);
  result.extra["facts_published"] = std::to_string(stats.facts_published);
  result.extra["facts_deferral_p50_ms"] = std::to_string(HistogramPercentile(stats.facts_deferral_ms, 50));
  result.extra["facts_deferral_p99_ms"] = std::to_string(HistogramPercentile(stats.facts_deferral_ms, 99));
  result.extra["facts_deferral_max_ms"] = std::to_string(HistogramPercentile(stats.facts_deferral_ms, 100));
  return result;
}

void Bench::Report(const std::vector<PhaseResult>& results) {
  std::map<std::string, const PhaseResult*> by_name;
  for (const auto& result : results) by_name[result.name] = &result;
  std::printf("jiritsu bench: %s, %d employees, %d months, seed %llu\n", log_description_.c_str(),
              options_.employees, options_.months, static_cast<unsigned long long>(options_.seed));
  std::printf("%-11s %11s %9s %12s %9s %8s %12s %9s %9s %9s %9s\n", "phase", "events", "seconds",
              "events/s", "MB/s", "CPU s", "events/CPU s", "RSS MB", "p50 ms", "p99 ms",
              "p99.9 ms");
  std::string json = "{\"workload\":{\"employees\":" + std::to_string(options_.employees) +
                     ",\"months\":" + std::to_string(options_.months) +
                     ",\"seed\":" + std::to_string(options_.seed) + ",\"log\":\"" +
                     options_.log_kind + "\",\"partitions\":" + std::to_string(options_.partitions) +
                     ",\"cpus\":" + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + "}";
  json += ",\"phases\":{";
  bool first = true;
  for (auto result : results) {
    if (!first) json += ",";
    first = false;
    json += "\"" + result.name + "\":{";
    if (result.skipped) {
      std::printf("%-11s skipped: %s\n", result.name.c_str(), result.note.c_str());
      json += "\"skipped\":true,\"note\":\"" + result.note + "\"}";
      continue;
    }
    std::sort(result.latencies_ms.begin(), result.latencies_ms.end());
    const bool has_latency = !result.latencies_ms.empty();
    const double p50 = Percentile(&result.latencies_ms, 50);
    const double p99 = Percentile(&result.latencies_ms, 99);
    const double p999 = Percentile(&result.latencies_ms, 99.9);
    std::printf("%-11s %11lld %9.2f %12.0f %9.1f %8.2f %12.0f %9.0f", result.name.c_str(),
                static_cast<long long>(result.events), result.seconds, result.per_second(),
                result.mb_per_second(), result.cpu_seconds, result.per_cpu_second(),
                result.peak_rss_mb);
    if (has_latency) {
      std::printf(" %9.3f %9.3f %9.3f\n", p50, p99, p999);
    } else {
      std::printf(" %9s %9s %9s\n", "-", "-", "-");
    }
    json += "\"events\":" + std::to_string(result.events) + ",\"seconds\":";
    AppendNumber(&json, result.seconds);
    json += ",\"events_per_s\":";
    AppendNumber(&json, result.per_second());
    json += ",\"mb_per_s\":";
    AppendNumber(&json, result.mb_per_second());
    json += ",\"cpu_s\":";
    AppendNumber(&json, result.cpu_seconds);
    json += ",\"events_per_cpu_s\":";
    AppendNumber(&json, result.per_cpu_second());
    json += ",\"peak_rss_mb\":";
    AppendNumber(&json, result.peak_rss_mb);
    if (has_latency) {
      json += ",\"latency_ms\":{\"p50\":";
      AppendNumber(&json, p50);
      json += ",\"p99\":";
      AppendNumber(&json, p99);
      json += ",\"p999\":";
      AppendNumber(&json, p999);
      json += "}";
    }
    if (!result.thread_cpu_s.empty()) {
      json += ",\"thread_cpu_s\":{";
      bool first_thread = true;
      for (const auto& [name, seconds] : result.thread_cpu_s) {
        if (!first_thread) json += ",";
        AppendJsonString(&json, name);
        json += ":";
        AppendNumber(&json, seconds);
        first_thread = false;
      }
      json += "}";
    }
    for (const auto& [key, value] : result.extra) json += ",\"" + key + "\":" + value;
    json += "}";
  }
  json += "},\"ratios\":{";
  std::string cpu_json;  // the same ratios of events per CPU second
  first = true;
  for (const auto& result : results) {
    // Throughput phases against every baseline, the baselines against the
    // raw read; query and latency run at a requested rate: no ratio.
    if (result.skipped || result.name == "query" || result.name == "latency") continue;
    const bool is_baseline = std::find(std::begin(kBaselines), std::end(kBaselines),
                                       result.name) != std::end(kBaselines);
    for (const char* baseline : kBaselines) {
      if (is_baseline && std::string_view(baseline) != "raw-read") continue;
      auto base = by_name.find(baseline);
      if (base == by_name.end() || base->second->skipped || result.name == baseline) continue;
      if (base->second->per_second() <= 0) continue;
      const double ratio = result.per_second() / base->second->per_second();
      const double cpu_ratio = base->second->per_cpu_second() > 0
                                   ? result.per_cpu_second() / base->second->per_cpu_second()
                                   : 0;
      std::printf("  %s / %s = %.4f (per CPU second: %.4f)\n", result.name.c_str(), baseline,
                  ratio, cpu_ratio);
      if (!first) json += ",";
      if (!first) cpu_json += ",";
      first = false;
      json += "\"" + result.name + "/" + baseline + "\":";
      AppendNumber(&json, ratio);
      cpu_json += "\"" + result.name + "/" + baseline + "\":";
      AppendNumber(&cpu_json, cpu_ratio);
    }
  }
  json += "},\"cpu_ratios\":{" + cpu_json + "}}";
  std::fflush(stdout);
  if (!options_.json_path.empty()) {
    std::ofstream out(options_.json_path);
    out << json << "\n";
    if (!out) std::fprintf(stderr, "bench: cannot write %s\n", options_.json_path.c_str());
  }
}

int Bench::Run() {
  for (const auto& phase : options_.phases) {
    const auto& names = BenchPhaseNames();
    if (std::find(names.begin(), names.end(), phase) == names.end()) {
      std::fprintf(stderr, "bench: unknown phase \"%s\"\n", phase.c_str());
      return 2;
    }
  }
  if (options_.http_batch < 1 || options_.http_batch > 10'000) {
    std::fprintf(stderr, "bench: --http-batch must be 1..10000, not %d\n", options_.http_batch);
    return 2;
  }
  if (options_.http_connections < 1 || options_.http_connections > 256) {
    std::fprintf(stderr, "bench: --http-connections must be 1..256, not %d\n",
                 options_.http_connections);
    return 2;
  }
  if (options_.log_kind != "embedded" && options_.log_kind != "kafka") {
    std::fprintf(stderr, "bench: --log must be embedded or kafka, not \"%s\"\n",
                 options_.log_kind.c_str());
    return 2;
  }
  std::error_code error;
  fs::create_directories(options_.work_dir, error);
  if (error) {
    std::fprintf(stderr, "bench: cannot create %s: %s\n", options_.work_dir.c_str(),
                 error.message().c_str());
    return 3;
  }
  auto fail = [](const std::string& what, const Status& status) {
    std::fprintf(stderr, "bench: %s: %s\n", what.c_str(), status.ToString().c_str());
    return 3;
  };
  if (Status s = EnsureWorkloadFile(); !s.ok()) return fail("workload", s);
  if (Status s = OpenLogForRun(); !s.ok()) return fail("log", s);

  std::vector<PhaseResult> results;
  for (const std::string& phase : BenchPhaseNames()) {
    if (!Wants(phase)) continue;
    std::fprintf(stderr, "bench: %s ...\n", phase.c_str());
    // Hand the previous phase's freed heap back to the kernel first: glibc
    // keeps it otherwise (raw-write's 11M rows left ~10 GB resident at
    // 100 000 x 36), and the next phase's peak RSS would include it.
    ::malloc_trim(0);
    const bool rss_reset = ResetPeakRss();
    ThreadCpuSampler thread_cpu;
    thread_cpu.Start();
    const double cpu_start = CpuSeconds();
    Result<PhaseResult> result = phase == "ingest"     ? Ingest()
                                 : phase == "ingest-http" ? IngestHttp()
                                 : phase == "raw-read" ? ReadPhase(phase, false)
                                 : phase == "decode"   ? ReadPhase(phase, true)
                                 : phase == "raw-write" ? RawWrite()
                                 : phase == "project"  ? Project()
                                 : phase == "replay"   ? Replay()
                                 : phase == "query"    ? Query()
                                                       : Latency();
    if (!result.ok()) return fail(phase, result.status());
    if (result->skipped) {
      results.push_back(std::move(result).value());
      continue;
    }
    if (result->cpu_seconds == 0) result->cpu_seconds = CpuSeconds() - cpu_start;
    result->thread_cpu_s = thread_cpu.Stop();
    result->peak_rss_mb = PeakRssMb();
    if (!rss_reset) result->note = "peak RSS of the process so far";
    results.push_back(std::move(result).value());
  }
  Report(results);
  // The lines some phases add after the table.
  for (const auto& result : results) {
    if (!result.skipped) PrintThreadCpu(result);
    const auto& extra = result.extra;
    if (auto flushes = extra.find("producer_flushes");
        result.name == "latency" && flushes != extra.end()) {
      std::printf(
          "  latency: the producer's %s flushes took p50 %s ms, p99 %s ms, max %s ms "
          "(%s over 20 ms)\n",
          flushes->second.c_str(), extra.at("producer_flush_p50_ms").c_str(),
          extra.at("producer_flush_p99_ms").c_str(), extra.at("producer_flush_max_ms").c_str(),
          extra.at("producer_flushes_over_20ms").c_str());
    }
    if (auto publish = extra.find("publish_s"); result.name == "replay" && publish != extra.end()) {
      std::printf(
          "  replay: %s s publishing the held-back facts, %s s the final sync; the rest "
          "reading\n",
          publish->second.c_str(), extra.at("sync_s").c_str());
    }
  }
  if (digests_equal_ && *digests_equal_) {
    std::printf("  replay views = project views (digest %s)\n", project_digest_.c_str());
  }
  if (digests_equal_ && !*digests_equal_) {
    std::fprintf(stderr,
                 "bench: the replayed views differ from the live-projected views of the same "
                 "log (digests in the JSON report); `jiritsu replay --verify` lists the rows\n");
    return 4;
  }
  return 0;
}

}  // namespace

const std::vector<std::string>& BenchPhaseNames() {
  static const std::vector<std::string> names = {"ingest",  "ingest-http", "raw-read",
                                                 "decode",  "raw-write",   "project",
                                                 "replay",  "query",       "latency"};
  return names;
}

int RunBench(const BenchOptions& options) {
  Bench bench(options);
  return bench.Run();
}

}  // namespace jiritsu
