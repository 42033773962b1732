// Step-status workflow: each allowed and each forbidden transition, through
// the projector into a store, read back with QueryService. StepsMemoTest
// calls the fold itself (employee_fold.h) to compare two states byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "processors/employee_fold.h"
#include "processors/reference_table.h"
#include "processors/stored_event.h"
#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

class WorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.Apply(StandardReference(f_));
    h_.Apply(f_.Hire("2025-04-01T09:00:00+09:00", "e1", "dev-a", "m1"));
  }

  // Passes both step-1 courses of dx_lit (step 1 reached at the second).
  void ReachStepOne() {
    h_.Apply(f_.Complete("2025-04-10T10:00:00+09:00", "e1", "c-mind", 2));
    h_.Apply(f_.Complete("2025-04-11T10:00:00+09:00", "e1", "c-sec", 3));
  }

  JsonView Status() {
    h_.Commit();
    return JsonView(h_.StepStatus("e1", "dx_lit"));
  }
  JsonView Rejections() { return JsonView(h_.Rejections("e1")); }

  // The rejection codes recorded for e1, in event order.
  std::vector<std::string> RejectionCodes() {
    JsonView r = Rejections();
    std::vector<std::string> codes;
    for (size_t i = 0; i < r.Size("/rejections"); ++i) {
      codes.push_back(r.Str("/rejections/" + std::to_string(i) + "/code"));
    }
    return codes;
  }

  EventFactory f_;
  Harness h_;
};

using Codes = std::vector<std::string>;

TEST_F(WorkflowTest, StepOneIsReachedWhenAllRequiredCoursesArePassed) {
  h_.Apply(f_.Complete("2025-04-10T10:00:00+09:00", "e1", "c-mind", 2));
  h_.Apply(f_.Complete("2025-04-11T10:00:00+09:00", "e1", "c-sec", 1, /*passed=*/false));
  JsonView before = Status();
  EXPECT_EQ(before.Int("/programs/0/current_step"), 0);
  EXPECT_EQ(before.Int("/programs/0/next_step/step"), 1);
  EXPECT_TRUE(before.Bool("/programs/0/next_step/criteria/0/met"));   // c-mind
  EXPECT_FALSE(before.Bool("/programs/0/next_step/criteria/1/met"));  // c-sec failed
  EXPECT_FALSE(before.Bool("/programs/0/next_step/all_met"));

  h_.Apply(f_.Complete("2025-04-20T10:00:00+09:00", "e1", "c-sec", 1));
  JsonView after = Status();
  EXPECT_EQ(after.Int("/programs/0/current_step"), 1);
  EXPECT_EQ(after.Str("/programs/0/steps_reached/0/reached_at"), "2025-04-20T10:00:00+09:00");
  EXPECT_EQ(after.Int("/programs/0/next_step/step"), 2);
  EXPECT_EQ(after.Str("/programs/0/next_step/criteria/0/type"), "declaration_finalized");
  EXPECT_FALSE(after.Bool("/programs/0/next_step/criteria/0/met"));
  EXPECT_TRUE(RejectionCodes().empty());
}

// The fold evaluates the step criteria again only when one of their inputs
// changed (employee_state.h, steps_fixpoint_versions). A programme revision
// is one of them, also for an event that passes no course and finalises
// nothing.
TEST_F(WorkflowTest, ARevisionAfterTheLastEventTakesEffectAtTheNextEventOfAnyKind) {
  h_.Apply(f_.Complete("2025-04-10T10:00:00+09:00", "e1", "c-mind", 2));
  h_.Apply(f_.Interview("2025-04-12T10:00:00+09:00", "e1", InterviewKind::kCareer));
  EXPECT_EQ(Status().Int("/programs/0/current_step"), 0);

  // From 04-20 on, step 1 needs c-mind only. e1's last event is earlier, so
  // nothing is re-folded: the revision applies from e1's next event on.
  h_.Apply(f_.Program("2025-04-20T00:00:00+09:00", "dx_lit", "dx_literacy",
                      {ProgramStep{1, "basics", {"c-mind"}, false},
                       ProgramStep{2, "practice", {}, true}, ProgramStep{3, "mentoring", {}, true}}));
  h_.Apply(f_.Interview("2025-04-15T10:00:00+09:00", "e1", InterviewKind::kOneOnOne));
  EXPECT_EQ(Status().Int("/programs/0/current_step"), 0);  // still the first version

  h_.Apply(f_.Interview("2025-04-25T10:00:00+09:00", "e1", InterviewKind::kOneOnOne));
  JsonView s = Status();
  EXPECT_EQ(s.Int("/programs/0/current_step"), 1);
  EXPECT_EQ(s.Str("/programs/0/steps_reached/0/reached_at"), "2025-04-25T10:00:00+09:00");
}

// Folding with the memo gives the same state, byte for byte, as folding with
// the criteria evaluated at every event (the memo reset before each one, as
// after a state is decoded): courses passed, a declaration finalised,
// programme revisions between the events, and transfers between profiles
// (the snapshot flags).
TEST(StepsMemoTest, FoldingWithTheMemoGivesTheStateOfEvaluatingEveryEvent) {
  EventFactory f;
  ReferenceTable reference;
  for (const Fed& fed : StandardReference(f)) reference.Add(fed.event, fed.position);
  std::vector<Fed> events = {
      f.Hire("2025-04-01T09:00:00+09:00", "e1", "dev-a", "m1", "dx_promoter"),
      f.Complete("2025-04-10T10:00:00+09:00", "e1", "c-mind", 2),
      f.Interview("2025-04-12T10:00:00+09:00", "e1", InterviewKind::kCareer),
      f.Complete("2025-04-14T10:00:00+09:00", "e1", "c-pro", 2),
      f.SubmitStep("2025-04-16T10:00:00+09:00", "e1", "d1", "dx_pro", 1),
      f.Confirm("2025-04-17T10:00:00+09:00", "e1", "d1", "m1"),
      f.Finalize("2025-04-18T10:00:00+09:00", "e1", "d1", "hr1"),
      f.Interview("2025-04-19T10:00:00+09:00", "e1", InterviewKind::kOneOnOne),
      f.Transfer("2025-04-21T10:00:00+09:00", "e1", "dev", "dx_literacy"),
      f.Interview("2025-04-26T10:00:00+09:00", "e1", InterviewKind::kOneOnOne),
      f.Complete("2025-05-02T10:00:00+09:00", "e1", "c-sec", 2),
      f.Interview("2025-05-12T10:00:00+09:00", "e1", InterviewKind::kCareer),
      f.Transfer("2025-05-20T10:00:00+09:00", "e1", "dev-a", "dx_promoter"),
      f.Interview("2025-05-22T10:00:00+09:00", "e1", InterviewKind::kCareer),
  };
  // Revisions of dx_lit, added to the table while the fold runs (at index
  // i: before events[i] is folded), each with a time after the fold so far.
  const std::map<size_t, Fed> revisions = {
      {3, f.Program("2025-04-13T00:00:00+09:00", "dx_lit", "dx_literacy",
                    {ProgramStep{1, "basics", {"c-mind"}, false}, ProgramStep{2, "practice", {}, true}})},
      {8, f.Program("2025-04-20T00:00:00+09:00", "dx_lit", "dx_literacy",
                    {ProgramStep{1, "basics", {"c-mind"}, false}, ProgramStep{2, "practice", {}, false}})},
  };
  EmployeeState memo;
  EmployeeState every;
  memo.employee_id = every.employee_id = "e1";
  for (size_t i = 0; i < events.size(); ++i) {
    if (auto it = revisions.find(i); it != revisions.end()) {
      reference.Add(it->second.event, it->second.position);
    }
    ApplyEvent(reference, events[i].event, events[i].position, &memo);
    every.steps_fixpoint_versions = EmployeeState::kStepsNotEvaluated;
    ApplyEvent(reference, events[i].event, events[i].position, &every);
    ASSERT_EQ(EncodeEmployeeState(memo), EncodeEmployeeState(every)) << "after event " << i;
  }
  // The events reached steps through each input: a passed course (dx_pro 1
  // needs c-pro and a finalised declaration), a finalisation and revisions.
  EXPECT_EQ(memo.steps_reached["dx_pro"].size(), 1u);
  ASSERT_EQ(memo.steps_reached["dx_lit"].size(), 2u);
  EXPECT_EQ(memo.steps_reached["dx_lit"][0].time_us, At("2025-04-14T10:00:00+09:00"));
  EXPECT_EQ(memo.steps_reached["dx_lit"][1].time_us, At("2025-04-21T10:00:00+09:00"));
  // The snapshots' programme flags followed the steps and both transfers.
  std::vector<std::pair<std::string, uint8_t>> flags;
  for (const Snapshot& snap : memo.snapshots) {
    flags.emplace_back(snap.profile, snap.flags & (kFlagCompletedRequired | kFlagMature));
  }
  const std::vector<std::pair<std::string, uint8_t>> expected = {
      {"dx_promoter", 0},                       // hired
      {"dx_promoter", kFlagCompletedRequired},  // c-pro passed
      // Transferred, the first event after the 04-20 revision: dx_lit step 2
      // is reached, step 1 needs c-mind only.
      {"dx_literacy", kFlagCompletedRequired | kFlagMature},
      {"dx_promoter", kFlagCompletedRequired},  // transferred back
  };
  EXPECT_EQ(flags, expected);
}

// A snapshot is appended exactly when the attribution (employed, org unit,
// profile) or the flags change. The fold compares the attribution only after
// an event that set it (hired, transferred, left): a transfer into the same
// unit and profile appends none, a rejected hire changes nothing, and an
// event that changes only the flags (a declared learning state) appends one
// with the same attribution. ApplyRecordedEvent, given the hash already
// recorded, leaves the same state as ApplyEvent.
TEST(SnapshotTest, SnapshotsFollowAttributionAndFlagsWhicheverFoldIsUsed) {
  EventFactory f;
  ReferenceTable reference;
  for (const Fed& fed : StandardReference(f)) reference.Add(fed.event, fed.position);
  const std::vector<Fed> events = {
      f.Hire("2025-04-01T09:00:00+09:00", "e1", "dev-a", "m1", "dx_promoter"),
      f.Interview("2025-04-02T10:00:00+09:00", "e1", InterviewKind::kCareer),
      f.Transfer("2025-04-03T10:00:00+09:00", "e1", "dev-a"),              // same unit and profile
      f.Hire("2025-04-04T09:00:00+09:00", "e1", "sales", "m2"),            // rejected: employed
      f.SubmitLearningState("2025-04-05T10:00:00+09:00", "e1", "ls1", 2),  // flags only
      f.Transfer("2025-04-06T10:00:00+09:00", "e1", "sales", "dx_literacy"),
      f.Interview("2025-04-07T10:00:00+09:00", "e1", InterviewKind::kOneOnOne),
      f.Leave("2025-04-08T10:00:00+09:00", "e1"),
      f.Hire("2025-04-09T09:00:00+09:00", "e1", "sales", "m2", "dx_literacy"),  // rehired
  };
  EmployeeState plain;
  EmployeeState recorded;
  plain.employee_id = recorded.employee_id = "e1";
  for (const Fed& fed : events) {
    ApplyEvent(reference, fed.event, fed.position, &plain);
    const uint64_t hash = EventIdentityHash(fed.event.source, fed.event.id);
    auto& hashes = recorded.identity_hashes;
    hashes.insert(std::lower_bound(hashes.begin(), hashes.end(), hash), hash);
    ApplyRecordedEvent(reference, fed.event, fed.position, EventSortKey(fed.event), hash,
                       &recorded);
  }
  EXPECT_EQ(EncodeEmployeeState(plain), EncodeEmployeeState(recorded));
  ASSERT_EQ(plain.rejections.size(), 1u);
  EXPECT_EQ(plain.rejections[0].code, kInvalidTransition);
  std::vector<std::tuple<bool, std::string, std::string, bool>> snapshots;
  for (const Snapshot& snap : plain.snapshots) {
    snapshots.emplace_back(snap.employed, snap.org_unit, snap.profile,
                           (snap.flags & kFlagDeclaredState) != 0);
  }
  const std::vector<std::tuple<bool, std::string, std::string, bool>> expected = {
      {true, "dev-a", "dx_promoter", false},  // hired
      {true, "dev-a", "dx_promoter", true},   // learning state declared
      {true, "sales", "dx_literacy", true},   // transferred
      {false, "sales", "dx_literacy", true},  // left
      {true, "sales", "dx_literacy", true},   // rehired
  };
  EXPECT_EQ(snapshots, expected);
}

TEST_F(WorkflowTest, SubmitConfirmFinalizeReachesTheStepWithFullHistory) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  JsonView submitted = Status();
  EXPECT_EQ(submitted.Str("/programs/0/declarations/0/state"), "submitted");
  EXPECT_EQ(submitted.Str("/programs/0/in_flight"), "d1");
  EXPECT_EQ(submitted.Str("/programs/0/next_step/criteria/0/declaration_state"), "submitted");

  h_.Apply(f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "d1", "m1"));
  EXPECT_EQ(Status().Str("/programs/0/declarations/0/state"), "confirmed");

  const Fed finalize = f_.Finalize("2025-05-10T10:00:00+09:00", "e1", "d1", "hr1");
  h_.Apply(finalize);
  JsonView done = Status();
  EXPECT_EQ(done.Int("/programs/0/current_step"), 2);
  EXPECT_EQ(done.Str("/programs/0/steps_reached/1/reached_at"), "2025-05-10T10:00:00+09:00");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/state"), "finalized");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/finalized_at"), "2025-05-10T10:00:00+09:00");
  EXPECT_TRUE(done.IsNull("/programs/0/in_flight"));
  EXPECT_EQ(done.Int("/programs/0/next_step/step"), 3);
  // Audit trail: who, what, when, and where the event came from.
  ASSERT_EQ(done.Size("/programs/0/declarations/0/history"), 3u);
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/0/action"), "submitted");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/0/actor"), "e1");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/1/action"), "confirmed");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/1/actor"), "m1");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/2/action"), "finalized");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/2/actor"), "hr1");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/2/at"), "2025-05-10T10:00:00+09:00");
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/2/event/id"), finalize.event.id);
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/2/event/source"), finalize.event.source);
  EXPECT_EQ(done.Str("/programs/0/declarations/0/history/2/event/topic"), "jiritsu.approval");
  EXPECT_EQ(done.Int("/programs/0/declarations/0/history/2/event/partition"),
            finalize.position.partition);
  EXPECT_EQ(done.Int("/programs/0/declarations/0/history/2/event/offset"),
            finalize.position.offset);
  EXPECT_TRUE(RejectionCodes().empty());
}

TEST_F(WorkflowTest, UnknownProgrammeOrStepIsRejected) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 4));
  h_.Apply(f_.SubmitStep("2025-05-02T10:00:00+09:00", "e1", "d2", "no_such_programme", 1));
  h_.Apply(f_.SubmitPractice("2025-05-03T10:00:00+09:00", "e1", "d3", "no_such_programme", 6));
  JsonView s = Status();
  EXPECT_EQ(s.Size("/programs/0/declarations"), 0u);  // state unchanged
  EXPECT_EQ(RejectionCodes(), (Codes{"UNKNOWN_PROGRAM_STEP", "UNKNOWN_PROGRAM_STEP", "UNKNOWN_PROGRAM_STEP"}));
  JsonView r = Rejections();
  EXPECT_EQ(r.Str("/rejections/0/event/type"), "declaration.submitted");
  EXPECT_NE(r.Str("/rejections/0/reason").find("step 4"), std::string::npos);
}

TEST_F(WorkflowTest, ProgrammeStepIsCheckedAsOfTheDeclarationTime) {
  // dx_new exists only from June; a May declaration of it is unknown.
  h_.Apply(f_.Program("2025-06-01T00:00:00+09:00", "dx_new", "other",
                      {ProgramStep{1, "one", {}, true}}));
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_new", 1));
  h_.Apply(f_.SubmitStep("2025-06-02T10:00:00+09:00", "e1", "d2", "dx_new", 1));
  h_.Commit();
  EXPECT_EQ(RejectionCodes(), (Codes{"UNKNOWN_PROGRAM_STEP"}));
  JsonView s(h_.StepStatus("e1", "dx_new"));
  EXPECT_EQ(s.Str("/programs/0/declarations/0/declaration_id"), "d2");
}

TEST_F(WorkflowTest, StepsAreDeclaredInOrder) {
  // Step 2 before step 1 is reached, step 3 before step 2.
  h_.Apply(f_.SubmitStep("2025-04-05T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-04-20T10:00:00+09:00", "e1", "d2", "dx_lit", 3));
  // Allowed: step 2 once step 1 is reached.
  h_.Apply(f_.SubmitStep("2025-04-21T10:00:00+09:00", "e1", "d3", "dx_lit", 2));
  JsonView s = Status();
  EXPECT_EQ(RejectionCodes(), (Codes{"STEP_OUT_OF_ORDER", "STEP_OUT_OF_ORDER"}));
  ASSERT_EQ(s.Size("/programs/0/declarations"), 1u);
  EXPECT_EQ(s.Str("/programs/0/declarations/0/declaration_id"), "d3");
}

TEST_F(WorkflowTest, DeclaringAnAlreadyReachedStepIsRejected) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 1));
  Status();
  EXPECT_EQ(RejectionCodes(), (Codes{"STEP_ALREADY_REACHED"}));
}

TEST_F(WorkflowTest, OnlyTheManagerAtTheApprovalTimeMayDecide) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.ManagerChange("2025-05-02T09:00:00+09:00", "e1", "m2"));
  h_.Apply(f_.Confirm("2025-05-03T10:00:00+09:00", "e1", "d1", "m1"));  // former manager
  h_.Apply(f_.Return("2025-05-03T11:00:00+09:00", "e1", "d1", "x9"));   // a stranger
  h_.Apply(f_.RejectDeclaration("2025-05-03T12:00:00+09:00", "e1", "d1", "m1"));
  EXPECT_EQ(Status().Str("/programs/0/declarations/0/state"), "submitted");
  EXPECT_EQ(RejectionCodes(), (Codes{"NOT_CURRENT_MANAGER", "NOT_CURRENT_MANAGER", "NOT_CURRENT_MANAGER"}));

  h_.Apply(f_.Confirm("2025-05-04T10:00:00+09:00", "e1", "d1", "m2"));  // the current one
  EXPECT_EQ(Status().Str("/programs/0/declarations/0/state"), "confirmed");
  EXPECT_EQ(RejectionCodes().size(), 3u);
}

TEST_F(WorkflowTest, RejectionsOfLaterCheckpointsAddToTheStoredOnesAndARefoldRewritesThem) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Commit();
  // One rejection per checkpoint: a flush puts only the new one, and the
  // store keeps every earlier one.
  h_.Apply(f_.Confirm("2025-05-03T10:00:00+09:00", "e1", "d1", "x1"));
  h_.Commit();
  EXPECT_EQ(RejectionCodes(), (Codes{"NOT_CURRENT_MANAGER"}));
  h_.Apply(f_.Finalize("2025-05-03T11:00:00+09:00", "e1", "d1"));
  h_.Commit();
  h_.Apply(f_.Confirm("2025-05-03T12:00:00+09:00", "e1", "d1", "x2"));
  h_.Commit();
  EXPECT_EQ(RejectionCodes(), (Codes{"NOT_CURRENT_MANAGER", "NOT_CONFIRMED", "NOT_CURRENT_MANAGER"}));
  // A late manager change (x1 from 2 May) re-folds: x1's confirmation is no
  // longer rejected, so the first stored rejection must go, and the HR
  // finalisation after it now succeeds.
  h_.Apply(f_.ManagerChange("2025-05-02T09:00:00+09:00", "e1", "x1"));
  h_.Commit();
  EXPECT_EQ(RejectionCodes(), (Codes{"NOT_CURRENT_MANAGER"}));
  EXPECT_EQ(Status().Int("/programs/0/current_step"), 2);
  // And after the re-fold, new rejections are added to what it stored.
  h_.Apply(f_.Confirm("2025-05-05T10:00:00+09:00", "e1", "d1", "x3"));
  h_.Commit();
  EXPECT_EQ(RejectionCodes().size(), 2u);
}

TEST_F(WorkflowTest, AManagerChangeAfterTheApprovalDoesNotUndoIt) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.ManagerChange("2025-05-03T09:00:00+09:00", "e1", "m2"));
  EXPECT_EQ(Status().Str("/programs/0/declarations/0/state"), "confirmed");
  EXPECT_TRUE(RejectionCodes().empty());
}

TEST_F(WorkflowTest, NobodyApprovesTheirOwnDeclaration) {
  ReachStepOne();
  // e1 is recorded as their own manager: still self-approval.
  h_.Apply(f_.ManagerChange("2025-04-30T09:00:00+09:00", "e1", "e1"));
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "d1", "e1"));
  h_.Apply(f_.ManagerChange("2025-05-03T09:00:00+09:00", "e1", "m1"));
  h_.Apply(f_.Confirm("2025-05-04T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.Finalize("2025-05-05T10:00:00+09:00", "e1", "d1", "e1"));
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "confirmed");
  EXPECT_EQ(RejectionCodes(), (Codes{"SELF_APPROVAL", "SELF_APPROVAL"}));
}

TEST_F(WorkflowTest, HrFinalisesOnlyWhatAManagerConfirmed) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.Finalize("2025-05-02T10:00:00+09:00", "e1", "d1"));  // submitted
  h_.Apply(f_.Return("2025-05-03T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.Finalize("2025-05-04T10:00:00+09:00", "e1", "d1"));  // returned
  h_.Apply(f_.Amend("2025-05-05T10:00:00+09:00", "e1", "d1"));
  h_.Apply(f_.Finalize("2025-05-06T10:00:00+09:00", "e1", "d1"));  // amended
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "amended");
  EXPECT_EQ(s.Int("/programs/0/current_step"), 1);
  EXPECT_EQ(RejectionCodes(), (Codes{"NOT_CONFIRMED", "NOT_CONFIRMED", "NOT_CONFIRMED"}));
}

TEST_F(WorkflowTest, ReturnedDeclarationCanBeAmendedConfirmedAndFinalised) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.Return("2025-05-02T10:00:00+09:00", "e1", "d1", "m1"));
  EXPECT_EQ(Status().Str("/programs/0/declarations/0/state"), "returned");
  // Confirming a returned declaration before it is amended is not allowed.
  h_.Apply(f_.Confirm("2025-05-03T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.Amend("2025-05-04T10:00:00+09:00", "e1", "d1"));
  EXPECT_EQ(Status().Str("/programs/0/declarations/0/state"), "amended");
  h_.Apply(f_.Confirm("2025-05-05T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.Finalize("2025-05-06T10:00:00+09:00", "e1", "d1"));
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "finalized");
  EXPECT_EQ(s.Int("/programs/0/current_step"), 2);
  EXPECT_EQ(s.Size("/programs/0/declarations/0/history"), 5u);
  EXPECT_EQ(RejectionCodes(), (Codes{"INVALID_TRANSITION"}));
}

TEST_F(WorkflowTest, ManagerMayRejectASubmittedDeclaration) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.RejectDeclaration("2025-05-02T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.Confirm("2025-05-03T10:00:00+09:00", "e1", "d1", "m1"));   // after rejection
  h_.Apply(f_.Amend("2025-05-04T10:00:00+09:00", "e1", "d1"));           // after rejection
  h_.Apply(f_.Finalize("2025-05-05T10:00:00+09:00", "e1", "d1"));        // not confirmed
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "rejected");
  EXPECT_TRUE(s.IsNull("/programs/0/in_flight"));
  EXPECT_EQ(RejectionCodes(), (Codes{"INVALID_TRANSITION", "INVALID_TRANSITION", "NOT_CONFIRMED"}));
  // A fresh declaration of the same step is allowed after a rejection.
  h_.Apply(f_.SubmitStep("2025-05-06T10:00:00+09:00", "e1", "d2", "dx_lit", 2));
  EXPECT_EQ(Status().Str("/programs/0/in_flight"), "d2");
}

TEST_F(WorkflowTest, WithdrawnDeclarationCannotBeApproved) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.WithdrawDeclaration("2025-05-03T10:00:00+09:00", "e1", "d1"));  // allowed
  h_.Apply(f_.Finalize("2025-05-04T10:00:00+09:00", "e1", "d1"));
  h_.Apply(f_.Confirm("2025-05-05T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.Amend("2025-05-06T10:00:00+09:00", "e1", "d1"));
  h_.Apply(f_.WithdrawDeclaration("2025-05-07T10:00:00+09:00", "e1", "d1"));
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "withdrawn");
  EXPECT_EQ(s.Int("/programs/0/current_step"), 1);
  EXPECT_EQ(RejectionCodes(), (Codes{"DECLARATION_WITHDRAWN", "DECLARATION_WITHDRAWN",
                            "DECLARATION_WITHDRAWN", "DECLARATION_WITHDRAWN"}));
}

TEST_F(WorkflowTest, UnknownDeclarationIsRejected) {
  h_.Apply(f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "nope", "m1"));
  h_.Apply(f_.Amend("2025-05-03T10:00:00+09:00", "e1", "nope"));
  h_.Apply(f_.WithdrawDeclaration("2025-05-04T10:00:00+09:00", "e1", "nope"));
  h_.Apply(f_.Finalize("2025-05-05T10:00:00+09:00", "e1", "nope"));
  Status();
  EXPECT_EQ(RejectionCodes(), (Codes{"UNKNOWN_DECLARATION", "UNKNOWN_DECLARATION", "UNKNOWN_DECLARATION",
                            "UNKNOWN_DECLARATION"}));
}

TEST_F(WorkflowTest, ResubmittingADeclarationIdIsRejected) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.SubmitStep("2025-05-02T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/submitted_at"), "2025-05-01T10:00:00+09:00");
  EXPECT_EQ(RejectionCodes(), (Codes{"DUPLICATE_DECLARATION"}));
}

TEST_F(WorkflowTest, TransitionsNotAllowedFromTheCurrentState) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.Confirm("2025-05-03T10:00:00+09:00", "e1", "d1", "m1"));   // confirm twice
  h_.Apply(f_.Return("2025-05-03T11:00:00+09:00", "e1", "d1", "m1"));    // return confirmed
  h_.Apply(f_.Amend("2025-05-03T12:00:00+09:00", "e1", "d1"));           // amend confirmed
  h_.Apply(f_.Finalize("2025-05-04T10:00:00+09:00", "e1", "d1"));
  h_.Apply(f_.Finalize("2025-05-05T10:00:00+09:00", "e1", "d1"));        // finalise twice
  h_.Apply(f_.Amend("2025-05-06T10:00:00+09:00", "e1", "d1"));           // amend finalised
  h_.Apply(f_.WithdrawDeclaration("2025-05-07T10:00:00+09:00", "e1", "d1"));  // withdraw finalised
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "finalized");
  EXPECT_EQ(RejectionCodes(), Codes(6, "INVALID_TRANSITION"));
}

TEST_F(WorkflowTest, LearningStateAndCareerWishTakeEffectWithoutApproval) {
  h_.Apply(f_.SubmitLearningState("2025-05-01T10:00:00+09:00", "e1", "ls1", 2));
  h_.Apply(f_.SubmitCareerWish("2025-05-01T11:00:00+09:00", "e1", "cw1"));
  h_.Apply(f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "ls1", "m1"));
  h_.Apply(f_.Finalize("2025-05-02T11:00:00+09:00", "e1", "cw1"));
  h_.Apply(f_.WithdrawDeclaration("2025-05-03T10:00:00+09:00", "e1", "ls1"));
  h_.Apply(f_.Amend("2025-05-04T10:00:00+09:00", "e1", "cw1"));  // allowed
  JsonView s = Status();
  ASSERT_EQ(s.Size("/other_declarations"), 2u);
  EXPECT_EQ(s.Str("/other_declarations/0/kind"), "learning_state");
  EXPECT_EQ(s.Int("/other_declarations/0/learning_state"), 2);
  EXPECT_EQ(s.Str("/other_declarations/0/state"), "submitted");
  EXPECT_EQ(s.Str("/other_declarations/1/kind"), "career_wish");
  EXPECT_EQ(s.Str("/other_declarations/1/state"), "amended");
  EXPECT_EQ(RejectionCodes(), Codes(3, "INVALID_TRANSITION"));
  JsonView e(h_.Engagement("e1"));
  EXPECT_EQ(e.Int("/learning_state/value"), 2);
}

TEST_F(WorkflowTest, PracticeDeclarationGoesThroughApprovalButIsNoStepCriterion) {
  ReachStepOne();
  h_.Apply(f_.SubmitPractice("2025-05-01T10:00:00+09:00", "e1", "p1", "dx_lit", 12));
  h_.Apply(f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "p1", "m1"));
  h_.Apply(f_.Finalize("2025-05-03T10:00:00+09:00", "e1", "p1"));
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/kind"), "practice");
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "finalized");
  EXPECT_EQ(s.Int("/programs/0/declarations/0/practice_months"), 12);
  EXPECT_EQ(s.Int("/programs/0/current_step"), 1);
  EXPECT_TRUE(RejectionCodes().empty());
}

TEST_F(WorkflowTest, EventsOutsideEmploymentAreRejected) {
  h_.Apply(f_.Complete("2025-03-01T10:00:00+09:00", "e1", "c-mind", 2));  // before hire
  h_.Apply(f_.Hire("2025-04-02T09:00:00+09:00", "e1", "dev", "m1"));      // hired twice
  h_.Apply(f_.Leave("2025-06-30T18:00:00+09:00", "e1"));
  h_.Apply(f_.Complete("2025-07-01T10:00:00+09:00", "e1", "c-sec", 2));   // after leaving
  h_.Apply(f_.Leave("2025-07-02T18:00:00+09:00", "e1"));                  // left twice
  JsonView s = Status();
  EXPECT_FALSE(s.Bool("/employed"));
  EXPECT_EQ(s.Str("/org_unit"), "dev-a");
  EXPECT_FALSE(s.Bool("/programs/0/next_step/criteria/0/met"));
  EXPECT_EQ(RejectionCodes(), (Codes{"NOT_EMPLOYED", "INVALID_TRANSITION", "NOT_EMPLOYED", "NOT_EMPLOYED"}));
  // Re-hired: events count again.
  h_.Apply(f_.Hire("2025-08-01T09:00:00+09:00", "e1", "sales", "m3"));
  h_.Apply(f_.Complete("2025-08-02T10:00:00+09:00", "e1", "c-mind", 2));
  JsonView back = Status();
  EXPECT_TRUE(back.Bool("/employed"));
  EXPECT_EQ(back.Str("/org_unit"), "sales");
  EXPECT_TRUE(back.Bool("/programs/0/next_step/criteria/0/met"));
}

TEST_F(WorkflowTest, DuplicateEventsChangeNothing) {
  ReachStepOne();
  const Fed submit = f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2);
  const Fed confirm = f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "d1", "m1");
  h_.Apply(submit);
  h_.Apply(confirm);
  JsonView once = Status();
  const std::string digest_once = JsonView(h_.Digest()).Str("/digest");
  h_.Apply(submit);
  h_.Apply(confirm);
  h_.Commit();
  h_.Apply(confirm);  // also after a checkpoint (journal on disk)
  JsonView twice = Status();
  EXPECT_EQ(twice.Int("/events_folded"), once.Int("/events_folded"));
  EXPECT_EQ(twice.Size("/programs/0/declarations/0/history"), 2u);
  EXPECT_TRUE(RejectionCodes().empty());
  EXPECT_EQ(JsonView(h_.Digest()).Str("/digest"), digest_once);
}

TEST_F(WorkflowTest, ApprovalArrivingBeforeItsDeclarationIsReconciled) {
  ReachStepOne();
  h_.Commit();
  const Fed submit = f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2);
  const Fed confirm = f_.Confirm("2025-05-02T10:00:00+09:00", "e1", "d1", "m1");
  h_.Apply(confirm);
  h_.Commit();
  // Until the declaration arrives the approval is an unknown declaration...
  EXPECT_EQ(RejectionCodes(), (Codes{"UNKNOWN_DECLARATION"}));
  h_.Apply(submit);  // ...which the re-fold reconciles.
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "confirmed");
  EXPECT_TRUE(RejectionCodes().empty());
}

TEST_F(WorkflowTest, LateManagerChangeRefoldsAndInvalidatesALaterConfirmation) {
  ReachStepOne();
  h_.Apply(f_.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2));
  h_.Apply(f_.Confirm("2025-05-03T10:00:00+09:00", "e1", "d1", "m1"));
  h_.Apply(f_.Finalize("2025-05-04T10:00:00+09:00", "e1", "d1"));
  EXPECT_EQ(Status().Int("/programs/0/current_step"), 2);
  // The HR system reports late that m2 became the manager on 2 May.
  h_.Apply(f_.ManagerChange("2025-05-02T09:00:00+09:00", "e1", "m2"));
  JsonView s = Status();
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "submitted");
  EXPECT_EQ(s.Int("/programs/0/current_step"), 1);
  EXPECT_EQ(RejectionCodes(), (Codes{"NOT_CURRENT_MANAGER", "NOT_CONFIRMED"}));
}

TEST_F(WorkflowTest, LateProgrammeVersionRefoldsAffectedEmployees) {
  // dx_new is defined (with an April time) only after e1's June declaration
  // was rejected as unknown; the re-fold accepts it.
  h_.Apply(f_.SubmitStep("2025-06-01T10:00:00+09:00", "e1", "d1", "dx_new", 1));
  h_.Commit();
  EXPECT_EQ(RejectionCodes(), (Codes{"UNKNOWN_PROGRAM_STEP"}));
  h_.Apply(f_.Program("2025-04-15T00:00:00+09:00", "dx_new", "other",
                      {ProgramStep{1, "one", {}, true}}));
  h_.Commit();
  EXPECT_TRUE(RejectionCodes().empty());
  JsonView s(h_.StepStatus("e1", "dx_new"));
  EXPECT_EQ(s.Str("/programs/0/declarations/0/state"), "submitted");
}

TEST_F(WorkflowTest, QueryFailurePaths) {
  h_.Commit();
  QueryService& q = h_.Query();
  EXPECT_EQ(q.StepStatus("nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q.StepStatus("e1", std::string_view("no_such_programme")).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(q.Engagement("nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q.Kpi("corp", "2025").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q.Kpi("no_such_org", "FY2025").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q.OrgEngagement("no_such_org").status().code(), StatusCode::kNotFound);
  JsonView none(h_.Rejections("nobody"));
  EXPECT_EQ(none.Int("/total"), 0);
}

TEST(WorkflowEmptyStoreTest, NoViewTimeIsAFailedPrecondition) {
  Harness h;
  h.Commit();
  auto result = h.Query().Engagement("e1");
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  auto org = h.Query().OrgEngagement("corp");
  EXPECT_EQ(org.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace jiritsu::processors::testing
