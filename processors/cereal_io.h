// Cereal portable-binary encoding of the processors' stored values without
// a std::ostringstream / std::istringstream per value.
//
// Why: the profile of projection and replay (docs/performance.md) showed the
// construction of a string stream (ios_base init, locale) costing more than
// encoding a journal row or a small state. These helpers reuse one stream
// object per thread and read straight from the stored bytes (no copy). The
// bytes are exactly those of `std::ostringstream` + cereal: format byte, then
// one PortableBinaryOutputArchive (its endianness byte, then the values).
//
// Thread-safety: reentrant; each thread has its own stream objects, and a
// nested call (a value whose serialisation encodes another one) falls back to
// local objects. Failure: DecodeCereal returns the exception text of a value
// cereal cannot read (truncated, oversized length), never throws.
#pragma once

#include <cereal/archives/portable_binary.hpp>

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>

#include "processors/compact_archive.h"
#include "schemas/string_sink.h"

namespace jiritsu::processors {
namespace cereal_io_detail {


// Reads a byte range in place.
class ViewBuf : public std::streambuf {
 public:
  void set_source(std::string_view bytes) {
    char* begin = const_cast<char*>(bytes.data());  // get area only: never written
    setg(begin, begin, begin + bytes.size());
  }
};

struct Writer {
  StringSink buf;
  std::ostream stream{&buf};
  bool in_use = false;
};

struct Reader {
  ViewBuf buf;
  std::istream stream{&buf};
  bool in_use = false;
};

}  // namespace cereal_io_detail

// format byte + cereal PortableBinary archive of `values`; `expected_bytes`
// (a capacity hint, any value is correct) saves regrowing the result.
template <class... T>
std::string EncodeCerealReserving(size_t expected_bytes, uint8_t format, const T&... values) {
  std::string out;
  out.reserve(expected_bytes);  // one allocation instead of the string's doublings
  out.push_back(static_cast<char>(format));
  thread_local cereal_io_detail::Writer shared;
  cereal_io_detail::Writer local_writer;
  cereal_io_detail::Writer& writer = shared.in_use ? local_writer : shared;
  writer.in_use = true;
  writer.buf.set_target(&out);
  writer.stream.clear();
  {
    cereal::PortableBinaryOutputArchive archive(writer.stream);
    archive(values...);
  }
  writer.buf.set_target(nullptr);
  writer.in_use = false;
  return out;
}

template <class... T>
std::string EncodeCereal(uint8_t format, const T&... values) {
  return EncodeCerealReserving(0, format, values...);
}

// Reads `values` from `bytes` (the archive, after the caller checked and
// removed the format byte). nullopt on success, else cereal's message.
template <class... T>
std::optional<std::string> DecodeCereal(std::string_view bytes, T&... values) {
  thread_local cereal_io_detail::Reader shared;
  cereal_io_detail::Reader local_reader;
  cereal_io_detail::Reader& reader = shared.in_use ? local_reader : shared;
  reader.in_use = true;
  reader.buf.set_source(bytes);
  reader.stream.clear();
  std::optional<std::string> error;
  try {
    cereal::PortableBinaryInputArchive archive(reader.stream);
    archive(values...);
  } catch (const std::exception& e) {
    error = e.what();
  }
  reader.buf.set_source({});
  reader.in_use = false;
  return error;
}

// format byte + CompactOutputArchive of `values` (compact_archive.h): the
// encoding of the hot stored values. `expected_bytes` as above.
template <class... T>
std::string EncodeCompact(size_t expected_bytes, uint8_t format, const T&... values) {
  std::string out;
  out.reserve(expected_bytes);
  out.push_back(static_cast<char>(format));
  CompactOutputArchive archive(&out);
  archive(values...);
  return out;
}

// Reads `values` from `bytes` (after the format byte), which must hold
// exactly them. nullopt on success, else what is wrong and where.
template <class... T>
std::optional<std::string> DecodeCompact(std::string_view bytes, T&... values) {
  try {
    CompactInputArchive archive(bytes);
    archive(values...);
    if (archive.remaining() != 0) {
      return std::to_string(archive.remaining()) + " trailing bytes after the value, at byte " +
             std::to_string(archive.position());
    }
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

}  // namespace jiritsu::processors
