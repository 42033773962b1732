#include "processors/engagement.h"

#include <algorithm>
#include <bit>
#include <set>

#include "processors/time_util.h"

namespace jiritsu::processors {
namespace {

// (T - days, T]
bool InWindow(int64_t t, int64_t as_of, int32_t days) {
  return t <= as_of && t > as_of - days * kMicrosPerDay;
}

Json MilliHours(int64_t milli) { return Json(static_cast<double>(milli) / 1000.0); }

Json Time(const std::optional<int64_t>& t, int32_t offset) {
  return t ? Json(FormatTime(*t, offset)) : Json();
}

}  // namespace

EngagementIndicators EvaluateEngagement(const EmployeeFacts& facts, int64_t as_of,
                                        const ProjectorOptions& options) {
  EngagementIndicators out;
  out.as_of_us = as_of;
  for (const Attribution& a : facts.timeline) {
    if (a.time_us > as_of) break;
    if (a.employed && !out.employed) out.employed_since_us = a.time_us;
    if (!a.employed) out.employed_since_us.reset();
    out.employed = a.employed;
    out.org_unit = a.org_unit;
    out.profile = a.profile;
  }
  for (const LearningStateDeclared& d : facts.learning_states) {
    if (d.time_us <= as_of) out.learning_state = d;
  }

  if (facts.older_activity_us && *facts.older_activity_us <= as_of) {
    out.last_learning_activity_us = facts.older_activity_us;
  }
  for (const FactsActivity& a : facts.recent_activities) {
    if (a.time_us > as_of) continue;
    out.last_learning_activity_us = std::max(out.last_learning_activity_us.value_or(a.time_us), a.time_us);
    const bool passed = a.kind == static_cast<uint8_t>(ActivityKind::kCompleted) && a.passed;
    if (InWindow(a.time_us, as_of, 90)) {
      out.milli_hours_90d += a.milli_hours;
      out.completions_90d += passed ? 1 : 0;
    }
    if (InWindow(a.time_us, as_of, 365)) {
      out.milli_hours_365d += a.milli_hours;
      out.completions_365d += passed ? 1 : 0;
    }
  }

  const int32_t offset = options.reporting_utc_offset_minutes;
  const MonthIndex as_of_month = MonthOf(as_of, offset);
  const std::set<MonthIndex> active(facts.active_months.begin(), facts.active_months.end());
  // The current month still runs: a streak may end at T's month or the one before.
  MonthIndex month = active.count(as_of_month) ? as_of_month : as_of_month - 1;
  while (active.count(month)) {
    ++out.active_month_streak;
    --month;
  }

  if (facts.older_interview_us && *facts.older_interview_us <= as_of) {
    out.last_interview_us = facts.older_interview_us;
  }
  for (const FactsInterview& i : facts.recent_interviews) {
    if (i.time_us > as_of) continue;
    out.last_interview_us = std::max(out.last_interview_us.value_or(i.time_us), i.time_us);
    if (i.kind == static_cast<uint8_t>(InterviewKind::kOneOnOne) && InWindow(i.time_us, as_of, 90)) {
      ++out.one_on_ones_90d;
    }
  }
  out.one_on_one_bucket = out.one_on_ones_90d == 0 ? "none"
                          : out.one_on_ones_90d < options.expected_one_on_ones_90d ? "below"
                                                                                    : "on_rhythm";
  out.fiscal_year = FiscalYearOfMonth(as_of_month);
  for (int64_t t : facts.career_interviews) {
    if (t > as_of) continue;
    out.last_career_interview_us = t;
    if (FiscalYearOfMonth(MonthOf(t, offset)) == out.fiscal_year) ++out.career_interviews_fy;
  }
  out.career_interview_bucket = out.career_interviews_fy == 0   ? "none"
                                : out.career_interviews_fy <= 2 ? "recommended"
                                                                : "above";
  for (const auto& [fy, bits] : facts.participation) {
    if (fy == out.fiscal_year) out.breadth_measures = bits;
  }
  out.breadth = std::popcount(static_cast<unsigned>(out.breadth_measures));

  const auto active_within = [&](int32_t days) {
    return out.last_learning_activity_us && InWindow(*out.last_learning_activity_us, as_of, days);
  };
  const int32_t state = out.learning_state ? out.learning_state->state : 0;
  const bool active_90 = active_within(90);
  const bool active_365 = active_within(365);
  if (active_90 && ((state >= 1 && state <= 2) || out.completions_365d >= 2)) {
    out.segment = "leading";
  } else if (!active_365 || (state >= 5 && !active_90)) {
    out.segment = "lagging";
  } else {
    out.segment = "middle";
  }

  const int32_t risk_days = options.at_risk_days;
  const bool tenured = out.employed_since_us &&
                       *out.employed_since_us <= as_of - risk_days * kMicrosPerDay;
  const bool interviewed = out.last_interview_us && InWindow(*out.last_interview_us, as_of, risk_days);
  out.at_risk = out.employed && tenured && !active_within(risk_days) && !interviewed;
  return out;
}

Json EngagementToJson(const EmployeeFacts& facts, const EngagementIndicators& e,
                      const ProjectorOptions& options) {
  const int32_t offset = options.reporting_utc_offset_minutes;
  Json out;
  out["employee"] = facts.employee_id;
  out["as_of"] = FormatTime(e.as_of_us, offset);
  out["employed"] = e.employed;
  out["org_unit"] = e.org_unit;
  out["talent_profile"] = e.profile;
  if (e.learning_state) {
    out["learning_state"]["value"] = e.learning_state->state;
    out["learning_state"]["declared_at"] = FormatTime(e.learning_state->time_us, offset);
  } else {
    out["learning_state"] = Json();
  }
  out["last_learning_activity"] = Time(e.last_learning_activity_us, offset);
  out["learning_hours_90d"] = MilliHours(e.milli_hours_90d);
  out["learning_hours_365d"] = MilliHours(e.milli_hours_365d);
  out["completions_90d"] = e.completions_90d;
  out["completions_365d"] = e.completions_365d;
  out["active_month_streak"] = e.active_month_streak;
  out["last_career_interview"] = Time(e.last_career_interview_us, offset);
  out["one_on_ones_90d"]["count"] = e.one_on_ones_90d;
  out["one_on_ones_90d"]["expected"] = options.expected_one_on_ones_90d;
  out["one_on_ones_90d"]["bucket"] = e.one_on_one_bucket;
  out["career_interviews_fy"]["fiscal_year"] = "FY" + std::to_string(e.fiscal_year);
  out["career_interviews_fy"]["count"] = e.career_interviews_fy;
  out["career_interviews_fy"]["recommended"] = "1-2";
  out["career_interviews_fy"]["bucket"] = e.career_interview_bucket;
  Json measures = Json::MakeArray();
  if (e.breadth_measures & kMeasureInterview) measures.Push("interview");
  if (e.breadth_measures & kMeasureLearning) measures.Push("learning");
  if (e.breadth_measures & kMeasureDeclaration) measures.Push("declaration");
  if (e.breadth_measures & kMeasureCertification) measures.Push("certification");
  out["breadth_fy"]["count"] = e.breadth;
  out["breadth_fy"]["measures"] = std::move(measures);
  out["segment"] = e.segment;
  out["at_risk"] = e.at_risk;
  out["at_risk_days"] = options.at_risk_days;
  return out;
}

void EngagementRollup::Group::Add(const EngagementIndicators& e) {
  ++population;
  at_risk += e.at_risk ? 1 : 0;
  milli_hours_365d += e.milli_hours_365d;
  completions_365d += e.completions_365d;
  active_last_90d +=
      e.last_learning_activity_us && InWindow(*e.last_learning_activity_us, e.as_of_us, 90) ? 1 : 0;
  ++learning_state[e.learning_state ? std::to_string(e.learning_state->state) : "undeclared"];
  ++segment[e.segment];
  ++one_on_one_cadence[e.one_on_one_bucket];
  ++career_interview_cadence[e.career_interview_bucket];
  ++breadth[std::to_string(e.breadth)];
}

Json EngagementRollup::Group::ToJson(bool with_segments) const {
  const auto histogram = [](const std::map<std::string, int64_t>& counts,
                            std::initializer_list<const char*> keys) {
    Json out = Json::MakeObject();
    for (const char* key : keys) {
      auto it = counts.find(key);
      out[key] = it == counts.end() ? int64_t{0} : it->second;
    }
    return out;
  };
  Json out;
  out["population"] = population;
  out["at_risk"] = at_risk;
  out["at_risk_rate"] = Ratio(at_risk, population);
  out["active_last_90d"] = active_last_90d;
  out["learning_hours_365d_total"] = MilliHours(milli_hours_365d);
  out["learning_hours_365d_mean"] =
      population == 0 ? Json() : Json(static_cast<double>(milli_hours_365d) / 1000.0 / population);
  out["completions_365d_total"] = completions_365d;
  out["learning_state"] = histogram(learning_state, {"1", "2", "3", "4", "5", "6", "undeclared"});
  out["aware_rate"] = Ratio(
      (learning_state.count("1") ? learning_state.at("1") : 0) +
          (learning_state.count("2") ? learning_state.at("2") : 0),
      population);
  out["one_on_one_cadence"] = histogram(one_on_one_cadence, {"none", "below", "on_rhythm"});
  out["career_interview_cadence"] =
      histogram(career_interview_cadence, {"none", "recommended", "above"});
  out["breadth"] = histogram(breadth, {"0", "1", "2", "3", "4"});
  if (with_segments) out["segments"] = histogram(segment, {"leading", "middle", "lagging"});
  return out;
}

void EngagementRollup::Add(const EngagementIndicators& indicators) {
  if (!indicators.employed) return;
  all_.Add(indicators);
  by_segment_[indicators.segment].Add(indicators);
}

Json EngagementRollup::ToJson() const {
  Json out = all_.ToJson(/*with_segments=*/true);
  Json by_segment = Json::MakeObject();
  for (const char* segment : {"leading", "middle", "lagging"}) {
    auto it = by_segment_.find(segment);
    by_segment[segment] = it == by_segment_.end() ? Group().ToJson(false) : it->second.ToJson(false);
  }
  out["by_segment"] = std::move(by_segment);
  return out;
}

}  // namespace jiritsu::processors
