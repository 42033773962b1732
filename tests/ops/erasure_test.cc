// Crypto-shredding end to end through the CLI (docs/reliability.md,
// "Personal data erasure"): ingestion seals personal fields before they reach
// the log, queries reveal them, employee.erasure.requested deletes the key,
// and from then on every read shows them as erased while counts, KPIs and
// the replay proof stay exactly what they were.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/event_log.h"
#include "core/topics.h"
#include "ops/log_factory.h"
#include "tests/testing/audit_trail.h"
#include "tests/testing/log_reading.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::CommandResult;
using testing::WithoutAuditTrail;
using testing::JsonField;
using testing::RunJiritsu;
using testing::TempDir;
using Args = std::vector<std::string>;

constexpr char kEmployee[] = "E000002";
constexpr char kOther[] = "E000001";
constexpr char kWish[] = "Wants to lead the data team one day (E2 private wish)";
constexpr char kLateNote[] = "Post-erasure note that must never be readable";

std::string EventLine(const std::string& type, const std::string& id, const std::string& subject,
                      const std::string& time, const std::string& data,
                      const std::string& source = "/test/erasure") {
  return R"({"specversion":"1.0","id":")" + id + R"(","source":")" + source + R"(","type":")" +
         type + R"(","subject":")" + subject + R"(","time":")" + time + R"(","data":)" + data +
         "}\n";
}

std::string ErasureLine(const std::string& employee, const std::string& id) {
  return EventLine("employee.erasure.requested", id, employee, "2025-03-01T10:00:00+09:00",
                   R"({"requested_by":"hr-0007","reason":"privacy request PRV-1"})",
                   "/hr/privacy-desk");
}

// The string at `pointer` of a JSON document; "<null>" for null, "<absent>".
std::string At(const std::string& json, const std::string& pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return "<not json>";
  simdjson::dom::element value;
  if (root.at_pointer(pointer).get(value) != simdjson::SUCCESS) return "<absent>";
  if (value.is_null()) return "<null>";
  if (value.is_string()) return std::string(value.get_string().value());
  return simdjson::to_string(value);
}

class ErasureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events_ = dir_.path() + "/events.jsonl";
    CommandResult gen = RunJiritsu(
        {"gen", "--employees", "30", "--months", "10", "--seed", "5", "--out", events_});
    ASSERT_EQ(gen.exit_code, 0) << gen.stderr_text;
    // A career wish of the employee we erase: a personal field the views keep.
    std::ofstream(events_, std::ios::app)
        << EventLine("declaration.submitted", "wish-e2", kEmployee, "2024-06-03T10:00:00+09:00",
                     std::string(R"({"declaration_id":"D-wish-e2","kind":"career_wish","career_wish":")") +
                         kWish + "\"}");
    std::ifstream in(events_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("\"employee.hired\"") == std::string::npos) continue;
      const std::string subject = JsonField(line, "subject");
      names_[subject] = JsonField(line, "display_name");
    }
    ASSERT_FALSE(names_[kEmployee].empty());
    ASSERT_FALSE(names_[kOther].empty());
  }

  Args Store() const { return {"--store", store_}; }

  CommandResult Ingest(const std::string& file) {
    CommandResult ingest =
        RunJiritsu({"ingest", "--store", store_, "--rejects", dir_.path() + "/rejects.jsonl", file});
    EXPECT_TRUE(ingest.exit_code == 0 || ingest.exit_code == 1) << ingest.stderr_text;
    return ingest;
  }
  void Run() {
    CommandResult run = RunJiritsu({"run", "--until-caught-up", "--store", store_});
    ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  }
  std::string Query(const Args& args) {
    Args full = {"query", "--store", store_};
    full.insert(full.end(), args.begin(), args.end());
    CommandResult result = RunJiritsu(full);
    EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
    return result.stdout_text;
  }
  std::string StepStatus(const std::string& employee) {
    return Query({"step-status", "--employee", employee});
  }
  // Everything people count on: the summary report (KPIs, funnel, step
  // distribution, rejections) without its first line, which names the store,
  // plus the KPI and engagement queries of the root unit, without their
  // audit trail (the erasure request is an event: it becomes the last one).
  std::string Counts() {
    CommandResult summary = RunJiritsu({"summary", "--store", store_});
    EXPECT_EQ(summary.exit_code, 0) << summary.stderr_text;
    const std::string text = summary.stdout_text.substr(summary.stdout_text.find('\n') + 1);
    return text + WithoutAuditTrail(Query({"kpi", "--org", "C01", "--period", "FY2024"}) +
                                    Query({"engagement", "--org", "C01"}) +
                                    Query({"engagement", "--employee", kEmployee}));
  }
  std::string Digest() {
    CommandResult digest = RunJiritsu({"digest", "--store", store_});
    EXPECT_EQ(digest.exit_code, 0) << digest.stderr_text;
    return JsonField(digest.stdout_text, "digest");
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::vector<std::string> RawLogValues() {
    LogSelection selection;
    selection.store_dir = store_;
    Result<testing::LogContents> contents = testing::ReadSourceTopics(selection);
    EXPECT_TRUE(contents.ok()) << contents.status().ToString();
    return contents.ok() ? contents->values : std::vector<std::string>{};
  }

  TempDir dir_;
  std::string events_;
  std::string store_ = dir_.path() + "/store";
  std::map<std::string, std::string> names_;  // employee -> display name (input)
};

TEST_F(ErasureTest, LogHoldsCiphertextQueriesRevealAndErasureChangesNoCount) {
  CommandResult ingest = Ingest(events_);
  EXPECT_EQ(JsonField(ingest.stdout_text, "erasures"), "0");

  // The log never holds a personal text in clear.
  const std::vector<std::string> values = RawLogValues();
  ASSERT_GT(values.size(), 300u);
  int sealed = 0;
  for (const std::string& value : values) {
    if (value.find("jiritsu-enc:v1:") != std::string::npos) ++sealed;
    for (const auto& [employee, name] : names_) {
      ASSERT_EQ(value.find(name), std::string::npos) << employee << "'s name in the log: " << value;
    }
    ASSERT_EQ(value.find(kWish), std::string::npos) << value;
    ASSERT_EQ(value.find("Discussed career direction"), std::string::npos) << value;  // notes
  }
  EXPECT_GE(sealed, 30) << "every hire at least";
  const std::string keys = store_ + "/keys";
  EXPECT_TRUE(std::filesystem::exists(keys + "/k-" + kEmployee));

  // Queries reveal them.
  Run();
  const std::string before = StepStatus(kEmployee);
  EXPECT_EQ(At(before, "/display_name"), names_[kEmployee]) << before;
  EXPECT_EQ(At(before, "/other_declarations/1/career_wish"), kWish) << before;
  EXPECT_EQ(At(before, "/erased"), "false");
  EXPECT_EQ(At(before, "/erased_at"), "<null>");
  EXPECT_EQ(At(before, "/personal_fields_unreadable"), "0");
  const std::string counts_before = Counts();
  const std::string digest_before = Digest();

  // HR's erasure request (an operator's CLI ingest) deletes the key.
  CommandResult erase = Ingest(WriteFile("erase.jsonl", ErasureLine(kEmployee, "erase-e2")));
  EXPECT_EQ(erase.exit_code, 0);
  EXPECT_EQ(JsonField(erase.stdout_text, "accepted"), "1");
  EXPECT_EQ(JsonField(erase.stdout_text, "erasures"), "1");
  EXPECT_FALSE(std::filesystem::exists(keys + "/k-" + kEmployee));
  EXPECT_TRUE(std::filesystem::exists(keys + "/x-" + kEmployee));
  EXPECT_TRUE(std::filesystem::exists(keys + "/k-" + kOther));

  // Erased before the views even saw the request (the key is gone)...
  const std::string pending = StepStatus(kEmployee);
  EXPECT_EQ(At(pending, "/display_name"), "<null>") << pending;
  EXPECT_EQ(At(pending, "/erased"), "true");
  EXPECT_EQ(At(pending, "/erased_at"), "<null>");
  // ...and recorded in them once projected, with the event time.
  Run();
  const std::string after = StepStatus(kEmployee);
  EXPECT_EQ(At(after, "/display_name"), "<null>") << after;
  EXPECT_EQ(At(after, "/other_declarations/1/career_wish"), "<null>") << after;
  EXPECT_EQ(At(after, "/other_declarations/1/declaration_id"), "D-wish-e2");
  EXPECT_EQ(At(after, "/erased"), "true");
  EXPECT_EQ(At(after, "/erased_at"), "2025-03-01T10:00:00+09:00");
  EXPECT_EQ(At(after, "/personal_fields_unreadable"), "0");  // erased is not "unreadable"
  // Audit trail: the row names the event that changed it last, with its log position.
  EXPECT_EQ(At(after, "/last_changed_by/id"), "erase-e2") << after;
  EXPECT_EQ(At(after, "/last_changed_by/source"), "/hr/privacy-desk");
  EXPECT_EQ(At(after, "/last_changed_by/type"), "employee.erasure.requested");
  EXPECT_EQ(At(after, "/last_changed_by/topic"), "jiritsu.employee");
  EXPECT_EQ(At(after, "/last_changed_by/time"), "2025-03-01T10:00:00+09:00");
  EXPECT_NE(At(after, "/last_changed_by/offset"), "<absent>");
  EXPECT_NE(At(before, "/last_changed_by/id"), "erase-e2");
  EXPECT_EQ(At(after, "/other_declarations/1/last_changed_by/id"), "wish-e2");
  EXPECT_EQ(At(after, "/other_declarations/1/last_changed_by/topic"), "jiritsu.declaration");
  EXPECT_EQ(At(after, "/last_event_time"), At(before, "/last_event_time"));
  // Others are untouched.
  EXPECT_EQ(At(StepStatus(kOther), "/display_name"), names_[kOther]);
  // Every count and KPI is exactly what it was; the audit trail of the
  // employee's engagement and of the roll-ups names the erasure request.
  EXPECT_EQ(Counts(), counts_before);
  const std::string engagement = Query({"engagement", "--employee", kEmployee});
  EXPECT_EQ(At(engagement, "/last_changed_by/id"), "erase-e2");
  EXPECT_EQ(At(Query({"kpi", "--org", "C01", "--period", "FY2024"}), "/rolled_up/last_changed_by/id"),
            "erase-e2");
  const std::string digest_after = Digest();
  EXPECT_NE(digest_after, digest_before);  // the views record the erasure

  // The replay proof still holds, and a rebuilt generation shows the same.
  CommandResult verify = RunJiritsu({"replay", "--verify", "--quiet", "--store", store_});
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  CommandResult swap = RunJiritsu({"replay", "--swap", "--quiet", "--no-snapshot", "--store", store_});
  ASSERT_EQ(swap.exit_code, 0) << swap.stderr_text;
  EXPECT_EQ(Digest(), digest_after);
  EXPECT_EQ(StepStatus(kEmployee), after);
  EXPECT_EQ(Counts(), counts_before);

  // A late personal text of the erased employee is stored as erased: no
  // plaintext in the log, no new key.
  Ingest(WriteFile("late.jsonl",
                   EventLine("interview.held", "late-iv", kEmployee, "2025-03-05T10:00:00+09:00",
                             std::string(R"({"interview_id":"IV-late","interviewer_id":"E000001",)") +
                                 R"("kind":"one_on_one","duration_minutes":30,"notes":")" +
                                 kLateNote + "\"}")));
  for (const std::string& value : RawLogValues()) {
    ASSERT_EQ(value.find(kLateNote), std::string::npos) << value;
  }
  EXPECT_FALSE(std::filesystem::exists(keys + "/k-" + kEmployee));
  Run();
  EXPECT_EQ(At(StepStatus(kEmployee), "/erased"), "true");
}

// An erasure that reaches the log without `jiritsu ingest` (another producer
// on Kafka; here appended behind ingestion's back) takes effect when
// `jiritsu run` projects it.
TEST_F(ErasureTest, RunDeletesTheKeyOfAnErasureThatBypassedIngestion) {
  Ingest(events_);
  const std::string key = store_ + "/keys/k-" + kEmployee;
  ASSERT_TRUE(std::filesystem::exists(key));
  {
    LogSelection selection;
    selection.store_dir = store_;
    auto log = OpenLog(selection);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    auto producer = (*log)->NewProducer();
    ASSERT_TRUE(producer.ok());
    std::string line = ErasureLine(kEmployee, "erase-direct");
    line.pop_back();  // newline
    ASSERT_TRUE((*producer)->Append(std::string(TopicForFamily(Family::kEmployee)), kEmployee, line).ok());
    ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(30)).ok());
  }
  Run();
  EXPECT_FALSE(std::filesystem::exists(key));
  const std::string status = StepStatus(kEmployee);
  EXPECT_EQ(At(status, "/display_name"), "<null>") << status;
  EXPECT_EQ(At(status, "/erased"), "true");
  EXPECT_EQ(At(status, "/erased_at"), "2025-03-01T10:00:00+09:00");
}

}  // namespace
}  // namespace jiritsu
