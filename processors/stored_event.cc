#include "processors/stored_event.h"

#include <sodium.h>

#include <bit>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cstdint>
#include <limits>

#include "core/topics.h"
#include "core/varint.h"
#include "processors/cereal_io.h"
#include "schemas/codec.h"

namespace jiritsu::processors {

static_assert(sizeof(crypto_generichash_state) <= 384, "hasher state buffer too small");

namespace {
// sodium_init is idempotent and thread-safe; it selects the fastest BLAKE2b.
void EnsureSodium() {
  static const int initialized = sodium_init();
  (void)initialized;
}

// Little-endian, as cereal's portable archive writes on this platform.
void PutLittleEndian(uint64_t value, size_t bytes, char* out) {
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}
void AppendLittleEndian(uint64_t value, size_t bytes, std::string* out) {
  const size_t at = out->size();
  out->resize(at + bytes);
  PutLittleEndian(value, bytes, out->data() + at);
}
}  // namespace

std::string EncodeStoredEvent(const Event& event, const SourcePosition& position) {
  std::string out;
  EncodeStoredEventInto(event, position, &out);
  return out;
}

void EncodeStoredEventInto(const Event& event, const SourcePosition& position, std::string* into) {
  static_assert(std::endian::native == std::endian::little,
                "the journal row is cereal's portable archive, written by hand for little-endian");
  // The bytes of EncodeCereal(kStoredEventFormat, topic, partition, offset,
  // EncodeBinaryEvent(event)), written by hand so that the binary event is
  // encoded in place rather than copied (a rebuild writes one row per event):
  // format, endianness flag (1 = little), topic size (8 bytes) and bytes,
  // partition (4), offset (8), event size (8) and bytes.
  std::string& out = *into;
  out.clear();
  out.reserve(2 + 8 + position.topic.size() + 4 + 8 + 8 + 320 + event.id.size() +
              event.source.size() + event.subject.size());
  out.push_back(static_cast<char>(kStoredEventFormat));
  out.push_back(1);
  AppendLittleEndian(position.topic.size(), 8, &out);
  out.append(position.topic);
  AppendLittleEndian(static_cast<uint32_t>(position.partition), 4, &out);
  AppendLittleEndian(static_cast<uint64_t>(position.offset), 8, &out);
  const size_t size_at = out.size();
  out.append(8, '\0');
  AppendBinaryEvent(event, &out);
  PutLittleEndian(out.size() - size_at - 8, 8, out.data() + size_at);
}

Result<StoredEvent> DecodeStoredEvent(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kStoredEventFormat) {
    return Corruption("stored event: unknown format version");
  }
  StoredEvent stored;
  std::string event_bytes;
  if (auto error = DecodeCereal(bytes.substr(1), stored.position.topic, stored.position.partition, stored.position.offset, event_bytes)) {
    return Corruption("stored event: " + *error);
  }
  auto event = DecodeBinaryEvent(event_bytes);
  if (!event.ok()) return event.status().WithContext("stored event");
  stored.event = std::move(event).value();
  return stored;
}

namespace {
// The sort key's fixed part: the time (8 bytes) and the family rank (1).
constexpr size_t kSortKeyFixedBytes = 9;

}  // namespace

void EncodeJournalValueInto(std::string_view employee, const Event& event,
                            const SourcePosition& position, std::string* into) {
  if (event.subject != employee || event.source.empty() || event.id.empty() ||
      event.source.find('\0') != std::string::npos) {
    EncodeStoredEventInto(event, position, into);  // the key cannot carry them
    return;
  }
  std::string& out = *into;
  out.clear();
  out.push_back(static_cast<char>(kJournalRowFormat));
  out.push_back(static_cast<char>(event.type));
  if (position.topic == TopicNameForFamily(FamilyOf(event.type))) {
    out.push_back('\0');
  } else {
    PutVarint64(&out, position.topic.size() + 1);
    out.append(position.topic);
  }
  PutVarint64(&out, ZigZagEncode64(position.partition));
  PutVarint64(&out, ZigZagEncode64(position.offset));
  PutVarint64(&out, ZigZagEncode64(event.utc_offset_minutes));
  PutVarint64(&out, kCurrentSchemaVersion);
  AppendCompactEventData(event, &out);
}

std::string EncodeJournalValue(std::string_view employee, const Event& event,
                               const SourcePosition& position) {
  std::string out;
  EncodeJournalValueInto(employee, event, position, &out);
  return out;
}

Result<StoredEvent> DecodeJournalRow(std::string_view employee, std::string_view sort_key,
                                     std::string_view value) {
  if (!value.empty() && static_cast<uint8_t>(value[0]) == kStoredEventFormat) {
    return DecodeStoredEvent(value);
  }
  if (value.empty() || static_cast<uint8_t>(value[0]) != kJournalRowFormat) {
    return Corruption("journal row: unknown format version");
  }
  const size_t source_end = sort_key.find('\0', kSortKeyFixedBytes);
  if (sort_key.size() < kSortKeyFixedBytes + 2 || source_end == std::string_view::npos ||
      source_end == kSortKeyFixedBytes || source_end + 1 == sort_key.size()) {
    return Corruption("journal row: key is not <time><rank><source>\\0<id>");
  }
  if (value.size() < 2 || static_cast<uint8_t>(value[1]) >= kEventTypeCount) {
    return Corruption("journal row: missing or unknown event type");
  }
  StoredEvent stored;
  Event& event = stored.event;
  event.type = static_cast<EventType>(static_cast<uint8_t>(value[1]));
  if (static_cast<uint8_t>(sort_key[8]) != EventFamilyRank(event.type)) {
    return Corruption("journal row: the key's family rank " +
                      std::to_string(static_cast<uint8_t>(sort_key[8])) +
                      " does not match event type " + std::to_string(static_cast<int>(event.type)));
  }
  uint64_t time_bits = 0;
  for (size_t i = 0; i < 8; ++i) time_bits = (time_bits << 8) | static_cast<uint8_t>(sort_key[i]);
  event.time_us = static_cast<int64_t>(time_bits ^ (uint64_t{1} << 63));
  event.source.assign(sort_key.substr(kSortKeyFixedBytes, source_end - kSortKeyFixedBytes));
  event.id.assign(sort_key.substr(source_end + 1));
  event.subject.assign(employee);

  const char* p = value.data() + 2;
  const char* const end = value.data() + value.size();
  auto read = [&](const char* what, uint64_t* v) -> Status {
    VarintError error = VarintError::kNone;
    if (GetVarint64(&p, end, v, &error)) return Status::Ok();
    return Corruption(std::string("journal row: ") + what +
                      (error == VarintError::kTruncated ? ": varint runs past the end"
                                                        : ": varint exceeds 64 bits"));
  };
  uint64_t topic = 0, partition = 0, offset = 0, utc_offset = 0, version = 0;
  JIRITSU_RETURN_IF_ERROR(read("topic", &topic));
  if (topic == 0) {
    stored.position.topic.assign(TopicNameForFamily(FamilyOf(event.type)));
  } else {
    if (topic - 1 > static_cast<uint64_t>(end - p)) {
      return Corruption("journal row: topic of " + std::to_string(topic - 1) +
                        " bytes exceeds the value");
    }
    stored.position.topic.assign(p, topic - 1);
    p += topic - 1;
  }
  JIRITSU_RETURN_IF_ERROR(read("partition", &partition));
  JIRITSU_RETURN_IF_ERROR(read("offset", &offset));
  JIRITSU_RETURN_IF_ERROR(read("utc offset", &utc_offset));
  JIRITSU_RETURN_IF_ERROR(read("schema version", &version));
  const int64_t partition_number = ZigZagDecode64(partition);
  const int64_t minutes = ZigZagDecode64(utc_offset);
  if (partition_number < std::numeric_limits<int32_t>::min() ||
      partition_number > std::numeric_limits<int32_t>::max() ||
      minutes < std::numeric_limits<int32_t>::min() ||
      minutes > std::numeric_limits<int32_t>::max() ||
      version > std::numeric_limits<uint32_t>::max()) {
    return Corruption("journal row: partition, UTC offset or schema version out of range");
  }
  stored.position.partition = static_cast<int32_t>(partition_number);
  stored.position.offset = ZigZagDecode64(offset);
  event.utc_offset_minutes = static_cast<int32_t>(minutes);
  JIRITSU_RETURN_IF_ERROR(DecodeCompactEventData(std::string_view(p, static_cast<size_t>(end - p)),
                                                 static_cast<uint32_t>(version), &event)
                              .WithContext("journal row"));
  return stored;
}

std::string Blake2b256(std::string_view bytes) {
  EnsureSodium();
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), nullptr,
                     0);
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

Blake2bHasher::Blake2bHasher() {
  EnsureSodium();
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_.data()), nullptr, 0,
                          crypto_generichash_BYTES);
}

void Blake2bHasher::AddField(std::string_view bytes) {
  unsigned char length[8];
  uint64_t n = bytes.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));
  auto* state = reinterpret_cast<crypto_generichash_state*>(state_.data());
  crypto_generichash_update(state, length, sizeof(length));
  crypto_generichash_update(state, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

std::string Blake2bHasher::Finish() {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_.data()),
                           reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

uint64_t EventIdentityHash(std::string_view source, std::string_view id) {
  uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](unsigned char c) {
    hash ^= c;
    hash *= 1099511628211ULL;
  };
  for (unsigned char c : source) mix(c);
  mix(0);
  for (unsigned char c : id) mix(c);
  return hash;
}

}  // namespace jiritsu::processors
