// Reads every record of the source topics (the five employee families and
// jiritsu.reference) of a log, for tests that must prove nothing was lost or
// appended twice (crash and broker-fault tests).
//
// Thread-safety: reentrant. Failure: the log cannot be opened or read, or
// not read to its end within `timeout` -> the log's error / kDeadlineExceeded.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "ops/cli.h"

namespace jiritsu::testing {

struct LogContents {
  std::map<std::string, int> identities;  // "source\nid" -> records carrying it
  int64_t records = 0;
  int64_t undecodable = 0;  // records DecodeJsonEvent refuses
  std::vector<std::string> values;  // every record's value, in read order

  std::set<std::string> Distinct() const;
  // Records beyond the first of each identity.
  int64_t DuplicateRecords() const {
    return records - undecodable - static_cast<int64_t>(identities.size());
  }
};

// Opens the log `selection` names read-only (embedded follower or Kafka).
Result<LogContents> ReadSourceTopics(const LogSelection& selection,
                                     std::chrono::seconds timeout = std::chrono::seconds(60));

// The string value (or raw number text) of `"name":` in a one-line JSON
// report; "" when absent. Enough for the CLI's flat reports.
std::string JsonField(const std::string& json, const std::string& name);

struct ViewDigest {
  int64_t keys = 0;
  std::string digest;
  bool operator==(const ViewDigest&) const = default;
};
// The "views" object of `jiritsu digest`: view name -> keys and digest;
// empty if the text is not such a report.
std::map<std::string, ViewDigest> ParseViewDigests(const std::string& digest_json);

}  // namespace jiritsu::testing
