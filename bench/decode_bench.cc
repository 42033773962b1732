// Decode + validate throughput of the event codecs, per event type, and the
// encoders a projection runs per event.
//
// Inputs are the valid examples (schemas/examples/<type>/valid.json) in their
// canonical one-line form, i.e. what sits on the topics. Reports items/s
// (events) and bytes/s. Prints figures only; asserts nothing.
//
//   decode_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "processors/stored_event.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

struct Sample {
  std::string type;
  std::string json;    // canonical CloudEvents JSON
  std::string binary;  // EncodeBinaryEvent
  Event event;
};

const std::vector<Sample>& Samples() {
  static const std::vector<Sample> samples = [] {
    std::vector<Sample> out;
    for (int i = 0; i < kEventTypeCount; ++i) {
      const std::string type(EventTypeName(static_cast<EventType>(i)));
      std::ifstream in(std::string(JIRITSU_SOURCE_DIR) + "/schemas/examples/" + type + "/valid.json");
      std::ostringstream text;
      text << in.rdbuf();
      Result<Event> event = DecodeJsonEvent(text.str());
      if (!event.ok()) {
        std::fprintf(stderr, "%s: %s\n", type.c_str(), event.status().ToString().c_str());
        std::abort();
      }
      out.push_back({type, EncodeJsonEvent(*event), EncodeBinaryEvent(*event), *event});
    }
    return out;
  }();
  return samples;
}

void BM_DecodeJson(benchmark::State& state, const Sample* sample) {
  for (auto _ : state) {
    Result<Event> event = DecodeJsonEvent(sample->json);
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(sample->json.size()));
}

// All 21 types round-robin: a mixed topic.
void BM_DecodeJsonMixed(benchmark::State& state) {
  const auto& samples = Samples();
  int64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const Sample& s = samples[i];
    Result<Event> event = DecodeJsonEvent(s.json);
    benchmark::DoNotOptimize(event);
    bytes += static_cast<int64_t>(s.json.size());
    if (++i == samples.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

void BM_EncodeJsonMixed(benchmark::State& state) {
  const auto& samples = Samples();
  int64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    std::string json = EncodeJsonEvent(samples[i].event);
    bytes += static_cast<int64_t>(json.size());
    benchmark::DoNotOptimize(json);
    if (++i == samples.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

void BM_DecodeBinaryMixed(benchmark::State& state) {
  const auto& samples = Samples();
  int64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    Result<Event> event = DecodeBinaryEvent(samples[i].binary);
    benchmark::DoNotOptimize(event);
    bytes += static_cast<int64_t>(samples[i].binary.size());
    if (++i == samples.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

void BM_EncodeBinaryMixed(benchmark::State& state) {
  const auto& samples = Samples();
  int64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    std::string binary = EncodeBinaryEvent(samples[i].event);
    bytes += static_cast<int64_t>(binary.size());
    benchmark::DoNotOptimize(binary);
    if (++i == samples.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

// A journal row: the binary event in a cereal record with its log position
// (what a replay writes for every event it folds).
void BM_EncodeStoredEventMixed(benchmark::State& state) {
  const auto& samples = Samples();
  const SourcePosition position{"jiritsu.learning", 3, 1234567};
  int64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    std::string row = processors::EncodeStoredEvent(samples[i].event, position);
    bytes += static_cast<int64_t>(row.size());
    benchmark::DoNotOptimize(row);
    if (++i == samples.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

// A rejected event costs about as much as an accepted one (no exceptions).
void BM_DecodeJsonRejected(benchmark::State& state) {
  std::string json = Samples()[7].json;  // interview.held
  json.replace(json.find("\"career\""), 8, "\"lunch\"");
  for (auto _ : state) {
    Result<Event> event = DecodeJsonEvent(json);
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
}

const int kRegistered = [] {
  for (const Sample& sample : Samples()) {
    benchmark::RegisterBenchmark(("BM_DecodeJson/" + sample.type).c_str(), BM_DecodeJson, &sample);
  }
  benchmark::RegisterBenchmark("BM_DecodeJsonMixed", BM_DecodeJsonMixed);
  benchmark::RegisterBenchmark("BM_DecodeJsonRejected", BM_DecodeJsonRejected);
  benchmark::RegisterBenchmark("BM_EncodeJsonMixed", BM_EncodeJsonMixed);
  benchmark::RegisterBenchmark("BM_DecodeBinaryMixed", BM_DecodeBinaryMixed);
  benchmark::RegisterBenchmark("BM_EncodeBinaryMixed", BM_EncodeBinaryMixed);
  benchmark::RegisterBenchmark("BM_EncodeStoredEventMixed", BM_EncodeStoredEventMixed);
  return 0;
}();

}  // namespace
}  // namespace jiritsu

BENCHMARK_MAIN();
