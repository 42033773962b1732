// A small deterministic Projector and event-history helpers for tests of the
// projection runtime and the replay tool (core/replay.h), usable before and
// independently of the real domain projector in processors/.
//
// What FakeProjector computes (all values decimal text, so diffs are readable):
//   "fake_counts"  employee id -> number of distinct (source, id) events
//   "fake_seen"    employee id + '\0' + source + '\0' + id -> "" (dedupe index)
//   "fake_ref"     reference subject -> number of distinct reference events
//   "fake_facts"   employee id -> count, from jiritsu.facts (a global table)
//   "fake_totals"  "events" -> sum of fake_facts, "employees" -> their number
// Per-employee views are a pure function of the set of events (counting is
// order-free, duplicates are no-ops); each checkpoint emits one facts record
// per changed employee (absolute: the count, which also versions it, so an
// older facts record never replaces a newer one); the totals aggregate the
// facts, so like real cross-partition views they lag by one checkpoint in a
// live run and are complete after --until-caught-up.
//
// Lifecycle/thread-safety: as core/projector.h (one runtime thread).
// Failure: store errors are returned; undecodable facts -> kCorruption.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/event_log.h"
#include "core/projection_runtime.h"
#include "core/projector.h"
#include "core/status.h"
#include "schemas/event.h"

namespace jiritsu::testing {

inline constexpr char kFakeCountsFamily[] = "fake_counts";
inline constexpr char kFakeSeenFamily[] = "fake_seen";
inline constexpr char kFakeReferenceFamily[] = "fake_ref";
inline constexpr char kFakeFactsFamily[] = "fake_facts";
inline constexpr char kFakeTotalsFamily[] = "fake_totals";

// `applied_facts_bytes` > 0: what Projector::AppliedFactsBytes says each
// facts record costs once applied (0: the default, its encoded size).
std::unique_ptr<Projector> NewFakeProjector(uint64_t applied_facts_bytes = 0);
// Every column family FakeProjector uses, plus the runtime's dead-letter
// family: the views a digest of a fake-built store should cover.
std::vector<std::string> FakeViewFamilies();

// A learning.enrolled event of `employee` (subject), identified by `id`.
Event FakeEmployeeEvent(const std::string& employee, const std::string& id, int64_t time_us);
// An org.unit.defined reference event for `org_unit`.
Event FakeReferenceEvent(const std::string& org_unit, const std::string& id, int64_t time_us);

struct FakeHistoryOptions {
  int employees = 50;
  int events = 2000;            // employee events (reference events extra)
  int reference_events = 5;
  int64_t start_time_us = 1'711'900'800'000'000;  // 2024-04-01T00:00:00Z
  int64_t step_us = 3'600'000'000;                // one hour between events
  uint64_t seed = 1;
};
// Deterministic history in event-time order: reference events first, then
// employee events spread over employees pseudo-randomly.
std::vector<Event> FakeHistory(const FakeHistoryOptions& options);

// Creates the Jiritsu topics (`partitions` per employee topic) and appends
// the events keyed by subject to their family's topic, then flushes.
Status EnsureFakeTopics(EventLog* log, int32_t partitions = 4);
Status AppendEvents(EventLog* log, const std::vector<Event>& events);
// Appends raw bytes (e.g. a poison record) to `topic`.
Status AppendRaw(EventLog* log, const std::string& topic, const std::string& key,
                 const std::string& value);

// Sum of the task-partition offsets stored in `store` (employee topics only):
// with a duplicate-free, poison-free history it equals the sum of fake_counts,
// which makes "views agree with their offsets" checkable by readers.
Result<int64_t> SumEmployeeOffsets(const StateStore& store);
Result<int64_t> SumFakeCounts(const StateStore& store);

// Options of a live-mode runtime as `jiritsu run` uses them (consumer group,
// published facts and dead letters, WAL on), with small checkpoints.
RuntimeOptions FakeLiveOptions(const std::string& store_dir);
// Runs a FakeProjector in live mode over `log` until caught up.
Result<RuntimeStats> RunFakeLive(EventLog* log, const RuntimeOptions& options);

}  // namespace jiritsu::testing
