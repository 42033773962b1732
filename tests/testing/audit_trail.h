// WithoutAuditTrail: a query answer without its audit-trail members, for
// tests that compare the counts of views whose last events differ.
//
// Thread-safety: a pure function. Failure: none (text it does not recognise
// is kept as is).
#pragma once

#include <string>
#include <string_view>

namespace jiritsu::testing {

// `json` without its audit-trail members ("last_changed_by": an event ref or
// null), for comparing the counts of views whose last events differ.
inline std::string WithoutAuditTrail(const std::string& json) {
  // No <regex>: GCC 12's sanitizer builds warn inside it (tests/CMakeLists.txt).
  static constexpr std::string_view kKey = "\"last_changed_by\":";
  std::string out;
  size_t from = 0;
  for (size_t at = json.find(kKey); at != std::string::npos; at = json.find(kKey, from)) {
    out.append(json, from, at - from);
    size_t end = at + kKey.size();
    end = json.compare(end, 4, "null") == 0 ? end + 4 : json.find('}', end) + 1;
    if (end < json.size() && json[end] == ',') ++end;
    from = end;
  }
  out.append(json, from);
  return out;
}

}  // namespace jiritsu::testing
