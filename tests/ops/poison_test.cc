// Poison records (issue 6) on every topic, appended to the log behind
// ingestion's back (a foreign producer, a bad tool, a damaged upstream):
//   source topics (reference + the five employee families): random bytes,
//   truncated JSON, a valid envelope with an invalid body, a huge event
//   (900 KB: also above the old dead-letter size, which Kafka would refuse),
//   an unknown future schema version;
//   internal topics (jiritsu.facts, jiritsu.dlq): garbage.
// Proven on the embedded log and on Kafka (the mock cluster, or the real
// broker JIRITSU_KAFKA_BOOTSTRAP names, in a topic namespace of the test's
// own): `jiritsu run` continues (exit 0),
// every source poison lands in the dead-letter view with its reason and
// exact position, the run summary counts them, internal garbage is skipped
// and counted, every other view equals the poison-free views, and a rebuild
// reproduces the live views (dlq included). Then `jiritsu dlq list` exports
// the fixable originals and `jiritsu dlq replay --fixed` re-submits
// corrected ones through ingest validation.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/kafka_mock_cluster.h"
#include "core/topics.h"
#include "ops/log_factory.h"
#include "schemas/codec.h"
#include "tests/testing/kafka_namespace.h"
#include "tests/testing/log_reading.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::CommandResult;
using testing::JiritsuBinary;
using testing::RunJiritsu;
using testing::JsonField;
using testing::RunCommand;
using testing::TempDir;
using Args = std::vector<std::string>;

Args Concat(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Poison {
  std::string topic;
  std::string key;
  std::string value;
  std::string kind;
  std::string reason_contains;  // expected in the dead letter's reason
};

// view name -> digest, from `jiritsu digest`.
std::map<std::string, std::string> ViewDigests(const std::string& digest_json) {
  std::map<std::string, std::string> out;
  for (const auto& [view, digest] : testing::ParseViewDigests(digest_json)) out[view] = digest.digest;
  return out;
}

class PoisonTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    kafka_ = GetParam();
    if (kafka_) {
      // A namespace per test (a real broker keeps topics and groups).
      prefix_ = testing::FreshTopicPrefix("poison");
      bootstrap_ = testing::RealBrokerBootstrap();  // `jiritsu ingest` creates the topics
      if (bootstrap_.empty()) {
        auto started = cluster_.Start(1);
        ASSERT_TRUE(started.ok()) << started.status().ToString();
        bootstrap_ = *started;
        for (const auto& spec : AllTopicSpecs()) {  // the mock has no CreateTopics
          ASSERT_TRUE(cluster_.CreateTopic(prefix_ + spec.name, spec.partitions).ok());
        }
      }
    }
    events_ = dir_.path() + "/events.jsonl";
    CommandResult gen = RunJiritsu({"gen", "--employees", "30", "--months", "9", "--seed", "5",
                                 "--invalid-share", "0", "--out", events_});
    ASSERT_EQ(gen.exit_code, 0) << gen.stderr_text;
  }

  Args Log(const std::string& store) const {
    return kafka_ ? Args{"--kafka", bootstrap_, "--kafka-topic-prefix", prefix_}
                  : Args{"--store", store};
  }
  // On Kafka the topics are shared by every store of a test: one index.
  std::string dedupe() const { return dir_.path() + "/dedupe"; }
  Args Group(const std::string& name) const { return kafka_ ? Args{"--group", name} : Args{}; }
  Args Views(const std::string& store, const std::string& views) const {
    return Concat(Log(store), {"--state-dir", views});
  }

  // One canonical valid event per topic, from the generated file.
  std::map<std::string, Event> SamplePerTopic() {
    std::map<std::string, Event> samples;
    std::ifstream in(events_);
    std::string line;
    while (std::getline(in, line)) {
      Result<Event> event = DecodeJsonEvent(line);
      if (!event.ok()) continue;
      samples.emplace(TopicForFamily(FamilyOf(event->type)), *event);
    }
    return samples;
  }

  std::vector<Poison> MakePoison() {
    std::vector<Poison> poison;
    std::mt19937_64 random(7);
    for (const auto& [topic, event] : SamplePerTopic()) {
      const std::string canonical = EncodeJsonEvent(event);
      const std::string key = event.subject.empty() ? "kpi-target" : event.subject;
      std::string bytes(64 + random() % 200, '\0');
      for (char& c : bytes) c = static_cast<char>(random());
      poison.push_back({topic, key, bytes, "random bytes", ""});
      size_t cut = canonical.size() / 2;  // at a UTF-8 character boundary
      while (cut > 0 && (static_cast<unsigned char>(canonical[cut]) & 0xC0) == 0x80) --cut;
      poison.push_back({topic, key, canonical.substr(0, cut), "truncated JSON", ""});
      const size_t data = canonical.find(",\"data\":");
      EXPECT_NE(data, std::string::npos);
      poison.push_back({topic, key, canonical.substr(0, data) + ",\"data\":{}}",
                        "valid envelope, invalid body", "data"});
      std::string huge = canonical;
      huge.insert(1, "\"padding\":\"" + std::string(900'000, 'x') + "\",");
      poison.push_back({topic, key, huge, "huge event", "exceeds"});
      std::string future = canonical;
      const size_t version = future.find("\"schemaversion\":1");
      EXPECT_NE(version, std::string::npos);
      future.replace(version, 17, "\"schemaversion\":99");
      poison.push_back({topic, key, future, "future schema version", "schemaversion"});
    }
    EXPECT_EQ(poison.size(), 6u * 5u);
    return poison;
  }

  // Appends records directly to the log (no validation), returns each
  // record's "topic/partition/offset" in order.
  std::vector<std::string> Append(const std::string& store, const std::vector<Poison>& records) {
    LogSelection selection;
    selection.store_dir = store;
    selection.kafka_bootstrap = kafka_ ? bootstrap_ : "";
    selection.kafka_topic_prefix = prefix_;
    auto log = OpenLog(selection);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    std::vector<std::string> positions;
    if (!log.ok()) return positions;
    auto producer = (*log)->NewProducer();
    EXPECT_TRUE(producer.ok());
    for (const Poison& record : records) {
      const int32_t partitions = *(*log)->PartitionCount(record.topic);
      const int32_t partition = PartitionForKey(record.key, partitions);
      // Appended one at a time so that the offset is known.
      const int64_t offset = *(*log)->EndOffset({record.topic, partition});
      EXPECT_TRUE((*producer)->Append(record.topic, record.key, record.value).ok());
      Status flushed = (*producer)->Flush(std::chrono::seconds(30));
      EXPECT_TRUE(flushed.ok()) << record.kind << " on " << record.topic << ": " << flushed.ToString();
      positions.push_back(record.topic + "/" + std::to_string(partition) + "/" +
                          std::to_string(offset));
    }
    return positions;
  }

  void Ingest(const std::string& store) {
    // Shared keys: the clean and the poisoned log seal personal fields alike.
    Args args = Concat({"ingest", "--keys", dir_.path() + "/keys"}, Log(store));
    if (kafka_) args = Concat(args, {"--dedupe-dir", dedupe()});
    CommandResult ingest = RunJiritsu(Concat(args, {"--rejects", store + "-rejects.jsonl", events_}));
    ASSERT_EQ(ingest.exit_code, 0) << ingest.stderr_text;
  }

  bool kafka_ = false;
  KafkaMockCluster cluster_;
  std::string bootstrap_;
  std::string prefix_;
  std::string events_;
  TempDir dir_;
};

TEST_P(PoisonTest, EveryPoisonRecordIsDeadLetteredAndProcessingContinues) {
  // Poison-free views first (on Kafka: before any poison is in the topics).
  const std::string clean_store = dir_.path() + "/clean";
  ASSERT_NO_FATAL_FAILURE(Ingest(clean_store));
  const std::string clean_views = dir_.path() + "/clean-views";
  CommandResult clean_run = RunJiritsu(Concat(Concat({"run", "--until-caught-up"}, Group("clean")),
                                           Views(clean_store, clean_views)));
  ASSERT_EQ(clean_run.exit_code, 0) << clean_run.stderr_text;
  const auto clean = ViewDigests(RunJiritsu(Concat({"digest"}, Views(clean_store, clean_views))).stdout_text);
  ASSERT_FALSE(clean.empty());

  // The same events plus poison (on Kafka the same topics: ingest dedupes).
  const std::string store = dir_.path() + "/poisoned";
  if (!kafka_) {
    ASSERT_NO_FATAL_FAILURE(Ingest(store));
  }
  const std::vector<Poison> poison = MakePoison();
  const std::vector<std::string> positions = Append(store, poison);
  ASSERT_EQ(positions.size(), poison.size());
  const std::vector<Poison> internal = {
      {std::string(kFactsTopic), "emp-x", "\x07garbage facts", "garbage facts", ""},
      {std::string(kDeadLetterTopic), "nowhere/0/0", "{not json", "garbage dead letter", ""},
      {std::string(kDeadLetterTopic), "jiritsu.employee/0/1", R"({"reason":"forged","topic":"jiritsu.employee","partition":0,"offset":2,"value_base64":""})",
       "dead letter with a wrong key", ""}};
  ASSERT_EQ(Append(store, internal).size(), internal.size());

  const std::string views = dir_.path() + "/views";
  CommandResult run =
      RunJiritsu(Concat(Concat({"run", "--until-caught-up"}, Group("poisoned")), Views(store, views)));
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(JsonField(run.stdout_text, "dead_letters"), std::to_string(poison.size()))
      << run.stdout_text;
  EXPECT_EQ(JsonField(run.stdout_text, "internal_records_skipped"),
            std::to_string(internal.size()));

  // Each dead letter: its position, a reason, the original (or its prefix).
  CommandResult dlq = RunJiritsu(Concat(Concat({"query"}, Views(store, views)), {"dlq", "--limit", "1000"}));
  ASSERT_EQ(dlq.exit_code, 0) << dlq.stderr_text;
  simdjson::dom::parser parser;
  simdjson::dom::element result;
  ASSERT_EQ(parser.parse(dlq.stdout_text).get(result), simdjson::SUCCESS) << dlq.stdout_text;
  EXPECT_EQ(int64_t(result["count"]), static_cast<int64_t>(poison.size()));
  std::map<std::string, std::string> reasons;  // position -> reason
  for (simdjson::dom::object row : simdjson::dom::array(result["dead_letters"])) {
    const std::string position = std::string(std::string_view(row["topic"])) + "/" +
                                 std::to_string(int64_t(row["partition"])) + "/" +
                                 std::to_string(int64_t(row["offset"]));
    reasons[position] = std::string_view(row["reason"]);
  }
  for (size_t i = 0; i < poison.size(); ++i) {
    SCOPED_TRACE(poison[i].kind + " on " + poison[i].topic);
    ASSERT_TRUE(reasons.count(positions[i])) << positions[i];
    EXPECT_FALSE(reasons[positions[i]].empty());
    EXPECT_NE(reasons[positions[i]].find(poison[i].reason_contains), std::string::npos)
        << reasons[positions[i]];
  }

  // Every view but the dead letters equals the poison-free views.
  auto poisoned = ViewDigests(RunJiritsu(Concat({"digest"}, Views(store, views))).stdout_text);
  for (const auto& [view, digest] : clean) {
    if (view == "dlq" || view == "dead-letters") continue;
    EXPECT_EQ(poisoned[view], digest) << "view " << view;
  }
  // A rebuild reproduces the live views, the dead letters included.
  CommandResult verify = RunJiritsu(Concat({"replay", "--verify", "--quiet"}, Views(store, views)));
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  CommandResult rebuild =
      RunJiritsu(Concat({"replay", "--quiet", "--no-snapshot"}, Views(store, dir_.path() + "/rebuilt")));
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.stderr_text;
  EXPECT_EQ(JsonField(rebuild.stdout_text, "digest"),
            JsonField(RunJiritsu(Concat({"digest"}, Views(store, views))).stdout_text, "digest"));

  // dlq list: one line per dead letter; the fixable ones carry the original.
  CommandResult list = RunJiritsu(Concat({"dlq", "list"}, Views(store, views)));
  ASSERT_EQ(list.exit_code, 0) << list.stderr_text;
  EXPECT_EQ(std::count(list.stdout_text.begin(), list.stdout_text.end(), '\n'),
            static_cast<long>(poison.size()));
  // Fixable: truncated JSON, invalid body, future version (6 topics each);
  // random bytes are not UTF-8 text, the huge one is truncated.
  EXPECT_NE(list.stderr_text.find("\"fixable\":18"), std::string::npos) << list.stderr_text;
  const std::string raw = dir_.path() + "/fixable.jsonl";
  CommandResult exported = RunJiritsu(Concat({"dlq", "list", "--raw", "--out", raw}, Views(store, views)));
  ASSERT_EQ(exported.exit_code, 0) << exported.stderr_text;

  // Fix the future-version events (they were valid version-1 events), leave
  // the rest as they are: dlq replay accepts the fixed ones (or counts them
  // as duplicates of the events ingested before), rejects the others again.
  std::ifstream in(raw);
  std::string line;
  std::ofstream fixed(dir_.path() + "/fixed.jsonl");
  int future = 0;
  while (std::getline(in, line)) {
    const size_t version = line.find("\"schemaversion\":99");
    if (version != std::string::npos) {
      line.replace(version, 18, "\"schemaversion\":1");
      ++future;
    }
    fixed << line << "\n";
  }
  fixed.close();
  EXPECT_EQ(future, 6);
  Args replay = Concat({"dlq", "replay", "--keys", dir_.path() + "/keys", "--fixed",
                        dir_.path() + "/fixed.jsonl", "--rejects",
                        dir_.path() + "/dlq-rejects.jsonl"},
                       Log(store));
  if (kafka_) replay = Concat(replay, {"--dedupe-dir", dedupe()});
  CommandResult replayed = RunJiritsu(replay);
  EXPECT_EQ(replayed.exit_code, 1) << replayed.stderr_text;  // the unfixed lines
  EXPECT_EQ(JsonField(replayed.stdout_text, "rejected"), "12") << replayed.stdout_text;
  // The fixed events are the samples ingested before: duplicates, no change.
  EXPECT_EQ(JsonField(replayed.stdout_text, "duplicates"), "6") << replayed.stdout_text;
}

TEST_P(PoisonTest, DlqReplayAppendsFixedEventsThatWereNeverIngested) {
  // An event that only ever reached the log as a dead letter (schema version
  // from the future), fixed and re-submitted, reaches the views.
  const std::string store = dir_.path() + "/store";
  ASSERT_NO_FATAL_FAILURE(Ingest(store));
  std::map<std::string, Event> samples = SamplePerTopic();
  Event event = samples.at(std::string(kLearningTopic));
  event.id = "only-in-the-dlq-1";
  std::string future = EncodeJsonEvent(event);
  future.replace(future.find("\"schemaversion\":1"), 17, "\"schemaversion\":7");
  ASSERT_EQ(Append(store, {{std::string(kLearningTopic), event.subject, future, "future", ""}}).size(), 1u);
  const std::string views = dir_.path() + "/views";
  ASSERT_EQ(RunJiritsu(Concat(Concat({"run", "--until-caught-up"}, Group("a")), Views(store, views))).exit_code, 0);
  const std::string before = JsonField(RunJiritsu(Concat({"digest"}, Views(store, views))).stdout_text, "digest");

  const std::string raw = dir_.path() + "/raw.jsonl";
  ASSERT_EQ(RunJiritsu(Concat({"dlq", "list", "--raw", "--out", raw}, Views(store, views))).exit_code, 0);
  std::ifstream in(raw);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(text, future + "\n");
  text.replace(text.find("\"schemaversion\":7"), 17, "\"schemaversion\":1");
  std::ofstream(dir_.path() + "/fixed.jsonl") << text;

  Args replay = Concat({"dlq", "replay", "--keys", dir_.path() + "/keys", "--fixed",
                        dir_.path() + "/fixed.jsonl", "--rejects",
                        dir_.path() + "/r.jsonl"},
                       Log(store));
  if (kafka_) replay = Concat(replay, {"--dedupe-dir", dedupe()});
  CommandResult replayed = RunJiritsu(replay);
  ASSERT_EQ(replayed.exit_code, 0) << replayed.stderr_text;
  EXPECT_EQ(JsonField(replayed.stdout_text, "accepted"), "1") << replayed.stdout_text;
  // Submitting it again is a duplicate.
  CommandResult again = RunJiritsu(replay);
  EXPECT_EQ(JsonField(again.stdout_text, "duplicates"), "1") << again.stdout_text;

  ASSERT_EQ(RunJiritsu(Concat(Concat({"run", "--until-caught-up"}, Group("b")), Views(store, views))).exit_code, 0);
  EXPECT_NE(JsonField(RunJiritsu(Concat({"digest"}, Views(store, views))).stdout_text, "digest"), before)
      << "the fixed event changed nothing";
  // Still one dead letter: the log keeps what arrived.
  CommandResult dlq = RunJiritsu(Concat(Concat({"query"}, Views(store, views)), {"dlq"}));
  EXPECT_EQ(JsonField(dlq.stdout_text, "count"), "1");
}

INSTANTIATE_TEST_SUITE_P(Logs, PoisonTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Kafka" : "Embedded";
                         });

}  // namespace
}  // namespace jiritsu
