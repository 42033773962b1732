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
#include <optional>
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
// year rows (BuildFacts runs for every changed employee at every checkpoint,
// and once per published facts record in a live run).
class PeriodAccumulator {
 public:
  PeriodAccumulator(const EmployeeState& state, int32_t offset) : months_(offset) {
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
    lines_.push_back({attribution_of_snapshot_.at(snapshot), kind, first_month, values});
  }

  std::vector<PeriodRow> TakeRows() {
    // The cells are in (attribution, month) order, so each attribution's
    // month rows come out in order and its quarter and fiscal-year rows are
    // runs of consecutive cells: one pass, no sort of the contributions
    // (sorting them, and a map of cells, were most of BuildFacts' time).
    std::array<std::vector<RowSum>, 3> rows;  // by kind, each in (attribution, first month) order
    rows[0].reserve(cells_.size());
    for (MonthCell& cell : cells_) {
      const uint32_t attribution = static_cast<uint32_t>(cell.key >> 32);
      const MonthIndex month = MonthOfKey(cell.key);
      const MonthIndex firsts[3] = {month, FiscalQuarterStartMonth(month),
                                    FiscalYearStartMonth(month)};
      for (int kind = 0; kind < 3; ++kind) {
        std::vector<RowSum>& of_kind = rows[kind];
        if (of_kind.empty() || of_kind.back().attribution != attribution ||
            of_kind.back().first_month != firsts[kind]) {
          of_kind.push_back({attribution, firsts[kind], {}, {}});
        }
        RowSum& row = of_kind.back();
        for (int i = 0; i < kPeriodCounterCount; ++i) row.values[i] += cell.values[i];
        row.lead_minutes.insert(row.lead_minutes.end(), cell.lead_minutes.begin(),
                                cell.lead_minutes.end());
      }
    }
    for (const LineCounters& line : lines_) {
      std::vector<RowSum>& of_kind = rows[line.kind];
      auto it = std::lower_bound(of_kind.begin(), of_kind.end(), line,
                                 [](const RowSum& row, const LineCounters& l) {
                                   return std::tie(row.attribution, row.first_month) <
                                          std::tie(l.attribution, l.first_month);
                                 });
      if (it == of_kind.end() || it->attribution != line.attribution ||
          it->first_month != line.first_month) {
        it = of_kind.insert(it, RowSum{line.attribution, line.first_month, {}, {}});
      }
      for (int i = 0; i < kPeriodCounterCount; ++i) it->values[i] += line.values[i];
    }

    struct Labelled {
      uint32_t rank;    // of the attribution's (org, profile)
      uint64_t order;   // PeriodOrder of the label
      std::string period;
      RowSum* row;
    };
    std::vector<uint32_t> attribution_rank(attributions_.size());
    {
      std::vector<uint32_t> order(attributions_.size());
      for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(),
                [&](uint32_t a, uint32_t b) { return attributions_[a] < attributions_[b]; });
      for (uint32_t rank = 0; rank < order.size(); ++rank) attribution_rank[order[rank]] = rank;
    }
    std::vector<Labelled> labelled;
    labelled.reserve(rows[0].size() + rows[1].size() + rows[2].size());
    bool orders_known = true;
    for (int kind = 0; kind < 3; ++kind) {
      for (RowSum& row : rows[kind]) {
        if (AllZero(row.values) && row.lead_minutes.empty()) continue;
        const std::optional<uint64_t> order = PeriodOrder(kind, row.first_month);
        orders_known = orders_known && order.has_value();
        labelled.push_back({attribution_rank[row.attribution], order.value_or(0),
                            kind == 0   ? MonthLabel(row.first_month)
                            : kind == 1 ? QuarterLabel(row.first_month)
                                        : FiscalYearLabel(row.first_month),
                            &row});
      }
    }
    // Canonical order: (org, profile, period label).
    if (orders_known) {
      std::sort(labelled.begin(), labelled.end(), [](const Labelled& a, const Labelled& b) {
        return std::tie(a.rank, a.order) < std::tie(b.rank, b.order);
      });
    } else {
      std::sort(labelled.begin(), labelled.end(), [](const Labelled& a, const Labelled& b) {
        return std::tie(a.rank, a.period) < std::tie(b.rank, b.period);
      });
    }

    std::vector<PeriodRow> out;
    out.reserve(labelled.size());
    for (Labelled& one : labelled) {
      RowSum& sum = *one.row;
      PeriodRow& r = out.emplace_back();
      r.org_unit = attributions_[sum.attribution].first;
      r.profile = attributions_[sum.attribution].second;
      r.period = std::move(one.period);
      r.values = sum.values;
      // minutes -> count, ascending.
      std::sort(sum.lead_minutes.begin(), sum.lead_minutes.end());
      for (const int64_t minutes : sum.lead_minutes) {
        if (!r.lead_minutes.empty() && r.lead_minutes.back().first == minutes) {
          ++r.lead_minutes.back().second;
        } else {
          r.lead_minutes.emplace_back(minutes, 1);
        }
      }
    }
    return out;
  }

 private:
  struct MonthCell {
    uint64_t key = 0;  // CellKey(attribution, month)
    std::array<int64_t, kPeriodCounterCount> values{};
    std::vector<int64_t> lead_minutes;
  };
  struct RowSum {
    uint32_t attribution = 0;
    MonthIndex first_month = 0;
    std::array<int64_t, kPeriodCounterCount> values{};
    std::vector<int64_t> lead_minutes;
  };
  struct LineCounters {
    uint32_t attribution = 0;
    int kind = 0;
    MonthIndex first_month = 0;
    std::array<int64_t, kPeriodCounterCount> values{};
  };

  // The byte order of the period's label as an integer, for four-digit
  // years: "2025-07" < "2025Q1" (FY2025, from 2025-04) < "2026-01" <
  // "FY2025". Sorting by it instead of by the labels took string compares
  // out of every BuildFacts. Other years: none (the caller compares labels).
  static std::optional<uint64_t> PeriodOrder(int kind, MonthIndex first_month) {
    const int32_t year = kind == 0 ? YearOfMonth(first_month) : FiscalYearOfMonth(first_month);
    if (year < 1000 || year > 9999) return std::nullopt;
    const uint64_t number = kind == 0   ? static_cast<uint64_t>(MonthNumber(first_month))
                            : kind == 1 ? static_cast<uint64_t>(FiscalQuarterOfMonth(first_month))
                                        : 0;
    return (uint64_t{kind == 2} << 40) | (static_cast<uint64_t>(year) << 16) |
           (uint64_t{kind == 1} << 8) | number;
  }

  // Ordered as (attribution, month); the sign bit flip keeps negative
  // months before positive ones.
  static uint64_t CellKey(uint32_t attribution, MonthIndex month) {
    return (uint64_t{attribution} << 32) | (static_cast<uint32_t>(month) ^ 0x8000'0000u);
  }
  static MonthIndex MonthOfKey(uint64_t key) {
    return static_cast<MonthIndex>(static_cast<uint32_t>(key) ^ 0x8000'0000u);
  }

  // The records of one kind come in time order, so the cell of the previous
  // call is usually the one wanted; otherwise a binary search, and an insert
  // that is mostly at the end.
  MonthCell& Cell(uint32_t snapshot, int64_t time_us) {
    const uint64_t key = CellKey(attribution_of_snapshot_.at(snapshot), months_(time_us));
    if (last_cell_ < cells_.size() && cells_[last_cell_].key == key) return cells_[last_cell_];
    auto it = std::lower_bound(cells_.begin(), cells_.end(), key,
                               [](const MonthCell& cell, uint64_t k) { return cell.key < k; });
    if (it == cells_.end() || it->key != key) {
      it = cells_.insert(it, MonthCell{});
      it->key = key;
    }
    last_cell_ = static_cast<size_t>(it - cells_.begin());
    return *it;
  }

  MonthCutter months_;
  std::vector<std::pair<std::string, std::string>> attributions_;  // (org, profile)
  std::vector<uint32_t> attribution_of_snapshot_;
  std::vector<MonthCell> cells_;  // sorted by key
  size_t last_cell_ = 0;
  std::vector<LineCounters> lines_;
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
  MonthCutter month_of(offset_minutes);
  for (const Snapshot& snap : state.snapshots) {
    const MonthIndex month = month_of(snap.time_us);
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
  std::vector<MonthIndex> active_months;
  std::vector<std::pair<int32_t, uint8_t>> participation;  // fiscal year -> bits; a few years
  const auto participate = [&participation](int32_t fiscal_year, uint8_t measure) {
    for (auto it = participation.rbegin(); it != participation.rend(); ++it) {
      if (it->first == fiscal_year) {
        it->second |= measure;
        return;
      }
    }
    participation.emplace_back(fiscal_year, measure);
  };
  MonthCutter activity_month(offset);
  for (const ActivityRecord& a : state.activities) {
    const MonthIndex month = activity_month(a.time_us);
    if (active_months.empty() || active_months.back() != month) active_months.push_back(month);
    participate(FiscalYearOfMonth(month), a.kind == static_cast<uint8_t>(ActivityKind::kCertified)
                                              ? kMeasureCertification
                                              : kMeasureLearning);
    if (a.time_us >= window_start) {
      facts.recent_activities.push_back({a.time_us, a.kind, a.milli_hours, a.passed});
    } else {
      facts.older_activity_us = a.time_us;
    }
  }
  MonthCutter interview_month(offset);
  for (const InterviewRecord& i : state.interviews) {
    participate(FiscalYearOfMonth(interview_month(i.time_us)), kMeasureInterview);
    if (i.kind == static_cast<uint8_t>(InterviewKind::kCareer)) {
      facts.career_interviews.push_back(i.time_us);
    }
    if (i.time_us >= window_start) {
      facts.recent_interviews.push_back({i.time_us, i.kind});
    } else {
      facts.older_interview_us = i.time_us;
    }
  }
  MonthCutter declaration_month(offset);
  for (const auto& [id, d] : state.declarations) {
    participate(FiscalYearOfMonth(declaration_month(d.submitted_at)), kMeasureDeclaration);
  }
  std::sort(active_months.begin(), active_months.end());
  active_months.erase(std::unique(active_months.begin(), active_months.end()), active_months.end());
  facts.active_months = std::move(active_months);
  std::sort(participation.begin(), participation.end());
  facts.participation = std::move(participation);

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
  MonthCutter career_month(offset);
  for (const InterviewRecord& interview : state.interviews) {
    if (interview.kind != static_cast<uint8_t>(InterviewKind::kCareer)) continue;
    const int64_t t0 = interview.time_us;
    const MonthIndex month = career_month(t0);
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
