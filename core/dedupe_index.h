// DedupeIndex: the persistent set of event identities (source, id) that
// ingestion has already appended to the log.
//
// Why: a CloudEvent's identity is (source, id) (docs/architecture.md,
// principle 10). Sources re-send events (retries, re-exports), and an ingest
// run may be repeated with the same file; the index lets `jiritsu ingest`
// drop those duplicates before they reach the log. It is an optimisation,
// not the last line of defence: the processors ignore duplicates too, so an
// identity that was appended but not yet marked (crash between the log flush
// and Mark) only costs one duplicate record.
//
// Storage: a small RocksDB database (core/state_store.h) in its own directory
// (<store>/ingest-index next to the embedded log, or --dedupe-dir for Kafka),
// one key per identity in the "identities" column family:
//   key = source + '\0' + id, value = empty.
// A source is a URI-reference and cannot contain NUL, so keys are unambiguous.
//
// Lifecycle: Open() -> Contains()/Mark() -> destroy (closes the database).
// Only one process may have a directory open (RocksDB lock).
// Thread-safety: all methods are thread-safe (RocksDB semantics).
// Failure: Open -> kUnavailable when another process holds the directory,
// kIOError/kCorruption from RocksDB; Contains/Mark -> kIOError/kCorruption.
// A failed Mark leaves the index without (some of) those identities, which is
// safe (see above).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/state_store.h"
#include "core/status.h"

namespace jiritsu {

class DedupeIndex {
 public:
  // Opens or creates the index in `dir`.
  static Result<std::unique_ptr<DedupeIndex>> Open(const std::string& dir);

  // The index key of an identity (also usable as an in-memory set key).
  static std::string Key(std::string_view source, std::string_view id);

  // True when the identity was marked by an earlier Mark().
  Result<bool> Contains(std::string_view key) const;

  // Records identities (keys from Key()) in one atomic write. Call only after
  // the events are durable in the log.
  Status Mark(const std::vector<std::string>& keys);

  const std::string& dir() const { return store_->dir(); }

 private:
  explicit DedupeIndex(std::unique_ptr<StateStore> store) : store_(std::move(store)) {}
  std::unique_ptr<StateStore> store_;
};

}  // namespace jiritsu
