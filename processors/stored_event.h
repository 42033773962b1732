// Stored forms shared by the processors' column families: an event with the
// log position it was read from (journal and reference rows), and digests.
//
// Encoding: one format-version byte, then a cereal portable-binary record
// {topic, partition, offset, EncodeBinaryEvent(event)}; the event bytes carry
// their own schema envelope (schemas/codec.h), so old events stay readable.
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
