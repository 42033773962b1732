// Ingestor: validates CloudEvents, drops duplicates and appends the rest to
// their topics. Used by `jiritsu ingest` (JSONL files) and by `jiritsu
// serve`'s POST /v1/events (service/ingest_pipeline.h: one IngestLine per
// received event, one Flush per group commit).
//
// Per input line (one CloudEvents structured-mode JSON object):
//   1. blank lines are skipped (not rejected);
//   2. size limit (kMaxEventBytes) and DecodeJsonEvent (schemas/codec.h);
//      a failure is a rejection with the codec's reason;
//   3. identity (source, id): a duplicate of a line ingested earlier in this
//      run or marked in the DedupeIndex by an earlier run is counted and
//      dropped;
//   4. with a key store: every personal field is sealed under the subject's
//      key (core/personal_data.h), so the log never holds it in clear; an
//      event whose sealed form exceeds kMaxEventBytes is rejected. With
//      IngestLines the keys of all the batch's new subjects are fetched, and
//      the missing ones created, by one KeyStore::GetOrCreateMany before any
//      event of the batch is appended (FileKeyStore: one directory fsync for
//      the batch instead of one per new employee);
//   5. the canonical re-encoding (EncodeJsonEvent) is appended to
//      TopicForFamily(FamilyOf(type)), keyed by subject (for reference events
//      the subject is the entity id);
//   6. every `flush_every_lines` accepted events, and on Flush(), the producer
//      is flushed and only then are the flushed identities marked in the
//      index. A crash between the two re-appends at most one batch on the
//      next run, which the processors ignore as duplicates. Then the keys of
//      the employees whose employee.erasure.requested was in the flushed
//      batch are deleted (the request is durable first).
// Every rejection is reported to the RejectSink with the line number, the
// reason and the raw input.
//
// Lifecycle: Create() -> (IngestLine() | IngestLines() | RejectOversized())*
// -> Flush() -> destroy. The log, the
// index and the reject sink must outlive the Ingestor. Destroying it without
// Flush() loses the unflushed tail (nothing is marked for it).
// Thread-safety: one thread at a time. Several Ingestors may share a log and
// an index (one per HTTP worker), but then two of them can both accept the
// same identity before either marks it; the processors drop that duplicate.
// Failure: rejections are outcomes, not errors. A Status error means the log,
// the index or the reject sink failed (delivery failure, disk error): the
// caller must stop and report it; events accepted since the last successful
// Flush() may not be durable.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/dedupe_index.h"
#include "core/event_log.h"
#include "core/key_store.h"
#include "core/status.h"
#include "schemas/event.h"

namespace jiritsu {

struct IngestOptions {
  size_t flush_every_lines = 4096;  // accepted events per producer flush
  std::chrono::milliseconds flush_timeout{60'000};
  // Seals personal fields and deletes keys of erased employees; nullptr:
  // events are appended as received (tests of other concerns only; every
  // command passes one). Must outlive the Ingestor.
  KeyStore* key_store = nullptr;
};

struct IngestTypeCounts {
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;
};

struct IngestStats {
  int64_t lines = 0;  // every line offered, blank ones included
  int64_t blank = 0;
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t rejected = 0;
  int64_t bytes = 0;  // input bytes of all lines (newlines excluded)
  int64_t erasures = 0;  // employee keys deleted after an accepted erasure request
  // Event type name -> counts. Rejected lines whose type cannot be read are
  // counted under "unknown".
  std::map<std::string, IngestTypeCounts> per_type;
};

enum class LineOutcome { kAccepted, kDuplicate, kRejected, kBlank };

// Receives every rejected line. `input` is the raw line (possibly only its
// first bytes, for lines too long to keep).
class RejectSink {
 public:
  virtual ~RejectSink() = default;
  virtual Status Reject(int64_t line_number, std::string_view reason, std::string_view input) = 0;
};

// Writes rejections as JSONL {"line": N, "reason": "...", "input": "..."}
// (input truncated to 1 KiB at a UTF-8 boundary) and, optionally, as
// "line N: reason" to stderr.
class JsonlRejectFile : public RejectSink {
 public:
  // Creates or truncates `path`; kIOError if it cannot.
  static Result<std::unique_ptr<JsonlRejectFile>> Create(const std::string& path,
                                                         bool echo_to_stderr);
  ~JsonlRejectFile() override;
  Status Reject(int64_t line_number, std::string_view reason, std::string_view input) override;
  // Flushes and closes; kIOError on failure. Called by the destructor too.
  Status Close();

 private:
  JsonlRejectFile(std::FILE* file, bool echo) : file_(file), echo_(echo) {}
  std::FILE* file_;
  bool echo_;
};

class Ingestor {
 public:
  static Result<std::unique_ptr<Ingestor>> Create(EventLog* log, DedupeIndex* index,
                                                  RejectSink* rejects,
                                                  const IngestOptions& options = {});
  ~Ingestor();

  // Ingests one line (without its newline; a trailing '\r' is ignored).
  Result<LineOutcome> IngestLine(int64_t line_number, std::string_view line);

  // One line of a batch for IngestLines.
  struct BatchLine {
    int64_t line_number = 0;
    std::string_view line;  // as for IngestLine
  };
  // Ingests the lines as IngestLine would one after the other: one outcome
  // per line in order, the same outcomes, counts, rejections (reported in
  // line order) and flushes (every flush_every_lines accepted events), except
  // that the keys of the batch's employees are fetched together first
  // (KeyStore::GetOrCreateMany: the keys of new employees are created, and
  // durable, before any event of the batch is appended). The lines must stay
  // valid during the call; their decoded events are held until it returns,
  // so the caller bounds the batch. An error (key store, log, index, reject
  // sink) stops the batch: lines after it are not ingested.
  Result<std::vector<LineOutcome>> IngestLines(std::span<const BatchLine> lines);

  // Rejects a line that the reader did not keep in full because it exceeds
  // kMaxEventBytes; `prefix` is its beginning, `bytes` its full length.
  Status RejectOversized(int64_t line_number, size_t bytes, std::string_view prefix);

  // Makes every accepted event durable, then marks their identities.
  Status Flush();

  const IngestStats& stats() const { return stats_; }

 private:
  Ingestor(EventLog* log, DedupeIndex* index, RejectSink* rejects, const IngestOptions& options,
           std::unique_ptr<LogProducer> producer);
  Status Reject(int64_t line_number, std::string_view reason, std::string_view input,
                const std::string& type);
  Status Append(const std::string& topic, std::string_view key, std::string_view value);
  struct Staged;
  // First pass of IngestLines: decodes a line and checks its identity
  // against what was ingested before the batch. No side effects.
  Result<Staged> Stage(std::string_view line, std::unordered_map<std::string, bool>* known);
  // Second pass: counts, rejects or seals and appends one staged line.
  Result<LineOutcome> Apply(const BatchLine& input, Staged* staged,
                            std::unordered_set<std::string>* accepted_in_batch);
  void ClearBatchKeys();

  EventLog* log_;
  DedupeIndex* index_;
  RejectSink* rejects_;
  IngestOptions options_;
  std::unique_ptr<LogProducer> producer_;
  // Identities appended since the last Flush (marked after it succeeds).
  std::vector<std::string> pending_keys_;
  std::unordered_set<std::string> pending_set_;
  // Employees whose erasure request was appended since the last Flush.
  std::vector<std::string> pending_erasures_;
  // During IngestLines: the keys fetched for the batch by employee. Flush
  // marks the employees it erases as erased, so their later events in the
  // batch are sealed as erased, as they would be line by line.
  std::unordered_map<std::string, KeyLookup> batch_keys_;
  IngestStats stats_;
};

// Reads JSONL from `in` with bounded memory (a line longer than
// kMaxEventBytes is rejected from its first bytes, never held in full),
// ingests every line and flushes at the end. The lines of each 1 MiB read
// are one IngestLines batch (so the keys of a read's new employees are
// created together). Errors: reading fails
// (kIOError) or the Ingestor failed.
Status IngestStream(std::FILE* in, Ingestor* ingestor);

// The JSON summary printed by `jiritsu ingest`:
// {"log": ..., "accepted": n, "duplicates": n, "rejected": n, "bytes": n,
//  "seconds": s, "events_per_s": x, "mb_per_s": y, "per_type": {...}}.
// events_per_s counts every non-blank line handled (accepted, duplicate or
// rejected) per second; mb_per_s is input megabytes (10^6) per second.
std::string IngestSummaryJson(const std::string& log_description, const IngestStats& stats,
                              double seconds);

}  // namespace jiritsu
