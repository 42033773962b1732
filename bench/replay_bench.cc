// replay_bench: how close `jiritsu replay` runs to the storage engine.
//
// In one run, over the same log, it measures and prints side by side:
//   1. raw read     every record of the topics a replay reads (reference and
//                   the five employee topics), no decoding: the log's ceiling;
//   2. read+decode  the same plus DecodeJsonEvent (what the runtime must do);
//   3. WriteBatch   the same records written once each into a fresh RocksDB
//                   StateStore (WAL off, 50k-op batches, one sync at the end):
//                   the raw write ceiling of this machine;
//   4. replay       Replayer::Rebuild with the real projector (rebuild mode);
// and the ratios replay/raw read and replay/WriteBatch. It prints figures and
// never asserts times.
//
// Workload (flags):
//   --log DIR            an existing embedded log (e.g. <store>/log after
//                        `jiritsu gen ... | jiritsu ingest`), opened read-only
//   --employees N --months M [--seed S]
//                        synthesize one with the enterprise generator
//                        (no duplicates or invalid lines) into --work-dir
//   --work-dir DIR       scratch space (default: a temp dir, removed)
//   --checkpoint-events  replay batch size (default 500000)
//   --skip-replay        only the raw figures
//   --skip-raw           only the replay (ratios then missing)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/embedded_log.h"
#include "core/projection_runtime.h"
#include "core/replay.h"
#include "core/state_store.h"
#include "core/topics.h"
#include "ops/generator.h"
#include "ops/projections.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {
namespace fs = std::filesystem;

struct Flags {
  std::string log_dir;
  int32_t employees = 2000;
  int32_t months = 12;
  uint64_t seed = 1;
  std::string work_dir;
  size_t checkpoint_events = 500'000;
  bool skip_replay = false;
  bool skip_raw = false;
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long PeakRssMb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

[[noreturn]] void Die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "replay_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "replay_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--log") {
      flags->log_dir = value();
    } else if (arg == "--employees") {
      flags->employees = std::stoi(value());
    } else if (arg == "--months") {
      flags->months = std::stoi(value());
    } else if (arg == "--seed") {
      flags->seed = std::stoull(value());
    } else if (arg == "--work-dir") {
      flags->work_dir = value();
    } else if (arg == "--checkpoint-events") {
      flags->checkpoint_events = std::stoull(value());
    } else if (arg == "--skip-replay") {
      flags->skip_replay = true;
    } else if (arg == "--skip-raw") {
      flags->skip_raw = true;

    } else {
      std::fprintf(stderr,
                   "usage: replay_bench [--log DIR | --employees N --months M [--seed S]]\n"
                   "                    [--work-dir DIR] [--checkpoint-events N] [--skip-replay]\n"
                   "                    [--skip-raw]\n");
      return arg == "--help" || arg == "-h";
    }
  }
  return true;
}

// Generates an enterprise history straight into an embedded log.
void Synthesize(const Flags& flags, const std::string& log_dir) {
  auto log = OpenEmbeddedLog(log_dir);
  if (!log.ok()) Die("open " + log_dir, log.status());
  Status ensured = (*log)->EnsureTopics(AllTopicSpecs());
  if (!ensured.ok()) Die("create topics", ensured);
  auto producer = (*log)->NewProducer();
  if (!producer.ok()) Die("producer", producer.status());
  GeneratorOptions options;
  options.employees = flags.employees;
  options.months = flags.months;
  options.seed = flags.seed;
  options.duplicate_share = 0;
  options.invalid_share = 0;
  int64_t appended = 0;
  const double start = Now();
  auto summary = GenerateEnterprise(options, [&](std::string_view line) -> Status {
    auto event = DecodeJsonEvent(line);
    if (!event.ok()) return Status::Ok();  // nothing invalid is requested; be lenient
    const std::string topic = TopicForFamily(FamilyOf(event->type));
    const std::string value = EncodeJsonEvent(*event);
    for (;;) {
      Status status = (*producer)->Append(topic, event->subject, value);
      if (status.code() != StatusCode::kResourceExhausted) {
        JIRITSU_RETURN_IF_ERROR(status);
        break;
      }
      JIRITSU_RETURN_IF_ERROR((*producer)->Flush(std::chrono::seconds(60)));
    }
    ++appended;
    return Status::Ok();
  });
  if (!summary.ok()) Die("generate", summary.status());
  Status flushed = (*producer)->Flush(std::chrono::seconds(60));
  if (!flushed.ok()) Die("flush", flushed);
  std::fprintf(stderr, "synthesized %lld events (%d employees, %d months) in %.1f s\n",
               static_cast<long long>(appended), flags.employees, flags.months, Now() - start);
}

struct ReadFigures {
  int64_t records = 0;
  int64_t bytes = 0;
  double seconds = 0;
};

// Reads the replay's input topics to their end, calling `each` per record.
template <typename Each>
ReadFigures ReadAll(EventLog* log, Each each) {
  std::vector<std::string> topics = EmployeeSourceTopics();
  topics.emplace_back(kReferenceTopic);
  std::map<TopicPartition, int64_t> starts;
  std::map<TopicPartition, int64_t> ends;
  for (const auto& topic : topics) {
    auto partitions = log->PartitionCount(topic);
    if (!partitions.ok()) Die("partitions of " + topic, partitions.status());
    for (int32_t p = 0; p < *partitions; ++p) {
      auto end = log->EndOffset({topic, p});
      if (!end.ok()) Die("end offset", end.status());
      if (*end > 0) ends[{topic, p}] = *end;
      starts[{topic, p}] = 0;
    }
  }
  auto consumer = log->NewConsumer(ConsumerOptions{"replay-bench", true});
  if (!consumer.ok()) Die("consumer", consumer.status());
  Status assigned = (*consumer)->Assign(starts);
  if (!assigned.ok()) Die("assign", assigned);
  ReadFigures figures;
  std::vector<LogRecord> records;
  const double start = Now();
  while (!ends.empty()) {
    records.clear();
    Status polled = (*consumer)->Poll(std::chrono::milliseconds(100), 20000, &records);
    if (!polled.ok()) Die("poll", polled);
    for (const auto& record : records) {
      ++figures.records;
      figures.bytes += static_cast<int64_t>(record.value.size());
      each(record);
      auto end = ends.find({record.topic, record.partition});
      if (end != ends.end() && record.offset + 1 >= end->second) ends.erase(end);
    }
  }
  figures.seconds = Now() - start;
  return figures;
}

ReadFigures WriteBatchRate(EventLog* log, const std::string& dir) {
  StateStoreOptions options;
  options.column_families = {"bench"};
  options.disable_wal = true;
  auto store = StateStore::Open(dir, options);
  if (!store.ok()) Die("open " + dir, store.status());
  StateBatch batch;
  ReadFigures figures;
  double write_seconds = 0;
  auto flush = [&] {
    const double start = Now();
    Status status = (*store)->Write(&batch);
    if (!status.ok()) Die("write", status);
    write_seconds += Now() - start;
    batch.Clear();
  };
  // Reading is not timed here: only the writes and the final sync.
  ReadFigures read = ReadAll(log, [&](const LogRecord& record) {
    batch.Put("bench", record.topic + '\0' + std::to_string(record.partition) + '\0' +
                           std::to_string(record.offset),
              record.value);
    if (batch.Count() >= 50'000) flush();
  });
  flush();
  const double start = Now();
  Status synced = (*store)->SyncAndFlush();
  if (!synced.ok()) Die("sync", synced);
  figures.records = read.records;
  figures.bytes = read.bytes;
  figures.seconds = write_seconds + (Now() - start);
  return figures;
}

void PrintRow(const char* name, double per_second, double mb_per_second, double ratio) {
  std::printf("  %-22s %14.0f /s %10.1f MB/s   x%.3f of raw read\n", name, per_second, mb_per_second,
              ratio);
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  const bool own_work_dir = flags.work_dir.empty();
  if (own_work_dir) {
    flags.work_dir = (fs::temp_directory_path() / ("replay-bench-" + std::to_string(::getpid()))).string();
  }
  fs::create_directories(flags.work_dir);
  std::string log_dir = flags.log_dir;
  if (log_dir.empty()) {
    log_dir = flags.work_dir + "/log";
    if (!fs::exists(log_dir)) Synthesize(flags, log_dir);
  }
  auto log = OpenEmbeddedLogReadOnly(log_dir);
  if (!log.ok()) Die("open " + log_dir, log.status());

  ReadFigures raw, decode, write;
  int64_t decoded = 0;
  if (!flags.skip_raw) {
    raw = ReadAll(log->get(), [](const LogRecord&) {});
    decode = ReadAll(log->get(), [&](const LogRecord& record) {
      decoded += DecodeJsonEvent(record.value).ok() ? 1 : 0;
    });
    const std::string batch_dir = flags.work_dir + "/writebatch";
    fs::remove_all(batch_dir);
    write = WriteBatchRate(log->get(), batch_dir);
    fs::remove_all(batch_dir);
  }

  double replay_rate = 0;
  double replay_records_rate = 0;
  ReplayReport report;
  if (!flags.skip_replay) {
    ReplayOptions options;
    options.views_root = flags.work_dir + "/views";
    fs::remove_all(options.views_root);
    options.view_version = kViewVersion;
    options.checkpoint_every_events = flags.checkpoint_events;
    options.snapshot = false;
    options.progress_every_ms = 2000;
    Replayer replayer(log->get(), [] { return NewProjector(); }, options);
    auto rebuilt = replayer.Rebuild({});
    if (!rebuilt.ok()) Die("replay", rebuilt.status());
    report = *rebuilt;
    replay_rate = report.events_per_s;
    replay_records_rate = report.seconds > 0 ? report.records / report.seconds : 0;
    fs::remove_all(options.views_root);
  }

  auto rate = [](const ReadFigures& figures) {
    return figures.seconds > 0 ? figures.records / figures.seconds : 0.0;
  };
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  const double raw_rate = rate(raw);
  const double write_rate = rate(write);
  const double mb = 1024.0 * 1024.0;
  std::printf("replay_bench: %s: %lld records (%lld decodable), %.1f MB\n", (*log)->Describe().c_str(),
              static_cast<long long>(raw.records), static_cast<long long>(decoded), raw.bytes / mb);
  if (!flags.skip_raw) {
    PrintRow("raw read", raw_rate, raw.bytes / mb / raw.seconds, 1.0);
    PrintRow("read + decode", rate(decode), decode.bytes / mb / decode.seconds,
             ratio(rate(decode), raw_rate));
    PrintRow("RocksDB WriteBatch", write_rate, write.bytes / mb / write.seconds,
             ratio(write_rate, raw_rate));
  }
  if (!flags.skip_replay) {
    PrintRow("replay (events)", replay_rate, 0, ratio(replay_rate, raw_rate));
    std::printf("  replay / raw read      = %.4f\n", ratio(replay_rate, raw_rate));
    std::printf("  replay / WriteBatch    = %.4f\n", ratio(replay_rate, write_rate));
    std::printf("  replay: %llu events in %.2f s, %.0f records/s, digest %s\n",
                static_cast<unsigned long long>(report.events), report.seconds, replay_records_rate,
                report.digest.c_str());
  }
  std::printf("  peak RSS %ld MB\n", PeakRssMb());
  std::printf(
      "{\"records\":%lld,\"raw_read_per_s\":%.0f,\"decode_per_s\":%.0f,\"writebatch_per_s\":%.0f,"
      "\"replay_events_per_s\":%.0f,\"replay_over_raw_read\":%.4f,\"replay_over_writebatch\":%.4f}\n",
      static_cast<long long>(raw.records), raw_rate, rate(decode), write_rate, replay_rate,
      ratio(replay_rate, raw_rate), ratio(replay_rate, write_rate));
  log->reset();
  if (own_work_dir) fs::remove_all(flags.work_dir);
  return 0;
}

}  // namespace
}  // namespace jiritsu

int main(int argc, char** argv) { return jiritsu::Main(argc, argv); }
