#include "tests/testing/fake_projector.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <random>
#include <set>

#include "core/projection_runtime.h"
#include "core/topics.h"
#include "schemas/codec.h"

namespace jiritsu::testing {
namespace {

Result<int64_t> ParseCount(std::string_view text, std::string_view what) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return Corruption(std::string(what) + ": not a count: \"" + std::string(text) + "\"");
  }
  return value;
}

std::string SeenKey(const std::string& owner, const Event& event) {
  std::string key = owner;
  key.push_back('\0');
  key += event.source;
  key.push_back('\0');
  key += event.id;
  return key;
}

class FakeProjector : public Projector {
 public:
  explicit FakeProjector(uint64_t applied_facts_bytes) : applied_facts_bytes_(applied_facts_bytes) {}

  std::vector<std::string> ColumnFamilies() const override {
    return {kFakeCountsFamily, kFakeSeenFamily, kFakeReferenceFamily, kFakeFactsFamily,
            kFakeTotalsFamily};
  }

  // Only applying an employee event writes the dedupe index.
  std::vector<std::string> FamiliesCompleteBeforeHeldBackFacts() const override {
    return {kFakeSeenFamily};
  }

  Status Open(StateStore* store) override {
    store_ = store;
    // The global tables are small here: cache them whole.
    auto it = store->NewIterator(kFakeFactsFamily);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      JIRITSU_ASSIGN_OR_RETURN(int64_t count, ParseCount(it->value(), "fake_facts"));
      facts_[std::string(it->key())] = count;
      total_events_ += count;
    }
    return it->status();
  }

  Status ApplyReference(const Event& event, const SourcePosition&) override {
    return Count(kFakeReferenceFamily, event.subject, event, &dirty_reference_);
  }

  Status ApplyEmployeeEvent(const Event& event, const SourcePosition&) override {
    return Count(kFakeCountsFamily, event.subject, event, &dirty_counts_);
  }

  Status ApplyFacts(const LogRecord& record) override {
    JIRITSU_ASSIGN_OR_RETURN(int64_t count, ParseCount(record.value, "facts record"));
    int64_t& known = facts_[record.key];
    if (count <= known) return Status::Ok();  // older or repeated: no-op
    total_events_ += count - known;
    known = count;
    dirty_facts_.insert(record.key);
    return Status::Ok();
  }

  Status Checkpoint(StateBatch* batch, const FactsSink& facts_out) override {
    for (const auto& [employee, count] : dirty_counts_) {
      batch->Put(kFakeCountsFamily, employee, std::to_string(count));
      JIRITSU_RETURN_IF_ERROR(facts_out(FactsRecord{employee, std::to_string(count)}));
    }
    for (const auto& [subject, count] : dirty_reference_) {
      batch->Put(kFakeReferenceFamily, subject, std::to_string(count));
    }
    for (const auto& key : dirty_seen_) batch->Put(kFakeSeenFamily, key, "");
    for (const auto& employee : dirty_facts_) {
      batch->Put(kFakeFactsFamily, employee, std::to_string(facts_[employee]));
    }
    if (!dirty_facts_.empty()) {
      int64_t employees = 0;
      for (const auto& [employee, count] : facts_) employees += count > 0 ? 1 : 0;
      batch->Put(kFakeTotalsFamily, "events", std::to_string(total_events_));
      batch->Put(kFakeTotalsFamily, "employees", std::to_string(employees));
    }
    dirty_counts_.clear();
    dirty_reference_.clear();
    dirty_seen_.clear();
    dirty_facts_.clear();
    return Status::Ok();
  }

  void OnPartitionsRevoked(const std::vector<int32_t>&) override {}
  void Close() override { store_ = nullptr; }

  uint64_t AppliedFactsBytes(const FactsRecord& record) const override {
    return applied_facts_bytes_ > 0 ? applied_facts_bytes_ : Projector::AppliedFactsBytes(record);
  }

 private:
  // Adds one distinct event to `owner`'s count in `family` (dirty until the
  // next checkpoint); a (source, id) already seen changes nothing.
  Status Count(std::string_view family, const std::string& owner, const Event& event,
               std::map<std::string, int64_t>* dirty) {
    const std::string seen_key = std::string(family) + '\0' + SeenKey(owner, event);
    if (dirty_seen_.count(seen_key) > 0) return Status::Ok();
    std::string ignored;
    Status seen = store_->Get(kFakeSeenFamily, seen_key, &ignored);
    if (seen.ok()) return Status::Ok();
    if (seen.code() != StatusCode::kNotFound) return seen;
    dirty_seen_.insert(seen_key);
    auto it = dirty->find(owner);
    if (it == dirty->end()) {
      std::string stored;
      Status status = store_->Get(family, owner, &stored);
      int64_t count = 0;
      if (status.ok()) {
        JIRITSU_ASSIGN_OR_RETURN(count, ParseCount(stored, family));
      } else if (status.code() != StatusCode::kNotFound) {
        return status;
      }
      it = dirty->emplace(owner, count).first;
    }
    ++it->second;
    return Status::Ok();
  }

  StateStore* store_ = nullptr;
  std::map<std::string, int64_t> dirty_counts_;
  std::map<std::string, int64_t> dirty_reference_;
  std::set<std::string> dirty_seen_;
  std::map<std::string, int64_t> facts_;
  std::set<std::string> dirty_facts_;
  int64_t total_events_ = 0;
  uint64_t applied_facts_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Projector> NewFakeProjector(uint64_t applied_facts_bytes) {
  return std::make_unique<FakeProjector>(applied_facts_bytes);
}

std::vector<std::string> FakeViewFamilies() {
  return {kFakeCountsFamily, kFakeSeenFamily,   kFakeReferenceFamily,
          kFakeFactsFamily,  kFakeTotalsFamily, std::string(kDeadLetterFamily)};
}

Event FakeEmployeeEvent(const std::string& employee, const std::string& id, int64_t time_us) {
  Event event;
  event.type = EventType::kLearningEnrolled;
  event.id = id;
  event.source = "/lms/moodle";
  event.subject = employee;
  event.time_us = time_us;
  event.data = LearningEnrolled{"course-" + id, "", ""};
  return event;
}

Event FakeReferenceEvent(const std::string& org_unit, const std::string& id, int64_t time_us) {
  Event event;
  event.type = EventType::kOrgUnitDefined;
  event.id = id;
  event.source = "/hr/workday";
  event.subject = org_unit;
  event.time_us = time_us;
  event.data = OrgUnitDefined{org_unit, "Unit " + org_unit, std::nullopt};
  return event;
}

std::vector<Event> FakeHistory(const FakeHistoryOptions& options) {
  std::vector<Event> events;
  std::mt19937_64 random(options.seed);
  int64_t time = options.start_time_us;
  for (int i = 0; i < options.reference_events; ++i) {
    events.push_back(FakeReferenceEvent("ou-" + std::to_string(i), "ref-" + std::to_string(i), time));
    time += options.step_us;
  }
  for (int i = 0; i < options.events; ++i) {
    const uint64_t employee = random() % static_cast<uint64_t>(std::max(1, options.employees));
    events.push_back(FakeEmployeeEvent("e" + std::to_string(employee),
                                       "ev-" + std::to_string(options.seed) + "-" + std::to_string(i),
                                       time));
    time += options.step_us;
  }
  return events;
}

Status EnsureFakeTopics(EventLog* log, int32_t partitions) {
  return log->EnsureTopics(AllTopicSpecs(partitions));
}

Status AppendEvents(EventLog* log, const std::vector<Event>& events) {
  JIRITSU_ASSIGN_OR_RETURN(auto producer, log->NewProducer());
  for (const auto& event : events) {
    const std::string topic = TopicForFamily(FamilyOf(event.type));
    for (;;) {
      Status status = producer->Append(topic, event.subject, EncodeJsonEvent(event));
      if (status.code() != StatusCode::kResourceExhausted) {
        JIRITSU_RETURN_IF_ERROR(status);
        break;
      }
      JIRITSU_RETURN_IF_ERROR(producer->Flush(std::chrono::seconds(30)));
    }
  }
  return producer->Flush(std::chrono::seconds(30));
}

Status AppendRaw(EventLog* log, const std::string& topic, const std::string& key,
                 const std::string& value) {
  JIRITSU_ASSIGN_OR_RETURN(auto producer, log->NewProducer());
  JIRITSU_RETURN_IF_ERROR(producer->Append(topic, key, value));
  return producer->Flush(std::chrono::seconds(30));
}

Result<int64_t> SumEmployeeOffsets(const StateStore& store) {
  const std::vector<std::string> topics = EmployeeSourceTopics();
  int64_t sum = 0;
  auto it = store.NewIterator(kOffsetsFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key();
    const std::string topic(key.substr(0, key.find('\0')));
    if (std::find(topics.begin(), topics.end(), topic) == topics.end()) continue;
    JIRITSU_ASSIGN_OR_RETURN(int64_t offset, DecodeOffset(it->value()));
    sum += offset;
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  return sum;
}

Result<int64_t> SumFakeCounts(const StateStore& store) {
  int64_t sum = 0;
  auto it = store.NewIterator(kFakeCountsFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    JIRITSU_ASSIGN_OR_RETURN(int64_t count, ParseCount(it->value(), "fake_counts"));
    sum += count;
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  return sum;
}

RuntimeOptions FakeLiveOptions(const std::string& store_dir) {
  RuntimeOptions options;
  options.state_dir = store_dir;
  options.checkpoint_every_events = 97;  // several checkpoints, odd sizes
  options.checkpoint_every_ms = 50;
  options.poll_batch = 500;
  return options;
}

Result<RuntimeStats> RunFakeLive(EventLog* log, const RuntimeOptions& options) {
  RuntimeOptions run_options = options;
  run_options.until_caught_up = true;
  JIRITSU_ASSIGN_OR_RETURN(auto runtime,
                           ProjectionRuntime::Create(log, NewFakeProjector(), run_options));
  JIRITSU_RETURN_IF_ERROR(runtime->Run());
  return runtime->stats();
}

}  // namespace jiritsu::testing
