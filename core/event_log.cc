#include "core/event_log.h"

namespace jiritsu {

std::string ToString(const TopicPartition& tp) {
  return tp.topic + "[" + std::to_string(tp.partition) + "]";
}

namespace {
// Kafka's Java client murmur2 (org.apache.kafka.common.utils.Utils.murmur2).
int32_t Murmur2(std::string_view data) {
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const size_t length = data.size();
  uint32_t h = seed ^ static_cast<uint32_t>(length);
  const size_t length4 = length / 4;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  for (size_t i = 0; i < length4; i++) {
    const size_t i4 = i * 4;
    uint32_t k = static_cast<uint32_t>(bytes[i4 + 0]) |
                 (static_cast<uint32_t>(bytes[i4 + 1]) << 8) |
                 (static_cast<uint32_t>(bytes[i4 + 2]) << 16) |
                 (static_cast<uint32_t>(bytes[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3: h ^= static_cast<uint32_t>(bytes[(length & ~3u) + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(bytes[(length & ~3u) + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(bytes[length & ~3u]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}
}  // namespace

int32_t PartitionForKey(std::string_view key, int32_t partition_count) {
  if (key.empty() || partition_count <= 1) return 0;
  return (Murmur2(key) & 0x7fffffff) % partition_count;
}

}  // namespace jiritsu
