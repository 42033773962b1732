#include "processors/cereal_io.h"
#include "processors/facts.h"

#include <algorithm>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>
#include <map>
#include <set>
#include <tuple>

namespace jiritsu::processors {
namespace {

template <size_t N>
bool AllZero(const std::array<int64_t, N>& values) {
  return std::all_of(values.begin(), values.end(), [](int64_t v) { return v == 0; });
}

// Accumulates period counters cheaply per (attribution, month) with integer
// keys, then expands each month into its month, fiscal quarter and fiscal
// year rows (BuildFacts runs for every changed employee at every checkpoint).
class PeriodAccumulator {
 public:
  PeriodAccumulator(const EmployeeState& state, int32_t offset) : offset_(offset) {
    std::map<std::pair<std::string, std::string>, uint32_t> ids;
    attribution_of_snapshot_.reserve(state.snapshots.size());
    for (const Snapshot& snap : state.snapshots) {
      auto [it, inserted] = ids.emplace(std::make_pair(snap.org_unit, snap.profile),
                                        static_cast<uint32_t>(attributions_.size()));
      if (inserted) attributions_.push_back(it->first);
      attribution_of_snapshot_.push_back(it->second);
    }
  }

  void Add(uint32_t snapshot, int64_t time_us, PeriodCounter counter, int64_t amount = 1) {
    Cell(snapshot, time_us).values[counter] += amount;
  }

  void AddLeadTime(uint32_t snapshot, int64_t time_us, int64_t minutes) {
    Cell(snapshot, time_us).lead_minutes.push_back(minutes);
  }

  // Adds line counters to the row of one period (kind: 0 month, 1 quarter,
  // 2 fiscal year; `first_month` identifies the period).
  void AddLine(uint32_t snapshot, int kind, MonthIndex first_month,
               const std::array<int64_t, kPeriodCounterCount>& values) {
    auto& cell = line_[{attribution_of_snapshot_.at(snapshot), kind, first_month}];
    for (int i = 0; i < kPeriodCounterCount; ++i) cell[i] += values[i];
  }

  std::vector<PeriodRow> TakeRows() {
    // Rows are keyed by integers (attribution, period kind, first month) and
    // labelled once each: string-keyed maps here were most of BuildFacts'
    // time, and BuildFacts runs for every changed employee at every
    // checkpoint. The contributions of each row are gathered in a sorted
    // vector (a few dozen per employee) rather than a map of nodes.
    using Key = std::tuple<uint32_t, int, MonthIndex>;
    struct Contribution {
      Key key;
      const std::array<int64_t, kPeriodCounterCount>* values;
      const std::vector<int64_t>* lead_minutes;  // null for line counters
    };
    std::vector<Contribution> contributions;
    contributions.reserve(3 * cells_.size() + line_.size());
    for (const auto& [key, cell] : cells_) {
      const auto& [attribution, month] = key;
      for (const auto& [kind, first_month] :
           {std::pair{0, month}, std::pair{1, FiscalQuarterStartMonth(month)},
            std::pair{2, FiscalYearStartMonth(month)}}) {
        contributions.push_back(
            {{attribution, kind, first_month}, &cell.values, &cell.lead_minutes});
      }
    }
    for (const auto& [key, values] : line_) contributions.push_back({key, &values, nullptr});
    std::sort(contributions.begin(), contributions.end(),
                     [](const Contribution& a, const Contribution& b) { return a.key < b.key; });

    struct Labelled {
      uint32_t attribution;
      std::string period;
      size_t first;  // contributions [first, last)
      size_t last;
    };
    std::vector<Labelled> rows;
    std::vector<std::pair<int64_t, int64_t>> lead;
    for (size_t first = 0; first < contributions.size();) {
      size_t last = first + 1;
      while (last < contributions.size() && contributions[last].key == contributions[first].key) {
        ++last;
      }
      const auto& [attribution, kind, first_month] = contributions[first].key;
      rows.push_back({attribution,
                      kind == 0   ? MonthLabel(first_month)
                      : kind == 1 ? QuarterLabel(first_month)
                                  : FiscalYearLabel(first_month),
                      first, last});
      first = last;
    }
    // Canonical order: (org, profile, period).
    std::vector<uint32_t> attribution_rank(attributions_.size());
    {
      std::vector<uint32_t> order(attributions_.size());
      for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(),
                [&](uint32_t a, uint32_t b) { return attributions_[a] < attributions_[b]; });
      for (uint32_t rank = 0; rank < order.size(); ++rank) attribution_rank[order[rank]] = rank;
    }
    std::sort(rows.begin(), rows.end(), [&](const Labelled& a, const Labelled& b) {
      return std::tie(attribution_rank[a.attribution], a.period) <
             std::tie(attribution_rank[b.attribution], b.period);
    });

    std::vector<PeriodRow> out;
    out.reserve(rows.size());
    for (Labelled& labelled : rows) {
      std::array<int64_t, kPeriodCounterCount> values{};
      lead.clear();
      for (size_t i = labelled.first; i < labelled.last; ++i) {
        const Contribution& c = contributions[i];
        for (int k = 0; k < kPeriodCounterCount; ++k) values[k] += (*c.values)[k];
        if (c.lead_minutes != nullptr) {
          for (int64_t minutes : *c.lead_minutes) lead.emplace_back(minutes, 1);
        }
      }
      if (AllZero(values) && lead.empty()) continue;
      PeriodRow& r = out.emplace_back();
      r.org_unit = attributions_[labelled.attribution].first;
      r.profile = attributions_[labelled.attribution].second;
      r.period = std::move(labelled.period);
      r.values = values;
      // minutes -> count, ascending.
      std::sort(lead.begin(), lead.end());
      for (const auto& [minutes, one] : lead) {
        if (!r.lead_minutes.empty() && r.lead_minutes.back().first == minutes) {
          r.lead_minutes.back().second += one;
        } else {
          r.lead_minutes.emplace_back(minutes, one);
        }
      }
    }
    return out;
  }

 private:
  struct MonthCell {
    std::array<int64_t, kPeriodCounterCount> values{};
    std::vector<int64_t> lead_minutes;
  };
  MonthCell& Cell(uint32_t snapshot, int64_t time_us) {
    return cells_[{attribution_of_snapshot_.at(snapshot), MonthOf(time_us, offset_)}];
  }

  const int32_t offset_;
  std::vector<std::pair<std::string, std::string>> attributions_;  // (org, profile)
  std::vector<uint32_t> attribution_of_snapshot_;
  std::map<std::pair<uint32_t, MonthIndex>, MonthCell> cells_;
  std::map<std::tuple<uint32_t, int, MonthIndex>, std::array<int64_t, kPeriodCounterCount>> line_;
};

std::array<int64_t, kStateMeasureCount> MeasuresOf(const Snapshot& snap) {
  std::array<int64_t, kStateMeasureCount> v{};
  if (!snap.employed) return v;
  v[kPopulation] = 1;
  v[kCompletedRequired] = (snap.flags & kFlagCompletedRequired) ? 1 : 0;
  v[kAware] = (snap.flags & kFlagAware) ? 1 : 0;
  v[kDeclaredState] = (snap.flags & kFlagDeclaredState) ? 1 : 0;
  v[kMature] = (snap.flags & kFlagMature) ? 1 : 0;
  return v;
}

std::vector<StateDeltaRow> StateDeltas(const EmployeeState& state, int32_t offset_minutes) {
  std::map<std::tuple<std::string, std::string, MonthIndex>, std::array<int64_t, kStateMeasureCount>>
      deltas;
  const Snapshot* previous = nullptr;
  for (const Snapshot& snap : state.snapshots) {
    const MonthIndex month = MonthOf(snap.time_us, offset_minutes);
    if (previous != nullptr) {
      auto& row = deltas[{previous->org_unit, previous->profile, month}];
      const auto old_values = MeasuresOf(*previous);
      for (int i = 0; i < kStateMeasureCount; ++i) row[i] -= old_values[i];
    }
    auto& row = deltas[{snap.org_unit, snap.profile, month}];
    const auto new_values = MeasuresOf(snap);
    for (int i = 0; i < kStateMeasureCount; ++i) row[i] += new_values[i];
    previous = &snap;
  }
  std::vector<StateDeltaRow> out;
  for (const auto& [key, values] : deltas) {
    if (AllZero(values)) continue;
    out.push_back(StateDeltaRow{std::get<0>(key), std::get<1>(key), std::get<2>(key), values});
  }
  return out;
}

bool IsLearningStart(const ActivityRecord& a) {
  return a.kind == static_cast<uint8_t>(ActivityKind::kEnrolled) ||
         a.kind == static_cast<uint8_t>(ActivityKind::kProgressed);
}

bool IsPassedCompletion(const ActivityRecord& a) {
  return a.kind == static_cast<uint8_t>(ActivityKind::kCompleted) && a.passed;
}

}  // namespace

std::string_view PeriodCounterName(int counter) {
  static constexpr std::string_view kNames[kPeriodCounterCount] = {
      "interviews_career",     "interviews_one_on_one", "interviews_counseling",
      "interviews_cancelled",  "trainings_enrolled",    "trainings_completed",
      "certifications",        "learning_milli_hours",  "declarations_submitted",
      "declarations_finalized", "line_interviewed",     "line_started_learning",
      "line_completed_learning", "line_declared",       "line_finalized"};
  return counter >= 0 && counter < kPeriodCounterCount ? kNames[counter] : "unknown";
}

std::string_view StateMeasureName(int measure) {
  static constexpr std::string_view kNames[kStateMeasureCount] = {
      "population", "completed_required", "aware", "declared_state", "mature"};
  return measure >= 0 && measure < kStateMeasureCount ? kNames[measure] : "unknown";
}

EmployeeFacts BuildFacts(const EmployeeState& state, const ReferenceTable& reference,
                         const ProjectorOptions& options, std::string views_hash) {
  const int32_t offset = options.reporting_utc_offset_minutes;
  EmployeeFacts facts;
  facts.employee_id = state.employee_id;
  facts.events_folded = state.events_folded;
  facts.program_versions = reference.ProgramVersionsAtOrBefore(state.last_time_us);
  facts.views_hash = std::move(views_hash);
  facts.last_event_time_us = state.events_folded == 0 ? 0 : state.last_time_us;
  if (state.events_folded != 0) facts.last_event = state.last_changed_by;

  for (const Snapshot& snap : state.snapshots) {
    if (!facts.timeline.empty()) {
      const Attribution& last = facts.timeline.back();
      if (last.employed == snap.employed && last.org_unit == snap.org_unit &&
          last.profile == snap.profile) {
        continue;
      }
    }
    facts.timeline.push_back({snap.time_us, snap.employed, snap.org_unit, snap.profile});
  }
  facts.learning_states = state.learning_states;

  // Rolling-window inputs, bounded to the retention window.
  const int64_t window_start = facts.last_event_time_us - kFactsRetentionDays * kMicrosPerDay;
  std::set<MonthIndex> active_months;
  std::map<int32_t, uint8_t> participation;
  for (const ActivityRecord& a : state.activities) {
    active_months.insert(MonthOf(a.time_us, offset));
    const int32_t fy = FiscalYearOfMonth(MonthOf(a.time_us, offset));
    participation[fy] |= a.kind == static_cast<uint8_t>(ActivityKind::kCertified)
                             ? kMeasureCertification
                             : kMeasureLearning;
    if (a.time_us >= window_start) {
      facts.recent_activities.push_back({a.time_us, a.kind, a.milli_hours, a.passed});
    } else {
      facts.older_activity_us = a.time_us;
    }
  }
  for (const InterviewRecord& i : state.interviews) {
    participation[FiscalYearOfMonth(MonthOf(i.time_us, offset))] |= kMeasureInterview;
    if (i.kind == static_cast<uint8_t>(InterviewKind::kCareer)) {
      facts.career_interviews.push_back(i.time_us);
    }
    if (i.time_us >= window_start) {
      facts.recent_interviews.push_back({i.time_us, i.kind});
    } else {
      facts.older_interview_us = i.time_us;
    }
  }
  for (const auto& [id, d] : state.declarations) {
    participation[FiscalYearOfMonth(MonthOf(d.submitted_at, offset))] |= kMeasureDeclaration;
  }
  facts.active_months.assign(active_months.begin(), active_months.end());
  facts.participation.assign(participation.begin(), participation.end());

  // KPI contributions.
  facts.state_deltas = StateDeltas(state, offset);
  PeriodAccumulator builder(state, offset);
  for (const InterviewRecord& i : state.interviews) {
    const PeriodCounter counter = i.kind == static_cast<uint8_t>(InterviewKind::kCareer)
                                      ? kInterviewsCareer
                                  : i.kind == static_cast<uint8_t>(InterviewKind::kOneOnOne)
                                      ? kInterviewsOneOnOne
                                      : kInterviewsCounseling;
    builder.Add(i.snapshot, i.time_us, counter);
  }
  for (const CancellationRecord& c : state.cancellations) {
    builder.Add(c.snapshot, c.time_us, kInterviewsCancelled);
  }
  for (const ActivityRecord& a : state.activities) {
    switch (static_cast<ActivityKind>(a.kind)) {
      case ActivityKind::kEnrolled: builder.Add(a.snapshot, a.time_us, kTrainingsEnrolled); break;
      case ActivityKind::kProgressed: break;
      case ActivityKind::kCompleted:
        if (a.passed) builder.Add(a.snapshot, a.time_us, kTrainingsCompleted);
        break;
      case ActivityKind::kCertified: builder.Add(a.snapshot, a.time_us, kCertifications); break;
    }
    if (a.milli_hours != 0) builder.Add(a.snapshot, a.time_us, kLearningMilliHours, a.milli_hours);
  }
  for (const auto& [id, d] : state.declarations) {
    builder.Add(d.submitted_snapshot, d.submitted_at, kDeclarationsSubmitted);
    if (d.finalized_at) {
      builder.Add(d.finalized_snapshot, *d.finalized_at, kDeclarationsFinalized);
      builder.AddLeadTime(d.finalized_snapshot, *d.finalized_at,
                          (*d.finalized_at - d.submitted_at) / (60 * kMicrosPerSecond));
    }
  }

  // The line across measures: per period, the first career interview of
  // the period opens the window; the person counts once per period.
  const auto within = [](int64_t t, int64_t start, int32_t days) {
    return t >= start && t <= start + days * kMicrosPerDay;
  };
  std::set<std::pair<int, MonthIndex>> periods_seen;
  for (const InterviewRecord& interview : state.interviews) {
    if (interview.kind != static_cast<uint8_t>(InterviewKind::kCareer)) continue;
    const int64_t t0 = interview.time_us;
    const MonthIndex month = MonthOf(t0, offset);
    const std::pair<int, MonthIndex> periods[3] = {
        {0, month}, {1, FiscalQuarterStartMonth(month)}, {2, FiscalYearStartMonth(month)}};
    bool started = false, completed = false, declared = false, finalized = false;
    bool evaluated = false;
    for (const auto& period : periods) {
      if (!periods_seen.insert(period).second) continue;
      if (!evaluated) {
        for (const ActivityRecord& a : state.activities) {
          started |= IsLearningStart(a) && within(a.time_us, t0, options.line_learning_start_days);
          completed |= IsPassedCompletion(a) && within(a.time_us, t0, options.line_completion_days);
        }
        for (const auto& [id, d] : state.declarations) {
          declared |= within(d.submitted_at, t0, options.line_declaration_days);
          finalized |= d.finalized_at && within(*d.finalized_at, t0, options.line_declaration_days);
        }
        evaluated = true;
      }
      std::array<int64_t, kPeriodCounterCount> values{};
      values[kLineInterviewed] = 1;
      values[kLineStartedLearning] = started ? 1 : 0;
      values[kLineCompletedLearning] = completed ? 1 : 0;
      values[kLineDeclared] = declared ? 1 : 0;
      values[kLineFinalized] = finalized ? 1 : 0;
      builder.AddLine(interview.snapshot, period.first, period.second, values);
    }
  }
  facts.period_rows = builder.TakeRows();
  return facts;
}

std::string EncodeFacts(const EmployeeFacts& facts) {
  return EncodeCompact(1024, kFactsFormat, facts, facts.last_event);
}

Result<EmployeeFacts> DecodeFacts(std::string_view bytes) {
  const uint8_t format = bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]);
  if (format < 1 || format > kFactsFormat) {
    return Corruption("employee facts: unknown format version " + std::to_string(format));
  }
  EmployeeFacts facts;
  const auto error = format == 1   ? DecodeCereal(bytes.substr(1), facts)
                     : format == 2 ? DecodeCereal(bytes.substr(1), facts, facts.last_event)
                                   : DecodeCompact(bytes.substr(1), facts, facts.last_event);
  if (error) return Corruption("employee facts: " + *error);
  return facts;
}

bool FactsNewer(const EmployeeFacts& candidate, std::string_view candidate_bytes,
                const EmployeeFacts& current, std::string_view current_bytes) {
  return std::make_tuple(candidate.events_folded, candidate.program_versions, candidate_bytes) >
         std::make_tuple(current.events_folded, current.program_versions, current_bytes);
}

}  // namespace jiritsu::processors
