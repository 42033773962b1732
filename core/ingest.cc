#include "core/ingest.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <utility>

#include <sodium.h>

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

// A line between the two passes of IngestLines.
struct Ingestor::Staged {
  enum Kind : uint8_t { kBlank, kRejected, kDecoded } kind = kBlank;
  std::string_view line;  // without its '\r'
  std::string reason;     // kRejected
  std::string type;       // kRejected: for the per-type counts
  Event event;            // kDecoded
  std::string identity;   // kDecoded: DedupeIndex::Key
  bool known_before = false;  // kDecoded: pending or in the index when the batch began
};

Result<LineOutcome> Ingestor::IngestLine(int64_t line_number, std::string_view line) {
  const BatchLine one{line_number, line};
  JIRITSU_ASSIGN_OR_RETURN(std::vector<LineOutcome> outcomes, IngestLines({&one, 1}));
  return outcomes.front();
}

Result<Ingestor::Staged> Ingestor::Stage(std::string_view line,
                                         std::unordered_map<std::string, bool>* known) {
  Staged staged;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  staged.line = line;
  if (IsBlank(line)) return staged;
  if (line.size() > kMaxEventBytes) {
    staged.kind = Staged::kRejected;
    staged.reason = SizeReason(line.size());
    staged.type = TypeOfRawLine(line);
    return staged;
  }
  Result<Event> decoded = DecodeJsonEvent(line);
  if (!decoded.ok()) {
    staged.kind = Staged::kRejected;
    staged.reason = decoded.status().message();
    staged.type = TypeOfRawLine(line);
    return staged;
  }
  staged.kind = Staged::kDecoded;
  staged.event = std::move(decoded).value();
  staged.identity = DedupeIndex::Key(staged.event.source, staged.event.id);
  if (auto it = known->find(staged.identity); it != known->end()) {
    staged.known_before = it->second;  // the index does not change during the first pass
    return staged;
  }
  staged.known_before = pending_set_.count(staged.identity) > 0;
  if (!staged.known_before) {
    Result<bool> indexed = index_->Contains(staged.identity);
    if (!indexed.ok()) return indexed.status();
    staged.known_before = indexed.value();
  }
  known->emplace(staged.identity, staged.known_before);
  return staged;
}

Result<std::vector<LineOutcome>> Ingestor::IngestLines(std::span<const BatchLine> lines) {
  std::vector<Staged> staged;
  staged.reserve(lines.size());
  std::unordered_map<std::string, bool> known;
  // The employees whose key an event of the batch may need: subjects of
  // events with personal fields in clear that are not duplicates of what was
  // ingested before. (A repeat within the batch is a duplicate unless its
  // first occurrence is rejected; its subject then gets its key from
  // GetOrCreate when it is appended.)
  std::vector<std::string_view> subjects;
  std::unordered_set<std::string_view> subject_set;
  for (const BatchLine& input : lines) {
    const size_t repeats = known.size();
    JIRITSU_ASSIGN_OR_RETURN(Staged line, Stage(input.line, &known));
    staged.push_back(std::move(line));
    Staged& s = staged.back();
    const bool first_in_batch = known.size() > repeats;
    if (options_.key_store != nullptr && s.kind == Staged::kDecoded && first_in_batch &&
        !s.known_before && NeedsEmployeeKey(&s.event)) {
      // staged never reallocates (reserved), so the subject's view stays valid.
      if (subject_set.insert(s.event.subject).second) subjects.push_back(s.event.subject);
    }
  }
  struct ClearKeys {
    Ingestor* ingestor;
    ~ClearKeys() { ingestor->ClearBatchKeys(); }
  } clear_keys{this};
  if (!subjects.empty()) {
    // Before anything of the batch is appended: no event sealed under a key
    // that is not durable yet reaches the log.
    JIRITSU_ASSIGN_OR_RETURN(std::vector<KeyLookup> keys,
                             options_.key_store->GetOrCreateMany(subjects));
    for (size_t i = 0; i < subjects.size(); ++i) {
      batch_keys_.emplace(std::string(subjects[i]), keys[i]);
      sodium_memzero(keys[i].key.data(), keys[i].key.size());
    }
  }
  std::unordered_set<std::string> accepted_in_batch;
  std::vector<LineOutcome> outcomes;
  outcomes.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    JIRITSU_ASSIGN_OR_RETURN(LineOutcome outcome, Apply(lines[i], &staged[i], &accepted_in_batch));
    outcomes.push_back(outcome);
  }
  return outcomes;
}

void Ingestor::ClearBatchKeys() {
  for (auto& [employee, lookup] : batch_keys_) {
    sodium_memzero(lookup.key.data(), lookup.key.size());
  }
  batch_keys_.clear();
}

Result<LineOutcome> Ingestor::Apply(const BatchLine& input, Staged* staged,
                                    std::unordered_set<std::string>* accepted_in_batch) {
  ++stats_.lines;
  stats_.bytes += static_cast<int64_t>(input.line.size());
  if (staged->kind == Staged::kBlank) {
    ++stats_.blank;
    return LineOutcome::kBlank;
  }
  if (staged->kind == Staged::kRejected) {
    JIRITSU_RETURN_IF_ERROR(Reject(input.line_number, staged->reason, staged->line, staged->type));
    return LineOutcome::kRejected;
  }
  Event& event = staged->event;
  IngestTypeCounts& counts = stats_.per_type[std::string(EventTypeName(event.type))];
  // Accepted earlier in this batch: pending, or marked by a flush since.
  if (staged->known_before || accepted_in_batch->count(staged->identity) > 0) {
    ++stats_.duplicates;
    ++counts.duplicates;
    return LineOutcome::kDuplicate;
  }
  // Personal fields are sealed before the event reaches the log, so the log
  // never holds them in clear (core/personal_data.h). A key-store failure
  // stops ingestion like a log failure: never append what should be sealed.
  if (options_.key_store != nullptr && NeedsEmployeeKey(&event)) {
    KeyLookup lookup;
    if (auto it = batch_keys_.find(event.subject); it != batch_keys_.end()) {
      lookup = it->second;
    } else {
      JIRITSU_ASSIGN_OR_RETURN(lookup, options_.key_store->GetOrCreate(event.subject));
    }
    const Status sealed = SealPersonalFieldsWith(lookup, &event);
    sodium_memzero(lookup.key.data(), lookup.key.size());
    JIRITSU_RETURN_IF_ERROR(sealed);
  }
  // The canonical encoding, so the log holds one spelling per event whatever
  // the source's formatting.
  std::string encoded = EncodeJsonEvent(event);
  if (encoded.size() > kMaxEventBytes) {
    // Sealing grows a text by about a third; the log keeps the size limit.
    JIRITSU_RETURN_IF_ERROR(Reject(input.line_number,
                                   "event: " + std::to_string(encoded.size()) +
                                       " bytes with its personal fields encrypted exceeds the " +
                                       std::to_string(kMaxEventBytes) + "-byte limit",
                                   staged->line, std::string(EventTypeName(event.type))));
    return LineOutcome::kRejected;
  }
  JIRITSU_RETURN_IF_ERROR(
      Append(TopicForFamily(FamilyOf(event.type)), event.subject, encoded));
  if (event.type == EventType::kEmployeeErasureRequested) pending_erasures_.push_back(event.subject);
  ++stats_.accepted;
  ++counts.accepted;
  accepted_in_batch->insert(staged->identity);
  pending_set_.insert(staged->identity);
  pending_keys_.push_back(std::move(staged->identity));
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
      if (auto it = batch_keys_.find(employee); it != batch_keys_.end()) {
        sodium_memzero(it->second.key.data(), it->second.key.size());
        it->second.state = KeyLookup::kErased;
      }
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
  // The lines of one buffer fill are ingested as one batch (IngestLines:
  // the keys of their new employees are created together), before the next
  // fill overwrites them. A line completed from `partial` is moved to
  // `completed`, which lives until the batch is ingested: only the first line
  // of a fill can complete a partial line.
  std::vector<Ingestor::BatchLine> batch;
  std::string completed;
  auto ingest_batch = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    Result<std::vector<LineOutcome>> outcomes = ingestor->IngestLines(batch);
    batch.clear();
    return outcomes.ok() ? Status::Ok() : outcomes.status();
  };

  auto finish = [&](std::string_view line, size_t bytes, bool too_long) -> Status {
    ++line_number;
    if (too_long) {
      // Rejected in line order: the lines before it go first.
      JIRITSU_RETURN_IF_ERROR(ingest_batch());
      return ingestor->RejectOversized(line_number, bytes, line);
    }
    batch.push_back(Ingestor::BatchLine{line_number, line});
    return Status::Ok();
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
        completed = std::move(partial);
        partial.clear();
        JIRITSU_RETURN_IF_ERROR(finish(completed, partial_bytes, oversized));
        partial_bytes = 0;
        oversized = false;
      }
      pos += size + 1;
    }
    JIRITSU_RETURN_IF_ERROR(ingest_batch());
  }
  if (std::ferror(in)) return IOError(std::string("read failed: ") + std::strerror(errno));
  if (partial_bytes > 0) {
    completed = std::move(partial);
    JIRITSU_RETURN_IF_ERROR(finish(completed, partial_bytes, oversized));
    JIRITSU_RETURN_IF_ERROR(ingest_batch());
  }
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
