// CompactOutputArchive / CompactInputArchive: a cereal archive pair for the
// processors' hot stored values (employee states, facts, KPI rows), written
// straight into a std::string and read straight from the stored bytes.
//
// Why: the live checkpoint encodes, writes and decodes every changed
// employee's state and facts; with cereal's portable binary archive every
// integer took 8 bytes (a size 8, a flag 1), every value went through a
// std::streambuf call, and the batch bytes went through the WAL write, its
// CRC and the memtable copy (docs/performance.md, ninth pass).
//
// Encoding (little endian, no padding):
//   bool, char, int8, uint8  1 byte (a bool must be 0 or 1)
//   other unsigned integers  LEB128 varint (7 bits per byte, low first)
//   other signed integers    zigzag, then LEB128 varint
//   float, double            the IEEE bytes (4 / 8)
//   sizes of containers      LEB128 varint
//   strings, byte vectors    size varint + the bytes
// so a timestamp in microseconds takes 8 bytes, a count or a flag 1.
//
// Decoding is strict: a varint longer than 10 bytes or too large for its
// type, a bool other than 0/1, a size larger than the bytes left (every
// element encodes to at least one byte: the encoded types hold no empty
// classes) and reading past the end throw cereal::Exception with what and
// where; DecodeCompact() (cereal_io.h) turns that into an error message and
// also rejects trailing bytes.
//
// Lifecycle: one archive per value, on the caller's stack; the output string
// / input bytes must outlive it. Thread-safety: an archive is single-thread;
// distinct archives are independent.
#pragma once

#include <cereal/cereal.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/varint.h"

namespace jiritsu::processors {

class CompactOutputArchive
    : public cereal::OutputArchive<CompactOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit CompactOutputArchive(std::string* out)
      : cereal::OutputArchive<CompactOutputArchive, cereal::AllowEmptyClassElision>(this),
        out_(out) {}

  void WriteVarint(uint64_t value) { PutVarint64(out_, value); }

  void WriteBytes(const void* data, size_t size) {
    out_->append(static_cast<const char*>(data), size);
  }

 private:
  std::string* out_;
};

class CompactInputArchive
    : public cereal::InputArchive<CompactInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit CompactInputArchive(std::string_view bytes)
      : cereal::InputArchive<CompactInputArchive, cereal::AllowEmptyClassElision>(this),
        bytes_(bytes) {}

  uint64_t ReadVarint() {
    const char* p = bytes_.data() + position_;
    uint64_t value = 0;
    VarintError error = VarintError::kNone;
    const bool read = GetVarint64(&p, bytes_.data() + bytes_.size(), &value, &error);
    position_ = static_cast<size_t>(p - bytes_.data());
    if (!read) {
      Fail(error == VarintError::kTruncated ? "varint runs past the end" : "varint exceeds 64 bits");
    }
    return value;
  }

  void ReadBytes(void* data, size_t size) {
    if (size > remaining()) {
      Fail("needs " + std::to_string(size) + " bytes, " + std::to_string(remaining()) + " left");
    }
    if (size != 0) std::memcpy(data, bytes_.data() + position_, size);
    position_ += size;
  }

  // A container size: each element takes at least one byte.
  uint64_t ReadSize() {
    const uint64_t size = ReadVarint();
    if (size > remaining()) {
      Fail("size " + std::to_string(size) + " exceeds the " + std::to_string(remaining()) +
           " bytes left");
    }
    return size;
  }

  size_t remaining() const { return bytes_.size() - position_; }
  size_t position() const { return position_; }

  [[noreturn]] void Fail(const std::string& what) const {
    throw cereal::Exception("compact archive at byte " + std::to_string(position_) + ": " + what);
  }

 private:
  std::string_view bytes_;
  size_t position_ = 0;
};

namespace compact_detail {

template <class T>
inline constexpr bool kRawByte = std::is_same_v<T, bool> || sizeof(T) == 1;

}  // namespace compact_detail

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(CompactOutputArchive& ar,
                                                                    const T& value) {
  if constexpr (std::is_floating_point_v<T>) {
    ar.WriteBytes(&value, sizeof(T));  // x86-64 and aarch64 Debian: little endian
  } else if constexpr (compact_detail::kRawByte<T>) {
    const char byte = static_cast<char>(value);
    ar.WriteBytes(&byte, 1);
  } else if constexpr (std::is_signed_v<T>) {
    const auto v = static_cast<int64_t>(value);
    ar.WriteVarint(ZigZagEncode64(v));
  } else {
    ar.WriteVarint(static_cast<uint64_t>(value));
  }
}

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(CompactInputArchive& ar,
                                                                    T& value) {
  if constexpr (std::is_floating_point_v<T>) {
    ar.ReadBytes(&value, sizeof(T));
  } else if constexpr (std::is_same_v<T, bool>) {
    uint8_t byte = 0;
    ar.ReadBytes(&byte, 1);
    if (byte > 1) ar.Fail("bool byte " + std::to_string(byte) + " is neither 0 nor 1");
    value = byte == 1;
  } else if constexpr (compact_detail::kRawByte<T>) {
    ar.ReadBytes(&value, 1);
  } else if constexpr (std::is_signed_v<T>) {
    const auto v = ZigZagDecode64(ar.ReadVarint());
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      ar.Fail("integer " + std::to_string(v) + " out of range for its field");
    }
    value = static_cast<T>(v);
  } else {
    const uint64_t v = ar.ReadVarint();
    if (v > std::numeric_limits<T>::max()) {
      ar.Fail("integer " + std::to_string(v) + " out of range for its field");
    }
    value = static_cast<T>(v);
  }
}

// Names are not written: the field order is the format.
template <class Archive, class T>
CEREAL_ARCHIVE_RESTRICT(CompactInputArchive, CompactOutputArchive)
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& nvp) {
  ar(nvp.value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CompactOutputArchive& ar, const cereal::SizeTag<T>& tag) {
  ar.WriteVarint(static_cast<uint64_t>(tag.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(CompactInputArchive& ar, cereal::SizeTag<T>& tag) {
  using Size = std::remove_reference_t<decltype(tag.size)>;
  tag.size = static_cast<Size>(ar.ReadSize());
}

// Bulk bytes only for 1-byte elements (strings, byte vectors): arrays and
// vectors of wider integers go element by element, as varints.
template <class T>
std::enable_if_t<sizeof(std::remove_pointer_t<T>) == 1> CEREAL_SAVE_FUNCTION_NAME(
    CompactOutputArchive& ar, const cereal::BinaryData<T>& data) {
  ar.WriteBytes(data.data, static_cast<size_t>(data.size));
}

template <class T>
std::enable_if_t<sizeof(std::remove_pointer_t<T>) == 1> CEREAL_LOAD_FUNCTION_NAME(
    CompactInputArchive& ar, cereal::BinaryData<T>& data) {
  ar.ReadBytes(data.data, static_cast<size_t>(data.size));
}

}  // namespace jiritsu::processors

CEREAL_SETUP_ARCHIVE_TRAITS(jiritsu::processors::CompactInputArchive,
                            jiritsu::processors::CompactOutputArchive)
