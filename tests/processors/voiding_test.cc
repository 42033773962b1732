// learning.voided (xAPI voiding, docs/xapi.md): the voided learning event no
// longer counts in step status, engagement or KPIs, whether the void arrives
// after its target, before it, or across a restart; and the views equal those
// of a journal that never held the voided event's effect.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

Fed Void(EventFactory& f, std::string_view time, const Fed& target) {
  // The factory gives ids; a void names its target by (source, id).
  Fed fed = f.WithdrawCourse(time, target.event.subject, "unused");
  fed.event.type = EventType::kLearningVoided;
  fed.event.data = LearningVoided{target.event.source, target.event.id, "test"};
  return fed;
}

class VoidingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reference_ = StandardReference(f_);
    hire_ = f_.Hire("2025-04-01T09:00:00+09:00", "e1", "dev-a", "m1");
    mind_ = f_.Complete("2025-04-10T10:00:00+09:00", "e1", "c-mind", 2);
    sec_ = f_.Complete("2025-04-11T10:00:00+09:00", "e1", "c-sec", 3);
    void_ = Void(f_, "2025-04-12T10:00:00+09:00", sec_);
  }

  static int CurrentStep(Harness& h) {
    h.Commit();
    return static_cast<int>(JsonView(h.StepStatus("e1", "dx_lit")).Int("/programs/0/current_step"));
  }

  EventFactory f_;
  std::vector<Fed> reference_;
  Fed hire_, mind_, sec_, void_;
};

TEST_F(VoidingTest, AVoidedCompletionNoLongerReachesTheStep) {
  Harness h;
  h.Apply(reference_);
  h.Apply({hire_, mind_, sec_});
  EXPECT_EQ(CurrentStep(h), 1);
  h.Apply(void_);
  EXPECT_EQ(CurrentStep(h), 0);
  // Same views as a journal without the voided completion's effect.
  Harness without;
  without.Apply(reference_);
  without.Apply({hire_, mind_});
  EXPECT_EQ(CurrentStep(without), 0);
  EXPECT_EQ(WithoutAuditTrail(h.Kpi("corp", "FY2025")),
            WithoutAuditTrail(without.Kpi("corp", "FY2025")));
  const int64_t as_of = At("2025-04-30T00:00:00+09:00");  // view time differs: the void is an event
  EXPECT_EQ(WithoutAuditTrail(h.Engagement("e1", as_of)),
            WithoutAuditTrail(without.Engagement("e1", as_of)));
  // The audit trail names the void: it is the event that last changed them.
  EXPECT_EQ(JsonView(h.Kpi("corp", "FY2025")).Str("/rolled_up/last_changed_by/id"), void_.event.id);
  EXPECT_EQ(JsonView(h.Engagement("e1", as_of)).Str("/last_changed_by/type"), "learning.voided");
  EXPECT_EQ(JsonView(without.Kpi("corp", "FY2025")).Str("/rolled_up/last_changed_by/id"),
            mind_.event.id);
}

TEST_F(VoidingTest, EveryArrivalOrderGivesTheSameDigest) {
  std::vector<Fed> events = {hire_, mind_, sec_, void_};
  std::string first;
  std::sort(events.begin(), events.end(), [](const Fed& a, const Fed& b) { return a.event.id < b.event.id; });
  do {
    Harness h;
    h.Apply(reference_);
    h.Apply(events);
    EXPECT_EQ(CurrentStep(h), 0);
    const std::string digest = h.Digest();
    if (first.empty()) first = digest;
    EXPECT_EQ(digest, first);
  } while (std::next_permutation(events.begin(), events.end(),
                                 [](const Fed& a, const Fed& b) { return a.event.id < b.event.id; }));
}

TEST_F(VoidingTest, VoidBeforeTargetAcrossARestart) {
  Harness h;
  h.Apply(reference_);
  h.Apply({hire_, mind_, void_});
  EXPECT_EQ(CurrentStep(h), 0);
  h.Restart();
  h.Apply(sec_);  // the target arrives late, after a restart: still voided
  EXPECT_EQ(CurrentStep(h), 0);
}

TEST_F(VoidingTest, AVoidOfAnotherEventLeavesTheCompletion) {
  Harness h;
  h.Apply(reference_);
  Fed other = Void(f_, "2025-04-12T10:00:00+09:00", hire_);
  other.event.data = LearningVoided{"urn:elsewhere", sec_.event.id, ""};  // wrong source
  h.Apply({hire_, mind_, sec_, other});
  EXPECT_EQ(CurrentStep(h), 1);
}

}  // namespace
}  // namespace jiritsu::processors::testing
