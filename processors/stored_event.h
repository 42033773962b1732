// Stored forms shared by the processors' column families: an event with the
// log position it was read from (journal and reference rows), and digests.
//
// Stored event (format 1, reference rows; journal rows before view version
// 7): one format-version byte, then a cereal portable-binary record {topic,
// partition, offset, EncodeBinaryEvent(event)}; the event bytes carry their
// own schema envelope (schemas/codec.h), so old events stay readable.
//
// Journal row (format 2): the key is <subject> \0 EventSortKey(event), which
// already holds the subject, the time, the family rank, the source and the
// id, so the value holds only the rest:
//   u8      format (2)
//   u8      event type (must match the key's family rank)
//   varint  topic: 0 = the topic of the type's family (core/topics.h),
//           else 1 + the name's length, then the name
//   varint  partition (zigzag)
//   varint  offset (zigzag)
//   varint  UTC offset of `time` in minutes (zigzag)
//   varint  data schema version
//   bytes   the data, AppendCompactEventData (schemas/codec.h)
// About a third of a format-1 row's bytes (docs/performance.md, thirty-sixth
// pass); a rebuild writes one per event. An event the key cannot carry (a
// source holding a NUL byte, an empty source or id, a subject that is not
// the key's) is written in format 1, which DecodeJournalRow also reads.
//
// Thread-safety: pure functions. Failure: Decode* returns kCorruption for
// bytes it cannot read (never throws, never crashes).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/projector.h"
#include "core/status.h"
#include "schemas/event.h"

namespace jiritsu::processors {

inline constexpr uint8_t kStoredEventFormat = 1;

struct StoredEvent {
  Event event;
  SourcePosition position;
};

std::string EncodeStoredEvent(const Event& event, const SourcePosition& position);
// The same bytes into `*into` (replacing what it held): a caller that encodes
// one event after another reuses one buffer instead of allocating per event.
void EncodeStoredEventInto(const Event& event, const SourcePosition& position, std::string* into);
Result<StoredEvent> DecodeStoredEvent(std::string_view bytes);

inline constexpr uint8_t kJournalRowFormat = 2;

// The value of the journal row keyed `employee` \0 `sort_key`, where sort_key
// is EventSortKey(event), into `*into` (replacing what it held).
void EncodeJournalValueInto(std::string_view employee, const Event& event,
                            const SourcePosition& position, std::string* into);
std::string EncodeJournalValue(std::string_view employee, const Event& event,
                               const SourcePosition& position);
// Reads a journal row from the parts of its key and its value (format 2, or
// format 1 which ignores the key). kCorruption for a key or value it cannot
// read, or a value whose type does not match the key's family rank.
Result<StoredEvent> DecodeJournalRow(std::string_view employee, std::string_view sort_key,
                                     std::string_view value);

// BLAKE2b-256 (libsodium crypto_generichash) of `bytes`, raw 32 bytes.
std::string Blake2b256(std::string_view bytes);
std::string HexEncode(std::string_view bytes);

// Incremental BLAKE2b-256 for digests over many rows.
class Blake2bHasher {
 public:
  Blake2bHasher();
  // Length-prefixed, so that ("ab","c") and ("a","bc") differ.
  void AddField(std::string_view bytes);
  std::string Finish();  // raw 32 bytes; the hasher must not be used after

 private:
  alignas(64) std::array<unsigned char, 384> state_;
};

// 64-bit FNV-1a of (source, id): the in-memory dedupe filter. A hit is
// verified against the journal, so collisions cost a lookup, never an event.
uint64_t EventIdentityHash(std::string_view source, std::string_view id);

}  // namespace jiritsu::processors
