// Unit tests of the processors' building blocks: periods and time, canonical
// JSON, sort keys, the reference table, facts ordering, stored-value
// decoding (failure paths), projector API misuse, and restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <array>
#include <tuple>
#include <map>
#include <vector>

#include "processors/aggregates.h"
#include "processors/employee_state.h"
#include "processors/facts.h"
#include "processors/json.h"
#include "processors/reference_table.h"
#include "processors/rows.h"
#include "processors/stored_event.h"
#include "processors/time_util.h"
#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

TEST(PeriodTest, FiscalYearQuarterAndMonth) {
  auto fy = ParsePeriod("FY2025");
  ASSERT_TRUE(fy.ok());
  EXPECT_EQ(fy->kind, PeriodKind::kFiscalYear);
  EXPECT_EQ(MonthLabel(fy->first_month), "2025-04");
  EXPECT_EQ(MonthLabel(fy->last_month), "2026-03");
  const char* expected[4][2] = {{"2025-04", "2025-06"}, {"2025-07", "2025-09"},
                                {"2025-10", "2025-12"}, {"2026-01", "2026-03"}};
  for (int q = 1; q <= 4; ++q) {
    auto p = ParsePeriod("2025Q" + std::to_string(q));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->kind, PeriodKind::kQuarter);
    EXPECT_EQ(MonthLabel(p->first_month), expected[q - 1][0]) << q;
    EXPECT_EQ(MonthLabel(p->last_month), expected[q - 1][1]) << q;
    EXPECT_EQ(QuarterLabel(p->first_month), p->label);
    EXPECT_EQ(FiscalYearLabel(p->last_month), "FY2025");
  }
  auto month = ParsePeriod("2025-07");
  ASSERT_TRUE(month.ok());
  EXPECT_EQ(month->first_month, month->last_month);
  EXPECT_EQ(month->label, "2025-07");
  for (const char* bad : {"", "FY", "FY202", "2025Q0", "2025-00", "2025-1", "2025/07", "fy2025",
                          "2025Q1x", "FY2025-07"}) {
    auto p = ParsePeriod(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("FY2025"), std::string::npos);
  }
}

TEST(PeriodTest, MonthsAreCutInTheReportingOffset) {
  // 2025-03-31T15:30Z is already April 1st in Tokyo: FY2025, Q1.
  const int64_t t = At("2025-03-31T15:30:00Z");
  EXPECT_EQ(MonthLabel(MonthOf(t, 540)), "2025-04");
  EXPECT_EQ(FiscalYearOfMonth(MonthOf(t, 540)), 2025);
  EXPECT_EQ(MonthLabel(MonthOf(t, 0)), "2025-03");
  EXPECT_EQ(FiscalYearOfMonth(MonthOf(t, 0)), 2024);
  EXPECT_EQ(FiscalQuarterOfMonth(MakeMonth(2026, 1)), 4);
  EXPECT_EQ(FiscalQuarterOfMonth(MakeMonth(2025, 12)), 3);
  EXPECT_EQ(MonthStartMicros(MakeMonth(2025, 4), 540), At("2025-04-01T00:00:00+09:00"));
}

TEST(PeriodTest, MonthCutterAgreesWithMonthOfInAnyOrder) {
  // Times around month ends (leap Februaries, year ends, before 1970), in
  // ascending, descending and shuffled order: the remembered month must never
  // answer for a time outside it.
  std::vector<int64_t> times;
  for (const int32_t year : {1900, 1969, 1970, 2000, 2024, 2025, 2100}) {
    for (int32_t month = 1; month <= 12; ++month) {
      const int64_t start = MonthStartMicros(MakeMonth(year, month), 0);
      for (const int64_t delta : {int64_t{-1}, int64_t{0}, int64_t{1}, 12 * 3'600 * kMicrosPerSecond,
                                  -14 * 3'600 * kMicrosPerSecond, 15 * kMicrosPerDay}) {
        times.push_back(start + delta);
      }
    }
  }
  std::vector<std::vector<int64_t>> orders = {times, times, times};
  std::sort(orders[0].begin(), orders[0].end());
  std::sort(orders[1].rbegin(), orders[1].rend());
  std::shuffle(orders[2].begin(), orders[2].end(), std::mt19937(7));
  for (const int32_t offset : {0, 540, -330, 345, -720, 840}) {
    for (const auto& order : orders) {
      MonthCutter cut(offset);
      for (const int64_t t : order) {
        ASSERT_EQ(cut(t), MonthOf(t, offset)) << "offset " << offset << ", time " << t;
      }
    }
  }
}

TEST(PeriodTest, LabelsAreThePrintfLabelsForEveryYear) {
  // The labels are formatted by hand for years 0..9999; outside that they
  // fall back to printf. Both must give the documented text.
  for (int32_t year = -12; year <= 10'012; ++year) {
    if (year > 120 && year < 9'990 && year % 97 != 0 && year != 2025) continue;
    for (int32_t month = 1; month <= 12; ++month) {
      const MonthIndex m = MakeMonth(year, month);
      char expected[32];
      std::snprintf(expected, sizeof(expected), "%04d-%02d", year, month);
      ASSERT_EQ(MonthLabel(m), expected);
      const int32_t fiscal_year = FiscalYearOfMonth(m);
      ASSERT_EQ(QuarterLabel(m),
                std::to_string(fiscal_year) + "Q" + std::to_string(FiscalQuarterOfMonth(m)));
      ASSERT_EQ(FiscalYearLabel(m), "FY" + std::to_string(fiscal_year));
    }
  }
  EXPECT_EQ(MonthLabel(MakeMonth(7, 3)), "0007-03");
  EXPECT_EQ(QuarterLabel(MakeMonth(2026, 1)), "2025Q4");
  EXPECT_EQ(FiscalYearLabel(MakeMonth(2026, 3)), "FY2025");
}

TEST(TimeTest, FormatAndCivilRoundTrip) {
  EXPECT_EQ(FormatTime(At("2025-04-01T09:00:00+09:00"), 540), "2025-04-01T09:00:00+09:00");
  EXPECT_EQ(FormatTime(At("2025-04-01T09:00:00.000123+09:00"), 0), "2025-04-01T00:00:00.000123Z");
  EXPECT_EQ(FormatTime(At("2025-04-01T09:00:00+09:00"), -330), "2025-03-31T18:30:00-05:30");
  EXPECT_EQ(FormatTime(-1, 0), "1969-12-31T23:59:59.999999Z");
  std::mt19937 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const int64_t days = static_cast<int64_t>(rng() % 200000) - 100000;
    EXPECT_EQ(DaysFromCivil(CivilFromDays(days)), days);
  }
  EXPECT_EQ(DaysFromCivil({2000, 3, 1}) - DaysFromCivil({2000, 2, 28}), 2);  // leap year
}

TEST(JsonTest, CanonicalOutput) {
  Json j;
  j["b"] = 1;
  j["a"]["z"] = true;
  j["a"]["y"] = Json();
  j["c"] = "quote\" back\\ nl\n ctl\x01";
  j["d"] = 0.1 + 0.2;
  j["e"] = -0.0000001;
  j["f"].Push(1.5);
  j["f"].Push("x");
  EXPECT_EQ(j.Dump(),
            R"({"a":{"y":null,"z":true},"b":1,"c":"quote\" back\\ nl\n ctl\u0001","d":0.3,"e":0,"f":[1.5,"x"]})");
  EXPECT_TRUE(Ratio(1, 0).is_null());
  EXPECT_EQ(Ratio(1, 3).Dump(), "0.333333");
}

TEST(SortKeyTest, ByteOrderIsEventOrder) {
  std::mt19937 rng(7);
  const EventType types[] = {EventType::kEmployeeHired, EventType::kInterviewHeld,
                             EventType::kLearningCompleted, EventType::kDeclarationSubmitted,
                             EventType::kApprovalConfirmed};
  std::vector<Event> events;
  for (int i = 0; i < 300; ++i) {
    Event e;
    e.type = types[rng() % 5];
    e.time_us = static_cast<int64_t>(rng() % 5) * 1000000 - 2000000;  // negatives too
    e.source = std::string("s") + std::string(rng() % 3, 'x');
    e.id = std::to_string(rng() % 20);
    events.push_back(e);
  }
  for (const Event& a : events) {
    for (const Event& b : events) {
      ASSERT_EQ(EventSortKey(a) < EventSortKey(b), EventOrderLess(a, b));
    }
  }
}

Event ReferenceEvent(EventType type, std::string id, int64_t time, EventData data) {
  Event e;
  e.type = type;
  e.id = std::move(id);
  e.source = "urn:ref";
  e.subject = "x";
  e.time_us = time;
  e.data = std::move(data);
  return e;
}

TEST(ReferenceTableTest, VersionsAreOrderedByEventTimeNotArrival) {
  ReferenceTable table;
  const auto program = [](std::string profile, int32_t steps) {
    ProgramDefined p{"p", "P", std::move(profile), {}};
    for (int32_t s = steps; s >= 1; --s) p.steps.push_back(ProgramStep{s, "s", {}, false});
    return p;
  };
  EXPECT_TRUE(table.Add(ReferenceEvent(EventType::kProgramDefined, "v2", 200, program("a", 3))));
  EXPECT_TRUE(table.Add(ReferenceEvent(EventType::kProgramDefined, "v1", 100, program("a", 1))));
  EXPECT_FALSE(table.Add(ReferenceEvent(EventType::kProgramDefined, "v1", 100, program("z", 9))));
  EXPECT_EQ(table.ProgramAt("p", 99), nullptr);
  ASSERT_NE(table.ProgramAt("p", 150), nullptr);
  EXPECT_EQ(table.ProgramAt("p", 150)->steps.size(), 1u);
  EXPECT_EQ(table.ProgramAt("p", 200)->steps.size(), 3u);
  EXPECT_EQ(table.ProgramAt("p", 200)->steps.front().step, 1);  // sorted
  EXPECT_EQ(table.ProgramVersionsAtOrBefore(150), 1u);
  EXPECT_EQ(table.ProgramVersionsAtOrBefore(200), 2u);
  // The programme of a profile: smallest program_id with that profile.
  ProgramDefined other = program("a", 1);
  other.program_id = "o";
  table.Add(ReferenceEvent(EventType::kProgramDefined, "v3", 300, other));
  EXPECT_EQ(table.ProgramForProfile("a", 250)->program_id, "p");
  EXPECT_EQ(table.ProgramForProfile("a", 300)->program_id, "o");
  EXPECT_EQ(table.ProgramForProfile("", 300), nullptr);
  EXPECT_EQ(table.TakePendingRows().size(), 3u);
  EXPECT_TRUE(table.TakePendingRows().empty());
}

TEST(ReferenceTableTest, SubtreeUsesTheLatestTreeAndSurvivesCycles) {
  ReferenceTable table;
  table.Add(ReferenceEvent(EventType::kOrgUnitDefined, "1", 1, OrgUnitDefined{"root", "", {}}));
  table.Add(ReferenceEvent(EventType::kOrgUnitDefined, "2", 1, OrgUnitDefined{"a", "", "root"}));
  table.Add(ReferenceEvent(EventType::kOrgUnitDefined, "3", 1, OrgUnitDefined{"b", "", "a"}));
  EXPECT_EQ(table.Subtree("root"), (std::vector<std::string>{"a", "b", "root"}));
  // b moves under root later; a and c form a cycle.
  table.Add(ReferenceEvent(EventType::kOrgUnitDefined, "4", 5, OrgUnitDefined{"b", "", "root"}));
  table.Add(ReferenceEvent(EventType::kOrgUnitDefined, "5", 5, OrgUnitDefined{"c", "", "a"}));
  table.Add(ReferenceEvent(EventType::kOrgUnitDefined, "6", 6, OrgUnitDefined{"a", "", "c"}));
  EXPECT_EQ(table.Subtree("a"), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(table.Subtree("root"), (std::vector<std::string>{"b", "root"}));
  EXPECT_EQ(table.OrgUnitAt("b", 3)->parent_id, "a");
  EXPECT_EQ(table.Children("root"), (std::vector<std::string>{"b"}));
  EXPECT_EQ(table.Subtree("unknown"), (std::vector<std::string>{"unknown"}));
}

TEST(ReferenceTableTest, TargetsKeepTheLatestVersionPerMetric) {
  ReferenceTable table;
  table.Add(ReferenceEvent(EventType::kKpiTargetSet, "1", 10, KpiTargetSet{"o", "FY2025", "", "m", 5}));
  table.Add(ReferenceEvent(EventType::kKpiTargetSet, "2", 5, KpiTargetSet{"o", "FY2025", "", "m", 9}));
  table.Add(ReferenceEvent(EventType::kKpiTargetSet, "3", 5, KpiTargetSet{"o", "FY2025", "p", "m", 7}));
  EXPECT_EQ(table.TargetsFor("o", "FY2025", ""), (std::map<std::string, double>{{"m", 5}}));
  EXPECT_EQ(table.TargetsFor("o", "FY2025", "p"), (std::map<std::string, double>{{"m", 7}}));
  EXPECT_TRUE(table.TargetsFor("o", "FY2026", "").empty());
}

TEST(FactsTest, NewerIsATotalOrder) {
  EmployeeFacts a, b;
  a.events_folded = 5;
  b.events_folded = 4;
  b.program_versions = 9;
  EXPECT_TRUE(FactsNewer(a, "a", b, "z"));
  EXPECT_FALSE(FactsNewer(b, "z", a, "a"));
  b.events_folded = 5;
  EXPECT_TRUE(FactsNewer(b, "a", a, "z"));  // more programme versions
  b.program_versions = 0;
  EXPECT_TRUE(FactsNewer(a, "b", b, "a"));  // bytes break the tie
  EXPECT_FALSE(FactsNewer(a, "a", b, "a"));  // identical: not newer (idempotent)
}

// An employee's period rows, recounted naively: every record adds to the
// month, fiscal quarter and fiscal year of its time, under the org unit and
// profile of its snapshot; rows in (org, profile, period label) order.
std::vector<PeriodRow> RecountPeriodRows(const EmployeeState& state, int32_t offset) {
  struct Row {
    std::array<int64_t, kPeriodCounterCount> values{};
    std::map<int64_t, int64_t> lead_minutes;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Row> rows;
  auto rows_of = [&](uint32_t snapshot, int64_t time_us) {
    const Snapshot& snap = state.snapshots.at(snapshot);
    const MonthIndex m = MonthOf(time_us, offset);
    std::vector<Row*> out;
    for (const std::string& label : {MonthLabel(m), QuarterLabel(m), FiscalYearLabel(m)}) {
      out.push_back(&rows[{snap.org_unit, snap.profile, label}]);
    }
    return out;
  };
  auto add = [&](uint32_t snapshot, int64_t time_us, int counter, int64_t amount) {
    for (Row* row : rows_of(snapshot, time_us)) row->values[counter] += amount;
  };
  for (const InterviewRecord& i : state.interviews) {
    add(i.snapshot, i.time_us,
        i.kind == static_cast<uint8_t>(InterviewKind::kOneOnOne) ? kInterviewsOneOnOne
                                                                  : kInterviewsCounseling,
        1);
  }
  for (const CancellationRecord& c : state.cancellations) add(c.snapshot, c.time_us, kInterviewsCancelled, 1);
  for (const ActivityRecord& a : state.activities) {
    if (a.kind == static_cast<uint8_t>(ActivityKind::kEnrolled)) add(a.snapshot, a.time_us, kTrainingsEnrolled, 1);
    if (a.kind == static_cast<uint8_t>(ActivityKind::kCompleted) && a.passed) {
      add(a.snapshot, a.time_us, kTrainingsCompleted, 1);
    }
    if (a.kind == static_cast<uint8_t>(ActivityKind::kCertified)) add(a.snapshot, a.time_us, kCertifications, 1);
    if (a.milli_hours != 0) add(a.snapshot, a.time_us, kLearningMilliHours, a.milli_hours);
  }
  for (const auto& [id, d] : state.declarations) {
    add(d.submitted_snapshot, d.submitted_at, kDeclarationsSubmitted, 1);
    if (d.finalized_at) {
      add(d.finalized_snapshot, *d.finalized_at, kDeclarationsFinalized, 1);
      for (Row* row : rows_of(d.finalized_snapshot, *d.finalized_at)) {
        ++row->lead_minutes[(*d.finalized_at - d.submitted_at) / (60 * kMicrosPerSecond)];
      }
    }
  }
  std::vector<PeriodRow> out;
  for (const auto& [key, row] : rows) {
    PeriodRow& r = out.emplace_back();
    std::tie(r.org_unit, r.profile, r.period) = key;
    r.values = row.values;
    r.lead_minutes.assign(row.lead_minutes.begin(), row.lead_minutes.end());
  }
  return out;
}

// A state with three snapshots over two attributions and records spread over
// `years`, deliberately not in time order within each list.
EmployeeState StateOverYears(const std::vector<int32_t>& years) {
  EmployeeState state;
  state.employee_id = "E1";
  auto at = [](int32_t year, int32_t month, int32_t day) {
    return DaysFromCivil(CivilDate{year, month, day}) * kMicrosPerDay + 3 * 3'600 * kMicrosPerSecond;
  };
  const int32_t first = *std::min_element(years.begin(), years.end());
  state.snapshots = {{at(first, 1, 1), true, "org-b", "engineer", 0},
                     {at(first, 1, 2), true, "org-a", "designer", 0},
                     {at(first, 1, 3), true, "org-b", "engineer", 0}};
  uint32_t n = 0;
  for (const int32_t year : years) {
    for (const int32_t month : {12, 3, 4, 1, 7, 6, 10}) {
      const uint32_t snapshot = n++ % 3;
      const int32_t day = month == 3 ? 31 : 1;  // in Tokyo, the 31st at 03:00Z is still March
      state.activities.push_back({at(year, month, day), static_cast<uint8_t>(n % 4),
                                  static_cast<int64_t>(n) * 250, n % 2 == 0, snapshot});
      state.interviews.push_back({at(year, month, 15), static_cast<uint8_t>(1 + n % 2), snapshot});
      if (month == 4) state.cancellations.push_back({at(year, month, 2), snapshot});
      if (month == 6 || month == 12) {
        DeclarationRecord& d = state.declarations["d" + std::to_string(n)];
        d.submitted_at = at(year, month, 3);
        d.submitted_snapshot = snapshot;
        if (month == 12) {
          d.finalized_at = at(year + 1, 1, 20) + static_cast<int64_t>(n) * 60 * kMicrosPerSecond;
          d.finalized_snapshot = (snapshot + 1) % 3;
        }
      }
    }
  }
  state.events_folded = n;
  state.last_time_us = at(years.back(), 12, 31);
  return state;
}

TEST(FactsTest, PeriodRowsAreTheRecountInLabelOrder) {
  // Four-digit years are ordered by an integer key; others by the labels
  // themselves ("10000-01" sorts before "999-12" as text). Both must give
  // the recount, row for row.
  const ReferenceTable reference;
  for (const std::vector<int32_t>& years :
       {std::vector<int32_t>{2031, 2029, 2030}, std::vector<int32_t>{2025},
        std::vector<int32_t>{999, 1000, 9999, 10000}}) {
    const EmployeeState state = StateOverYears(years);
    for (const int32_t offset : {540, 0}) {
      ProjectorOptions options;
      options.reporting_utc_offset_minutes = offset;
      const EmployeeFacts facts = BuildFacts(state, reference, options, "");
      const std::vector<PeriodRow> expected = RecountPeriodRows(state, offset);
      ASSERT_EQ(facts.period_rows.size(), expected.size()) << years.front() << " offset " << offset;
      for (size_t i = 0; i < expected.size(); ++i) {
        const PeriodRow& got = facts.period_rows[i];
        ASSERT_EQ(std::tie(got.org_unit, got.profile, got.period),
                  std::tie(expected[i].org_unit, expected[i].profile, expected[i].period))
            << "row " << i;
        EXPECT_EQ(got.values, expected[i].values) << got.period;
        EXPECT_EQ(got.lead_minutes, expected[i].lead_minutes) << got.period;
      }
    }
  }
}

TEST(StoredValuesTest, GarbageIsCorruptionNotACrash) {
  for (std::string bytes : {std::string(), std::string("\x01"), std::string("\x01garbage"),
                            std::string("\x09xyz"), std::string(100, '\xff')}) {
    EXPECT_EQ(DecodeFacts(bytes).status().code(), StatusCode::kCorruption);
    EXPECT_EQ(DecodeEmployeeState(bytes).status().code(), StatusCode::kCorruption);
    EXPECT_EQ(DecodeKpiRow(bytes).status().code(), StatusCode::kCorruption);
    EXPECT_EQ(DecodeRejection(bytes).status().code(), StatusCode::kCorruption);
    EXPECT_FALSE(DecodeStoredEvent(bytes).ok());
    EXPECT_FALSE(DecodeEmployeeHeader(bytes).has_value());
  }
  // Truncations of a valid record fail cleanly too.
  EmployeeFacts facts;
  facts.employee_id = "e1";
  facts.timeline.push_back({1, true, "o", "p"});
  const std::string valid = EncodeFacts(facts);
  ASSERT_TRUE(DecodeFacts(valid).ok());
  for (size_t n = 1; n < valid.size(); ++n) {
    EXPECT_FALSE(DecodeFacts(valid.substr(0, n)).ok()) << n;
  }
}

// Journal rows (format 2, stored_event.h): the event comes back from the
// key and the value together, in well under half a format-1 row's bytes.
TEST(JournalRowTest, RoundTripsFromItsKeyAndValue) {
  EventFactory f;
  std::vector<Fed> events = {
      f.Hire("2025-04-01T09:00:00+09:00", "e-42", "sales", "m1"),
      f.Interview("2025-05-01T09:00:00-05:30", "e-42", InterviewKind::kCareer, "m1"),
      f.Complete("1970-01-01T00:00:00+09:00", "e-42", "course-1", 2.5, true),  // before 0
      f.SubmitStep("2025-07-01T09:00:00+09:00", "e-42", "d-1", "p1", 2),
      f.Enroll("2025-08-01T09:00:00+09:00", std::string(300, 'e'), std::string(400, 'c')),
  };
  events.back().position.offset = (int64_t{1} << 40) + 3;
  events.back().position.partition = 70000;
  events[1].position.topic = "elsewhere.interviews";  // not its family's topic
  events[2].position.partition = -1;                  // no partition
  for (const Fed& fed : events) {
    SCOPED_TRACE(fed.event.id);
    const std::string sort_key = EventSortKey(fed.event);
    const std::string value = EncodeJournalValue(fed.event.subject, fed.event, fed.position);
    ASSERT_EQ(static_cast<uint8_t>(value[0]), kJournalRowFormat);
    auto stored = DecodeJournalRow(fed.event.subject, sort_key, value);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    EXPECT_EQ(stored->event, fed.event);
    EXPECT_EQ(stored->position.topic, fed.position.topic);
    EXPECT_EQ(stored->position.partition, fed.position.partition);
    EXPECT_EQ(stored->position.offset, fed.position.offset);
    if (&fed != &events.back()) {  // its 400-byte course id is data
      EXPECT_LT(value.size() * 2, EncodeStoredEvent(fed.event, fed.position).size());
    }
    // The encoder reuses its buffer: the same bytes after a longer row.
    std::string reused(500, 'x');
    EncodeJournalValueInto(fed.event.subject, fed.event, fed.position, &reused);
    EXPECT_EQ(reused, value);
    // A value cut short is an error, never a shorter event.
    for (size_t n = 0; n < value.size(); ++n) {
      EXPECT_EQ(DecodeJournalRow(fed.event.subject, sort_key, value.substr(0, n)).status().code(),
                StatusCode::kCorruption)
          << n;
    }
  }
}

TEST(JournalRowTest, FormatOneRowsAreReadAndWrittenWhereTheKeyCannotCarryTheEvent) {
  EventFactory f;
  Fed fed = f.Complete("2025-06-01T09:00:00+09:00", "e-7", "course-1", 2.5, true);
  // A row written before view version 7 still reads, whatever its key.
  auto old_row =
      DecodeJournalRow("e-7", EventSortKey(fed.event), EncodeStoredEvent(fed.event, fed.position));
  ASSERT_TRUE(old_row.ok()) << old_row.status().ToString();
  EXPECT_EQ(old_row->event, fed.event);
  // A NUL in the source would split the key elsewhere; a subject other than
  // the key's would be lost: both are written whole.
  Fed odd = fed;
  odd.event.source = std::string("/lms\0x", 7);
  std::string value = EncodeJournalValue("e-7", odd.event, odd.position);
  EXPECT_EQ(static_cast<uint8_t>(value[0]), kStoredEventFormat);
  auto decoded = DecodeJournalRow("e-7", EventSortKey(odd.event), value);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->event, odd.event);
  value = EncodeJournalValue("e-8", fed.event, fed.position);
  EXPECT_EQ(static_cast<uint8_t>(value[0]), kStoredEventFormat);
  EXPECT_EQ(DecodeJournalRow("e-8", EventSortKey(fed.event), value)->event.subject, "e-7");
  // An empty id would leave the key without one.
  Fed no_id = fed;
  no_id.event.id.clear();
  value = EncodeJournalValue("e-7", no_id.event, no_id.position);
  EXPECT_EQ(static_cast<uint8_t>(value[0]), kStoredEventFormat);
  EXPECT_EQ(DecodeJournalRow("e-7", EventSortKey(no_id.event), value)->event, no_id.event);
}

TEST(JournalRowTest, KeysAndValuesThatDoNotFitAreCorruption) {
  EventFactory f;
  const Fed fed = f.Complete("2025-06-01T09:00:00+09:00", "e-7", "course-1", 2.5, true);
  const std::string key = EventSortKey(fed.event);
  const std::string value = EncodeJournalValue("e-7", fed.event, fed.position);
  ASSERT_TRUE(DecodeJournalRow("e-7", key, value).ok());
  std::string other_rank = key;
  other_rank[8] = static_cast<char>(other_rank[8] + 1);
  EXPECT_EQ(DecodeJournalRow("e-7", other_rank, value).status().message(),
            "journal row: the key's family rank " +
                std::to_string(static_cast<uint8_t>(other_rank[8])) +
                " does not match event type " + std::to_string(static_cast<int>(fed.event.type)));
  for (const std::string& bad_key :
       {key.substr(0, 8), key.substr(0, key.find('\0', 9)), key.substr(0, key.find('\0', 9) + 1)}) {
    EXPECT_EQ(DecodeJournalRow("e-7", bad_key, value).status().message(),
              "journal row: key is not <time><rank><source>\\0<id>")
        << bad_key.size();
  }
  for (std::string bad : {std::string(), std::string("\x03"), std::string("\x02"),
                          std::string("\x02\xff"), value + "x"}) {
    EXPECT_EQ(DecodeJournalRow("e-7", key, bad).status().code(), StatusCode::kCorruption)
        << bad.size();
  }
}

TEST(StoredValuesTest, RoundTrips) {
  EventFactory f;
  const Fed fed = f.Complete("2025-04-10T10:00:00+09:00", "e1", "c", 1.5);
  auto stored = DecodeStoredEvent(EncodeStoredEvent(fed.event, fed.position));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->event, fed.event);
  EXPECT_EQ(stored->position.topic, fed.position.topic);
  EXPECT_EQ(stored->position.offset, fed.position.offset);
  KpiRow row{{1, -2, 3}, {{60, 2}}};
  auto decoded = DecodeKpiRow(EncodeKpiRow(row));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->values, row.values);
  EXPECT_EQ(decoded->lead_minutes, row.lead_minutes);
  EXPECT_EQ(DecodeViewTime(EncodeViewTime(-5)), -5);
  auto header = DecodeEmployeeHeader(EncodeEmployeeHeader(-7, 3));
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->first, -7);
  EXPECT_EQ(header->second, 3);
}

TEST(ProjectorApiTest, MisuseIsRejectedWithAStatus) {
  EventFactory f;
  Harness h;
  const Fed hire = f.Hire("2025-04-01T09:00:00+09:00", "e1", "dev", "m1");
  const Fed org = f.OrgUnit("2025-01-01T00:00:00+09:00", "dev", std::nullopt);
  EXPECT_EQ(h.projector()->ApplyReference(hire.event, hire.position).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(h.projector()->ApplyEmployeeEvent(org.event, org.position).code(),
            StatusCode::kInvalidArgument);
  LogRecord garbage{"jiritsu.facts", 0, 0, "e1", "not facts", 0};
  // Bad input the runtime skips (it is not a damaged store).
  EXPECT_EQ(h.projector()->ApplyFacts(garbage).code(), StatusCode::kInvalidArgument);
  auto projector = NewJiritsuProjector(ProjectorOptions{});
  StateBatch batch;
  std::vector<FactsRecord> facts;
  EXPECT_EQ(projector->Checkpoint(&batch, CollectFacts(&facts)).code(), StatusCode::kFailedPrecondition);
}

TEST(ProjectorRestartTest, CrashAndReplayFromTheLastCheckpointConverges) {
  EventFactory f;
  std::vector<Fed> events = StandardReference(f);
  const std::vector<Fed> employee_events = {
      f.Hire("2025-04-01T09:00:00+09:00", "e1", "dev-a", "m1"),
      f.Complete("2025-04-10T10:00:00+09:00", "e1", "c-mind", 2),
      f.Complete("2025-04-11T10:00:00+09:00", "e1", "c-sec", 2),
      f.Confirm("2025-05-02T10:00:00+09:00", "e1", "d1", "m1"),  // before its declaration
      f.SubmitStep("2025-05-01T10:00:00+09:00", "e1", "d1", "dx_lit", 2),
      f.Finalize("2025-05-03T10:00:00+09:00", "e1", "d1"),
      f.Hire("2025-04-01T09:00:00+09:00", "e2", "sales", "m2"),
      f.Interview("2025-04-20T10:00:00+09:00", "e2", InterviewKind::kCareer),
  };
  events.insert(events.end(), employee_events.begin(), employee_events.end());
  // A late programme revision that re-folds e1 after the restart.
  events.push_back(f.Program("2025-04-05T00:00:00+09:00", "dx_lit", "dx_literacy",
                             {ProgramStep{1, "basics", {"c-mind"}, false},
                              ProgramStep{2, "practice", {}, true}}));

  Harness uninterrupted;
  for (const Fed& fed : events) uninterrupted.Apply(fed);
  uninterrupted.Commit();

  Harness crashed;
  const size_t committed = 9;  // reference + 3 employee events
  for (size_t i = 0; i < events.size(); ++i) {
    crashed.Apply(events[i]);
    if (i + 1 == committed) crashed.Commit();
  }
  crashed.Restart();  // everything after `committed` is lost...
  for (size_t i = committed; i < events.size(); ++i) crashed.Apply(events[i]);  // ...and re-fed
  crashed.Commit();
  EXPECT_EQ(crashed.Digest(), uninterrupted.Digest());
  JsonView s(crashed.StepStatus("e1", "dx_lit"));
  EXPECT_EQ(s.Int("/programs/0/current_step"), 2);
  EXPECT_EQ(JsonView(crashed.Rejections()).Int("/total"), 0);
}

// The runtime publishes facts as the projector hands them out; a publish
// that fails fails the checkpoint (nothing is committed), and after the
// restart the same events give the same views and facts.
TEST(ProjectorRestartTest, ACheckpointWhoseFactsCannotBePublishedFailsAndARestartConverges) {
  EventFactory f;
  std::vector<Fed> events = StandardReference(f);
  for (const char* employee : {"e3", "e1", "e2"}) {
    events.push_back(f.Hire("2025-04-01T09:00:00+09:00", employee, "dev-a", "m1"));
    events.push_back(f.Complete("2025-04-10T10:00:00+09:00", employee, "c-mind", 2));
  }
  Harness uninterrupted;
  for (const Fed& fed : events) uninterrupted.Apply(fed);
  uninterrupted.Commit();

  Harness failed;
  for (const Fed& fed : events) failed.Apply(fed);
  std::vector<std::string> handed;
  StateBatch batch;
  const Status status = failed.projector()->Checkpoint(&batch, [&](FactsRecord record) {
    handed.push_back(record.key);
    return handed.size() < 2 ? Status::Ok() : Unavailable("facts topic: broker down");
  });
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.ToString().find("broker down"), std::string::npos) << status.ToString();
  EXPECT_EQ(handed, (std::vector<std::string>{"e1", "e2"}));  // employee order, stopped at the error
  failed.Restart();  // the batch was never written
  for (const Fed& fed : events) failed.Apply(fed);
  failed.Commit();
  EXPECT_EQ(failed.Digest(), uninterrupted.Digest());
}

}  // namespace
}  // namespace jiritsu::processors::testing
