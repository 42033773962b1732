#include "core/replay.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/logging.h"
#include "core/swap_coordinator.h"
#include "core/topics.h"
#include "core/view_generations.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace fs = std::filesystem;

namespace {

// Meta key: every stored offset at the end of the build that made the store
// (including the positions it gave the derived topics). Verify replays the
// generation's history from it: a local build up to these offsets, then
// what a live runner did after them.
constexpr std::string_view kBuiltOffsetsKey = "built_offsets";
constexpr std::string_view kBuiltUnixMsKey = "built_unix_ms";
constexpr char kTempPrefix[] = "replay-tmp-";
constexpr const char* kLockFile = kReplayLockFile;  // core/view_generations.h

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("replay");
  return logger;
}

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsEmployeeTopic(const std::string& topic) {
  static const std::vector<std::string> topics = EmployeeSourceTopics();
  return std::find(topics.begin(), topics.end(), topic) != topics.end();
}

bool IsDerivedTopic(const std::string& topic) {
  return topic == kFactsTopic || topic == kDeadLetterTopic;
}

// Stop offsets for a build that derives facts and dead letters itself: a
// stop on those topics would only lower the positions it records for them,
// and a swapped-in generation must resume after every facts record the old
// views' runner published (they may be of another view version).
std::map<TopicPartition, int64_t> WithoutDerived(std::map<TopicPartition, int64_t> offsets) {
  std::erase_if(offsets, [](const auto& entry) { return IsDerivedTopic(entry.first.topic); });
  return offsets;
}

// A RocksDB database lives in `dir` (its CURRENT file exists).
bool HasStore(const std::string& dir) {
  std::error_code error;
  return fs::exists(dir + "/CURRENT", error);
}

Status RemoveTree(const std::string& dir) {
  std::error_code error;
  fs::remove_all(dir, error);
  if (error) return IOError("remove " + dir + ": " + error.message());
  return Status::Ok();
}

// Copies a RocksDB checkpoint directory: immutable table files are hard
// linked (no extra space, like the checkpoint itself), the small mutable
// files (MANIFEST, CURRENT, OPTIONS, WAL) are copied, the manifest skipped.
Status CopyCheckpoint(const std::string& from, const std::string& to) {
  std::error_code error;
  if (fs::exists(to, error)) return AlreadyExists(to + " already exists");
  fs::create_directories(to, error);
  if (error) return IOError("create " + to + ": " + error.message());
  for (const auto& entry : fs::directory_iterator(from, error)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (name == kSnapshotManifestFile) continue;
    const fs::path target = fs::path(to) / name;
    const std::string extension = entry.path().extension().string();
    if (extension == ".sst" || extension == ".blob") {
      std::error_code link_error;
      fs::create_hard_link(entry.path(), target, link_error);
      if (!link_error) continue;  // else (another file system): copy
    }
    fs::copy_file(entry.path(), target, error);
    if (error) return IOError("copy " + entry.path().string() + ": " + error.message());
  }
  if (error) return IOError("read " + from + ": " + error.message());
  return Status::Ok();
}

// The live generation is written by another process: a read-only open can
// race with its file deletions (compaction), so it is retried briefly.
Result<std::unique_ptr<StateStore>> OpenReadOnlyRetrying(const std::string& dir,
                                                         const std::vector<std::string>& families) {
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto store = StateStore::OpenReadOnly(dir, families);
    if (store.ok()) return store;
    last = store.status();
    if (last.code() == StatusCode::kNotFound) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
  }
  return last.WithContext("open " + dir + " read-only");
}

Result<std::string> GetMeta(const StateStore& store, std::string_view key) {
  std::string value;
  JIRITSU_RETURN_IF_ERROR(store.Get(kMetaFamily, key, &value));
  return value;
}

// kFailedPrecondition when the store was built by another view version.
Status CheckSameVersion(const StateStore& store, int32_t code_version, const std::string& what) {
  if (code_version == 0) return Status::Ok();
  auto stored = GetMeta(store, kViewVersionKey);
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound) return Status::Ok();
    return stored.status();
  }
  if (*stored != std::to_string(code_version)) {
    return FailedPrecondition(what + " was built by view version " + *stored +
                              "; this build projects version " + std::to_string(code_version));
  }
  return Status::Ok();
}

std::string HumanCount(double value) {
  char text[32];
  if (value >= 1e9) {
    std::snprintf(text, sizeof(text), "%.2fG", value / 1e9);
  } else if (value >= 1e6) {
    std::snprintf(text, sizeof(text), "%.2fM", value / 1e6);
  } else if (value >= 1e4) {
    std::snprintf(text, sizeof(text), "%.1fk", value / 1e3);
  } else {
    std::snprintf(text, sizeof(text), "%.0f", value);
  }
  return text;
}

std::string Fixed(double value, int decimals) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

// Writes `content` to `path` through a temp file and rename (readers see the
// old or the new file); no fsync: progress is advisory.
void WriteAdvisoryFile(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    if (!out) return;
    out << content;
    if (!out) return;
  }
  std::error_code error;
  fs::rename(temp, path, error);
}

void AppendFamilyDigests(std::string* out, const std::vector<FamilyDigest>& digests) {
  *out += "{";
  bool first = true;
  for (const auto& digest : digests) {
    if (!first) *out += ",";
    first = false;
    AppendJsonString(out, digest.family);
    *out += ":{\"keys\":" + std::to_string(digest.keys) + ",\"digest\":\"" + digest.digest + "\"}";
  }
  *out += "}";
}

}  // namespace

// ---------------------------------------------------------------------------
// Offsets helpers

Result<std::map<TopicPartition, int64_t>> ReadStoredOffsets(const StateStore& store) {
  std::map<TopicPartition, int64_t> offsets;
  auto it = store.NewIterator(kOffsetsFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key();
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos || key.size() != nul + 5) {
      return Corruption("offsets key of " + std::to_string(key.size()) + " bytes in " + store.dir());
    }
    uint32_t partition = 0;
    for (size_t i = nul + 1; i < key.size(); ++i) {
      partition = (partition << 8) | static_cast<unsigned char>(key[i]);
    }
    JIRITSU_ASSIGN_OR_RETURN(int64_t offset, DecodeOffset(it->value()));
    offsets[TopicPartition{std::string(key.substr(0, nul)), static_cast<int32_t>(partition)}] = offset;
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  return offsets;
}

Result<std::map<TopicPartition, int64_t>> ParseOffsetList(std::string_view text) {
  std::map<TopicPartition, int64_t> offsets;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    const size_t last = item.rfind(':');
    const size_t middle = last == std::string_view::npos ? last : item.rfind(':', last - 1);
    if (last == std::string_view::npos || middle == std::string_view::npos || middle == 0 ||
        last == 0) {
      return InvalidArgument("offset \"" + std::string(item) +
                             "\": expected topic:partition:offset");
    }
    try {
      size_t used_partition = 0;
      size_t used_offset = 0;
      const std::string partition_text(item.substr(middle + 1, last - middle - 1));
      const std::string offset_text(item.substr(last + 1));
      const long partition = std::stol(partition_text, &used_partition);
      const long long offset = std::stoll(offset_text, &used_offset);
      if (used_partition != partition_text.size() || used_offset != offset_text.size() ||
          partition < 0 || offset < 0) {
        throw std::invalid_argument(std::string(item));
      }
      offsets[TopicPartition{std::string(item.substr(0, middle)), static_cast<int32_t>(partition)}] =
          offset;
    } catch (const std::exception&) {
      return InvalidArgument("offset \"" + std::string(item) +
                             "\": partition and offset must be non-negative integers");
    }
  }
  if (offsets.empty()) return InvalidArgument("no offsets given (topic:partition:offset,...)");
  return offsets;
}

std::string FormatOffsetList(const std::map<TopicPartition, int64_t>& offsets) {
  std::string out;
  for (const auto& [tp, offset] : offsets) {
    if (!out.empty()) out += ",";
    out += tp.topic + ":" + std::to_string(tp.partition) + ":" + std::to_string(offset);
  }
  return out;
}

Result<bool> NeedsRebuild(const std::string& store_dir, int32_t code_view_version) {
  if (code_view_version == 0 || !HasStore(store_dir)) return false;
  JIRITSU_ASSIGN_OR_RETURN(auto store, OpenReadOnlyRetrying(store_dir, {}));
  auto stored = GetMeta(*store, kViewVersionKey);
  if (stored.ok()) return *stored != std::to_string(code_view_version);
  if (stored.status().code() != StatusCode::kNotFound) return stored.status();
  // Unversioned: only a store that holds something needs rebuilding.
  JIRITSU_ASSIGN_OR_RETURN(auto offsets, ReadStoredOffsets(*store));
  return !offsets.empty();
}

// ---------------------------------------------------------------------------
// Report

std::string ReplayReport::ToJson() const {
  std::string out = "{\"mode\":";
  AppendJsonString(&out, mode);
  out += ",\"events\":" + std::to_string(events);
  out += ",\"records\":" + std::to_string(records);
  out += ",\"skipped_as_of\":" + std::to_string(skipped_as_of);
  out += ",\"dead_letters\":" + std::to_string(dead_letters);
  out += ",\"bytes_read\":" + std::to_string(bytes_read);
  out += ",\"checkpoints\":" + std::to_string(checkpoints);
  out += ",\"refolds\":" + std::to_string(refolds);
  out += ",\"seconds\":" + Fixed(seconds, 3);
  out += ",\"publish_seconds\":" + Fixed(publish_seconds, 3);
  out += ",\"sync_seconds\":" + Fixed(sync_seconds, 3);
  out += ",\"events_per_s\":" + Fixed(events_per_s, 0);
  out += ",\"digest\":\"" + digest + "\"";
  out += ",\"view_digests\":";
  AppendFamilyDigests(&out, family_digests);
  out += ",\"generation\":" + std::to_string(generation);
  out += std::string(",\"promoted\":") + (promoted ? "true" : "false");
  out += std::string(",\"handshake\":") + (handshake ? "true" : "false");
  out += ",\"store\":";
  AppendJsonString(&out, store_dir);
  out += ",\"snapshot\":";
  AppendJsonString(&out, snapshot);
  out += ",\"view_version\":" + std::to_string(view_version);
  if (!scope.empty()) {
    out += ",\"scope\":";
    AppendJsonString(&out, scope);
  }
  out += ",\"offsets\":{";
  bool first = true;
  for (const auto& [tp, offset] : offsets) {
    if (!first) out += ",";
    first = false;
    AppendJsonString(&out, ToString(tp));
    out += ":" + std::to_string(offset);
  }
  out += "}";
  if (mode == "verify") {
    out += std::string(",\"equal\":") + (equal ? "true" : "false");
    out += ",\"live_digest\":\"" + live_digest + "\"";
    out += ",\"live_view_digests\":";
    AppendFamilyDigests(&out, live_family_digests);
    out += ",\"differences\":[";
    for (size_t i = 0; i < differences.size(); ++i) {
      const FamilyDiff& diff = differences[i];
      if (i > 0) out += ",";
      out += "{\"view\":";
      AppendJsonString(&out, diff.family);
      out += ",\"differing_keys\":" + std::to_string(diff.differing_keys) + ",\"first\":[";
      for (size_t j = 0; j < diff.first_differences.size(); ++j) {
        const KeyDifference& key = diff.first_differences[j];
        if (j > 0) out += ",";
        out += "{\"key\":";
        AppendJsonString(&out, PrintableBytes(key.key));
        out += ",\"kind\":\"" + std::string(KeyDifferenceKindName(key.kind)) + "\",\"live\":";
        AppendJsonString(&out, PrintableBytes(key.left_value));
        out += ",\"replay\":";
        AppendJsonString(&out, PrintableBytes(key.right_value));
        out += "}";
      }
      out += "]}";
    }
    out += "]";
  }
  out += "}";
  return out;
}

// ---------------------------------------------------------------------------
// Replayer internals

// One store being built, possibly over several runtime runs (build, then
// catch-up). The runtime of the last run stays open so the caller can write
// meta, digest and snapshot before closing it.
struct Replayer::Build {
  std::string mode;   // rebuild | swap | partial | as-of | verify
  std::string phase;  // build | catch-up | history | live-history
  std::string dir;
  std::map<TopicPartition, int64_t> stop_offsets;
  std::optional<int64_t> as_of_time_us;
  RuntimeOptions::DerivedInputs derived = RuntimeOptions::DerivedInputs::kLocal;
  bool remove_on_failure = true;

  uint64_t events = 0;
  uint64_t records = 0;
  uint64_t skipped_as_of = 0;
  uint64_t dead_letters = 0;
  uint64_t bytes_read = 0;
  uint64_t checkpoints = 0;
  uint64_t refolds = 0;
  double seconds = 0;
  double publish_seconds = 0;
  double sync_seconds = 0;
  std::unique_ptr<ProjectionRuntime> runtime;

  StateStore* store() { return runtime ? runtime->store() : nullptr; }
  void Close() { runtime.reset(); }
  void Fill(ReplayReport* report) const {
    report->events = events;
    report->records = records;
    report->skipped_as_of = skipped_as_of;
    report->dead_letters = dead_letters;
    report->bytes_read = bytes_read;
    report->checkpoints = checkpoints;
    report->refolds = refolds;
    report->seconds = seconds;
    report->publish_seconds = publish_seconds;
    report->sync_seconds = sync_seconds;
    report->events_per_s = seconds > 0 ? events / seconds : 0;
    report->store_dir = dir;
  }
};

struct Replayer::ProgressState {
  bool tty = false;
  int64_t last_line_ms = 0;
  bool line_open = false;  // a \r progress line is on the terminal
  std::map<TopicPartition, int64_t> phase_start;
};

namespace {

// Removes a build's directory when the operation fails before handing it on.
class DirCleanup {
 public:
  explicit DirCleanup(std::string dir) : dir_(std::move(dir)) {}
  ~DirCleanup() {
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
  }
  void Release() { dir_.clear(); }

 private:
  std::string dir_;
};

}  // namespace

Replayer::Replayer(EventLog* log, ProjectorFactory factory, ReplayOptions options)
    : log_(log),
      factory_(std::move(factory)),
      options_(std::move(options)),
      progress_(std::make_unique<ProgressState>()) {
  progress_->tty = ::isatty(STDERR_FILENO) == 1;
}

Replayer::~Replayer() { UnlockRoot(); }

void Replayer::Stop() {
  stop_.store(true);
  std::lock_guard<std::mutex> lock(runtime_mutex_);
  if (running_ != nullptr) running_->Stop();
}

RuntimeStats Replayer::stats() const {
  std::lock_guard<std::mutex> lock(runtime_mutex_);
  return running_ != nullptr ? running_->stats() : last_stats_;
}

Status Replayer::LockRoot() {
  if (options_.views_root.empty()) return InvalidArgument("no views root (--state-dir) given");
  std::error_code error;
  fs::create_directories(options_.views_root, error);
  if (error) return IOError("create " + options_.views_root + ": " + error.message());
  const std::string path = options_.views_root + "/" + kLockFile;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IOError("open " + path + ": " + std::strerror(errno));
  // A starting runner holds the lock for a moment (its leftover cleanup,
  // ViewGenerations::RemoveUnfinished): wait that out, not a replay.
  bool locked = false;
  for (int attempt = 0; attempt < 100 && !locked; ++attempt) {
    locked = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!locked) {
    ::close(fd);
    return Unavailable("another jiritsu replay is working on " + options_.views_root);
  }
  lock_fd_ = fd;
  // Holding the lock, every temp dir and every generation still marked
  // unfinished is from a dead replay.
  for (const auto& entry : fs::directory_iterator(options_.views_root, error)) {
    if (entry.path().filename().string().rfind(kTempPrefix, 0) == 0) {
      RemoveTree(entry.path().string()).IgnoreError();
    }
  }
  Result<std::vector<int>> removed = ViewGenerations(options_.views_root).RemoveUnfinished(true);
  if (!removed.ok()) {
    UnlockRoot();
    return removed.status().WithContext("removing unfinished generations");
  }
  for (int generation : *removed) {
    Logger()->info("removed unfinished generation {} (left by a killed replay)", generation);
  }
  return Status::Ok();
}

void Replayer::UnlockRoot() {
  if (lock_fd_ < 0) return;
  ::flock(lock_fd_, LOCK_UN);
  ::close(lock_fd_);
  lock_fd_ = -1;
}

Result<std::vector<std::string>> Replayer::ViewFamilies() const {
  std::unique_ptr<Projector> projector = factory_();
  if (!projector) return Internal("the projector factory returned nothing");
  std::vector<std::string> families = projector->ColumnFamilies();
  families.emplace_back(kDeadLetterFamily);
  std::sort(families.begin(), families.end());
  families.erase(std::unique(families.begin(), families.end()), families.end());
  return families;
}

Result<std::vector<std::string>> Replayer::FamiliesOfView(const std::string& view) const {
  auto named = options_.view_families.find(view);
  if (named != options_.view_families.end()) return named->second;
  JIRITSU_ASSIGN_OR_RETURN(std::vector<std::string> families, ViewFamilies());
  if (std::find(families.begin(), families.end(), view) != families.end()) {
    return std::vector<std::string>{view};
  }
  std::string known;
  for (const auto& [name, ignored] : options_.view_families) known += (known.empty() ? "" : ", ") + name;
  std::string columns;
  for (const auto& family : families) columns += (columns.empty() ? "" : ", ") + family;
  return InvalidArgument("--view " + view + ": unknown view; views: " +
                         (known.empty() ? "(none declared)" : known) +
                         "; column families: " + columns);
}

void Replayer::ReportProgress(const RuntimeStats& stats, const std::string& phase, bool final) {
  if (options_.progress_every_ms <= 0) return;
  const int64_t now = SteadyNowMs();
  int64_t consumed = 0;
  int64_t remaining = 0;
  // Per employee topic: position and end summed over partitions.
  std::map<std::string, std::pair<int64_t, int64_t>> topics;
  for (const auto& [tp, progress] : stats.partitions) {
    if (!IsEmployeeTopic(tp.topic)) continue;
    auto start = progress_->phase_start.find(tp);
    consumed += progress.position - (start == progress_->phase_start.end() ? 0 : start->second);
    remaining += std::max<int64_t>(0, progress.end_offset - progress.position);
    auto& [position, end] = topics[tp.topic];
    position += progress.position;
    end += std::max(progress.end_offset, progress.position);
  }
  const double seconds = std::max(stats.seconds, 1e-3);
  const double events_per_s = stats.events_applied / seconds;
  const double records_per_s = consumed / seconds;
  const double eta = records_per_s > 0 ? remaining / records_per_s : 0;
  const double total = static_cast<double>(consumed + remaining);
  const double fraction = final ? 1.0 : total > 0 ? consumed / total : 0.0;

  if (options_.progress_bar &&
      (final || progress_->tty || now - progress_->last_line_ms >= std::max<int64_t>(5000, options_.progress_every_ms))) {
    progress_->last_line_ms = now;
    std::string bar(20, ' ');
    for (int i = 0; i < static_cast<int>(fraction * 20 + 0.5) && i < 20; ++i) bar[i] = '#';
    std::string line = "replay " + phase + " [" + bar + "] " + Fixed(fraction * 100, 1) + "% " +
                       HumanCount(static_cast<double>(stats.events_applied)) + " events " +
                       HumanCount(events_per_s) + " ev/s ETA " + Fixed(eta, 0) + "s |";
    for (const auto& [topic, position_end] : topics) {
      std::string name = topic.rfind("jiritsu.", 0) == 0 ? topic.substr(8) : topic;
      line += " " + name + " " + HumanCount(static_cast<double>(position_end.first)) + "/" +
              HumanCount(static_cast<double>(position_end.second));
    }
    if (progress_->tty) {
      std::fprintf(stderr, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
      progress_->line_open = !final;
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  std::error_code error;
  if (options_.views_root.empty() || !fs::is_directory(options_.views_root, error)) return;
  std::string json = "{\"pid\":" + std::to_string(::getpid()) + ",\"phase\":";
  AppendJsonString(&json, phase);
  json += std::string(",\"done\":") + (final ? "true" : "false");
  json += ",\"events\":" + std::to_string(stats.events_applied);
  json += ",\"dead_letters\":" + std::to_string(stats.dead_letters);
  json += ",\"skipped_as_of\":" + std::to_string(stats.events_skipped_as_of);
  json += ",\"seconds\":" + Fixed(stats.seconds, 3);
  json += ",\"events_per_s\":" + Fixed(events_per_s, 0);
  json += ",\"records_remaining\":" + std::to_string(remaining);
  json += ",\"eta_s\":" + Fixed(eta, 1);
  json += ",\"updated_unix_ms\":" + std::to_string(UnixNowMs());
  json += ",\"partitions\":[";
  bool first = true;
  for (const auto& [tp, progress] : stats.partitions) {
    if (!first) json += ",";
    first = false;
    json += "{\"topic\":";
    AppendJsonString(&json, tp.topic);
    json += ",\"partition\":" + std::to_string(tp.partition) +
            ",\"position\":" + std::to_string(progress.position) +
            ",\"end\":" + std::to_string(progress.end_offset) +
            ",\"lag\":" + std::to_string(std::max<int64_t>(0, progress.end_offset - progress.position)) +
            "}";
  }
  json += "]}\n";
  WriteAdvisoryFile(options_.views_root + "/" + kReplayProgressFile, json);
}

Status Replayer::RunBuild(Build* build) {
  build->Close();
  if (stop_.load()) return FailedPrecondition("replay stopped");
  RuntimeOptions runtime_options;
  runtime_options.state_dir = build->dir;
  runtime_options.group_id = "jiritsu-replay";
  runtime_options.use_consumer_group = false;
  runtime_options.until_caught_up = true;
  runtime_options.checkpoint_every_events = options_.checkpoint_every_events;
  runtime_options.checkpoint_every_ms = options_.checkpoint_every_ms;
  runtime_options.poll_batch = options_.poll_batch;
  runtime_options.store_memory_bytes = options_.memory.views_store_bytes();
  runtime_options.checkpoint_uncommitted_bytes = options_.memory.uncommitted_bytes();
  runtime_options.deferred_facts_bytes = options_.memory.deferred_facts_bytes();
  runtime_options.rebuild_mode = true;
  runtime_options.rebuild_merge_by_event_time = options_.merge_by_event_time;
  runtime_options.rebuild_decode_thread = options_.decode_thread;
  runtime_options.rebuild_wave_partitions = options_.wave_partitions;
  runtime_options.rebuild_reorder_held = options_.reorder_held;
  runtime_options.rebuild_group_by_key = options_.group_by_key;
  runtime_options.local_only = true;
  runtime_options.derived_inputs = build->derived;
  runtime_options.as_of_time_us = build->as_of_time_us;
  runtime_options.stop_offsets = build->stop_offsets;
  runtime_options.view_version = options_.view_version;
  runtime_options.progress_every_ms = options_.progress_every_ms;
  const std::string phase = build->mode + " " + build->phase;
  runtime_options.on_progress = [this, phase](const RuntimeStats& stats) {
    ReportProgress(stats, phase, false);
  };
  std::unique_ptr<Projector> projector = factory_();
  if (!projector) return Internal("the projector factory returned nothing");
  auto created = ProjectionRuntime::Create(log_, std::move(projector), runtime_options);
  if (!created.ok()) return created.status().WithContext("replay into " + build->dir);
  std::unique_ptr<ProjectionRuntime> runtime = std::move(*created);
  auto start = ReadStoredOffsets(*runtime->store());
  progress_->phase_start = start.ok() ? *start : std::map<TopicPartition, int64_t>();
  {
    std::lock_guard<std::mutex> lock(runtime_mutex_);
    running_ = runtime.get();
  }
  if (stop_.load()) runtime->Stop();  // Stop() came before running_ was set
  Logger()->info("{} into {}{}", phase, build->dir,
                 build->stop_offsets.empty() ? std::string(" (to the log end)")
                                             : " (up to " + std::to_string(build->stop_offsets.size()) +
                                                   " stop offsets)");
  Status status = runtime->Run();
  RuntimeStats stats = runtime->stats();
  {
    std::lock_guard<std::mutex> lock(runtime_mutex_);
    running_ = nullptr;
    last_stats_ = stats;
  }
  ReportProgress(stats, phase, true);
  build->events += stats.events_applied;
  build->skipped_as_of += stats.events_skipped_as_of;
  build->dead_letters += stats.dead_letters;
  build->bytes_read += stats.bytes_read;
  build->checkpoints += stats.checkpoints;
  build->refolds += stats.refolds;
  build->records += stats.events_applied + stats.events_skipped_as_of + stats.dead_letters +
                    stats.reference_applied;
  build->seconds += stats.seconds;
  build->publish_seconds += stats.held_back_publish_seconds;
  build->sync_seconds += stats.final_sync_seconds;
  if (!status.ok()) return status.WithContext("replay into " + build->dir);
  if (stop_.load()) return FailedPrecondition("replay stopped before it finished");
  build->runtime = std::move(runtime);
  return Status::Ok();
}

Status Replayer::WriteBuildMeta(StateStore* store, const std::string& mode,
                                const std::vector<std::pair<std::string, std::string>>& extra) {
  JIRITSU_ASSIGN_OR_RETURN(auto offsets, ReadStoredOffsets(*store));
  StateBatch batch;
  batch.Put(kMetaFamily, kBuiltByKey, "jiritsu replay " + mode);
  batch.Put(kMetaFamily, kBuiltUnixMsKey, std::to_string(UnixNowMs()));
  batch.Put(kMetaFamily, kBuiltOffsetsKey, FormatOffsetList(offsets));
  if (options_.view_version != 0) {
    batch.Put(kMetaFamily, kViewVersionKey, std::to_string(options_.view_version));
  }
  for (const auto& [key, value] : extra) batch.Put(kMetaFamily, key, value);
  JIRITSU_RETURN_IF_ERROR(store->Write(&batch));
  return store->SyncAndFlush();  // the build runs without a WAL
}

Status Replayer::FillDigest(const StateStore& store, const std::vector<std::string>& families,
                            ReplayReport* report, const RowPredicate& in_scope) const {
  JIRITSU_ASSIGN_OR_RETURN(StoreDigest digest, DigestFamilies(store, families, in_scope));
  report->digest = digest.combined;
  report->family_digests = digest.families;
  report->families = families;
  std::sort(report->families.begin(), report->families.end());
  JIRITSU_ASSIGN_OR_RETURN(report->offsets, ReadStoredOffsets(store));
  report->view_version = options_.view_version;
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Snapshots

Result<std::string> Replayer::TakeSnapshot(StateStore* store, int generation, uint64_t events) {
  ViewGenerations generations(options_.views_root);
  std::error_code error;
  fs::create_directories(generations.SnapshotsDir(), error);
  if (error) return IOError("create " + generations.SnapshotsDir() + ": " + error.message());
  const std::time_t now = static_cast<std::time_t>(UnixNowMs() / 1000);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &utc);
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "-gen%06d", generation);
  std::string name = std::string(stamp) + suffix;
  for (int n = 2; fs::exists(generations.SnapshotsDir() + "/" + name, error); ++n) {
    name = std::string(stamp) + suffix + "-" + std::to_string(n);
  }
  const std::string dir = generations.SnapshotsDir() + "/" + name;
  JIRITSU_RETURN_IF_ERROR(store->Checkpoint(dir));
  JIRITSU_ASSIGN_OR_RETURN(auto offsets, ReadStoredOffsets(*store));
  std::string manifest = "{\"name\":";
  AppendJsonString(&manifest, name);
  manifest += ",\"generation\":" + std::to_string(generation);
  manifest += ",\"view_version\":" + std::to_string(options_.view_version);
  manifest += ",\"events\":" + std::to_string(events);
  manifest += ",\"created_unix_ms\":" + std::to_string(UnixNowMs());
  manifest += ",\"log\":";
  AppendJsonString(&manifest, log_->Describe());
  manifest += ",\"offsets\":[";
  bool first = true;
  for (const auto& [tp, offset] : offsets) {
    if (!first) manifest += ",";
    first = false;
    manifest += "{\"topic\":";
    AppendJsonString(&manifest, tp.topic);
    manifest += ",\"partition\":" + std::to_string(tp.partition) +
                ",\"offset\":" + std::to_string(offset) + "}";
  }
  manifest += "]}\n";
  JIRITSU_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kSnapshotManifestFile, manifest));
  // Retention: the newest keep_snapshots (names sort by creation time).
  std::vector<std::string> names = generations.ListSnapshots();
  const size_t keep = static_cast<size_t>(std::max(1, options_.keep_snapshots));
  for (size_t i = 0; i + keep < names.size(); ++i) {
    JIRITSU_RETURN_IF_ERROR(RemoveTree(generations.SnapshotsDir() + "/" + names[i]));
  }
  Logger()->info("snapshot {} ({} offsets)", name, offsets.size());
  return name;
}

Result<std::vector<SnapshotInfo>> Replayer::ListSnapshots() const {
  ViewGenerations generations(options_.views_root);
  std::vector<SnapshotInfo> snapshots;
  simdjson::dom::parser parser;
  for (const std::string& name : generations.ListSnapshots()) {
    SnapshotInfo info;
    info.name = name;
    info.dir = generations.SnapshotsDir() + "/" + name;
    const std::string path = info.dir + "/" + kSnapshotManifestFile;
    simdjson::dom::element root;
    if (parser.load(path).get(root) != simdjson::SUCCESS) {
      Logger()->warn("snapshot {} has no readable {}: skipped", name, kSnapshotManifestFile);
      continue;
    }
    int64_t generation = 0, view_version = 0, created = 0;
    uint64_t events = 0;
    simdjson::dom::array offsets;
    if (root["generation"].get(generation) != simdjson::SUCCESS ||
        root["view_version"].get(view_version) != simdjson::SUCCESS ||
        root["events"].get(events) != simdjson::SUCCESS ||
        root["created_unix_ms"].get(created) != simdjson::SUCCESS ||
        root["offsets"].get(offsets) != simdjson::SUCCESS) {
      return Corruption(path + ": missing or mistyped field");
    }
    info.generation = static_cast<int>(generation);
    info.view_version = static_cast<int32_t>(view_version);
    info.events = events;
    info.created_unix_ms = created;
    for (simdjson::dom::element item : offsets) {
      std::string_view topic;
      int64_t partition = 0, offset = 0;
      if (item["topic"].get(topic) != simdjson::SUCCESS ||
          item["partition"].get(partition) != simdjson::SUCCESS ||
          item["offset"].get(offset) != simdjson::SUCCESS) {
        return Corruption(path + ": bad offsets entry");
      }
      info.offsets[TopicPartition{std::string(topic), static_cast<int32_t>(partition)}] = offset;
    }
    snapshots.push_back(std::move(info));
  }
  return snapshots;
}

Result<SnapshotInfo> Replayer::FindSnapshot(const std::string& name) const {
  JIRITSU_ASSIGN_OR_RETURN(std::vector<SnapshotInfo> snapshots, ListSnapshots());
  auto compatible = [&](const SnapshotInfo& info) {
    return options_.view_version == 0 || info.view_version == options_.view_version;
  };
  if (name == "latest") {
    const SnapshotInfo* best = nullptr;
    for (const auto& info : snapshots) {
      if (!compatible(info)) continue;
      if (best == nullptr || info.created_unix_ms >= best->created_unix_ms) best = &info;
    }
    if (best == nullptr) {
      return NotFound("no snapshot of view version " + std::to_string(options_.view_version) +
                      " in " + ViewGenerations(options_.views_root).SnapshotsDir());
    }
    return *best;
  }
  for (const auto& info : snapshots) {
    if (info.name != name) continue;
    if (!compatible(info)) {
      return FailedPrecondition("snapshot " + name + " holds view version " +
                                std::to_string(info.view_version) + "; this build projects version " +
                                std::to_string(options_.view_version));
    }
    return info;
  }
  return NotFound("no snapshot named " + name + " (see jiritsu replay --snapshot-list)");
}

// ---------------------------------------------------------------------------
// Operations

namespace {

// Holds the root lock for one operation.
class RootLock {
 public:
  explicit RootLock(std::function<void()> unlock) : unlock_(std::move(unlock)) {}
  ~RootLock() { unlock_(); }

 private:
  std::function<void()> unlock_;
};

}  // namespace

Result<ReplayReport> Replayer::Rebuild(const RebuildRequest& request) {
  JIRITSU_RETURN_IF_ERROR(LockRoot());
  RootLock unlock([this] { UnlockRoot(); });
  ViewGenerations generations(options_.views_root);
  JIRITSU_ASSIGN_OR_RETURN(int current, generations.Current());
  const std::string live_dir = current > 0 ? generations.DirFor(current) : "";
  const bool live_exists = current > 0 && HasStore(live_dir);
  JIRITSU_ASSIGN_OR_RETURN(std::vector<std::string> all_families, ViewFamilies());

  const bool partial = !request.view.empty() || request.scope;
  const std::string partial_flag = !request.view.empty() ? "--view " + request.view : "--org";
  std::vector<std::string> view_families = all_families;
  if (partial) {
    if (!request.swap) return InvalidArgument(partial_flag + " needs --swap (or --verify)");
    if (!request.view.empty()) {
      JIRITSU_ASSIGN_OR_RETURN(view_families, FamiliesOfView(request.view));
    }
    if (!live_exists) {
      return NotFound(partial_flag + ": no live generation in " + options_.views_root +
                      " to take the other views from; run a full rebuild");
    }
  }
  // Nothing served yet: the first build is promoted (nobody to disturb).
  const bool swap = request.swap || current == 0;

  // Live offsets now: a swap builds up to them (so the shadow never runs
  // ahead of the live views) and the handshake closes the remaining gap.
  std::map<TopicPartition, int64_t> live_start;
  if (swap && live_exists) {
    JIRITSU_ASSIGN_OR_RETURN(auto live, OpenReadOnlyRetrying(live_dir, all_families));
    if (partial) {
      JIRITSU_RETURN_IF_ERROR(CheckSameVersion(*live, options_.view_version,
                                               "the live generation " + live_dir)
                                  .WithContext(partial_flag +
                                               " needs the same view version (else rebuild all)"));
    }
    JIRITSU_ASSIGN_OR_RETURN(live_start, ReadStoredOffsets(*live));
  }

  Build build;
  build.mode = partial ? "partial" : swap ? "swap" : "rebuild";
  build.phase = "build";
  // A partial build goes to a temp dir; the generation is then made from
  // the live one (MakePartialGeneration).
  JIRITSU_ASSIGN_OR_RETURN(const int generation, generations.NextGeneration());
  build.dir = partial ? options_.views_root + "/" + kTempPrefix + "partial"
                      : generations.DirFor(generation);
  DirCleanup cleanup(build.dir);
  // Killed from here until the mark is cleared, the next replay or runner
  // start removes this generation (ViewGenerations::RemoveUnfinished).
  if (!partial) JIRITSU_RETURN_IF_ERROR(generations.MarkUnfinished(generation));
  if (!request.from_snapshot.empty()) {
    JIRITSU_ASSIGN_OR_RETURN(SnapshotInfo snapshot, FindSnapshot(request.from_snapshot));
    if (partial) {
      for (const auto& [tp, offset] : snapshot.offsets) {
        auto live = live_start.find(tp);
        if (!IsDerivedTopic(tp.topic) && live != live_start.end() && offset > live->second) {
          return FailedPrecondition("snapshot " + snapshot.name + " is ahead of the live views at " +
                                    ToString(tp) + " (" + std::to_string(offset) + " > " +
                                    std::to_string(live->second) + ")");
        }
      }
    }
    JIRITSU_RETURN_IF_ERROR(CopyCheckpoint(snapshot.dir, build.dir));
    Logger()->info("starting from snapshot {}", snapshot.name);
  }
  if (swap) build.stop_offsets = WithoutDerived(live_start);
  JIRITSU_RETURN_IF_ERROR(RunBuild(&build));

  if (!swap) {
    ReplayReport report;
    report.mode = build.mode;
    JIRITSU_RETURN_IF_ERROR(WriteBuildMeta(build.store(), build.mode, {}));
    if (options_.snapshot) {
      JIRITSU_ASSIGN_OR_RETURN(report.snapshot, TakeSnapshot(build.store(), generation, build.events));
    }
    JIRITSU_RETURN_IF_ERROR(FillDigest(*build.store(), view_families, &report));
    build.Close();
    build.Fill(&report);
    report.generation = generation;
    JIRITSU_RETURN_IF_ERROR(generations.ClearUnfinished(generation));
    cleanup.Release();
    return report;
  }

  // ---- swap: handshake, catch up, promote ----
  if (options_.before_catch_up) options_.before_catch_up();
  SwapCoordinator coordinator(options_.views_root);
  JIRITSU_RETURN_IF_ERROR(coordinator.RequestSwap(generation));
  bool acknowledged = false;
  auto abort = [&](const Status& status) -> Status {
    coordinator.AbortSwap(status.ToString(), acknowledged).IgnoreError();
    return status;
  };
  JIRITSU_ASSIGN_OR_RETURN(bool runner, coordinator.RunnerActive());
  if (runner) {
    Status ready = coordinator.WaitForReady(options_.swap_ready_timeout, &stop_);
    if (ready.ok()) {
      acknowledged = true;
    } else if (ready.code() == StatusCode::kUnavailable) {
      Logger()->warn("{}: swapping without it", ready.message());
    } else {
      return abort(ready);
    }
  }
  // The live store is released (or nobody serves it): its offsets are final.
  std::map<TopicPartition, int64_t> live_final;
  if (live_exists) {
    auto live = OpenReadOnlyRetrying(live_dir, all_families);
    if (!live.ok()) return abort(live.status());
    auto offsets = ReadStoredOffsets(**live);
    if (!offsets.ok()) return abort(offsets.status());
    live_final = std::move(*offsets);
  }
  // With a runner (or for a partial swap, whose other views stay as they
  // are) exactly the live positions; alone, the log end.
  build.stop_offsets =
      acknowledged || partial ? WithoutDerived(live_final) : std::map<TopicPartition, int64_t>();
  build.phase = "catch-up";
  Status caught_up = RunBuild(&build);
  if (!caught_up.ok()) return abort(caught_up);

  ReplayReport report;
  report.mode = build.mode;
  report.handshake = acknowledged;
  Status finished = WriteBuildMeta(build.store(), build.mode, {});
  if (finished.ok() && options_.snapshot && !partial) {
    auto snapshot = TakeSnapshot(build.store(), generation, build.events);
    if (snapshot.ok()) {
      report.snapshot = *snapshot;
    } else {
      finished = snapshot.status();
    }
  }
  KeyScope scope;
  if (finished.ok() && request.scope) {
    auto live = OpenReadOnlyRetrying(live_dir, all_families);
    if (!live.ok()) return abort(live.status());
    auto made = request.scope(**live, *build.store());
    if (made.ok()) {
      scope = std::move(*made);
      report.scope = scope.description;
    } else {
      finished = made.status();
    }
  }
  if (finished.ok()) finished = FillDigest(*build.store(), view_families, &report, scope.contains);
  build.Close();
  if (!finished.ok()) return abort(finished);
  if (partial) {
    Status made = MakePartialGeneration(generation, live_dir, build.dir, view_families, scope.contains);
    if (!made.ok()) return abort(made);
  } else {
    Status cleared = generations.ClearUnfinished(generation);
    if (!cleared.ok()) return abort(cleared);
    cleanup.Release();  // the generation stays, promoted or not
  }
  if (acknowledged && !coordinator.ReadyPresent()) {
    return abort(FailedPrecondition("the runner stopped waiting for the swap; generation " +
                                    std::to_string(generation) + " was built but not promoted"));
  }
  Status promoted = generations.Promote(generation);
  if (!promoted.ok()) return abort(promoted);
  JIRITSU_RETURN_IF_ERROR(coordinator.FinishSwap(generation, acknowledged));
  Logger()->info("generation {} promoted{}", generation, acknowledged ? " (runner handshake)" : "");
  build.Fill(&report);
  report.store_dir = generations.DirFor(generation);
  report.generation = generation;
  report.promoted = true;
  return report;
}

Status Replayer::MakePartialGeneration(int generation, const std::string& live_dir,
                                       const std::string& shadow_dir,
                                       const std::vector<std::string>& families,
                                       const RowPredicate& in_scope) {
  ViewGenerations generations(options_.views_root);
  const std::string dir = generations.DirFor(generation);
  JIRITSU_ASSIGN_OR_RETURN(std::vector<std::string> all_families, ViewFamilies());
  JIRITSU_RETURN_IF_ERROR(generations.MarkUnfinished(generation));
  {
    StateStoreOptions live_options;
    live_options.column_families = all_families;
    live_options.create_if_missing = false;
    auto live = StateStore::Open(live_dir, live_options);
    if (!live.ok()) return live.status().WithContext("open the live generation to copy it");
    JIRITSU_RETURN_IF_ERROR((*live)->Checkpoint(dir));
  }
  DirCleanup cleanup(dir);
  StateStoreOptions target_options;
  target_options.column_families = all_families;
  target_options.create_if_missing = false;
  target_options.disable_wal = true;
  JIRITSU_ASSIGN_OR_RETURN(auto target, StateStore::Open(dir, target_options));
  JIRITSU_ASSIGN_OR_RETURN(auto shadow, StateStore::OpenReadOnly(shadow_dir, all_families));
  constexpr size_t kBatchBytes = 32 << 20;
  StateBatch batch;
  auto flush_if_full = [&](bool force) -> Status {
    if (batch.Count() == 0 || (!force && batch.ApproximateBytes() < kBatchBytes)) return Status::Ok();
    JIRITSU_RETURN_IF_ERROR(target->Write(&batch));
    batch.Clear();
    return Status::Ok();
  };
  for (const auto& family : families) {
    auto old_rows = target->NewIterator(family);
    for (old_rows->SeekToFirst(); old_rows->Valid(); old_rows->Next()) {
      if (in_scope && !in_scope(family, old_rows->key())) continue;
      batch.Delete(family, old_rows->key());
      JIRITSU_RETURN_IF_ERROR(flush_if_full(false));
    }
    JIRITSU_RETURN_IF_ERROR(old_rows->status());
    // Deletes before puts of the same key: flush them in order.
    JIRITSU_RETURN_IF_ERROR(flush_if_full(true));
    auto new_rows = shadow->NewIterator(family);
    for (new_rows->SeekToFirst(); new_rows->Valid(); new_rows->Next()) {
      if (in_scope && !in_scope(family, new_rows->key())) continue;
      batch.Put(family, new_rows->key(), new_rows->value());
      JIRITSU_RETURN_IF_ERROR(flush_if_full(false));
    }
    JIRITSU_RETURN_IF_ERROR(new_rows->status());
  }
  JIRITSU_RETURN_IF_ERROR(flush_if_full(true));
  JIRITSU_RETURN_IF_ERROR(target->SyncAndFlush());
  JIRITSU_RETURN_IF_ERROR(generations.ClearUnfinished(generation));
  cleanup.Release();
  return Status::Ok();
}

Result<ReplayReport> Replayer::BuildAsOf(const AsOfRequest& request) {
  if (!request.as_of_time_us && request.as_of_offsets.empty()) {
    return InvalidArgument("an as-of build needs --as-of and/or --as-of-offset");
  }
  if (request.target_dir.empty()) return InvalidArgument("an as-of build needs --target DIR");
  std::error_code error;
  if (fs::exists(request.target_dir, error) && !fs::is_empty(request.target_dir, error)) {
    return AlreadyExists("--target " + request.target_dir +
                         " is not empty: as-of views go into a new directory");
  }
  Build build;
  build.mode = "as-of";
  build.phase = "build";
  build.dir = request.target_dir;
  build.stop_offsets = request.as_of_offsets;
  build.as_of_time_us = request.as_of_time_us;
  DirCleanup cleanup(build.dir);
  if (!request.from_snapshot.empty()) {
    if (request.as_of_time_us) {
      return InvalidArgument("--from-snapshot cannot start an --as-of (event time) build: a "
                             "snapshot holds events of every time");
    }
    JIRITSU_ASSIGN_OR_RETURN(SnapshotInfo snapshot, FindSnapshot(request.from_snapshot));
    for (const auto& [tp, offset] : snapshot.offsets) {
      if (IsDerivedTopic(tp.topic)) continue;
      auto stop = request.as_of_offsets.find(tp);
      if (stop == request.as_of_offsets.end() || offset > stop->second) {
        return FailedPrecondition("snapshot " + snapshot.name + " is past the requested position at " +
                                  ToString(tp));
      }
    }
    std::error_code ignored;
    fs::remove(build.dir, ignored);  // an empty target: CopyCheckpoint creates it
    JIRITSU_RETURN_IF_ERROR(CopyCheckpoint(snapshot.dir, build.dir));
  }
  JIRITSU_RETURN_IF_ERROR(RunBuild(&build));

  std::string marker = "as-of";
  std::vector<std::pair<std::string, std::string>> meta;
  if (request.as_of_time_us) {
    marker += " " + FormatRfc3339(*request.as_of_time_us, request.as_of_utc_offset_minutes);
    meta.emplace_back(std::string(kAsOfTimeKey), std::to_string(*request.as_of_time_us));
  }
  if (!request.as_of_offsets.empty()) {
    marker += " offsets " + FormatOffsetList(request.as_of_offsets);
    meta.emplace_back(std::string(kAsOfOffsetsKey), FormatOffsetList(request.as_of_offsets));
  }
  meta.emplace_back(std::string(kReadOnlyMarkerKey), marker);
  JIRITSU_RETURN_IF_ERROR(WriteBuildMeta(build.store(), build.mode, meta));
  ReplayReport report;
  report.mode = build.mode;
  JIRITSU_ASSIGN_OR_RETURN(std::vector<std::string> families, ViewFamilies());
  JIRITSU_RETURN_IF_ERROR(FillDigest(*build.store(), families, &report));
  build.Close();
  build.Fill(&report);
  cleanup.Release();
  return report;
}

Result<ReplayReport> Replayer::Verify(const VerifyRequest& request) {
  JIRITSU_RETURN_IF_ERROR(LockRoot());
  RootLock unlock([this] { UnlockRoot(); });
  ViewGenerations generations(options_.views_root);
  JIRITSU_ASSIGN_OR_RETURN(int current, generations.Current());
  const std::string live_dir = generations.DirFor(current);
  if (current == 0 || !HasStore(live_dir)) {
    return NotFound("no live views to verify in " + options_.views_root);
  }
  JIRITSU_ASSIGN_OR_RETURN(std::vector<std::string> all_families, ViewFamilies());
  std::vector<std::string> families = all_families;
  if (!request.view.empty()) {
    JIRITSU_ASSIGN_OR_RETURN(families, FamiliesOfView(request.view));
  }
  // Held open for the whole verification: a read-only RocksDB instance sees
  // the store as of opening, even while the runner keeps writing.
  JIRITSU_ASSIGN_OR_RETURN(auto live, OpenReadOnlyRetrying(live_dir, all_families));
  JIRITSU_RETURN_IF_ERROR(CheckSameVersion(*live, options_.view_version, "the live generation " + live_dir)
                              .WithContext("verify compares like with like (rebuild with --swap)"));
  JIRITSU_ASSIGN_OR_RETURN(auto live_offsets, ReadStoredOffsets(*live));

  // Replays the generation's history: the replay build that made it (if
  // any) derived facts and dead letters locally up to its built offsets; the
  // live runner then read them from the log.
  Build build;
  build.mode = "verify";
  build.dir = options_.views_root + "/" + kTempPrefix + "verify";
  DirCleanup cleanup(build.dir);
  auto built = GetMeta(*live, kBuiltOffsetsKey);
  if (built.ok() && !built->empty()) {
    JIRITSU_ASSIGN_OR_RETURN(build.stop_offsets, ParseOffsetList(*built));
    build.phase = "history";
    JIRITSU_RETURN_IF_ERROR(RunBuild(&build));
  } else if (!built.ok() && built.status().code() != StatusCode::kNotFound) {
    return built.status();
  }
  build.phase = "live-history";
  build.derived = RuntimeOptions::DerivedInputs::kLog;
  build.stop_offsets = live_offsets;
  JIRITSU_RETURN_IF_ERROR(RunBuild(&build));

  ReplayReport report;
  report.mode = "verify";
  report.generation = current;
  KeyScope scope;
  if (request.scope) {
    JIRITSU_ASSIGN_OR_RETURN(scope, request.scope(*live, *build.store()));
    report.scope = scope.description;
  }
  JIRITSU_RETURN_IF_ERROR(FillDigest(*build.store(), families, &report, scope.contains));
  RowReader live_rows;
  if (request.live_rows) {
    JIRITSU_ASSIGN_OR_RETURN(live_rows, request.live_rows(*live));
  }
  JIRITSU_ASSIGN_OR_RETURN(StoreDigest live_digest,
                           DigestFamilies(*live, families, scope.contains, live_rows));
  report.live_digest = live_digest.combined;
  report.live_family_digests = live_digest.families;
  report.equal = report.live_digest == report.digest;
  if (!report.equal) {
    JIRITSU_ASSIGN_OR_RETURN(report.differences,
                             DiffFamilies(*live, *build.store(), families, request.max_differences,
                                          scope.contains, live_rows));
  }
  build.Close();
  build.Fill(&report);
  report.store_dir = live_dir;
  return report;
}

Result<ReplayReport> Replayer::Rollback() {
  JIRITSU_RETURN_IF_ERROR(LockRoot());
  RootLock unlock([this] { UnlockRoot(); });
  ViewGenerations generations(options_.views_root);
  JIRITSU_ASSIGN_OR_RETURN(int previous, generations.Previous());
  if (previous == 0) {
    return FailedPrecondition("no previous generation to roll back to in " + options_.views_root);
  }
  if (!HasStore(generations.DirFor(previous))) {
    return NotFound("previous generation " + generations.DirFor(previous) + " no longer exists");
  }
  SwapCoordinator coordinator(options_.views_root);
  JIRITSU_ASSIGN_OR_RETURN(bool runner, coordinator.RunnerActive());
  {
    JIRITSU_ASSIGN_OR_RETURN(auto store, OpenReadOnlyRetrying(generations.DirFor(previous), {}));
    Status same = CheckSameVersion(*store, options_.view_version, "the previous generation");
    if (!same.ok() && runner) {
      return same.WithContext("stop jiritsu run, deploy the build that projects that version, then roll back");
    }
    if (!same.ok()) Logger()->warn("{}: start the matching jiritsu build to serve it", same.message());
  }
  JIRITSU_RETURN_IF_ERROR(coordinator.RequestSwap(previous));
  bool acknowledged = false;
  if (runner) {
    Status ready = coordinator.WaitForReady(options_.swap_ready_timeout, &stop_);
    if (ready.ok()) {
      acknowledged = true;
    } else if (ready.code() != StatusCode::kUnavailable) {
      coordinator.AbortSwap(ready.ToString(), false).IgnoreError();
      return ready;
    }
  }
  Status rolled = generations.Rollback();
  if (!rolled.ok()) {
    coordinator.AbortSwap(rolled.ToString(), acknowledged).IgnoreError();
    return rolled;
  }
  JIRITSU_RETURN_IF_ERROR(coordinator.FinishSwap(previous, acknowledged));
  ReplayReport report;
  report.mode = "rollback";
  report.generation = previous;
  report.promoted = true;
  report.handshake = acknowledged;
  report.store_dir = generations.DirFor(previous);
  JIRITSU_ASSIGN_OR_RETURN(std::vector<std::string> families, ViewFamilies());
  JIRITSU_ASSIGN_OR_RETURN(auto store, OpenReadOnlyRetrying(report.store_dir, families));
  JIRITSU_RETURN_IF_ERROR(FillDigest(*store, families, &report));
  auto version = GetMeta(*store, kViewVersionKey);
  report.view_version = version.ok() ? std::atoi(version->c_str()) : 0;
  return report;
}

Result<ReplayReport> Replayer::RestoreSnapshot(const std::string& name) {
  JIRITSU_RETURN_IF_ERROR(LockRoot());
  RootLock unlock([this] { UnlockRoot(); });
  ViewGenerations generations(options_.views_root);
  JIRITSU_ASSIGN_OR_RETURN(SnapshotInfo snapshot, FindSnapshot(name));
  JIRITSU_ASSIGN_OR_RETURN(int generation, generations.NextGeneration());
  const std::string dir = generations.DirFor(generation);
  DirCleanup cleanup(dir);
  JIRITSU_RETURN_IF_ERROR(generations.MarkUnfinished(generation));
  JIRITSU_RETURN_IF_ERROR(CopyCheckpoint(snapshot.dir, dir));
  JIRITSU_RETURN_IF_ERROR(generations.ClearUnfinished(generation));
  SwapCoordinator coordinator(options_.views_root);
  JIRITSU_RETURN_IF_ERROR(coordinator.RequestSwap(generation));
  bool acknowledged = false;
  JIRITSU_ASSIGN_OR_RETURN(bool runner, coordinator.RunnerActive());
  if (runner) {
    Status ready = coordinator.WaitForReady(options_.swap_ready_timeout, &stop_);
    if (ready.ok()) {
      acknowledged = true;
    } else if (ready.code() != StatusCode::kUnavailable) {
      coordinator.AbortSwap(ready.ToString(), false).IgnoreError();
      return ready;
    }
  }
  Status promoted = generations.Promote(generation);
  if (!promoted.ok()) {
    coordinator.AbortSwap(promoted.ToString(), acknowledged).IgnoreError();
    return promoted;
  }
  cleanup.Release();
  JIRITSU_RETURN_IF_ERROR(coordinator.FinishSwap(generation, acknowledged));
  ReplayReport report;
  report.mode = "restore";
  report.generation = generation;
  report.promoted = true;
  report.handshake = acknowledged;
  report.snapshot = snapshot.name;
  report.store_dir = dir;
  report.events = snapshot.events;
  JIRITSU_ASSIGN_OR_RETURN(std::vector<std::string> families, ViewFamilies());
  JIRITSU_ASSIGN_OR_RETURN(auto store, OpenReadOnlyRetrying(dir, families));
  JIRITSU_RETURN_IF_ERROR(FillDigest(*store, families, &report));
  return report;
}

}  // namespace jiritsu
