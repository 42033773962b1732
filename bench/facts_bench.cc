// What an employee's facts cost to build, encode and decode, by history
// length. Facts are absolute over the employee's whole history, so these are
// the per-employee costs a live checkpoint pays each time it publishes an
// employee's facts (docs/performance.md).
//
// Inputs: `jiritsu gen` workloads that start with 200 employees (hires add
// more) over 12, 36 and 120 months (seed 1, no injected duplicates, late or
// invalid lines), folded per employee in journal order. Reports employees/s (items) and the mean facts
// size; prints a checksum of every encoded facts record on stderr so that
// two builds can be compared byte for byte. Prints figures only; asserts
// nothing.
//
//   facts_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ops/generator.h"
#include "processors/employee_fold.h"
#include "processors/facts.h"
#include "processors/reference_table.h"
#include "schemas/codec.h"

namespace jiritsu::processors {
namespace {

struct Population {
  ReferenceTable reference;
  std::vector<EmployeeState> states;
  size_t events = 0;
};

const Population& PopulationOf(int32_t months) {
  static std::map<int32_t, Population> populations;
  auto found = populations.find(months);
  if (found != populations.end()) return found->second;
  Population& population = populations[months];
  GeneratorOptions options;
  options.employees = 200;
  options.months = months;
  options.duplicate_share = 0;
  options.out_of_order_share = 0;
  options.invalid_share = 0;
  std::map<std::string, std::vector<std::pair<std::string, Event>>> by_employee;
  std::set<std::pair<std::string, std::string>> seen;
  int64_t offset = 0;
  const auto generated = GenerateEnterprise(options, [&](std::string_view line) {
    Result<Event> event = DecodeJsonEvent(line);
    if (!event.ok()) return event.status();
    if (!seen.emplace(event->source, event->id).second) return Status::Ok();
    if (IsEmployeeScoped(event->type)) {
      std::string key = EventSortKey(*event);
      by_employee[event->subject].emplace_back(std::move(key), std::move(event).value());
    } else {
      population.reference.Add(*event, SourcePosition{"jiritsu.reference", 0, offset++});
    }
    return Status::Ok();
  });
  if (!generated.ok()) {
    std::fprintf(stderr, "gen: %s\n", generated.status().ToString().c_str());
    std::abort();
  }
  for (auto& [employee, events] : by_employee) {
    std::sort(events.begin(), events.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    EmployeeState& state = population.states.emplace_back();
    state.employee_id = employee;
    for (auto& [key, event] : events) {
      ApplyEvent(population.reference, event, SourcePosition{"jiritsu.employee", 0, offset++},
                 key, &state);
    }
    population.events += events.size();
  }
  return population;
}

uint64_t Fnv1a(uint64_t hash, std::string_view bytes) {
  for (const char c : bytes) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  return hash;
}

void BM_BuildFacts(benchmark::State& bench) {
  const Population& population = PopulationOf(static_cast<int32_t>(bench.range(0)));
  const ProjectorOptions options;
  size_t bytes = 0;
  for (auto _ : bench) {
    for (const EmployeeState& state : population.states) {
      EmployeeFacts facts = BuildFacts(state, population.reference, options, std::string(32, 'h'));
      benchmark::DoNotOptimize(facts);
    }
  }
  uint64_t checksum = 14695981039346656037ULL;
  for (const EmployeeState& state : population.states) {
    const std::string encoded =
        EncodeFacts(BuildFacts(state, population.reference, options, std::string(32, 'h')));
    bytes += encoded.size();
    checksum = Fnv1a(checksum, encoded);
  }
  static std::set<int64_t> reported;  // Google Benchmark runs this more than once per length
  if (reported.insert(bench.range(0)).second) {
    std::fprintf(stderr, "facts of %zu employees, %lld months: checksum %016llx\n",
                 population.states.size(), static_cast<long long>(bench.range(0)),
                 static_cast<unsigned long long>(checksum));
  }
  bench.SetItemsProcessed(bench.iterations() * static_cast<int64_t>(population.states.size()));
  bench.counters["events_per_employee"] =
      static_cast<double>(population.events) / static_cast<double>(population.states.size());
  bench.counters["facts_bytes"] =
      static_cast<double>(bytes) / static_cast<double>(population.states.size());
}
BENCHMARK(BM_BuildFacts)->Arg(12)->Arg(36)->Arg(120)->Unit(benchmark::kMicrosecond);

void BM_EncodeFacts(benchmark::State& bench) {
  const Population& population = PopulationOf(static_cast<int32_t>(bench.range(0)));
  std::vector<EmployeeFacts> facts;
  for (const EmployeeState& state : population.states) {
    facts.push_back(BuildFacts(state, population.reference, {}, std::string(32, 'h')));
  }
  for (auto _ : bench) {
    for (const EmployeeFacts& one : facts) benchmark::DoNotOptimize(EncodeFacts(one));
  }
  bench.SetItemsProcessed(bench.iterations() * static_cast<int64_t>(facts.size()));
}
BENCHMARK(BM_EncodeFacts)->Arg(12)->Arg(36)->Arg(120)->Unit(benchmark::kMicrosecond);

void BM_DecodeFacts(benchmark::State& bench) {
  const Population& population = PopulationOf(static_cast<int32_t>(bench.range(0)));
  std::vector<std::string> encoded;
  for (const EmployeeState& state : population.states) {
    encoded.push_back(EncodeFacts(BuildFacts(state, population.reference, {}, std::string(32, 'h'))));
  }
  for (auto _ : bench) {
    for (const std::string& bytes : encoded) benchmark::DoNotOptimize(DecodeFacts(bytes));
  }
  bench.SetItemsProcessed(bench.iterations() * static_cast<int64_t>(encoded.size()));
}
BENCHMARK(BM_DecodeFacts)->Arg(12)->Arg(36)->Arg(120)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace jiritsu::processors

BENCHMARK_MAIN();
