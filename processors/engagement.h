// Engagement indicators: evaluated from an employee's facts as of a view
// time T (never the wall clock), and rolled up per org unit and segment.
// Definitions and formulas: docs/views.md, "Engagement indicators".
//
// Thread-safety: pure functions and plain values.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "processors/facts.h"
#include "processors/json.h"
#include "processors/options.h"

namespace jiritsu::processors {

struct EngagementIndicators {
  int64_t as_of_us = 0;
  bool employed = false;
  std::string org_unit;
  std::string profile;
  std::optional<int64_t> employed_since_us;
  std::optional<LearningStateDeclared> learning_state;
  std::optional<int64_t> last_learning_activity_us;
  int64_t milli_hours_90d = 0;
  int64_t milli_hours_365d = 0;
  int64_t completions_90d = 0;
  int64_t completions_365d = 0;
  int32_t active_month_streak = 0;
  std::optional<int64_t> last_career_interview_us;
  std::optional<int64_t> last_interview_us;  // any kind
  int64_t one_on_ones_90d = 0;
  std::string one_on_one_bucket;  // none | below | on_rhythm
  int32_t fiscal_year = 0;
  int64_t career_interviews_fy = 0;
  std::string career_interview_bucket;  // none | recommended | above
  uint8_t breadth_measures = 0;         // kMeasure* bits
  int32_t breadth = 0;                  // popcount of breadth_measures
  std::string segment;                  // leading | middle | lagging
  bool at_risk = false;
};

EngagementIndicators EvaluateEngagement(const EmployeeFacts& facts, int64_t as_of_us,
                                        const ProjectorOptions& options);
Json EngagementToJson(const EmployeeFacts& facts, const EngagementIndicators& indicators,
                      const ProjectorOptions& options);

// Counts and distributions over a set of employees (employed at T only).
class EngagementRollup {
 public:
  void Add(const EngagementIndicators& indicators);
  Json ToJson() const;

 private:
  struct Group {
    int64_t population = 0;
    int64_t at_risk = 0;
    int64_t milli_hours_365d = 0;
    int64_t completions_365d = 0;
    int64_t active_last_90d = 0;
    std::map<std::string, int64_t> learning_state;  // "1".."6", "undeclared"
    std::map<std::string, int64_t> segment;
    std::map<std::string, int64_t> one_on_one_cadence;
    std::map<std::string, int64_t> career_interview_cadence;
    std::map<std::string, int64_t> breadth;  // "0".."4"
    void Add(const EngagementIndicators& indicators);
    Json ToJson(bool with_segments) const;
  };
  Group all_;
  std::map<std::string, Group> by_segment_;
};

}  // namespace jiritsu::processors
