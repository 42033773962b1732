// Compact event data codec: AppendCompactEventData, DecodeCompactEventData
// (schemas/codec.h).
//
// Field encodings: str = varint byte length + bytes; optional = u8 0/1 +
// value; bool = u8 0/1; enum = u8; int32 = zigzag varint; number = IEEE-754
// f64, little-endian; list = varint count + items. No envelope, no checksum:
// the store that keeps these bytes checksums its blocks, and its keys carry
// the event's identity and time.
//
// Hostile input: every length is checked against the bytes that remain before
// anything is allocated, enum and bool bytes are range-checked, and trailing
// bytes are rejected.
#include <bit>
#include <cstring>
#include <limits>
#include <span>
#include <string>

#include "core/varint.h"
#include "schemas/codec.h"
#include "schemas/event_fields.h"
#include "schemas/json_text.h"

namespace jiritsu {
namespace {

static_assert(std::endian::native == std::endian::little,
              "numbers are written as their in-memory IEEE bytes, little-endian");

using fields::IntRule;
using fields::NumRule;
using fields::Presence;

class CompactFieldWriter {
 public:
  explicit CompactFieldWriter(std::string* out) : out_(*out) {}

  void Str(const std::string& s) {
    PutVarint64(&out_, s.size());
    out_.append(s);
  }
  void Flag(bool v) { out_.push_back(v ? '\1' : '\0'); }
  void Double(double v) {
    char bytes[sizeof(double)];
    std::memcpy(bytes, &v, sizeof(double));
    out_.append(bytes, sizeof(double));
  }

  void String(std::string_view, std::string* v, fields::Str, Presence, std::string_view) {
    Str(*v);
  }
  void OptString(std::string_view, std::optional<std::string>* v, fields::Str, std::string_view) {
    Flag(v->has_value());
    if (v->has_value()) Str(**v);
  }
  void Int(std::string_view, int32_t* v, IntRule, Presence, std::string_view) {
    PutVarint64(&out_, ZigZagEncode64(*v));
  }
  void OptInt(std::string_view, std::optional<int32_t>* v, IntRule, std::string_view) {
    Flag(v->has_value());
    if (v->has_value()) PutVarint64(&out_, ZigZagEncode64(**v));
  }
  void Number(std::string_view, double* v, NumRule, Presence, std::string_view) { Double(*v); }
  void OptNumber(std::string_view, std::optional<double>* v, NumRule, std::string_view) {
    Flag(v->has_value());
    if (v->has_value()) Double(**v);
  }
  void Bool(std::string_view, bool* v, Presence, std::string_view) { Flag(*v); }
  template <class E>
  void Enum(std::string_view, E* v, std::span<const std::string_view>, Presence, std::string_view) {
    out_.push_back(static_cast<char>(static_cast<uint8_t>(*v)));
  }
  void IdList(std::string_view, std::vector<std::string>* ids, std::string_view) {
    PutVarint64(&out_, ids->size());
    for (const std::string& id : *ids) Str(id);
  }
  void Steps(std::string_view, std::vector<ProgramStep>* steps, std::string_view) {
    PutVarint64(&out_, steps->size());
    for (size_t i = 0; i < steps->size(); ++i) {
      fields::VisitFields(*this, (*steps)[i], static_cast<int32_t>(i + 1));
    }
  }
  void AtLeastOne(std::span<const std::string_view>, bool) {}

 private:
  std::string& out_;
};

// Reads fields from a byte span; the first problem is kept in status() (with
// the field's name) and later calls do nothing.
class CompactFieldReader {
 public:
  explicit CompactFieldReader(std::string_view bytes)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  const Status& status() const { return status_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  void String(std::string_view name, std::string* v, fields::Str, Presence, std::string_view) {
    Str(name, v);
  }
  void OptString(std::string_view name, std::optional<std::string>* v, fields::Str,
                 std::string_view) {
    if (Flag(name)) Str(name, &v->emplace());
  }
  void Int(std::string_view name, int32_t* v, IntRule, Presence, std::string_view) {
    Int32(name, v);
  }
  void OptInt(std::string_view name, std::optional<int32_t>* v, IntRule, std::string_view) {
    if (Flag(name)) Int32(name, &v->emplace());
  }
  void Number(std::string_view name, double* v, NumRule, Presence, std::string_view) {
    Double(name, v);
  }
  void OptNumber(std::string_view name, std::optional<double>* v, NumRule, std::string_view) {
    if (Flag(name)) Double(name, &v->emplace());
  }
  void Bool(std::string_view name, bool* v, Presence, std::string_view) { *v = Flag(name); }
  template <class E>
  void Enum(std::string_view name, E* v, std::span<const std::string_view> names, Presence,
            std::string_view) {
    if (!Need(name, 1)) return;
    const auto raw = static_cast<uint8_t>(*p_++);
    if (raw >= names.size()) return Fail(name, "enum byte", raw);
    *v = static_cast<E>(raw);
  }
  void IdList(std::string_view name, std::vector<std::string>* ids, std::string_view) {
    uint64_t count = 0;
    // Every string needs at least its one-byte length.
    if (!Count(name, 1, &count)) return;
    ids->resize(count);
    for (std::string& id : *ids) Str(name, &id);
  }
  void Steps(std::string_view name, std::vector<ProgramStep>* steps, std::string_view) {
    uint64_t count = 0;
    // A step is at least a position, a name length, a list count and a flag.
    if (!Count(name, 4, &count)) return;
    steps->resize(count);
    for (size_t i = 0; i < steps->size() && status_.ok(); ++i) {
      fields::VisitFields(*this, (*steps)[i], static_cast<int32_t>(i + 1));
    }
  }
  void AtLeastOne(std::span<const std::string_view>, bool) {}

 private:
  bool Need(std::string_view name, size_t bytes) {
    if (!status_.ok()) return false;
    if (remaining() >= bytes) return true;
    std::string message = "compact event data: ";
    message.append(name).append(" needs ");
    json_text::AppendUint(&message, bytes);
    message.append(" bytes, ");
    json_text::AppendUint(&message, remaining());
    message.append(" remain");
    status_ = Corruption(std::move(message));
    return false;
  }
  bool Varint(std::string_view name, uint64_t* v) {
    if (!status_.ok()) return false;
    VarintError error = VarintError::kNone;
    if (GetVarint64(&p_, end_, v, &error)) return true;
    std::string message = "compact event data: ";
    message.append(name).append(error == VarintError::kTruncated ? ": varint runs past the end"
                                                                 : ": varint exceeds 64 bits");
    status_ = Corruption(std::move(message));
    return false;
  }
  bool Count(std::string_view name, uint64_t min_item_bytes, uint64_t* count) {
    if (!Varint(name, count)) return false;
    if (*count <= remaining() / min_item_bytes) return true;
    std::string message = "compact event data: ";
    message.append(name).append(": ");
    json_text::AppendUint(&message, *count);
    message.append(" items exceed the ");
    json_text::AppendUint(&message, remaining());
    message.append(" remaining bytes");
    status_ = Corruption(std::move(message));
    return false;
  }
  void Str(std::string_view name, std::string* s) {
    uint64_t size = 0;
    if (!Count(name, 1, &size)) return;
    s->assign(p_, size);
    p_ += size;
  }
  bool Flag(std::string_view name) {
    if (!Need(name, 1)) return false;
    const auto raw = static_cast<uint8_t>(*p_++);
    if (raw > 1) Fail(name, "flag byte", raw);
    return status_.ok() && raw == 1;
  }
  void Int32(std::string_view name, int32_t* v) {
    uint64_t raw = 0;
    if (!Varint(name, &raw)) return;
    if (raw > std::numeric_limits<uint32_t>::max()) {
      status_ = Corruption("compact event data: " + std::string(name) +
                           ": varint too large for a 32-bit integer");
      return;
    }
    *v = static_cast<int32_t>(ZigZagDecode64(raw));
  }
  void Double(std::string_view name, double* v) {
    if (!Need(name, sizeof(double))) return;
    std::memcpy(v, p_, sizeof(double));
    p_ += sizeof(double);
  }
  void Fail(std::string_view name, std::string_view what, uint8_t value) {
    if (!status_.ok()) return;
    std::string message = "compact event data: ";
    message.append(name).append(": invalid ").append(what).append(" ");
    json_text::AppendUint(&message, value);
    status_ = Corruption(std::move(message));
  }

  const char* p_;
  const char* end_;
  Status status_;
};

}  // namespace

void AppendCompactEventData(const Event& event, std::string* out) {
  CompactFieldWriter writer(out);
  std::visit(
      [&](const auto& data) {
        using T = std::decay_t<decltype(data)>;
        fields::VisitFields(writer, const_cast<T&>(data));  // writers only read
      },
      event.data);
}

Status DecodeCompactEventData(std::string_view bytes, uint32_t schema_version, Event* event) {
  if (static_cast<size_t>(event->type) >= kEventTypeCount) {
    return Corruption("compact event data: unknown event type " +
                      std::to_string(static_cast<int>(event->type)));
  }
  // One data shape so far; a new schema version adds its upcast here, as
  // ReadBinaryData does for the binary envelope.
  if (schema_version != 1) {
    return Corruption("compact event data: no reader for schema version " +
                      std::to_string(schema_version));
  }
  CompactFieldReader reader(bytes);
  JIRITSU_RETURN_IF_ERROR(fields::WithDataType(event->type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    fields::VisitFields(reader, event->data.emplace<T>());
    return reader.status();
  }));
  if (reader.remaining() != 0) {
    return Corruption("compact event data: " + std::to_string(reader.remaining()) +
                      " unexpected trailing bytes");
  }
  event->schema_version = kCurrentSchemaVersion;
  return Status::Ok();
}

}  // namespace jiritsu
