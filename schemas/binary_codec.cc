// Versioned binary event codec: EncodeBinaryEvent, DecodeBinaryEvent.
//
// Layout (all integers little-endian):
//   offset 0  2 bytes  magic "JE"
//          2  u8       format version of the writer (kFormatVersion)
//          3  u8       oldest reader format version that can read it
//          4  u32      payload length (the rest of the bytes, exactly)
//          8  u32      CRC-32C of the payload
//         12  payload  cereal PortableBinaryArchive, little-endian:
//                      u8 endianness flag (1), u8 event type, str id,
//                      str source, str subject, i64 time_us,
//                      i32 utc_offset_minutes, u32 data schema version,
//                      then the data fields in struct order
//                      (schemas/event_fields.h).
// Field encodings: str = u32 byte length + bytes; optional = u8 0/1 + value;
// bool = u8 0/1; enum = u8; int32 = i32; number = IEEE-754 f64; list = u32
// count + items.
//
// Compatibility (like Redpanda's serde envelope): a writer that only appends
// fields bumps the format version and keeps the minimum version, so older
// readers decode the prefix they know and skip the rest; an incompatible
// layout raises the minimum version and older readers reject it cleanly.
// The data shape itself is versioned by the schema version (same upcast hook
// as JSON).
//
// Hostile input: every length is checked against the bytes that remain before
// anything is allocated, enum and bool bytes are range-checked, the event type
// selects the variant alternative, and cereal's exceptions are caught here.
#include <algorithm>
#include <array>
#include <bit>
#include <cereal/archives/portable_binary.hpp>
#include <cstring>
#include <istream>
#include <streambuf>
#include <string>
#include <type_traits>

#include "schemas/codec.h"
#include "schemas/event_fields.h"
#include "schemas/json_text.h"

namespace jiritsu {
namespace {

using fields::IntRule;
using fields::NumRule;
using fields::Presence;
using fields::Str;

constexpr char kMagic[2] = {'J', 'E'};
constexpr uint8_t kFormatVersion = 1;
constexpr uint8_t kMinCompatibleVersion = 1;
constexpr size_t kHeaderBytes = 12;

// ---- CRC-32C (Castagnoli), table-driven ------------------------------------

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0u);
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t Crc32cPortable(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) crc = kCrcTable[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__)
// The SSE4.2 crc32 instruction computes the same CRC-32C, 8 bytes at a time
// (the byte-wise table was ~2% of a replay's applying thread).
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(std::string_view bytes) {
  uint64_t crc = 0xFFFFFFFFu;
  const char* p = bytes.data();
  size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  for (; n > 0; ++p, --n) crc32 = __builtin_ia32_crc32qi(crc32, static_cast<unsigned char>(*p));
  return crc32 ^ 0xFFFFFFFFu;
}
#endif

uint32_t Crc32c(std::string_view bytes) {
#if defined(__x86_64__)
  static const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
  if (kHaveSse42) return Crc32cSse42(bytes);
#endif
  return Crc32cPortable(bytes);
}

void PutU32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint32_t GetU32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

// ---- stream adapters for cereal --------------------------------------------


// Reads from a byte span and reports how much is left (for size caps).
class SpanSource : public std::streambuf {
 public:
  SpanSource(const char* data, size_t size) {
    char* p = const_cast<char*>(data);  // get area is read-only in practice
    setg(p, p, p + size);
  }
  size_t remaining() const { return static_cast<size_t>(egptr() - gptr()); }
};

// ---- field visitors --------------------------------------------------------

// Appends the payload straight to a string, byte for byte what cereal's
// PortableBinaryOutputArchive (little-endian) wrote through a std::ostream:
// that stream's virtual sputn per primitive was ~2/3 of encoding a journal
// row (docs/performance.md, twenty-fifth pass). The golden files
// (schemas/examples/*/golden-v1.bin) pin the bytes.
class BinaryFieldWriter {
 public:
  explicit BinaryFieldWriter(std::string* out) : out_(*out) {}

  template <class T>
  void Raw(T v) {
    static_assert(std::is_arithmetic_v<T>);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) std::reverse(bytes, bytes + sizeof(T));
    out_.append(bytes, sizeof(T));
  }
  void Str(const std::string& s) {
    Raw(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }

  void String(std::string_view, std::string* v, fields::Str, Presence, std::string_view) {
    Str(*v);
  }
  void OptString(std::string_view, std::optional<std::string>* v, fields::Str,
                 std::string_view) {
    U8(v->has_value());
    if (v->has_value()) Str(**v);
  }
  void Int(std::string_view, int32_t* v, IntRule, Presence, std::string_view) { Raw(*v); }
  void OptInt(std::string_view, std::optional<int32_t>* v, IntRule, std::string_view) {
    U8(v->has_value());
    if (v->has_value()) Raw(**v);
  }
  void Number(std::string_view, double* v, NumRule, Presence, std::string_view) { Raw(*v); }
  void OptNumber(std::string_view, std::optional<double>* v, NumRule, std::string_view) {
    U8(v->has_value());
    if (v->has_value()) Raw(**v);
  }
  void Bool(std::string_view, bool* v, Presence, std::string_view) { U8(*v ? 1 : 0); }
  template <class E>
  void Enum(std::string_view, E* v, std::span<const std::string_view>, Presence,
            std::string_view) {
    U8(static_cast<uint8_t>(*v));
  }
  void IdList(std::string_view, std::vector<std::string>* ids, std::string_view) {
    Raw(static_cast<uint32_t>(ids->size()));
    for (const std::string& id : *ids) Str(id);
  }
  void Steps(std::string_view, std::vector<ProgramStep>* steps, std::string_view) {
    Raw(static_cast<uint32_t>(steps->size()));
    for (size_t i = 0; i < steps->size(); ++i) {
      fields::VisitFields(*this, (*steps)[i], static_cast<int32_t>(i + 1));
    }
  }
  void AtLeastOne(std::span<const std::string_view>, bool) {}

 private:
  std::string& out_;
};

// Reads fields; the first problem is kept in status() and later calls do
// nothing. Truncation surfaces as a cereal::Exception caught by the caller.
class BinaryFieldReader {
 public:
  BinaryFieldReader(cereal::PortableBinaryInputArchive* ar, const SpanSource* source)
      : ar_(*ar), source_(*source) {}

  const Status& status() const { return status_; }

  void Str(std::string* s) {
    if (!status_.ok()) return;
    uint32_t size = 0;
    ar_(size);
    if (!Fits(size, 1, "string")) return;
    s->resize(size);
    ar_(cereal::binary_data(s->data(), size));
  }
  bool Flag(std::string_view what) {
    uint8_t v = 0;
    if (status_.ok()) ar_(v);
    if (v > 1) Fail(what, v);
    return status_.ok() && v == 1;
  }

  void String(std::string_view, std::string* v, fields::Str, Presence, std::string_view) {
    Str(v);
  }
  void OptString(std::string_view, std::optional<std::string>* v, fields::Str,
                 std::string_view) {
    if (Flag("optional flag")) Str(&v->emplace());
  }
  void Int(std::string_view, int32_t* v, IntRule, Presence, std::string_view) {
    if (status_.ok()) ar_(*v);
  }
  void OptInt(std::string_view, std::optional<int32_t>* v, IntRule, std::string_view) {
    if (Flag("optional flag")) ar_(v->emplace());
  }
  void Number(std::string_view, double* v, NumRule, Presence, std::string_view) {
    if (status_.ok()) ar_(*v);
  }
  void OptNumber(std::string_view, std::optional<double>* v, NumRule, std::string_view) {
    if (Flag("optional flag")) ar_(v->emplace());
  }
  void Bool(std::string_view, bool* v, Presence, std::string_view) { *v = Flag("bool"); }
  template <class E>
  void Enum(std::string_view name, E* v, std::span<const std::string_view> names, Presence,
            std::string_view) {
    if (!status_.ok()) return;
    uint8_t raw = 0;
    ar_(raw);
    if (raw >= names.size()) {
      Fail(name, raw);
      return;
    }
    *v = static_cast<E>(raw);
  }
  void IdList(std::string_view, std::vector<std::string>* ids, std::string_view) {
    if (!status_.ok()) return;
    uint32_t count = 0;
    ar_(count);
    if (!Fits(count, 4, "list")) return;  // every string needs its 4-byte length
    ids->resize(count);
    for (std::string& id : *ids) Str(&id);
  }
  void Steps(std::string_view, std::vector<ProgramStep>* steps, std::string_view) {
    if (!status_.ok()) return;
    uint32_t count = 0;
    ar_(count);
    // A step is at least i32 + str + list + bool = 13 bytes.
    if (!Fits(count, 13, "step list")) return;
    steps->resize(count);
    for (size_t i = 0; i < steps->size() && status_.ok(); ++i) {
      fields::VisitFields(*this, (*steps)[i], static_cast<int32_t>(i + 1));
    }
  }
  void AtLeastOne(std::span<const std::string_view>, bool) {}

 private:
  bool Fits(uint64_t count, uint64_t min_item_bytes, std::string_view what) {
    const size_t remaining = source_.remaining();
    if (count * min_item_bytes <= remaining) return true;
    std::string message = "binary event: ";
    message.append(what).append(" of ");
    json_text::AppendUint(&message, count);
    message.append(" exceeds the ");
    json_text::AppendUint(&message, remaining);
    message.append(" remaining bytes");
    status_ = Corruption(std::move(message));
    return false;
  }
  void Fail(std::string_view what, uint8_t value) {
    if (!status_.ok()) return;
    std::string message = "binary event: invalid ";
    message.append(what).append(" byte ");
    json_text::AppendUint(&message, value);
    status_ = Corruption(std::move(message));
  }

  cereal::PortableBinaryInputArchive& ar_;
  const SpanSource& source_;
  Status status_;
};

// Upcast hook for binary payloads (see ReadJsonData in json_codec.cc): data
// written with schema `version` of T becomes the current struct.
template <class T>
Status ReadBinaryData(uint32_t version, BinaryFieldReader* reader, EventData* out) {
  switch (version) {
    case 1: {
      T& value = out->emplace<T>();
      fields::VisitFields(*reader, value);
      return reader->status();
    }
    default: break;
  }
  return Corruption("binary event: no reader for schema version " + std::to_string(version));
}

Result<Event> DecodePayload(std::string_view payload, bool allow_trailing) {
  // The first payload byte is cereal's endianness flag; this format always
  // writes little-endian (1). Anything else is damage, not another format.
  if (payload.empty() || payload[0] != 1) {
    return Corruption("binary event: bad endianness flag");
  }
  SpanSource source(payload.data(), payload.size());
  // One stream per thread (see EncodeBinaryEvent); rdbuf() also clears its state.
  thread_local std::istream stream(nullptr);
  stream.rdbuf(&source);
  cereal::PortableBinaryInputArchive ar(
      stream, cereal::PortableBinaryInputArchive::Options::LittleEndian());
  BinaryFieldReader reader(&ar, &source);

  Event event;
  uint8_t type = 0;
  ar(type);
  if (type >= kEventTypeCount) {
    return Corruption("binary event: unknown event type " + std::to_string(type));
  }
  event.type = static_cast<EventType>(type);
  reader.Str(&event.id);
  reader.Str(&event.source);
  reader.Str(&event.subject);
  JIRITSU_RETURN_IF_ERROR(reader.status());
  uint32_t version = 0;
  ar(event.time_us, event.utc_offset_minutes, version);
  if (version < 1 || version > kCurrentSchemaVersion) {
    std::string message = "binary event: unsupported schema version ";
    json_text::AppendUint(&message, version);
    message.append(" (this build reads 1..");
    json_text::AppendUint(&message, kCurrentSchemaVersion);
    message.push_back(')');
    return Corruption(std::move(message));
  }
  JIRITSU_RETURN_IF_ERROR(fields::WithDataType(event.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return ReadBinaryData<T>(version, &reader, &event.data);
  }));
  event.schema_version = kCurrentSchemaVersion;
  if (!allow_trailing && source.remaining() != 0) {
    return Corruption("binary event: " + std::to_string(source.remaining()) +
                      " unexpected trailing bytes");
  }
  return event;
}

}  // namespace

void AppendBinaryEvent(const Event& event, std::string* out) {
  const size_t start = out->size();
  // Most events fit: one allocation instead of the string's doublings.
  out->reserve(start + kHeaderBytes + 244 + event.id.size() + event.source.size() +
               event.subject.size());
  out->append(kHeaderBytes, '\0');
  BinaryFieldWriter writer(out);
  writer.U8(1);  // cereal's endianness flag: little
  writer.U8(static_cast<uint8_t>(event.type));
  writer.Str(event.id);
  writer.Str(event.source);
  writer.Str(event.subject);
  // The in-memory data always has the current shape.
  writer.Raw(event.time_us);
  writer.Raw(event.utc_offset_minutes);
  writer.Raw(static_cast<uint32_t>(kCurrentSchemaVersion));
  std::visit(
      [&](const auto& data) {
        using T = std::decay_t<decltype(data)>;
        fields::VisitFields(writer, const_cast<T&>(data));  // writers only read
      },
      event.data);
  char* header = out->data() + start;
  const std::string_view payload = std::string_view(*out).substr(start + kHeaderBytes);
  header[0] = kMagic[0];
  header[1] = kMagic[1];
  header[2] = static_cast<char>(kFormatVersion);
  header[3] = static_cast<char>(kMinCompatibleVersion);
  PutU32(&header[4], static_cast<uint32_t>(payload.size()));
  PutU32(&header[8], Crc32c(payload));
}

std::string EncodeBinaryEvent(const Event& event) {
  std::string out;
  AppendBinaryEvent(event, &out);
  return out;
}

Result<Event> DecodeBinaryEvent(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) {
    return Corruption("binary event: " + std::to_string(bytes.size()) +
                      " bytes is shorter than the 12-byte header");
  }
  if (bytes[0] != kMagic[0] || bytes[1] != kMagic[1]) {
    return Corruption("binary event: bad magic");
  }
  const auto format_version = static_cast<uint8_t>(bytes[2]);
  const auto min_version = static_cast<uint8_t>(bytes[3]);
  if (min_version > kFormatVersion || min_version > format_version || min_version == 0) {
    return Corruption("binary event: format version " + std::to_string(format_version) +
                      " needs a reader of version >= " + std::to_string(min_version) +
                      " (this build reads " + std::to_string(kFormatVersion) + ")");
  }
  const uint32_t payload_size = GetU32(bytes.data() + 4);
  const std::string_view payload = bytes.substr(kHeaderBytes);
  if (payload_size != payload.size()) {
    return Corruption("binary event: payload length " + std::to_string(payload_size) +
                      " but " + std::to_string(payload.size()) + " bytes follow the header");
  }
  if (GetU32(bytes.data() + 8) != Crc32c(payload)) {
    return Corruption("binary event: checksum mismatch");
  }
  try {
    // A newer writer may have appended fields this build does not know.
    return DecodePayload(payload, /*allow_trailing=*/format_version > kFormatVersion);
  } catch (const cereal::Exception& e) {
    return Corruption(std::string("binary event: truncated payload: ") + e.what());
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("binary event: out of memory while decoding");
  } catch (const std::exception& e) {
    return Corruption(std::string("binary event: ") + e.what());
  }
}

}  // namespace jiritsu
