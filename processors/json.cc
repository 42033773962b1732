#include "processors/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace jiritsu::processors {

Json& Json::operator[](std::string_view key) {
  if (is_null()) value_ = Object{};
  Object& obj = std::get<Object>(value_);
  auto it = obj.find(key);
  if (it == obj.end()) it = obj.emplace(std::string(key), Json()).first;
  return it->second;
}

void Json::Push(Json value) {
  if (is_null()) value_ = Array{};
  std::get<Array>(value_).push_back(std::move(value));
}

std::string Json::Dump() const {
  std::string out;
  DumpTo(&out);
  return out;
}

void AppendJsonQuoted(std::string* out, std::string_view text) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void Json::DumpTo(std::string* out) const {
  struct Visitor {
    std::string* out;
    void operator()(std::monostate) const { out->append("null"); }
    void operator()(bool v) const { out->append(v ? "true" : "false"); }
    void operator()(int64_t v) const { out->append(std::to_string(v)); }
    void operator()(double v) const {
      if (!std::isfinite(v)) {
        out->append("null");
        return;
      }
      // Round to 6 decimals so that platform noise never reaches the output.
      double rounded = std::round(v * 1e6) / 1e6;
      if (rounded == 0) rounded = 0;  // no "-0"
      char buf[64];
      auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), rounded);
      if (ec != std::errc()) {
        out->append("null");
        return;
      }
      out->append(buf, ptr);
    }
    void operator()(const std::string& v) const { AppendJsonQuoted(out, v); }
    void operator()(const Array& v) const {
      out->push_back('[');
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out->push_back(',');
        v[i].DumpTo(out);
      }
      out->push_back(']');
    }
    void operator()(const Object& v) const {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, value] : v) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonQuoted(out, key);
        out->push_back(':');
        value.DumpTo(out);
      }
      out->push_back('}');
    }
  };
  std::visit(Visitor{out}, value_);
}

Json Ratio(int64_t numerator, int64_t denominator) {
  if (denominator == 0) return Json();
  return Json(static_cast<double>(numerator) / static_cast<double>(denominator));
}

}  // namespace jiritsu::processors
