#include "core/ingest.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <utility>

#include "core/personal_data.h"
#include "core/topics.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

constexpr size_t kRejectInputBytes = 1024;
constexpr std::string_view kUnknownType = "unknown";

bool IsBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

// The longest prefix of at most `limit` bytes that does not cut a UTF-8
// sequence.
std::string_view Utf8Prefix(std::string_view text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

// Best effort for the per-type counts of a line that did not decode: the
// string value of the first "type" member if it names a known event type.
std::string TypeOfRawLine(std::string_view line) {
  const size_t key = line.find("\"type\"");
  if (key == std::string_view::npos) return std::string(kUnknownType);
  size_t i = key + 6;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i >= line.size() || line[i] != ':') return std::string(kUnknownType);
  ++i;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i >= line.size() || line[i] != '"') return std::string(kUnknownType);
  const size_t end = line.find('"', i + 1);
  if (end == std::string_view::npos) return std::string(kUnknownType);
  const std::optional<EventType> type = ParseEventType(line.substr(i + 1, end - i - 1));
  return type ? std::string(EventTypeName(*type)) : std::string(kUnknownType);
}

std::string SizeReason(size_t bytes) {
  return "event: " + std::to_string(bytes) + " bytes exceeds the " +
         std::to_string(kMaxEventBytes) + "-byte limit";
}

}  // namespace

// ---------------------------------------------------------------- rejects

Result<std::unique_ptr<JsonlRejectFile>> JsonlRejectFile::Create(const std::string& path,
                                                                 bool echo_to_stderr) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return IOError("cannot open reject file " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<JsonlRejectFile>(new JsonlRejectFile(file, echo_to_stderr));
}

JsonlRejectFile::~JsonlRejectFile() { Close().IgnoreError(); }

Status JsonlRejectFile::Reject(int64_t line_number, std::string_view reason,
                               std::string_view input) {
  if (file_ == nullptr) return FailedPrecondition("reject file is closed");
  std::string record = "{\"line\":" + std::to_string(line_number) + ",\"reason\":";
  AppendJsonString(&record, reason);
  record.append(",\"input\":");
  AppendJsonString(&record, Utf8Prefix(input, kRejectInputBytes));
  record.append("}\n");
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    return IOError(std::string("cannot write reject file: ") + std::strerror(errno));
  }
  if (echo_) {
    std::fprintf(stderr, "line %" PRId64 ": %.*s\n", line_number, static_cast<int>(reason.size()),
                 reason.data());
  }
  return Status::Ok();
}

Status JsonlRejectFile::Close() {
  if (file_ == nullptr) return Status::Ok();
  const bool ok = std::fclose(file_) == 0;
  file_ = nullptr;
  return ok ? Status::Ok() : IOError(std::string("cannot close reject file: ") + std::strerror(errno));
}

// ---------------------------------------------------------------- ingestor

Result<std::unique_ptr<Ingestor>> Ingestor::Create(EventLog* log, DedupeIndex* index,
                                                   RejectSink* rejects,
                                                   const IngestOptions& options) {
  if (log == nullptr || index == nullptr || rejects == nullptr) {
    return InvalidArgument("Ingestor needs a log, a dedupe index and a reject sink");
  }
  Result<std::unique_ptr<LogProducer>> producer = log->NewProducer();
  if (!producer.ok()) return producer.status().WithContext(log->Describe());
  return std::unique_ptr<Ingestor>(
      new Ingestor(log, index, rejects, options, std::move(producer).value()));
}

Ingestor::Ingestor(EventLog* log, DedupeIndex* index, RejectSink* rejects,
                   const IngestOptions& options, std::unique_ptr<LogProducer> producer)
    : log_(log), index_(index), rejects_(rejects), options_(options),
      producer_(std::move(producer)) {
  options_.flush_every_lines = std::max<size_t>(1, options_.flush_every_lines);
}

Ingestor::~Ingestor() = default;

Status Ingestor::Reject(int64_t line_number, std::string_view reason, std::string_view input,
                        const std::string& type) {
  ++stats_.rejected;
  ++stats_.per_type[type].rejected;
  return rejects_->Reject(line_number, reason, input);
}

Result<LineOutcome> Ingestor::IngestLine(int64_t line_number, std::string_view line) {
  ++stats_.lines;
  stats_.bytes += static_cast<int64_t>(line.size());
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (IsBlank(line)) {
    ++stats_.blank;
    return LineOutcome::kBlank;
  }
  if (line.size() > kMaxEventBytes) {
    JIRITSU_RETURN_IF_ERROR(Reject(line_number, SizeReason(line.size()), line, TypeOfRawLine(line)));
    return LineOutcome::kRejected;
  }
  Result<Event> decoded = DecodeJsonEvent(line);
  if (!decoded.ok()) {
    JIRITSU_RETURN_IF_ERROR(
        Reject(line_number, decoded.status().message(), line, TypeOfRawLine(line)));
    return LineOutcome::kRejected;
  }
  Event& event = decoded.value();
  IngestTypeCounts& counts = stats_.per_type[std::string(EventTypeName(event.type))];
  std::string key = DedupeIndex::Key(event.source, event.id);
  bool duplicate = pending_set_.count(key) > 0;
  if (!duplicate) {
    Result<bool> known = index_->Contains(key);
    if (!known.ok()) return known.status();
    duplicate = known.value();
  }
  if (duplicate) {
    ++stats_.duplicates;
    ++counts.duplicates;
    return LineOutcome::kDuplicate;
  }
  // Personal fields are sealed before the event reaches the log, so the log
  // never holds them in clear (core/personal_data.h). A key-store failure
  // stops ingestion like a log failure: never append what should be sealed.
  if (options_.key_store != nullptr) {
    JIRITSU_RETURN_IF_ERROR(SealPersonalFields(options_.key_store, &event));
  }
  // The canonical encoding, so the log holds one spelling per event whatever
  // the source's formatting.
  std::string encoded = EncodeJsonEvent(event);
  if (encoded.size() > kMaxEventBytes) {
    // Sealing grows a text by about a third; the log keeps the size limit.
    JIRITSU_RETURN_IF_ERROR(Reject(line_number,
                                   "event: " + std::to_string(encoded.size()) +
                                       " bytes with its personal fields encrypted exceeds the " +
                                       std::to_string(kMaxEventBytes) + "-byte limit",
                                   line, std::string(EventTypeName(event.type))));
    return LineOutcome::kRejected;
  }
  JIRITSU_RETURN_IF_ERROR(
      Append(TopicForFamily(FamilyOf(event.type)), event.subject, encoded));
  if (event.type == EventType::kEmployeeErasureRequested) pending_erasures_.push_back(event.subject);
  ++stats_.accepted;
  ++counts.accepted;
  pending_set_.insert(key);
  pending_keys_.push_back(std::move(key));
  if (pending_keys_.size() >= options_.flush_every_lines) JIRITSU_RETURN_IF_ERROR(Flush());
  return LineOutcome::kAccepted;
}

Status Ingestor::Append(const std::string& topic, std::string_view key, std::string_view value) {
  Status appended = producer_->Append(topic, key, value);
  if (appended.code() == StatusCode::kResourceExhausted) {
    // Local queue full: drain it (marking what is durable), then retry once.
    JIRITSU_RETURN_IF_ERROR(Flush());
    appended = producer_->Append(topic, key, value);
  }
  if (!appended.ok()) return appended.WithContext("append to " + topic);
  return Status::Ok();
}

Status Ingestor::RejectOversized(int64_t line_number, size_t bytes, std::string_view prefix) {
  ++stats_.lines;
  stats_.bytes += static_cast<int64_t>(bytes);
  return Reject(line_number, SizeReason(bytes), prefix, TypeOfRawLine(prefix));
}

Status Ingestor::Flush() {
  if (pending_keys_.empty()) return Status::Ok();
  const Status flushed = producer_->Flush(options_.flush_timeout);
  if (!flushed.ok()) return flushed.WithContext("flush to " + log_->Describe());
  // Sorted keys insert faster into RocksDB's memtable (skip-list splices).
  std::sort(pending_keys_.begin(), pending_keys_.end());
  JIRITSU_RETURN_IF_ERROR(index_->Mark(pending_keys_));
  pending_keys_.clear();
  pending_set_.clear();
  // Keys go only once the erasure request is durable in the log: a crash
  // before this point leaves the key, and `jiritsu run` deletes it when it
  // projects the event (as does a re-run, which finds the event a duplicate).
  if (options_.key_store != nullptr) {
    for (const std::string& employee : pending_erasures_) {
      JIRITSU_RETURN_IF_ERROR(options_.key_store->Erase(employee));
      ++stats_.erasures;
    }
  }
  pending_erasures_.clear();
  return Status::Ok();
}

// ---------------------------------------------------------------- streams

Status IngestStream(std::FILE* in, Ingestor* ingestor) {
  // Room for the longest acceptable line plus a '\r'; longer lines keep only
  // a prefix for the reject file.
  constexpr size_t kKeepLimit = kMaxEventBytes + 1;
  std::vector<char> buffer(1 << 20);
  std::string partial;  // a line spanning buffer refills
  size_t partial_bytes = 0;
  bool oversized = false;
  int64_t line_number = 0;

  auto finish = [&](std::string_view line, size_t bytes, bool too_long) -> Status {
    ++line_number;
    if (too_long) return ingestor->RejectOversized(line_number, bytes, line);
    Result<LineOutcome> outcome = ingestor->IngestLine(line_number, line);
    return outcome.ok() ? Status::Ok() : outcome.status();
  };
  auto add_partial = [&](const char* data, size_t size) {
    partial_bytes += size;
    if (oversized) return;
    if (partial.size() + size > kKeepLimit) {
      oversized = true;
      partial.append(data, std::min(size, kRejectInputBytes > partial.size()
                                              ? kRejectInputBytes - partial.size()
                                              : size_t{0}));
      return;
    }
    partial.append(data, size);
  };

  size_t read = 0;
  while ((read = std::fread(buffer.data(), 1, buffer.size(), in)) > 0) {
    size_t pos = 0;
    while (pos < read) {
      const char* start = buffer.data() + pos;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', read - pos));
      const size_t size = newline ? static_cast<size_t>(newline - start) : read - pos;
      if (newline == nullptr) {
        add_partial(start, size);
        break;
      }
      if (partial_bytes == 0) {
        // The whole line is in the buffer: no copy.
        JIRITSU_RETURN_IF_ERROR(finish(size > kKeepLimit ? std::string_view(start, kRejectInputBytes)
                                                         : std::string_view(start, size),
                                       size, size > kKeepLimit));
      } else {
        add_partial(start, size);
        JIRITSU_RETURN_IF_ERROR(finish(partial, partial_bytes, oversized));
        partial.clear();
        partial_bytes = 0;
        oversized = false;
      }
      pos += size + 1;
    }
  }
  if (std::ferror(in)) return IOError(std::string("read failed: ") + std::strerror(errno));
  if (partial_bytes > 0) JIRITSU_RETURN_IF_ERROR(finish(partial, partial_bytes, oversized));
  return ingestor->Flush();
}

// ---------------------------------------------------------------- summary

std::string IngestSummaryJson(const std::string& log_description, const IngestStats& stats,
                              double seconds) {
  const int64_t handled = stats.accepted + stats.duplicates + stats.rejected;
  const double safe_seconds = std::max(seconds, 1e-9);
  char numbers[160];
  std::snprintf(numbers, sizeof(numbers),
                ",\"seconds\":%.3f,\"events_per_s\":%.0f,\"mb_per_s\":%.2f", seconds,
                static_cast<double>(handled) / safe_seconds,
                static_cast<double>(stats.bytes) / 1e6 / safe_seconds);
  std::string out = "{\"log\":";
  AppendJsonString(&out, log_description);
  out += ",\"accepted\":" + std::to_string(stats.accepted) +
         ",\"duplicates\":" + std::to_string(stats.duplicates) +
         ",\"rejected\":" + std::to_string(stats.rejected) +
         ",\"blank_lines\":" + std::to_string(stats.blank) +
         ",\"erasures\":" + std::to_string(stats.erasures) +
         ",\"bytes\":" + std::to_string(stats.bytes) + numbers + ",\"per_type\":{";
  bool first = true;
  for (const auto& [type, counts] : stats.per_type) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, type);
    out += ":{\"accepted\":" + std::to_string(counts.accepted) +
           ",\"duplicates\":" + std::to_string(counts.duplicates) +
           ",\"rejected\":" + std::to_string(counts.rejected) + "}";
  }
  out += "}}";
  return out;
}

}  // namespace jiritsu
