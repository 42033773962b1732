// LEB128 varints (LevelDB style: 7 bits per byte, low bits first, high bit =
// more bytes follow), shared by the embedded log's record framing
// (core/embedded_log.cc), the processors' compact archive
// (processors/compact_archive.h), the compact event data (schemas/) and the
// journal rows (processors/stored_event.cc).
//
// Thread-safety: pure functions. Failure: GetVarint64 returns false for a
// varint that runs past `limit` or does not fit in 64 bits (more than 10
// bytes, or a 10th byte above 1), and says which in `error` when given.
#pragma once

#include <cstdint>
#include <string>

namespace jiritsu {

inline void PutVarint64(std::string* out, uint64_t v) {
  char buffer[10];
  size_t n = 0;
  while (v >= 0x80) {
    buffer[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buffer[n++] = static_cast<char>(v);
  out->append(buffer, n);
}

// Zigzag: signed integers as unsigned ones whose varints stay short for small
// magnitudes of either sign (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...). An int32
// sign-extended to 64 bits encodes to the same value as a 32-bit zigzag.
inline uint64_t ZigZagEncode64(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode64(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

enum class VarintError { kNone, kTruncated, kOverflow };

inline bool GetVarint64(const char** p, const char* limit, uint64_t* v,
                        VarintError* error = nullptr) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    if (*p >= limit) {
      if (error != nullptr) *error = VarintError::kTruncated;
      return false;
    }
    const auto byte = static_cast<uint8_t>(**p);
    // The 10th byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && byte > 1) {
      if (error != nullptr) *error = VarintError::kOverflow;
      return false;
    }
    ++*p;
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  if (error != nullptr) *error = VarintError::kOverflow;  // unreachable: the 10th byte ends it
  return false;
}

}  // namespace jiritsu
