// Tests of ingestion (core/ingest.h, core/dedupe_index.h, `jiritsu ingest`,
// `jiritsu log-stats`): counts against the generator's plan, placement of
// records, persistent dedupe, reject reporting, failure paths, exit codes.
#include "core/ingest.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/dedupe_index.h"
#include "core/embedded_log.h"
#include "core/kafka_log.h"
#include "core/kafka_mock_cluster.h"
#include "core/key_store.h"
#include "core/personal_data.h"
#include "core/topics.h"
#include "ops/generator.h"
#include "schemas/codec.h"
#include "schemas/event_fields.h"
#include "tests/testing/kafka_namespace.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::CommandResult;
using testing::JiritsuBinary;
using testing::RunCommand;
using testing::TempDir;

struct Rejection {
  int64_t line;
  std::string reason;
  std::string input;
};

class CollectingRejects : public RejectSink {
 public:
  Status Reject(int64_t line, std::string_view reason, std::string_view input) override {
    rejections.push_back({line, std::string(reason), std::string(input)});
    return Status::Ok();
  }
  std::vector<Rejection> rejections;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) lines.push_back(line);
  return lines;
}

GeneratorSummary GenerateFile(const GeneratorOptions& options, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr);
  Result<GeneratorSummary> summary = GenerateEnterprise(options, [&](std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), file);
    std::fputc('\n', file);
    return Status::Ok();
  });
  std::fclose(file);
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  return summary.ok() ? summary.value() : GeneratorSummary{};
}

GeneratorOptions NoisyOptions() {
  GeneratorOptions options;
  options.employees = 120;
  options.months = 6;
  options.seed = 21;
  options.duplicate_share = 0.03;
  options.out_of_order_share = 0.03;
  options.invalid_share = 0.02;
  return options;
}

Status IngestFile(const std::string& path, EventLog* log, DedupeIndex* index, RejectSink* rejects,
                  IngestStats* stats, size_t flush_every = 500) {
  IngestOptions options;
  options.flush_every_lines = flush_every;
  JIRITSU_ASSIGN_OR_RETURN(auto ingestor, Ingestor::Create(log, index, rejects, options));
  std::FILE* in = std::fopen(path.c_str(), "rb");
  if (in == nullptr) return IOError("cannot open " + path);
  const Status status = IngestStream(in, ingestor.get());
  std::fclose(in);
  *stats = ingestor->stats();
  return status;
}

// Every record of the source topics, read from offset 0 to the end.
std::vector<LogRecord> ReadAllSourceRecords(EventLog* log) {
  std::vector<LogRecord> all;
  std::vector<std::string> topics = {std::string(kReferenceTopic)};
  for (const std::string& t : EmployeeSourceTopics()) topics.push_back(t);
  for (const std::string& topic : topics) {
    Result<int32_t> partitions = log->PartitionCount(topic);
    EXPECT_TRUE(partitions.ok()) << topic;
    if (!partitions.ok()) continue;
    for (int32_t p = 0; p < partitions.value(); ++p) {
      Result<int64_t> end = log->EndOffset({topic, p});
      EXPECT_TRUE(end.ok());
      if (!end.ok() || end.value() == 0) continue;
      auto consumer = log->NewConsumer(ConsumerOptions{});
      EXPECT_TRUE(consumer.ok());
      if (!consumer.ok()) continue;
      EXPECT_TRUE((*consumer)->Assign({{{topic, p}, 0}}).ok());
      int64_t next = 0;
      for (int idle = 0; next < end.value() && idle < 50;) {
        std::vector<LogRecord> batch;
        EXPECT_TRUE((*consumer)->Poll(std::chrono::milliseconds(100), 10000, &batch).ok());
        idle = batch.empty() ? idle + 1 : 0;
        for (LogRecord& record : batch) {
          next = record.offset + 1;
          all.push_back(std::move(record));
        }
      }
      EXPECT_EQ(next, end.value()) << topic << "[" << p << "]";
    }
  }
  return all;
}

TEST(IngestorTest, CountsMatchTheGeneratorPlanAndRecordsLandWherePartitionForKeySays) {
  TempDir dir;
  const std::string input = dir.path() + "/enterprise.jsonl";
  const GeneratorSummary plan = GenerateFile(NoisyOptions(), input);
  ASSERT_GT(plan.invalid_lines, 0);
  ASSERT_GT(plan.duplicate_lines, 0);

  auto log = OpenEmbeddedLog(dir.path() + "/store/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->EnsureTopics(AllTopicSpecs(8)).ok());
  auto index = DedupeIndex::Open(dir.path() + "/store/ingest-index");
  ASSERT_TRUE(index.ok()) << index.status().ToString();

  CollectingRejects rejects;
  IngestStats stats;
  ASSERT_TRUE(IngestFile(input, log->get(), index->get(), &rejects, &stats).ok());
  EXPECT_EQ(stats.accepted, plan.valid_events);
  EXPECT_EQ(stats.duplicates, plan.duplicate_lines);
  EXPECT_EQ(stats.rejected, plan.invalid_lines);
  EXPECT_EQ(stats.blank, 0);
  for (const auto& [type, n] : plan.valid_by_type) EXPECT_EQ(stats.per_type[type].accepted, n) << type;
  for (const auto& [type, n] : plan.duplicates_by_type) {
    EXPECT_EQ(stats.per_type[type].duplicates, n) << type;
  }

  // Each rejection names a line that really fails, with the decoder's reason.
  const std::vector<std::string> lines = SplitLines(ReadFile(input));
  ASSERT_EQ(static_cast<int64_t>(rejects.rejections.size()), plan.invalid_lines);
  for (const Rejection& r : rejects.rejections) {
    ASSERT_GE(r.line, 1);
    ASSERT_LE(r.line, static_cast<int64_t>(lines.size()));
    Result<Event> decoded = DecodeJsonEvent(lines[r.line - 1]);
    ASSERT_FALSE(decoded.ok()) << "line " << r.line;
    EXPECT_EQ(decoded.status().message(), r.reason);
  }

  // Every accepted event is in its family's topic, in the partition the
  // Kafka partitioner gives its subject, keyed by subject, canonical.
  const std::vector<LogRecord> records = ReadAllSourceRecords(log->get());
  EXPECT_EQ(static_cast<int64_t>(records.size()), plan.valid_events);
  std::set<std::pair<std::string, std::string>> identities;
  for (const LogRecord& record : records) {
    Result<Event> event = DecodeJsonEvent(record.value);
    ASSERT_TRUE(event.ok()) << record.value;
    EXPECT_EQ(record.topic, TopicForFamily(FamilyOf(event->type)));
    EXPECT_EQ(record.key, event->subject);
    auto count = (*log)->PartitionCount(record.topic);
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(record.partition, PartitionForKey(event->subject, count.value()));
    EXPECT_EQ(record.value, EncodeJsonEvent(event.value()));
    EXPECT_TRUE(identities.insert({event->source, event->id}).second) << "appended twice";
  }

  // Ingesting the same file again appends nothing: the index remembers.
  CollectingRejects again_rejects;
  IngestStats again;
  ASSERT_TRUE(IngestFile(input, log->get(), index->get(), &again_rejects, &again).ok());
  EXPECT_EQ(again.accepted, 0);
  EXPECT_EQ(again.duplicates, plan.valid_events + plan.duplicate_lines);
  EXPECT_EQ(again.rejected, plan.invalid_lines);
  EXPECT_EQ(static_cast<int64_t>(ReadAllSourceRecords(log->get()).size()), plan.valid_events);
}

// ---- key creation in batches ------------------------------------------------

std::string DeclarationLine(const std::string& id, const std::string& employee,
                            const std::string& wish) {
  return R"({"specversion":"1.0","id":")" + id + R"(","source":"/test/batch","type":)" +
         R"("declaration.submitted","subject":")" + employee +
         R"(","time":"2024-06-03T10:00:00+09:00","data":{"declaration_id":"D-)" + id +
         R"(","kind":"career_wish","career_wish":")" + wish + R"("}})";
}

std::string ErasureRequestLine(const std::string& id, const std::string& employee) {
  return R"({"specversion":"1.0","id":")" + id + R"(","source":"/hr/privacy-desk","type":)" +
         R"("employee.erasure.requested","subject":")" + employee +
         R"(","time":"2024-07-01T10:00:00+09:00","data":{"requested_by":"hr-0007",)" +
         R"("reason":"privacy request PRV-1"}})";
}

// The first personal field of the event `id` in the log, with its context.
struct StoredField {
  Event event;
  std::string field;
  std::string value;
};
StoredField FindPersonalField(EventLog* log, const std::string& id) {
  for (const LogRecord& record : ReadAllSourceRecords(log)) {
    Result<Event> event = DecodeJsonEvent(record.value);
    if (!event.ok() || event->id != id) continue;
    StoredField found{*event, "", ""};
    fields::ForEachPersonalField(&found.event.data, [&](std::string_view field, std::string* value) {
      if (found.field.empty() && !value->empty()) {
        found.field = std::string(field);
        found.value = *value;
      }
    });
    return found;
  }
  ADD_FAILURE() << id << " is not in the log";
  return {};
}

bool Opens(const EmployeeKey& key, const StoredField& stored, const std::string& plain) {
  Result<std::string> opened = OpenSealedText(
      key, SealContext{stored.event.subject, stored.event.source, stored.event.id, stored.field},
      stored.value);
  return opened.ok() && *opened == plain;
}

// IngestLines gives what IngestLine gives line by line, also when a flush in
// the middle of the batch erases an employee whose key the batch fetched:
// their later event is sealed as erased, not under the deleted key.
TEST(IngestorKeysTest, ABatchMatchesLineByLineAndAMidBatchErasureStillWins) {
  const std::vector<std::string> lines = {
      DeclarationLine("d1", "E000101", "wish A"),
      DeclarationLine("d2", "E000102", "wish B"),
      ErasureRequestLine("x1", "E000102"),  // third accepted: flushed, E000102 erased
      "",
      "{",
      DeclarationLine("d3", "E000102", "late note"),
      DeclarationLine("d1", "E000101", "wish A"),  // duplicate
      DeclarationLine("d4", "E000103", "wish C"),
  };
  const std::vector<LineOutcome> expected = {
      LineOutcome::kAccepted, LineOutcome::kAccepted, LineOutcome::kAccepted,
      LineOutcome::kBlank,    LineOutcome::kRejected, LineOutcome::kAccepted,
      LineOutcome::kDuplicate, LineOutcome::kAccepted};
  for (const bool batched : {true, false}) {
    SCOPED_TRACE(batched ? "IngestLines" : "IngestLine");
    TempDir dir;
    auto log = OpenEmbeddedLog(dir.path() + "/log");
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->EnsureTopics(AllTopicSpecs(2)).ok());
    auto index = DedupeIndex::Open(dir.path() + "/index");
    ASSERT_TRUE(index.ok());
    auto keys = FileKeyStore::Open(dir.path() + "/keys");
    ASSERT_TRUE(keys.ok());
    // E000102's key before the erasure, to prove the late note is not under it.
    Result<KeyLookup> old_key = (*keys)->GetOrCreate("E000102");
    ASSERT_TRUE(old_key.ok());
    CollectingRejects rejects;
    IngestOptions options;
    options.flush_every_lines = 3;
    options.key_store = keys->get();
    auto ingestor = Ingestor::Create(log->get(), index->get(), &rejects, options);
    ASSERT_TRUE(ingestor.ok());
    std::vector<LineOutcome> outcomes;
    if (batched) {
      std::vector<Ingestor::BatchLine> batch;
      for (size_t i = 0; i < lines.size(); ++i) {
        batch.push_back({static_cast<int64_t>(i + 1), lines[i]});
      }
      Result<std::vector<LineOutcome>> got = (*ingestor)->IngestLines(batch);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      outcomes = *got;
    } else {
      for (size_t i = 0; i < lines.size(); ++i) {
        Result<LineOutcome> got = (*ingestor)->IngestLine(static_cast<int64_t>(i + 1), lines[i]);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        outcomes.push_back(*got);
      }
    }
    ASSERT_TRUE((*ingestor)->Flush().ok());
    EXPECT_EQ(outcomes, expected);
    const IngestStats& stats = (*ingestor)->stats();
    EXPECT_EQ(stats.lines, 8);
    EXPECT_EQ(stats.accepted, 5);
    EXPECT_EQ(stats.duplicates, 1);
    EXPECT_EQ(stats.rejected, 1);
    EXPECT_EQ(stats.blank, 1);
    EXPECT_EQ(stats.erasures, 1);
    ASSERT_EQ(rejects.rejections.size(), 1u);
    EXPECT_EQ(rejects.rejections[0].line, 5);

    auto fresh = FileKeyStore::Open(dir.path() + "/keys");
    ASSERT_TRUE(fresh.ok());
    Result<KeyLookup> a = (*fresh)->Lookup("E000101");
    ASSERT_EQ(a->state, KeyLookup::kPresent);
    EXPECT_EQ((*fresh)->Lookup("E000102")->state, KeyLookup::kErased);
    EXPECT_FALSE(std::filesystem::exists((*fresh)->KeyPath("E000102")));
    Result<KeyLookup> c = (*fresh)->Lookup("E000103");
    ASSERT_EQ(c->state, KeyLookup::kPresent);
    EXPECT_TRUE(Opens(a->key, FindPersonalField(log->get(), "d1"), "wish A"));
    EXPECT_TRUE(Opens(c->key, FindPersonalField(log->get(), "d4"), "wish C"));
    EXPECT_TRUE(Opens(old_key->key, FindPersonalField(log->get(), "d2"), "wish B"));
    const StoredField late = FindPersonalField(log->get(), "d3");
    EXPECT_TRUE(IsWellFormedSealed(late.value)) << late.value;
    EXPECT_FALSE(Opens(old_key->key, late, "late note"));
  }
}

// `jiritsu ingest`'s path (IngestStream: one batch per read) gives the same
// counts, rejections and keys as ingesting the same file line by line.
TEST(IngestorKeysTest, IngestStreamWithAKeyStoreMatchesLineByLine) {
  TempDir dir;
  const std::string input = dir.path() + "/enterprise.jsonl";
  const GeneratorSummary plan = GenerateFile(NoisyOptions(), input);
  struct Run {
    IngestStats stats;
    std::vector<int64_t> rejected_lines;
    std::set<std::string> key_files;
  };
  auto ingest = [&](const std::string& name, bool stream) -> Run {
    Run run;
    const std::string root = dir.path() + "/" + name;
    auto log = OpenEmbeddedLog(root + "/log");
    EXPECT_TRUE(log.ok());
    EXPECT_TRUE((*log)->EnsureTopics(AllTopicSpecs(4)).ok());
    auto index = DedupeIndex::Open(root + "/index");
    auto keys = FileKeyStore::Open(root + "/keys");
    EXPECT_TRUE(index.ok() && keys.ok());
    CollectingRejects rejects;
    IngestOptions options;
    options.flush_every_lines = 500;
    options.key_store = keys->get();
    auto ingestor = Ingestor::Create(log->get(), index->get(), &rejects, options);
    EXPECT_TRUE(ingestor.ok());
    if (stream) {
      std::FILE* in = std::fopen(input.c_str(), "rb");
      EXPECT_NE(in, nullptr);
      const Status status = IngestStream(in, ingestor->get());
      std::fclose(in);
      EXPECT_TRUE(status.ok()) << status.ToString();
    } else {
      const std::vector<std::string> lines = SplitLines(ReadFile(input));
      for (size_t i = 0; i < lines.size(); ++i) {
        EXPECT_TRUE((*ingestor)->IngestLine(static_cast<int64_t>(i + 1), lines[i]).ok());
      }
      EXPECT_TRUE((*ingestor)->Flush().ok());
    }
    run.stats = (*ingestor)->stats();
    for (const Rejection& r : rejects.rejections) run.rejected_lines.push_back(r.line);
    for (const auto& entry : std::filesystem::directory_iterator(root + "/keys")) {
      run.key_files.insert(entry.path().filename().string());
    }
    return run;
  };
  const Run streamed = ingest("stream", true);
  const Run one_by_one = ingest("lines", false);
  EXPECT_EQ(streamed.stats.accepted, plan.valid_events);
  EXPECT_EQ(streamed.stats.accepted, one_by_one.stats.accepted);
  EXPECT_EQ(streamed.stats.duplicates, one_by_one.stats.duplicates);
  EXPECT_EQ(streamed.stats.rejected, one_by_one.stats.rejected);
  EXPECT_EQ(streamed.stats.erasures, one_by_one.stats.erasures);
  EXPECT_EQ(streamed.rejected_lines, one_by_one.rejected_lines);
  EXPECT_GT(streamed.key_files.size(), 10u);
  EXPECT_EQ(streamed.key_files, one_by_one.key_files);
}

// ---- fakes for failure paths ------------------------------------------------

class FakeProducer : public LogProducer {
 public:
  FakeProducer(Status flush_result, size_t capacity)
      : flush_result_(std::move(flush_result)), capacity_(capacity) {}
  Status Append(const std::string&, std::string_view, std::string_view) override {
    if (queued_ >= capacity_) return ResourceExhausted("queue full");
    ++queued_;
    return Status::Ok();
  }
  Status Flush(std::chrono::milliseconds) override {
    ++flushes;
    if (!flush_result_.ok()) return flush_result_;
    delivered += queued_;
    queued_ = 0;
    return Status::Ok();
  }
  static inline int flushes = 0;
  static inline size_t delivered = 0;

 private:
  Status flush_result_;
  size_t capacity_;
  size_t queued_ = 0;
};

class FakeLog : public EventLog {
 public:
  FakeLog(Status flush_result, size_t capacity)
      : flush_result_(std::move(flush_result)), capacity_(capacity) {}
  Status EnsureTopics(const std::vector<TopicSpec>&) override { return Status::Ok(); }
  Result<int32_t> PartitionCount(const std::string&) override { return 1; }
  Result<int64_t> EndOffset(const TopicPartition&) override { return int64_t{0}; }
  Result<std::unique_ptr<LogProducer>> NewProducer() override {
    return std::unique_ptr<LogProducer>(new FakeProducer(flush_result_, capacity_));
  }
  Result<std::unique_ptr<LogConsumer>> NewConsumer(const ConsumerOptions&) override {
    return FailedPrecondition("fake log has no consumers");
  }
  std::string Describe() const override { return "fake"; }

 private:
  Status flush_result_;
  size_t capacity_;
};

std::vector<std::string> SomeValidLines(int n) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) {
    Event event;
    event.type = EventType::kLearningEnrolled;
    event.source = "/lms/test";
    event.id = "evt-" + std::to_string(i);
    event.subject = "E00000" + std::to_string(i % 10);
    event.time_us = 1'714'000'000'000'000 + i * 1'000'000LL;
    event.utc_offset_minutes = 540;
    LearningEnrolled data;
    data.course_id = "dx_mindset";
    event.data = data;
    lines.push_back(EncodeJsonEvent(event));
  }
  return lines;
}

TEST(IngestorTest, FlushFailureIsAnErrorAndMarksNothing) {
  TempDir dir;
  FakeLog log(Unavailable("broker down"), 1000);
  auto index = DedupeIndex::Open(dir.path() + "/index");
  ASSERT_TRUE(index.ok());
  CollectingRejects rejects;
  auto ingestor = Ingestor::Create(&log, index->get(), &rejects);
  ASSERT_TRUE(ingestor.ok());
  const std::vector<std::string> lines = SomeValidLines(10);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto outcome = (*ingestor)->IngestLine(static_cast<int64_t>(i + 1), lines[i]);
    ASSERT_TRUE(outcome.ok());
    EXPECT_EQ(outcome.value(), LineOutcome::kAccepted);
  }
  const Status flushed = (*ingestor)->Flush();
  EXPECT_EQ(flushed.code(), StatusCode::kUnavailable);
  EXPECT_NE(flushed.message().find("broker down"), std::string::npos);
  // Nothing is durable, so nothing may be remembered as ingested.
  auto decoded = DecodeJsonEvent(lines[0]);
  ASSERT_TRUE(decoded.ok());
  auto known = (*index)->Contains(DedupeIndex::Key(decoded->source, decoded->id));
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(known.value());
}

TEST(IngestorTest, FullProducerQueueIsFlushedAndTheAppendRetried) {
  TempDir dir;
  FakeProducer::flushes = 0;
  FakeProducer::delivered = 0;
  FakeLog log(Status::Ok(), /*capacity=*/3);
  auto index = DedupeIndex::Open(dir.path() + "/index");
  ASSERT_TRUE(index.ok());
  CollectingRejects rejects;
  IngestOptions options;
  options.flush_every_lines = 1000;
  auto ingestor = Ingestor::Create(&log, index->get(), &rejects, options);
  ASSERT_TRUE(ingestor.ok());
  const std::vector<std::string> lines = SomeValidLines(10);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto outcome = (*ingestor)->IngestLine(static_cast<int64_t>(i + 1), lines[i]);
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  }
  ASSERT_TRUE((*ingestor)->Flush().ok());
  EXPECT_EQ(FakeProducer::delivered, 10u);
  EXPECT_GE(FakeProducer::flushes, 4);
  EXPECT_EQ((*ingestor)->stats().accepted, 10);
  // Within-run duplicates are caught before and after flushes.
  auto again = (*ingestor)->IngestLine(11, lines[0]);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), LineOutcome::kDuplicate);
}

TEST(IngestorTest, BlankCrlfOversizedAndUnterminatedLines) {
  TempDir dir;
  const std::vector<std::string> valid = SomeValidLines(3);
  const std::string oversized = "{\"x\":\"" + std::string(70000, 'a') + "\"}";
  const std::string input_path = dir.path() + "/input.jsonl";
  {
    std::ofstream out(input_path, std::ios::binary);
    out << valid[0] << "\n\n   \n" << valid[1] << "\r\n" << oversized << "\n"
        << "{\"specversion\":\"1.0\"\n" << valid[2];  // no final newline
  }
  auto log = OpenEmbeddedLog(dir.path() + "/log");
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->EnsureTopics(AllTopicSpecs(4)).ok());
  auto index = DedupeIndex::Open(dir.path() + "/index");
  ASSERT_TRUE(index.ok());
  CollectingRejects rejects;
  IngestStats stats;
  ASSERT_TRUE(IngestFile(input_path, log->get(), index->get(), &rejects, &stats).ok());
  EXPECT_EQ(stats.accepted, 3);
  EXPECT_EQ(stats.blank, 2);
  EXPECT_EQ(stats.rejected, 2);
  EXPECT_EQ(stats.lines, 7);
  ASSERT_EQ(rejects.rejections.size(), 2u);
  EXPECT_EQ(rejects.rejections[0].line, 5);
  EXPECT_EQ(rejects.rejections[0].reason, "event: 70008 bytes exceeds the 65536-byte limit");
  EXPECT_LE(rejects.rejections[0].input.size(), 1024u);
  EXPECT_EQ(rejects.rejections[1].line, 6);
  EXPECT_EQ(rejects.rejections[1].reason.rfind("json:", 0), 0u) << rejects.rejections[1].reason;
}

TEST(DedupeIndexTest, RemembersAcrossReopenAndKeysAreUnambiguous) {
  TempDir dir;
  {
    auto index = DedupeIndex::Open(dir.path() + "/index");
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE((*index)->Mark({DedupeIndex::Key("/a", "1"), DedupeIndex::Key("/a/1", "")}).ok());
    EXPECT_TRUE((*index)->Contains(DedupeIndex::Key("/a", "1")).value());
    // Concatenation alone would make these equal.
    EXPECT_FALSE((*index)->Contains(DedupeIndex::Key("/a1", "")).value());
    // Only one process may hold the index.
    auto second = DedupeIndex::Open(dir.path() + "/index");
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  }
  auto reopened = DedupeIndex::Open(dir.path() + "/index");
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->Contains(DedupeIndex::Key("/a", "1")).value());
  EXPECT_TRUE((*reopened)->Contains(DedupeIndex::Key("/a/1", "")).value());
  EXPECT_FALSE((*reopened)->Contains(DedupeIndex::Key("/b", "1")).value());
}

// ---- command line -------------------------------------------------------------

int64_t JsonInt(simdjson::dom::element element, const char* key) {
  int64_t value = -1;
  EXPECT_EQ(element[key].get_int64().get(value), simdjson::SUCCESS) << key;
  return value;
}

TEST(IngestCliTest, ExitCodesRejectFileAndPersistentDedupe) {
  TempDir dir;
  const std::string input = dir.path() + "/enterprise.jsonl";
  const GeneratorSummary plan = GenerateFile(NoisyOptions(), input);
  const std::string store = dir.path() + "/store";
  const std::string rejects = dir.path() + "/rejects.jsonl";
  const std::vector<std::string> command = {JiritsuBinary(), "ingest", "--store", store,
                                            "--rejects", rejects, input};
  const CommandResult first = RunCommand(command);
  EXPECT_EQ(first.exit_code, 1) << first.stderr_text;
  simdjson::dom::parser parser;
  simdjson::dom::element summary;
  ASSERT_EQ(parser.parse(first.stdout_text).get(summary), simdjson::SUCCESS) << first.stdout_text;
  EXPECT_EQ(JsonInt(summary, "accepted"), plan.valid_events);
  EXPECT_EQ(JsonInt(summary, "duplicates"), plan.duplicate_lines);
  EXPECT_EQ(JsonInt(summary, "rejected"), plan.invalid_lines);
  EXPECT_GT(JsonInt(summary, "bytes"), 0);
  std::string_view log_name;
  ASSERT_EQ(summary["log"].get_string().get(log_name), simdjson::SUCCESS);
  EXPECT_EQ(log_name, "embedded:" + store + "/log");
  for (const char* key : {"seconds", "events_per_s", "mb_per_s"}) {
    double value = -1;
    EXPECT_EQ(summary[key].get_double().get(value), simdjson::SUCCESS) << key;
  }
  simdjson::dom::element enrolled;
  ASSERT_EQ(summary["per_type"]["learning.enrolled"].get(enrolled), simdjson::SUCCESS);
  EXPECT_EQ(JsonInt(enrolled, "accepted"), plan.valid_by_type.at("learning.enrolled"));

  // The reject file: one JSON object per rejected line, also on stderr.
  const std::vector<std::string> input_lines = SplitLines(ReadFile(input));
  const std::vector<std::string> reject_lines = SplitLines(ReadFile(rejects));
  ASSERT_EQ(static_cast<int64_t>(reject_lines.size()), plan.invalid_lines);
  simdjson::dom::parser reject_parser;
  for (const std::string& reject_line : reject_lines) {
    simdjson::dom::element reject;
    ASSERT_EQ(reject_parser.parse(reject_line).get(reject), simdjson::SUCCESS) << reject_line;
    const int64_t line = JsonInt(reject, "line");
    std::string_view reason, raw;
    ASSERT_EQ(reject["reason"].get_string().get(reason), simdjson::SUCCESS);
    ASSERT_EQ(reject["input"].get_string().get(raw), simdjson::SUCCESS);
    ASSERT_GE(line, 1);
    ASSERT_LE(line, static_cast<int64_t>(input_lines.size()));
    const std::string& original = input_lines[line - 1];
    EXPECT_EQ(raw, original.substr(0, raw.size()));
    EXPECT_LE(raw.size(), 1024u);
    EXPECT_EQ(DecodeJsonEvent(original).status().message(), reason);
    EXPECT_NE(first.stderr_text.find("line " + std::to_string(line) + ": " + std::string(reason)),
              std::string::npos);
  }

  // Second run: everything valid is a duplicate (the index persisted).
  const CommandResult second = RunCommand(command);
  EXPECT_EQ(second.exit_code, 1);
  ASSERT_EQ(parser.parse(second.stdout_text).get(summary), simdjson::SUCCESS);
  EXPECT_EQ(JsonInt(summary, "accepted"), 0);
  EXPECT_EQ(JsonInt(summary, "duplicates"), plan.valid_events + plan.duplicate_lines);

  // log-stats sees exactly the accepted events.
  const CommandResult stats = RunCommand({JiritsuBinary(), "log-stats", "--store", store});
  EXPECT_EQ(stats.exit_code, 0) << stats.stderr_text;
  simdjson::dom::element log_stats;
  ASSERT_EQ(parser.parse(stats.stdout_text).get(log_stats), simdjson::SUCCESS);
  int64_t records = 0;
  simdjson::dom::object topics;
  ASSERT_EQ(log_stats["topics"].get_object().get(topics), simdjson::SUCCESS);
  for (auto [name, topic] : topics) {
    int64_t n = 0;
    if (topic["records"].get_int64().get(n) == simdjson::SUCCESS) records += n;
  }
  EXPECT_EQ(records, plan.valid_events);
  int64_t enrolled_in_log = -1;
  ASSERT_EQ(log_stats["topics"]["jiritsu.learning"]["by_type"]["learning.enrolled"].get_int64().get(
                enrolled_in_log),
            simdjson::SUCCESS);
  EXPECT_EQ(enrolled_in_log, plan.valid_by_type.at("learning.enrolled"));
}

TEST(IngestCliTest, CleanInputFromStdinExitsZero) {
  TempDir dir;
  std::string text;
  for (const std::string& line : SomeValidLines(5)) text += line + "\n";
  const CommandResult run =
      RunCommand({JiritsuBinary(), "ingest", "--store", dir.path() + "/store", "--rejects",
                  dir.path() + "/rejects.jsonl", "-"},
                 text + text);
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  simdjson::dom::parser parser;
  simdjson::dom::element summary;
  ASSERT_EQ(parser.parse(run.stdout_text).get(summary), simdjson::SUCCESS);
  EXPECT_EQ(JsonInt(summary, "accepted"), 5);
  EXPECT_EQ(JsonInt(summary, "duplicates"), 5);
  EXPECT_EQ(JsonInt(summary, "rejected"), 0);
  EXPECT_EQ(ReadFile(dir.path() + "/rejects.jsonl"), "");
}

TEST(IngestCliTest, UnavailableLogExitsThreeAndMissingInputExitsTwo) {
  TempDir dir;
  const std::string store = dir.path() + "/store";
  const std::string input = dir.path() + "/in.jsonl";
  {
    std::ofstream out(input);
    out << SomeValidLines(1)[0] << "\n";
  }
  {
    // Another process (here: this one) holds the embedded log.
    auto held = OpenEmbeddedLog(store + "/log");
    ASSERT_TRUE(held.ok()) << held.status().ToString();
    const CommandResult locked = RunCommand({JiritsuBinary(), "ingest", "--store", store,
                                             "--rejects", dir.path() + "/r.jsonl", input});
    EXPECT_EQ(locked.exit_code, 3) << locked.stderr_text;
    EXPECT_NE(locked.stderr_text.find("unavailable"), std::string::npos) << locked.stderr_text;
  }
  const CommandResult missing = RunCommand({JiritsuBinary(), "ingest", "--store", store,
                                            "--rejects", dir.path() + "/r.jsonl",
                                            dir.path() + "/nope.jsonl"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.stderr_text.find("nope.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace jiritsu

namespace jiritsu {
namespace {

// End to end through the CLI: a generated enterprise, ingested and projected,
// yields exactly the workflow rejections the generator planted, and no dead
// letters. Guards the generator's realism against the processors' rules.
TEST(GeneratedEnterpriseTest, ProjectsWithExactlyThePlannedRejections) {
  TempDir dir;
  GeneratorOptions options;
  options.employees = 200;
  options.months = 18;
  options.seed = 5;
  options.domain_invalid_share = 0.08;
  const std::string input = dir.path() + "/enterprise.jsonl";
  const GeneratorSummary plan = GenerateFile(options, input);
  int64_t planned = 0;
  for (const auto& [kind, n] : plan.domain_invalid_by_kind) planned += n;
  ASSERT_GT(planned, 0);

  const std::string store = dir.path() + "/store";
  const CommandResult ingest = RunCommand({JiritsuBinary(), "ingest", "--store", store,
                                           "--rejects", dir.path() + "/rejects.jsonl", input});
  ASSERT_EQ(ingest.exit_code, 1) << ingest.stderr_text;
  const CommandResult run =
      RunCommand({JiritsuBinary(), "run", "--store", store, "--until-caught-up"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  simdjson::dom::parser parser;
  simdjson::dom::element run_summary;
  ASSERT_EQ(parser.parse(run.stdout_text).get(run_summary), simdjson::SUCCESS) << run.stdout_text;
  EXPECT_EQ(JsonInt(run_summary, "dead_letters"), 0);

  const CommandResult query = RunCommand(
      {JiritsuBinary(), "query", "--store", store, "rejections", "--limit", "100000"});
  ASSERT_EQ(query.exit_code, 0) << query.stderr_text;
  simdjson::dom::element rejections;
  ASSERT_EQ(parser.parse(query.stdout_text).get(rejections), simdjson::SUCCESS);
  simdjson::dom::object by_code;
  ASSERT_EQ(rejections["by_code"].get_object().get(by_code), simdjson::SUCCESS);
  int64_t rejected = 0;
  std::string codes;
  for (auto [code, count] : by_code) {
    rejected += count.get_int64().value();
    codes += std::string(code) + " ";
  }
  EXPECT_EQ(rejected, planned) << codes;
}

}  // namespace
}  // namespace jiritsu

namespace jiritsu {
namespace {

// `jiritsu ingest --kafka` against librdkafka's mock cluster (started in this
// process; the CLI under test connects to it over TCP), and against the real
// broker JIRITSU_KAFKA_BOOTSTRAP names; both in a topic namespace of the
// test's own (--kafka-topic-prefix).
class KafkaIngestTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    prefix_ = testing::FreshTopicPrefix("ingest");
    if (GetParam()) {
      bootstrap_ = testing::RealBrokerBootstrap();  // `jiritsu ingest` creates the topics
      if (bootstrap_.empty()) GTEST_SKIP() << testing::kRealBrokerSkip;
      return;
    }
    Result<std::string> bootstrap = cluster_.Start(1);
    ASSERT_TRUE(bootstrap.ok()) << bootstrap.status().ToString();
    bootstrap_ = bootstrap.value();
    for (const TopicSpec& spec : AllTopicSpecs(8)) {  // the mock has no CreateTopics
      ASSERT_TRUE(cluster_.CreateTopic(prefix_ + spec.name, spec.partitions).ok()) << spec.name;
    }
  }

  std::vector<std::string> Ingest(const std::string& input) {
    return {JiritsuBinary(), "ingest", "--kafka", bootstrap_, "--kafka-topic-prefix", prefix_,
            "--keys", dir_.path() + "/keys", "--dedupe-dir", dir_.path() + "/dedupe",
            "--rejects", dir_.path() + "/rejects.jsonl", input};
  }

  KafkaMockCluster cluster_;
  std::string bootstrap_;
  std::string prefix_;
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Backends, KafkaIngestTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "RealBroker" : "Mock";
                         });

TEST_P(KafkaIngestTest, CountsPlacementAndPersistentDedupe) {
  GeneratorOptions options = NoisyOptions();
  options.employees = 60;
  options.months = 4;
  const std::string input = dir_.path() + "/enterprise.jsonl";
  const GeneratorSummary plan = GenerateFile(options, input);

  const CommandResult first = RunCommand(Ingest(input));
  EXPECT_EQ(first.exit_code, plan.invalid_lines > 0 ? 1 : 0) << first.stderr_text;
  simdjson::dom::parser parser;
  simdjson::dom::element summary;
  ASSERT_EQ(parser.parse(first.stdout_text).get(summary), simdjson::SUCCESS) << first.stdout_text;
  EXPECT_EQ(JsonInt(summary, "accepted"), plan.valid_events);
  EXPECT_EQ(JsonInt(summary, "duplicates"), plan.duplicate_lines);
  EXPECT_EQ(JsonInt(summary, "rejected"), plan.invalid_lines);

  KafkaLogOptions kafka;
  kafka.bootstrap_servers = bootstrap_;
  kafka.topic_prefix = prefix_;
  auto log = OpenKafkaLog(kafka);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  const std::vector<LogRecord> records = ReadAllSourceRecords(log->get());
  EXPECT_EQ(static_cast<int64_t>(records.size()), plan.valid_events);
  for (const LogRecord& record : records) {
    Result<Event> event = DecodeJsonEvent(record.value);
    ASSERT_TRUE(event.ok()) << record.value;
    EXPECT_EQ(record.topic, TopicForFamily(FamilyOf(event->type)));
    EXPECT_EQ(record.key, event->subject);
    const int32_t partitions = record.topic == kReferenceTopic ? 1 : 8;
    EXPECT_EQ(record.partition, PartitionForKey(event->subject, partitions));
  }

  // The dedupe index in --dedupe-dir survives the process.
  const CommandResult second = RunCommand(Ingest(input));
  ASSERT_EQ(parser.parse(second.stdout_text).get(summary), simdjson::SUCCESS);
  EXPECT_EQ(JsonInt(summary, "accepted"), 0);
  EXPECT_EQ(JsonInt(summary, "duplicates"), plan.valid_events + plan.duplicate_lines);
}

TEST_P(KafkaIngestTest, DeliveryFailureExitsThreeAndMarksNothing) {
  if (GetParam()) GTEST_SKIP() << "fault injection needs the mock cluster";
  const std::string input = dir_.path() + "/clean.jsonl";
  {
    std::ofstream out(input);
    for (const std::string& line : SomeValidLines(5)) out << line << "\n";
  }
  // Every produce request is refused: the flush must fail loudly.
  cluster_.PushRequestErrors(kafka_api::kProduce,
                             std::vector<int>(200, kafka_error::kTopicAuthorizationFailed));
  const CommandResult failed = RunCommand(Ingest(input));
  EXPECT_EQ(failed.exit_code, 3) << failed.stdout_text << failed.stderr_text;
  EXPECT_NE(failed.stderr_text.find("flush"), std::string::npos) << failed.stderr_text;
  EXPECT_EQ(failed.stdout_text, "");  // no success summary

  // Nothing was marked as ingested, so a later run delivers everything.
  cluster_.ClearRequestErrors(kafka_api::kProduce);
  const CommandResult retried = RunCommand(Ingest(input));
  EXPECT_EQ(retried.exit_code, 0) << retried.stderr_text;
  simdjson::dom::parser parser;
  simdjson::dom::element summary;
  ASSERT_EQ(parser.parse(retried.stdout_text).get(summary), simdjson::SUCCESS);
  EXPECT_EQ(JsonInt(summary, "accepted"), 5);
}

}  // namespace
}  // namespace jiritsu
