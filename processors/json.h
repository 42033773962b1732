// Json: a small value type whose serialisation is canonical.
//
// Why: query outputs must be byte-stable so that two stores (or a replay and
// a live run) can be compared with diff. Objects keep their keys sorted
// (std::map), numbers print deterministically (integers exactly, doubles
// rounded to 6 decimals then shortest round-trip), output is one line.
//
// Thread-safety: a plain value. Failure: none (serialisation cannot fail).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jiritsu::processors {

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::map<std::string, Json, std::less<>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}  // NOLINT: implicit by design
  Json(bool v) : value_(v) {}  // NOLINT
  Json(int v) : value_(int64_t{v}) {}  // NOLINT
  Json(int64_t v) : value_(v) {}  // NOLINT
  Json(uint64_t v) : value_(static_cast<int64_t>(v)) {}  // NOLINT
  Json(double v) : value_(v) {}  // NOLINT
  Json(const char* v) : value_(std::string(v)) {}  // NOLINT
  Json(std::string v) : value_(std::move(v)) {}  // NOLINT
  Json(std::string_view v) : value_(std::string(v)) {}  // NOLINT
  Json(Array v) : value_(std::move(v)) {}  // NOLINT
  Json(Object v) : value_(std::move(v)) {}  // NOLINT

  static Json MakeObject() { return Json(Object{}); }
  static Json MakeArray() { return Json(Array{}); }
  // `value` or null.
  template <typename T>
  static Json OrNull(const std::optional<T>& value) {
    return value ? Json(*value) : Json();
  }

  // Object access (converts a null into an empty object first).
  Json& operator[](std::string_view key);
  // Array append (converts a null into an empty array first).
  void Push(Json value);

  bool is_null() const { return std::holds_alternative<std::monostate>(value_); }
  const Object* object() const { return std::get_if<Object>(&value_); }
  const Array* array() const { return std::get_if<Array>(&value_); }

  std::string Dump() const;
  void DumpTo(std::string* out) const;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> value_;
};

// A ratio rounded for display, or null when the denominator is zero.
Json Ratio(int64_t numerator, int64_t denominator);
// Appends `text` as a JSON string literal (with escapes).
void AppendJsonQuoted(std::string* out, std::string_view text);

}  // namespace jiritsu::processors
