// Synthetic enterprise generator behind `jiritsu gen`.
//
// Simulates a company month by month (a discrete-event simulation in event
// time) and writes what its source systems would send as CloudEvents JSONL:
// reference data first (org tree, programmes, KPI targets), then hires,
// transfers, manager changes and leavers (/hr/workday), learning records
// (/lms/moodle, /lms/udemy-business), interviews (/talent/1on1-tool,
// /hr/career-counseling), self-declarations and their approvals
// (/talent/self-declaration, /talent/workflow, /hr/talent-review).
// Every employee has a hidden learning disposition (the six IPA learning
// states of DOMAIN.md, ~1/3 at levels 1-2) that drives how often they learn,
// finish, declare and get certified; managers either keep the recommended
// interview rhythm or do not. A small share of schema-valid but domain-invalid
// commands is included on purpose (approval by a non-manager, self-approval,
// finalising an unconfirmed declaration, a step declared out of order) so the
// processors' rejection paths are exercised.
//
// On top of the valid stream, configurable shares of exact duplicate lines,
// late (out-of-order) lines and schema-invalid lines are injected. These use
// their own random stream, so changing the shares never changes the domain
// content: the set of valid events for a seed is the same whatever the shares.
//
// Determinism: same options => same bytes. Randomness comes only from
// std::mt19937_64 (whose output the standard fixes) through our own helpers;
// no <random> distributions, no wall clock, no unordered iteration.
//
// Memory: the simulation keeps per-person state and pending actions only;
// lines are streamed to the writer as they are produced (held back only
// while they wait to be emitted late).
//
// Lifecycle/thread-safety: GenerateEnterprise is a pure function of its
// options plus the writer; concurrent calls are independent.
// Failure: invalid options => kInvalidArgument before anything is written; a
// writer failure stops generation and is returned as is.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jiritsu {

struct GeneratorOptions {
  int32_t employees = 1000;  // initial headcount (>= 10)
  int32_t months = 12;       // simulated calendar months (1..240)
  uint64_t seed = 1;
  std::string start = "2024-04-01";  // first day (YYYY-MM-01), local +09:00
  double duplicate_share = 0.01;     // extra exact copies, per valid event
  double out_of_order_share = 0.02;  // valid events emitted late
  double invalid_share = 0.002;      // extra schema-invalid lines, per valid event
  // Per approval-workflow declaration: chance that a domain-invalid command
  // accompanies it (processors must reject it).
  double domain_invalid_share = 0.01;
};

// Rejects out-of-range options with kInvalidArgument naming the option.
Status ValidateGeneratorOptions(const GeneratorOptions& options);

// What was written, for the summary line and for tests that check ingestion
// against the plan. "valid" counts distinct events (what ingest accepts).
struct GeneratorSummary {
  int64_t lines = 0;
  int64_t valid_events = 0;
  int64_t duplicate_lines = 0;     // exact copies of an earlier valid line
  int64_t out_of_order_lines = 0;  // written after a line with a later time
  int64_t invalid_lines = 0;       // lines DecodeJsonEvent rejects
  std::map<std::string, int64_t> valid_by_type;
  std::map<std::string, int64_t> duplicates_by_type;
  // Kind of corruption ("bad_time", "malformed_json", ...) -> lines.
  std::map<std::string, int64_t> invalid_by_kind;
  // Schema-valid commands the workflow must reject ("self_approval", ...).
  std::map<std::string, int64_t> domain_invalid_by_kind;
  int64_t employees_hired = 0;  // including the initial population
  int64_t employees_left = 0;
  int64_t org_units = 0;
  // Hidden learning disposition of everybody ever hired, levels 1..6
  // (index 0 unused).
  int64_t dispositions[7] = {0, 0, 0, 0, 0, 0, 0};

  // "gen: 123 lines (...); employee.hired=..., ..." on one line.
  std::string ToLine() const;
};

// Receives each line without its trailing newline, in file order.
using LineWriter = std::function<Status(std::string_view line)>;

Result<GeneratorSummary> GenerateEnterprise(const GeneratorOptions& options,
                                            const LineWriter& write_line);

}  // namespace jiritsu
