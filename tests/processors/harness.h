// Test harness for the processors: builds events in code, runs them through a
// JiritsuProjector into a temporary StateStore the way the runtime does
// (Checkpoint, facts fed back through ApplyFacts, one batch write), and reads
// the views with QueryService plus a small JSON-pointer helper.
//
// Thread-safety: one test thread.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event_log.h"
#include "core/projector.h"
#include "core/state_store.h"
#include "core/topics.h"
#include "processors/jiritsu_projector.h"
#include "processors/query.h"
#include "schemas/codec.h"
#include "schemas/event.h"
#include "tests/testing/audit_trail.h"
#include "tests/testing/subprocess.h"

namespace jiritsu::processors::testing {

using jiritsu::testing::WithoutAuditTrail;

// "2025-05-01T10:00:00+09:00" -> UTC microseconds.
inline int64_t At(std::string_view rfc3339) {
  int32_t offset = 0;
  auto t = ParseRfc3339(rfc3339, &offset);
  EXPECT_TRUE(t.ok()) << rfc3339 << ": " << t.status().ToString();
  return t.ok() ? *t : 0;
}

struct Fed {
  Event event;
  SourcePosition position;
};

// Builds events with unique ids and a fixed log position each (position is a
// property of the record, so shuffling the feed order keeps it).
class EventFactory {
 public:
  Fed OrgUnit(std::string_view time, std::string id, std::optional<std::string> parent) {
    return Make(EventType::kOrgUnitDefined, id, time, OrgUnitDefined{id, id + " unit", parent});
  }
  Fed Program(std::string_view time, std::string id, std::string profile,
              std::vector<ProgramStep> steps) {
    return Make(EventType::kProgramDefined, id, time,
                ProgramDefined{id, id + " programme", profile, std::move(steps)});
  }
  Fed Target(std::string_view time, std::string org, std::string period, std::string profile,
             std::string metric, double target) {
    return Make(EventType::kKpiTargetSet, org, time,
                KpiTargetSet{org, period, profile, metric, target});
  }
  Fed Hire(std::string_view time, std::string employee, std::string org,
           std::optional<std::string> manager, std::string profile = "dx_literacy") {
    return Make(EventType::kEmployeeHired, employee, time,
                EmployeeHired{org, manager, profile, "Name " + employee});
  }
  Fed Transfer(std::string_view time, std::string employee, std::string org,
               std::optional<std::string> profile = std::nullopt) {
    return Make(EventType::kEmployeeTransferred, employee, time, EmployeeTransferred{org, profile});
  }
  Fed ManagerChange(std::string_view time, std::string employee, std::string manager) {
    return Make(EventType::kEmployeeManagerChanged, employee, time, EmployeeManagerChanged{manager});
  }
  Fed Leave(std::string_view time, std::string employee) {
    return Make(EventType::kEmployeeLeft, employee, time, EmployeeLeft{"resigned"});
  }
  Fed Interview(std::string_view time, std::string employee, InterviewKind kind,
                std::string interviewer = "m1") {
    InterviewHeld data;
    data.interview_id = "iv-" + std::to_string(next_id_);
    data.interviewer_id = std::move(interviewer);
    data.kind = kind;
    data.duration_minutes = 30;
    return Make(EventType::kInterviewHeld, employee, time, data);
  }
  Fed CancelInterview(std::string_view time, std::string employee) {
    return Make(EventType::kInterviewCancelled, employee, time,
                InterviewCancelled{"iv-x" + std::to_string(next_id_), CancelReason::kNoShow});
  }
  Fed Enroll(std::string_view time, std::string employee, std::string course) {
    return Make(EventType::kLearningEnrolled, employee, time, LearningEnrolled{course, "", "lms"});
  }
  Fed Progress(std::string_view time, std::string employee, std::string course, double hours) {
    return Make(EventType::kLearningProgressed, employee, time,
                LearningProgressed{course, 50, hours});
  }
  Fed Complete(std::string_view time, std::string employee, std::string course, double hours,
               bool passed = true) {
    return Make(EventType::kLearningCompleted, employee, time,
                LearningCompleted{course, hours, std::nullopt, passed});
  }
  Fed Certify(std::string_view time, std::string employee, std::string certification) {
    return Make(EventType::kLearningCertified, employee, time,
                LearningCertified{certification, certification, std::nullopt});
  }
  Fed WithdrawCourse(std::string_view time, std::string employee, std::string course) {
    return Make(EventType::kLearningWithdrawn, employee, time, LearningWithdrawn{course, "busy"});
  }
  Fed SubmitStep(std::string_view time, std::string employee, std::string declaration,
                 std::string program, int32_t step) {
    DeclarationSubmitted data;
    data.declaration_id = std::move(declaration);
    data.kind = DeclarationKind::kStep;
    data.program_id = std::move(program);
    data.step = step;
    data.evidence = "did it";
    return Make(EventType::kDeclarationSubmitted, employee, time, data);
  }
  Fed SubmitPractice(std::string_view time, std::string employee, std::string declaration,
                     std::string program, int32_t months) {
    DeclarationSubmitted data;
    data.declaration_id = std::move(declaration);
    data.kind = DeclarationKind::kPractice;
    data.program_id = std::move(program);
    data.practice_months = months;
    return Make(EventType::kDeclarationSubmitted, employee, time, data);
  }
  Fed SubmitLearningState(std::string_view time, std::string employee, std::string declaration,
                          int32_t state) {
    DeclarationSubmitted data;
    data.declaration_id = std::move(declaration);
    data.kind = DeclarationKind::kLearningState;
    data.learning_state = state;
    return Make(EventType::kDeclarationSubmitted, employee, time, data);
  }
  Fed SubmitCareerWish(std::string_view time, std::string employee, std::string declaration) {
    DeclarationSubmitted data;
    data.declaration_id = std::move(declaration);
    data.kind = DeclarationKind::kCareerWish;
    data.career_wish = "data engineering";
    return Make(EventType::kDeclarationSubmitted, employee, time, data);
  }
  Fed Amend(std::string_view time, std::string employee, std::string declaration) {
    DeclarationAmended data;
    data.declaration_id = std::move(declaration);
    data.evidence = "more evidence";
    return Make(EventType::kDeclarationAmended, employee, time, data);
  }
  Fed WithdrawDeclaration(std::string_view time, std::string employee, std::string declaration) {
    return Make(EventType::kDeclarationWithdrawn, employee, time,
                DeclarationWithdrawn{declaration, "changed my mind"});
  }
  Fed Confirm(std::string_view time, std::string employee, std::string declaration,
              std::string approver) {
    return Decision(EventType::kApprovalConfirmed, time, employee, declaration, approver);
  }
  Fed Return(std::string_view time, std::string employee, std::string declaration,
             std::string approver) {
    return Decision(EventType::kApprovalReturned, time, employee, declaration, approver);
  }
  Fed RejectDeclaration(std::string_view time, std::string employee, std::string declaration,
                        std::string approver) {
    return Decision(EventType::kApprovalRejected, time, employee, declaration, approver);
  }
  Fed Finalize(std::string_view time, std::string employee, std::string declaration,
               std::string approver = "hr1") {
    return Decision(EventType::kApprovalFinalized, time, employee, declaration, approver);
  }

 private:
  Fed Decision(EventType type, std::string_view time, std::string employee,
               std::string declaration, std::string approver) {
    return Make(type, employee, time, ApprovalDecision{declaration, approver, ""});
  }

  Fed Make(EventType type, std::string subject, std::string_view time, EventData data) {
    Fed fed;
    fed.event.type = type;
    fed.event.id = "ev-" + std::to_string(next_id_++);
    fed.event.source = "urn:jiritsu:test:" + std::string(FamilyName(FamilyOf(type)));
    fed.event.subject = std::move(subject);
    fed.event.time_us = At(time);
    fed.event.utc_offset_minutes = 540;
    fed.event.data = std::move(data);
    const Family family = FamilyOf(type);
    fed.position.topic = TopicForFamily(family);
    fed.position.partition =
        family == Family::kReference ? 0 : PartitionForKey(fed.event.subject, 8);
    fed.position.offset = next_offset_[fed.position.topic + "/" +
                                       std::to_string(fed.position.partition)]++;
    return fed;
  }

  int64_t next_id_ = 1;
  std::map<std::string, int64_t> next_offset_;
};

// Common reference data: corp > dev > dev-a, corp > sales; two programmes.
//   dx_lit (profile dx_literacy): step 1 = courses c-mind + c-sec;
//     step 2 = finalised declaration; step 3 = finalised declaration.
//   dx_pro (profile dx_promoter): step 1 = course c-pro + finalised declaration;
//     step 2 = finalised declaration.
inline std::vector<Fed> StandardReference(EventFactory& f) {
  const char* t = "2025-01-01T00:00:00+09:00";
  return {
      f.OrgUnit(t, "corp", std::nullopt),
      f.OrgUnit(t, "dev", "corp"),
      f.OrgUnit(t, "dev-a", "dev"),
      f.OrgUnit(t, "sales", "corp"),
      f.Program(t, "dx_lit", "dx_literacy",
                {ProgramStep{1, "basics", {"c-mind", "c-sec"}, false},
                 ProgramStep{2, "practice", {}, true},
                 ProgramStep{3, "mentoring", {}, true}}),
      f.Program(t, "dx_pro", "dx_promoter",
                {ProgramStep{1, "foundation", {"c-pro"}, true},
                 ProgramStep{2, "leading", {}, true}}),
  };
}

// A projector over a fresh store in a temporary directory.
class Harness {
 public:
  // `unlogged`: a store without a WAL, as a rebuild opens (the projector
  // then folds in-order events on arrival).
  explicit Harness(ProjectorOptions options = {}, bool unlogged = false) : options_(options) {
    projector_ = NewJiritsuProjector(options_);
    StateStoreOptions store_options;
    store_options.disable_wal = unlogged;
    store_options.column_families = projector_->ColumnFamilies();
    store_options.column_families.push_back("dlq");
    auto store = StateStore::Open(dir_.path() + "/store", store_options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    Status s = projector_->Open(store_.get());
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  ~Harness() {
    if (projector_) projector_->Close();
  }

  void Apply(const Fed& fed) {
    const Status s = FamilyOf(fed.event.type) == Family::kReference
                         ? projector_->ApplyReference(fed.event, fed.position)
                         : projector_->ApplyEmployeeEvent(fed.event, fed.position);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Apply(const std::vector<Fed>& events) {
    for (const Fed& fed : events) Apply(fed);
  }

  // Simulates a crash and restart: uncommitted changes are lost, a new
  // projector opens the same store (the runtime then re-feeds every event
  // after the committed offsets).
  // Calls of the projector's Checkpoint() since the last (re)start
  // (Projector::OnFactsDurable counts them).
  uint64_t checkpoints() const { return checkpoints_; }

  void Restart() {
    checkpoints_ = 0;
    projector_->Close();
    projector_ = NewJiritsuProjector(options_);
    Status s = projector_->Open(store_.get());
    ASSERT_TRUE(s.ok()) << s.ToString();
    if (own_facts_) own_facts_ = projector_->ApplyPublishedFactsItself();
  }

  // As a rebuild's runtime with local derived inputs does: asks the projector
  // whether it applies the facts it publishes itself; if it says so, they
  // are no longer handed back (ApplyFacts, Finish). Returns its answer.
  bool AskToApplyOwnFacts() {
    own_facts_ = projector_->ApplyPublishedFactsItself();
    return own_facts_;
  }

  // As a rebuild's runtime does (unlogged stores only): each checkpoint's
  // batch spills into the store whenever it holds `bytes`.
  void SpillBatchesAt(size_t bytes) { spill_bytes_ = bytes; }

  // Checkpoint; returns the facts records (not yet applied anywhere).
  std::vector<FactsRecord> CheckpointOnly() {
    StateBatch batch;
    SpillIfAsked(&batch);
    std::vector<FactsRecord> facts;
    ++checkpoints_;
    Status s = projector_->Checkpoint(&batch, CollectFacts(&facts));
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = store_->Write(&batch);
    EXPECT_TRUE(s.ok()) << s.ToString();
    projector_->OnCheckpointCommitted();
    return facts;
  }

  // Applies facts records (as read from jiritsu.facts) and commits them.
  void ApplyFacts(const std::vector<FactsRecord>& records) {
    for (const FactsRecord& record : records) {
      if (own_facts_) break;  // applied as they were built
      LogRecord log{std::string(kFactsTopic), 0, 0, record.key, record.value, 0};
      Status s = projector_->ApplyFacts(log);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    StateBatch batch;
    SpillIfAsked(&batch);
    std::vector<FactsRecord> none;
    ++checkpoints_;
    Status s = projector_->Checkpoint(&batch, CollectFacts(&none));
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(none.empty());
    s = store_->Write(&batch);
    ASSERT_TRUE(s.ok()) << s.ToString();
    projector_->OnCheckpointCommitted();
  }

  // What the runtime does at a checkpoint on a single instance.
  void Commit() { ApplyFacts(CheckpointOnly()); }

  // What the runtime does at the end of a run (PublishHeldBackFacts): asks
  // for every held-back facts record (a rebuild holds them all), checkpoint
  // after checkpoint, each applying its facts into its own batch, until
  // none is left.
  void Finish() {
    for (int checkpoint = 0; checkpoint < 10'000; ++checkpoint) {
      projector_->PublishDeferredFactsAtNextCheckpoint();
      StateBatch batch;
      SpillIfAsked(&batch);
      std::vector<FactsRecord> facts;
      checkpoints_ += 2;
      Status s = projector_->Checkpoint(&batch, CollectFacts(&facts));
      ASSERT_TRUE(s.ok()) << s.ToString();
      for (const FactsRecord& record : facts) {
        if (own_facts_) break;  // applied as they were built
        LogRecord log{std::string(kFactsTopic), 0, 0, record.key, record.value, 0};
        s = projector_->ApplyFacts(log);
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
      std::vector<FactsRecord> more;
      s = projector_->Checkpoint(&batch, CollectFacts(&more));
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_TRUE(more.empty()) << "facts published while applying facts";
      s = store_->Write(&batch);
      ASSERT_TRUE(s.ok()) << s.ToString();
      projector_->OnCheckpointCommitted();
      if (projector_->FactsHeldBack() == 0) return;
    }
    FAIL() << projector_->FactsHeldBack() << " facts records still held back";
  }

  QueryService& Query() {
    auto service = QueryService::Open(store_.get(), options_);
    EXPECT_TRUE(service.ok()) << service.status().ToString();
    query_ = std::move(service).value();
    return *query_;
  }

  std::string StepStatus(std::string_view employee, std::string_view program) {
    return Ok(Query().StepStatus(employee, program));
  }
  std::string Rejections(std::optional<std::string_view> employee = std::nullopt) {
    return Ok(Query().Rejections(employee, 1000));
  }
  std::string Engagement(std::string_view employee, std::optional<int64_t> as_of = std::nullopt) {
    return Ok(Query().Engagement(employee, as_of));
  }
  std::string OrgEngagement(std::string_view org, std::optional<int64_t> as_of = std::nullopt) {
    return Ok(Query().OrgEngagement(org, as_of));
  }
  std::string Kpi(std::string_view org, std::string_view period,
                  std::optional<std::string_view> profile = std::nullopt) {
    return Ok(Query().Kpi(org, period, profile));
  }
  std::string Digest() { return Ok(Query().Digest()); }

  static std::string Ok(Result<std::string> result) {
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    // JIRITSU_PRINT_VIEWS=1 prints every query output (debugging aid).
    if (result.ok() && std::getenv("JIRITSU_PRINT_VIEWS") != nullptr) {
      std::fprintf(stderr, "%s\n", result->c_str());
    }
    return result.ok() ? *result : std::string("{}");
  }

  StateStore* store() { return store_.get(); }
  Projector* projector() { return projector_.get(); }

 private:
  void SpillIfAsked(StateBatch* batch) {
    if (spill_bytes_ == 0) return;
    const Status s = batch->SpillTo(store_.get(), spill_bytes_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  ProjectorOptions options_;
  jiritsu::testing::TempDir dir_;
  std::unique_ptr<Projector> projector_;
  uint64_t checkpoints_ = 0;
  bool own_facts_ = false;  // AskToApplyOwnFacts() said true
  size_t spill_bytes_ = 0;  // SpillBatchesAt
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<QueryService> query_;
};

// JSON pointer accessors over a query output ("/programs/0/current_step").
class JsonView {
 public:
  explicit JsonView(const std::string& json) : text_(json) {
    auto doc = parser_.parse(text_);
    EXPECT_FALSE(doc.error()) << json;
    if (!doc.error()) root_ = doc.value();
    missing_ = missing_parser_.parse(missing_text_).value();
  }
  // A missing pointer is a test failure and reads as an empty object, so the
  // accessors below report it instead of reading an element with no document.
  simdjson::dom::element At(std::string_view pointer) const {
    auto e = root_.at_pointer(pointer);
    EXPECT_FALSE(e.error()) << "no " << pointer << " in " << text_;
    return e.error() ? missing_ : e.value();
  }
  bool Has(std::string_view pointer) const { return !root_.at_pointer(pointer).error(); }
  int64_t Int(std::string_view pointer) const {
    auto v = At(pointer).get_int64();
    EXPECT_FALSE(v.error()) << pointer << " is not an integer in " << text_;
    return v.error() ? -999999 : v.value();
  }
  double Num(std::string_view pointer) const {
    auto e = At(pointer);
    if (e.is_int64()) return static_cast<double>(e.get_int64().value());
    auto v = e.get_double();
    EXPECT_FALSE(v.error()) << pointer << " is not a number in " << text_;
    return v.error() ? -999999 : v.value();
  }
  std::string Str(std::string_view pointer) const {
    auto v = At(pointer).get_string();
    EXPECT_FALSE(v.error()) << pointer << " is not a string in " << text_;
    return v.error() ? "<error>" : std::string(v.value());
  }
  bool Bool(std::string_view pointer) const {
    auto v = At(pointer).get_bool();
    EXPECT_FALSE(v.error()) << pointer << " is not a bool in " << text_;
    return !v.error() && v.value();
  }
  bool IsNull(std::string_view pointer) const { return At(pointer).is_null(); }
  size_t Size(std::string_view pointer) const {
    auto e = At(pointer);
    if (e.is_array()) return e.get_array().value().size();
    if (e.is_object()) return e.get_object().value().size();
    ADD_FAILURE() << pointer << " is not a container in " << text_;
    return 0;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
  std::string missing_text_ = "{}";
  simdjson::dom::parser missing_parser_;
  simdjson::dom::element missing_;
};

}  // namespace jiritsu::processors::testing
