#include "processors/cereal_io.h"
#include "processors/stored_event.h"

#include <sodium.h>

#include <bit>
#include <cstdint>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>

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
