// Digests and key-order diffs of StateStore column families: the proof that
// a replay equals the live views (core/replay.h, `jiritsu replay --verify`),
// generic over any projector because it only sees column families of bytes.
//
// Digest of one family: BLAKE2b-256 (libsodium crypto_generichash) over every
// (key, value) pair in key order, each as
//   u32 big-endian key size, key bytes, u32 big-endian value size, value bytes
// so that no two different contents hash the same byte stream. A family the
// store does not have digests like an empty one (read-only opens skip
// families that were never created). The combined digest hashes, for the
// families sorted by name, u32 name size, name, and the 32 digest bytes.
//
// Lifecycle: free functions over open stores; the stores must stay open for
// the duration of the call.
// Thread-safety: reentrant; the stores may be used concurrently by others
// (each call iterates a consistent RocksDB view per family). DigestFamilies
// digests families on helper threads it joins before it returns.
// Failure: iterator/storage errors are returned as is (kIOError,
// kCorruption, ...); an unknown family is not an error (see above).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/state_store.h"
#include "core/status.h"

namespace jiritsu {

struct FamilyDigest {
  std::string family;
  uint64_t keys = 0;
  std::string digest;  // 64 hex characters
};

struct StoreDigest {
  std::vector<FamilyDigest> families;  // sorted by family name
  std::string combined;                // 64 hex characters
};

// Which rows of a family take part (e.g. one org subtree's rows; see
// KeyScope in core/replay.h). Empty = every row. Must be pure.
using RowPredicate = std::function<bool(std::string_view family, std::string_view key)>;

// How a store's rows read as the views they stand for, when its projector
// keeps some rows in a form that depends on checkpoint timing (a live run's
// state snapshots with journal tails, processors/journal_tail.h): the value
// to compare, or nullopt to leave the row out. Empty = the stored bytes.
using RowReader = std::function<Result<std::optional<std::string>>(
    std::string_view family, std::string_view key, std::string_view value)>;

// Digests `families` of `store` (duplicates are ignored), only the rows
// `in_scope` accepts, read through `read` when given. The families are
// digested on up to one thread per core: `in_scope` and `read` are called
// from several threads at once, but each family's rows from one thread, in
// key order. A family that fails does not stop the others; the first
// failure in name order is returned.
Result<StoreDigest> DigestFamilies(const StateStore& store, std::vector<std::string> families,
                                   const RowPredicate& in_scope = {},
                                   const RowReader& read = {});

struct KeyDifference {
  enum class Kind { kOnlyLeft, kOnlyRight, kValueDiffers };
  Kind kind = Kind::kValueDiffers;
  std::string key;
  std::string left_value;   // empty for kOnlyRight
  std::string right_value;  // empty for kOnlyLeft
};
std::string_view KeyDifferenceKindName(KeyDifference::Kind kind);  // "only_left", ...

struct FamilyDiff {
  std::string family;
  uint64_t differing_keys = 0;                 // all of them (full scan)
  std::vector<KeyDifference> first_differences;  // the first ones in key order
};

// Compares `families` of two stores key by key (a merge of two ordered
// scans, O(keys), constant memory besides the kept differences). Returns only
// the families that differ, sorted by name; empty means equal. Rows that
// `in_scope` rejects are skipped on both sides; `left`'s rows are read
// through `read_left` when given.
Result<std::vector<FamilyDiff>> DiffFamilies(const StateStore& left, const StateStore& right,
                                             std::vector<std::string> families,
                                             size_t max_differences_per_family = 10,
                                             const RowPredicate& in_scope = {},
                                             const RowReader& read_left = {});

// Bytes as printable text for reports: printable ASCII as is, other bytes as
// \xNN, cut at `limit` bytes with "..." appended.
std::string PrintableBytes(std::string_view bytes, size_t limit = 120);

}  // namespace jiritsu
