#include "schemas/json_text.h"

#include <charconv>
#include <cmath>
#include <simdjson.h>

#include "schemas/codec.h"

namespace jiritsu {
namespace json_text {

void AppendInt(std::string* out, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;  // 24 bytes always suffice
  out->append(buf, end);
}

void AppendUint(std::string* out, uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;
  out->append(buf, end);
}

void AppendDouble(std::string* out, double value) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  constexpr double kTwoPow53 = 9007199254740992.0;
  if (value == std::trunc(value) && std::fabs(value) < kTwoPow53) {
    AppendInt(out, static_cast<int64_t>(value));  // also maps -0 to "0"
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;  // shortest form of a double fits in 32 bytes
  out->append(buf, end);
}

size_t CountCodePoints(std::string_view utf8) {
  size_t count = 0;
  for (unsigned char c : utf8) count += (c & 0xC0) != 0x80;
  return count;
}

void AppendDisplayString(std::string* out, std::string_view value) {
  constexpr size_t kMaxShown = 64;
  const size_t chars = CountCodePoints(value);
  if (chars <= kMaxShown) {
    AppendJsonString(out, value);
    return;
  }
  out->append("a ");
  AppendUint(out, chars);
  out->append("-character string");
}

}  // namespace json_text

namespace {

constexpr char kHex[] = "0123456789abcdef";

// True for bytes that cannot appear raw inside a JSON string.
constexpr bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void AppendEscaped(std::string* out, unsigned char c) {
  switch (c) {
    case '"': out->append("\\\""); return;
    case '\\': out->append("\\\\"); return;
    case '\b': out->append("\\b"); return;
    case '\f': out->append("\\f"); return;
    case '\n': out->append("\\n"); return;
    case '\r': out->append("\\r"); return;
    case '\t': out->append("\\t"); return;
    default: {
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out->append(esc, 6);
    }
  }
}

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 if the
// bytes there are not one (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  const size_t left = text.size() - i;
  const auto cont = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    const unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const unsigned char c1 = byte(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  if (simdjson::validate_utf8(text.data(), text.size())) {
    // Fast path: copy runs of bytes that need no escaping.
    size_t run_start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (!NeedsEscape(c)) continue;
      out->append(text.data() + run_start, i - run_start);
      AppendEscaped(out, c);
      run_start = i + 1;
    }
    out->append(text.data() + run_start, text.size() - run_start);
  } else {
    // Invalid UTF-8 never comes out of the decoder; if a caller passes some,
    // each bad byte becomes U+FFFD so the output stays valid JSON.
    size_t i = 0;
    while (i < text.size()) {
      const size_t len = Utf8SequenceLength(text, i);
      if (len == 0) {
        out->append("\\ufffd");
        ++i;
        continue;
      }
      const auto c = static_cast<unsigned char>(text[i]);
      if (len == 1 && NeedsEscape(c)) {
        AppendEscaped(out, c);
      } else {
        out->append(text.data() + i, len);
      }
      i += len;
    }
  }
  out->push_back('"');
}

}  // namespace jiritsu
