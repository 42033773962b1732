// StatementStore: the xAPI statements an LRS answers GET /xapi/statements
// from, as a projection of the log topic jiritsu.xapi (core/topics.h).
//
// Every accepted statement is appended to jiritsu.xapi (one partition, key =
// statement id, value = the record below: the raw statement as stored plus
// how it was mapped), then applied here. Apply() is idempotent (first record
// of an id wins; the writer guarantees a later one has the same content), so
// the writer applies each record directly, for read-your-writes, and the
// tailer (XapiTailer in service/xapi_resource.cc) applies the topic in order
// and stores the consumed offset in the same WriteBatch. Deleting the store
// directory therefore rebuilds it from the log on the next start; `jiritsu
// replay` (processor views) does not touch it.
//
// Record (JSON object): {"id", "stored" (RFC 3339, the LRS's time),
// "stored_us", "client", "source", "hash" (ComparisonHash), "outcome"
// (mapping outcome name), "reason", "employee", "course_id", "event_type",
// "event_id", "voided_target" (voiding statements), "statement" (the full
// statement with id, stored, authority, version)}.
//
// Families: statements (id -> record), order (stored_us hex + id -> id),
// voided (target id -> voiding id), unmapped (order key -> record summary).
//
// Lifecycle: Open() -> use -> destroy. Thread-safety: all methods are
// thread-safe (RocksDB); Apply() calls must not race for the same id (the
// writer holds its lock; the tailer applies records the writer already
// applied). Failure: I/O errors as Status; a record that does not parse is
// kCorruption (the tailer logs and skips it, counting it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/state_store.h"
#include "core/status.h"

namespace jiritsu::xapi {

struct StoredRecord {
  std::string id;
  std::string json;       // the whole record
  std::string statement;  // the statement JSON inside it
  std::string hash;
  std::string client;
  std::string outcome;
  std::string employee;
  std::string source;
  std::string event_id;
  std::string voided_target;
  int64_t stored_us = 0;
};

Result<StoredRecord> ParseRecord(std::string_view json);

class StatementStore {
 public:
  static Result<std::unique_ptr<StatementStore>> Open(const std::string& dir);

  // Idempotent; `log_offset` >= 0 also stores the consumed offset. A record
  // with an empty id only stores the offset (skipping an unreadable record).
  Status Apply(const StoredRecord& record, int64_t log_offset = -1);
  // Several records with distinct ids in one synced write (a request, or a
  // poll of the tailer); `log_offset` >= 0: the offset of the last one.
  Status ApplyAll(const std::vector<StoredRecord>& records, int64_t log_offset = -1);
  // NotFound when absent.
  Result<StoredRecord> Get(std::string_view id) const;
  // The voiding statement's id when `id` is voided.
  std::optional<std::string> VoidedBy(std::string_view id) const;
  // Offset of the next jiritsu.xapi record to apply (0 for a new store).
  Result<int64_t> NextOffset() const;

  // Visits records in `stored` order (ascending or descending), starting
  // after the order key `after` (empty: from the start); stops when `visit`
  // returns false. The order key of each visited record is passed along.
  Status Scan(bool ascending, const std::string& after,
              const std::function<bool(const std::string& order_key, const StoredRecord&)>& visit) const;
  // Unmapped statements in stored order, after `after`, at most `limit`.
  Status Unmapped(const std::string& after, size_t limit, std::vector<std::string>* summaries,
                  std::string* next) const;

  static std::string OrderKey(const StoredRecord& record);

 private:
  explicit StatementStore(std::unique_ptr<StateStore> store) : store_(std::move(store)) {}
  Status AddToBatch(const StoredRecord& record, StateBatch* batch) const;
  std::unique_ptr<StateStore> store_;
};

}  // namespace jiritsu::xapi
