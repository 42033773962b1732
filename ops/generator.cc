#include "ops/generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "schemas/civil_date.h"
#include "schemas/codec.h"
#include "schemas/event.h"

namespace jiritsu {
namespace {

// ============================================================== randomness

// Every random decision goes through this class. std::mt19937_64's output
// sequence is fixed by the standard; the helpers below are ours, so the bytes
// do not depend on the standard library's distribution implementations.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t Next() { return engine_(); }
  // Uniform in [0, n), n > 0 (multiply-shift; bias < n / 2^64).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [lo, hi], lo <= hi.
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1) with 53 random bits.
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  // floor(x) plus one more with probability frac(x): integer with mean x.
  int64_t RoundRandom(double x) {
    const double whole = std::floor(x);
    return static_cast<int64_t>(whole) + (Chance(x - whole) ? 1 : 0);
  }
  // Index drawn with the given (not necessarily normalised) weights.
  template <size_t N>
  size_t Weighted(const std::array<double, N>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double r = Unit() * total;
    for (size_t i = 0; i < N; ++i) {
      if (r < weights[i]) return i;
      r -= weights[i];
    }
    return N - 1;
  }

 private:
  std::mt19937_64 engine_;
};

// Seeds for independent streams derived from the user's seed (splitmix64).
uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// ============================================================== calendar

constexpr int64_t kMicros = 1'000'000;
constexpr int64_t kDaySeconds = 86'400;
constexpr int32_t kJstOffsetMinutes = 9 * 60;
constexpr int64_t kJstOffsetSeconds = kJstOffsetMinutes * 60;
constexpr int64_t kWorkStart = 9 * 3600;       // 09:00
constexpr int64_t kOrgChangeTime = 8 * 3600 + 1800;  // 08:30, before any activity
constexpr int64_t kReferenceTime = 8 * 3600;   // 08:00

struct CivilDate {
  int64_t year = 1970;
  int month = 1;
  int day = 1;
};

// schemas/civil_date.h (the one copy of the calendar arithmetic) as a value.
CivilDate CivilFromDays(int64_t days) {
  CivilDate date;
  jiritsu::CivilFromDays(days, &date.year, &date.month, &date.day);
  return date;
}

// Local (+09:00) day number and second of day -> UTC microseconds.
int64_t LocalInstant(int64_t local_day, int64_t second_of_day) {
  return (local_day * kDaySeconds + second_of_day - kJstOffsetSeconds) * kMicros;
}

int64_t LocalDayOf(int64_t time_us) {
  const int64_t seconds = time_us / kMicros + kJstOffsetSeconds;
  return seconds >= 0 ? seconds / kDaySeconds : (seconds - kDaySeconds + 1) / kDaySeconds;
}

bool IsWeekend(int64_t day) {
  const int64_t weekday = ((day % 7) + 7 + 4) % 7;  // 1970-01-01 was a Thursday (4)
  return weekday == 0 || weekday == 6;
}

int64_t NextWorkday(int64_t day) {
  while (IsWeekend(day)) ++day;
  return day;
}

// Fiscal year (April-March) of a local day: FY2024 = 2024-04-01..2025-03-31.
int64_t FiscalYearOf(int64_t local_day) {
  const CivilDate date = CivilFromDays(local_day);
  return date.month >= 4 ? date.year : date.year - 1;
}

// ============================================================== catalogue

struct CourseInfo {
  const char* id;
  const char* title;
  bool external;  // Udemy Business rather than the internal Moodle
  double hours;
};

enum Course : int {
  kDxMindset = 0, kInfoSecurity, kDataLiteracy, kNocodeTools, kDxProjectBasics,
  kAgileBasics, kDesignThinking, kStatisticsBasics, kPythonIntro, kMlBasics,
  kCloudFundamentals, kGenerativeAi, kItPassportPrep, kMentoringSkills,
  kExcelDataAnalysis, kBusinessEnglish, kLogicalThinking, kSqlBasics,
  kCourseCount
};

constexpr std::array<CourseInfo, kCourseCount> kCourses = {{
    {"dx_mindset", "DX Mindset Basics", false, 2.0},
    {"info_security", "Information Security Essentials", false, 1.5},
    {"data_literacy_basics", "Data Literacy Basics", false, 4.0},
    {"nocode_tools", "No-code Tools in Practice", false, 3.0},
    {"dx_project_basics", "Running a DX Project", false, 6.0},
    {"agile_basics", "Agile Fundamentals", true, 5.0},
    {"design_thinking", "Design Thinking Workshop", false, 6.0},
    {"statistics_basics", "Statistics for Business", true, 10.0},
    {"python_intro", "Introduction to Python", true, 12.0},
    {"ml_basics", "Machine Learning Basics", true, 16.0},
    {"cloud_fundamentals", "Cloud Fundamentals", true, 8.0},
    {"generative_ai_at_work", "Generative AI at Work", false, 2.5},
    {"it_passport_prep", "IT Passport Exam Preparation", true, 30.0},
    {"mentoring_skills", "Mentoring and Coaching Skills", false, 4.0},
    {"excel_data_analysis", "Data Analysis with Excel", true, 6.0},
    {"business_english", "Business English Online", true, 20.0},
    {"logical_thinking", "Logical Thinking", false, 3.0},
    {"sql_basics", "SQL for Analysts", true, 8.0},
}};

struct CertInfo {
  const char* id;
  const char* name;
  int level;        // 0: none
  int prerequisite;  // course whose completion leads to the exam, or -1
  double take_probability;
};

enum Cert : int {
  kItPassport = 0, kDsLiteracy, kGenAiPassport, kDxPassport1, kDxPassport2, kDxPassport3,
  kCertCount
};
// The first three are exams; the DX Promotion Passport badge k is issued for
// holding k of them (the real scheme of the IPA/DX promotion passport).
constexpr int kExamCertCount = 3;

constexpr std::array<CertInfo, kCertCount> kCerts = {{
    {"it_passport", "IT Passport", 0, kItPassportPrep, 0.55},
    {"ds_literacy", "Data Scientist Certification (DS Literacy)", 0, kStatisticsBasics, 0.3},
    {"genai_passport", "Generative AI Passport", 0, kGenerativeAi, 0.45},
    {"dx_passport_1", "DX Promotion Passport (1 badge)", 1, -1, 0},
    {"dx_passport_2", "DX Promotion Passport (2 badges)", 2, -1, 0},
    {"dx_passport_3", "DX Promotion Passport (3 badges)", 3, -1, 0},
}};

struct StepInfo {
  const char* name;
  std::vector<int> courses;
  bool declaration_required;
  int min_practice_months;  // time since the previous step before declaring
  std::vector<const char*> evidence;  // templates for the declaration
};

struct ProgramInfo {
  const char* id;
  const char* name;
  const char* profile;
  std::vector<StepInfo> steps;
  std::vector<int> electives;  // what people on this profile choose freely
};

constexpr int kProgramCount = 3;
enum Program : int { kDxLiteracy = 0, kDxPromoter, kDataSpecialist };

std::vector<ProgramInfo> BuildPrograms() {
  return {
      {"PRG-DXL", "General staff digital literacy", "dx_literacy",
       {{"Basic DX training completed", {kDxMindset, kInfoSecurity, kDataLiteracy}, false, 0, {}},
        {"Digital tools used in daily work", {kNocodeTools}, true, 3,
         {"Automated the weekly sales report with a no-code workflow",
          "Moved the team's approval forms to the workflow tool",
          "Built a shared dashboard for customer inquiries",
          "Replaced manual data entry with a spreadsheet import"}}},
       {kGenerativeAi, kExcelDataAnalysis, kLogicalThinking, kBusinessEnglish, kItPassportPrep,
        kCloudFundamentals}},
      {"PRG-DXP", "DX promoter", "dx_promoter",
       {{"DX foundations", {kDxMindset, kInfoSecurity, kDxProjectBasics}, true, 0,
         {"Completed the DX foundation curriculum and summarised learnings for the team",
          "Finished the required DX trainings; reported takeaways in the department meeting"}},
        {"Leading a DX case in real work", {kAgileBasics, kDesignThinking}, true, 6,
         {"Led the paperless invoicing project for one year",
          "Ran the customer-portal pilot as product owner",
          "Coordinated the factory sensor-data pilot across two sites"}},
        {"Mentoring others", {kMentoringSkills}, true, 6,
         {"Mentored three colleagues through the DX foundations step",
          "Ran an internal study group on agile methods every month",
          "Coached a new DX case team from kickoff to release"}}},
       {kGenerativeAi, kCloudFundamentals, kItPassportPrep, kLogicalThinking, kPythonIntro}},
      {"PRG-DSP", "Data specialist", "data_specialist",
       {{"Data foundations", {kDataLiteracy, kStatisticsBasics, kPythonIntro}, true, 0,
         {"Completed the data foundation courses",
          "Finished statistics and Python basics; built a first analysis notebook"}},
        {"Data project in practice", {kMlBasics, kSqlBasics}, true, 6,
         {"Built a demand forecast used in monthly planning",
          "Delivered a churn analysis adopted by customer success",
          "Automated quality inspection reporting with SQL"}},
        {"Developing other data talent", {kMentoringSkills}, true, 6,
         {"Taught the SQL basics course internally twice",
          "Mentored two analysts through their first data project"}}},
       {kGenerativeAi, kCloudFundamentals, kItPassportPrep, kExcelDataAnalysis}},
  };
}

// Parameters by hidden learning disposition (index = level 1..6, 0 unused).
// Level 1 habitual, 2 consciously continuing, 3 lacks time/place, 4 does not
// know what/how, 5 no trigger, 6 sees no need (IPA, DOMAIN.md).
constexpr std::array<double, 7> kDispositionShare = {0, 0.11, 0.22, 0.20, 0.12, 0.17, 0.18};
constexpr std::array<double, 7> kElectiveRate = {0, 0.9, 0.55, 0.18, 0.12, 0.08, 0.02};
constexpr std::array<double, 7> kRequiredRate = {0, 0.6, 0.5, 0.3, 0.25, 0.2, 0.1};
constexpr std::array<double, 7> kCompleteProbability = {0, 0.95, 0.9, 0.72, 0.65, 0.6, 0.45};
constexpr std::array<double, 7> kGapFactor = {0, 1.0, 1.2, 1.8, 2.2, 2.5, 3.0};
constexpr std::array<double, 7> kDeclareProbability = {0, 0.9, 0.8, 0.45, 0.35, 0.3, 0.15};
constexpr std::array<double, 7> kPracticeDeclareProbability = {0, 0.7, 0.6, 0.35, 0.25, 0.2, 0.08};
constexpr std::array<double, 7> kFollowUpLearning = {0, 0.5, 0.45, 0.35, 0.3, 0.25, 0.08};
constexpr std::array<int, 7> kScoreBase = {0, 80, 76, 70, 66, 64, 58};

const char* const kFamilyNames[] = {
    "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
    "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi", "Matsumoto", "Inoue",
    "Kimura", "Hayashi", "Shimizu", "Mori", "Ikeda", "Hashimoto", "Abe", "Ishikawa"};
const char* const kGivenNames[] = {
    "Haruto", "Yui", "Sota", "Hina", "Yuto", "Mei", "Riku", "Aoi", "Kaito", "Sakura",
    "Ren", "Yuna", "Takumi", "Rin", "Daiki", "Miyu", "Kenji", "Emi", "Hiroshi", "Naoko",
    "Akira", "Keiko", "Makoto", "Yoko"};
const char* const kDivisionNames[] = {
    "Sales", "Engineering", "Manufacturing", "Corporate Planning", "Customer Success",
    "Digital Solutions", "Logistics", "Research and Development", "Marketing", "Finance"};
const char* const kCareerWishes[] = {
    "Wants to move into a data analytics role within three years",
    "Would like to lead a DX project in the current department",
    "Hopes to work in the overseas sales team",
    "Wants to deepen expertise in the current job",
    "Interested in an internal posting to product planning",
    "Would like to reduce overtime to study for a certification",
    "Considering a side job in IT consulting",
    "Wants to become a people manager"};
const char* const kInterviewNotes[] = {
    "Reviewed goals for the fiscal year and the learning plan",
    "Discussed workload and support for training time",
    "Talked about the next step in the programme",
    "Followed up on the last training",
    "Discussed career direction and possible internal postings"};
const char* const kReturnComments[] = {
    "Please add concrete evidence of the practice",
    "Please describe your own role in the case",
    "Please attach the completion certificates",
    "Please clarify the period of the practice"};
const char* const kRejectComments[] = {
    "The criteria of this step are not met yet",
    "The case does not show leading the work; please declare again next term",
    "Evidence does not match the step requirements"};
const char* const kWithdrawReasons[] = {
    "Submitted by mistake", "Will declare again with more evidence", "Changed my plan"};
const char* const kLearningWithdrawReasons[] = {
    "No time because of project deadlines", "Content not relevant to my work",
    "Moved to another assignment", "Will retake next term"};
const char* const kLeaveReasons[] = {"resignation", "resignation", "resignation",
                                     "retirement", "transfer_to_affiliate"};

template <typename T, size_t N>
const T& PickFrom(Rng& rng, const T (&items)[N]) {
  return items[rng.Below(N)];
}

// ============================================================== output stage

// Applies the configured anomalies to the valid, time-ordered event stream
// and writes lines: late lines and duplicates wait in a queue ordered by
// release time (event time + delay) and are written before the first later
// event; invalid lines follow the event they were derived from.
class LineEmitter {
 public:
  LineEmitter(const GeneratorOptions& options, const LineWriter& writer,
              GeneratorSummary* summary)
      : options_(options), writer_(writer), summary_(summary),
        rng_(DeriveSeed(options.seed, 1)) {}

  // `event.time_us` must not decrease between calls.
  Status Emit(const Event& event) {
    JIRITSU_RETURN_IF_ERROR(ReleaseUntil(event.time_us));
    const size_t type = static_cast<size_t>(event.type);
    std::string line = EncodeJsonEvent(event);
    ++summary_->valid_events;
    ++valid_by_type_[type];
    // Draw every decision each time, so the positions depend on the event
    // sequence only and not on which shares are zero.
    const double late_draw = rng_.Unit();
    const double duplicate_draw = rng_.Unit();
    const double invalid_draw = rng_.Unit();
    const bool reference = FamilyOf(event.type) == Family::kReference;
    if (duplicate_draw < options_.duplicate_share) {
      // A retrying source re-sends the same event, soon or up to two days later.
      const int64_t delay = rng_.Chance(0.4) ? 0 : rng_.Between(60, 2 * kDaySeconds) * kMicros;
      Hold(event.time_us + delay, event.time_us, line, /*late=*/false);
      ++summary_->duplicate_lines;
      ++duplicates_by_type_[type];
    }
    if (!reference && late_draw < options_.out_of_order_share) {
      // Batch uploads and retries arrive hours to days late.
      const double bucket = rng_.Unit();
      const int64_t delay_s = bucket < 0.5    ? rng_.Between(3600, 6 * 3600)
                              : bucket < 0.85 ? rng_.Between(6 * 3600, 2 * kDaySeconds)
                                              : rng_.Between(2 * kDaySeconds, 10 * kDaySeconds);
      Hold(event.time_us + delay_s * kMicros, event.time_us, std::move(line), /*late=*/true);
    } else {
      JIRITSU_RETURN_IF_ERROR(WriteValid(line, event.time_us, /*late=*/false));
    }
    if (invalid_draw < options_.invalid_share) {
      std::string kind;
      std::string invalid = MakeInvalid(event, &kind);
      ++summary_->invalid_lines;
      ++summary_->invalid_by_kind[kind];
      JIRITSU_RETURN_IF_ERROR(Write(invalid));
    }
    return Status::Ok();
  }

  Status Finish() {
    for (int t = 0; t < kEventTypeCount; ++t) {
      const std::string name(EventTypeName(static_cast<EventType>(t)));
      if (valid_by_type_[t] > 0) summary_->valid_by_type[name] = valid_by_type_[t];
      if (duplicates_by_type_[t] > 0) summary_->duplicates_by_type[name] = duplicates_by_type_[t];
    }
    return ReleaseUntil(std::numeric_limits<int64_t>::max());
  }

 private:
  struct Held {
    int64_t release_us;
    uint64_t sequence;
    int64_t time_us;
    bool late;
    std::string line;
  };
  static bool ReleasedLater(const Held& a, const Held& b) {
    return std::tie(a.release_us, a.sequence) > std::tie(b.release_us, b.sequence);
  }

  void Hold(int64_t release_us, int64_t time_us, std::string line, bool late) {
    held_.push_back({release_us, held_sequence_++, time_us, late, std::move(line)});
    std::push_heap(held_.begin(), held_.end(), ReleasedLater);
  }

  Status ReleaseUntil(int64_t time_us) {
    while (!held_.empty() && held_.front().release_us <= time_us) {
      std::pop_heap(held_.begin(), held_.end(), ReleasedLater);
      Held held = std::move(held_.back());
      held_.pop_back();
      JIRITSU_RETURN_IF_ERROR(WriteValid(held.line, held.time_us, held.late));
    }
    return Status::Ok();
  }

  Status WriteValid(const std::string& line, int64_t time_us, bool late) {
    if (late && time_us < max_time_written_) ++summary_->out_of_order_lines;
    max_time_written_ = std::max(max_time_written_, time_us);
    return Write(line);
  }

  Status Write(std::string_view line) {
    ++summary_->lines;
    return writer_(line);
  }

  // Replaces the string value of the first `"key":"..."` (top-level keys
  // come before `data` in the canonical encoding). False if absent.
  static bool ReplaceStringValue(std::string* line, std::string_view key,
                                 std::string_view value) {
    const std::string needle = "\"" + std::string(key) + "\":\"";
    const size_t start = line->find(needle);
    if (start == std::string::npos) return false;
    const size_t value_start = start + needle.size();
    const size_t value_end = line->find('"', value_start);
    if (value_end == std::string::npos) return false;
    line->replace(value_start, value_end - value_start, value);
    return true;
  }

  // Replaces a scalar value (number/true/false) of the first `"key":`.
  static bool ReplaceScalarValue(std::string* line, std::string_view key,
                                 std::string_view value) {
    const std::string needle = "\"" + std::string(key) + "\":";
    const size_t start = line->find(needle);
    if (start == std::string::npos) return false;
    const size_t value_start = start + needle.size();
    const size_t value_end = line->find_first_of(",}", value_start);
    if (value_end == std::string::npos) return false;
    line->replace(value_start, value_end - value_start, value);
    return true;
  }

  // Removes the first `"key":"string"` member with its separating comma.
  static bool RemoveStringMember(std::string* line, std::string_view key) {
    const std::string needle = "\"" + std::string(key) + "\":\"";
    const size_t start = line->find(needle);
    if (start == std::string::npos) return false;
    const size_t value_end = line->find('"', start + needle.size());
    if (value_end == std::string::npos) return false;
    size_t end = value_end + 1;
    size_t begin = start;
    if (end < line->size() && (*line)[end] == ',') {
      ++end;
    } else if (begin > 0 && (*line)[begin - 1] == ',') {
      --begin;
    }
    line->erase(begin, end - begin);
    return true;
  }

  // A line derived from `event` that DecodeJsonEvent must reject.
  std::string MakeInvalid(const Event& event, std::string* kind) {
    std::string line = EncodeJsonEvent(event);
    bool applied = false;
    const uint64_t pick = rng_.Below(100);
    if (pick < 16) {
      *kind = "bad_time";
      static const char* const kBadTimes[] = {"2025-04-01 09:00", "2024-13-01T09:00:00+09:00",
                                              "2024-04-31T10:00:00+09:00", "yesterday",
                                              "2024-06-01T09:00:00"};
      applied = ReplaceStringValue(&line, "time", PickFrom(rng_, kBadTimes));
    } else if (pick < 30) {
      *kind = "unknown_type";
      static const char* const kUnknownTypes[] = {"employee.promoted", "learning.paused",
                                                  "interview.rescheduled"};
      applied = ReplaceStringValue(&line, "type", PickFrom(rng_, kUnknownTypes));
    } else if (pick < 44) {
      *kind = "bad_learning_state";
      if (IsEmployeeScoped(event.type)) {
        Event declaration = event;
        declaration.type = EventType::kDeclarationSubmitted;
        DeclarationSubmitted data;
        data.declaration_id = "DCL-" + event.subject + "-BAD";
        data.kind = DeclarationKind::kLearningState;
        data.learning_state = 3;
        declaration.data = data;
        line = EncodeJsonEvent(declaration);
        static const char* const kBadStates[] = {"7", "0", "9", "-1", "\"high\"", "2.5"};
        applied = ReplaceScalarValue(&line, "learning_state", PickFrom(rng_, kBadStates));
      }
    } else if (pick < 58) {
      *kind = IsEmployeeScoped(event.type) ? "missing_subject" : "missing_id";
      applied = RemoveStringMember(&line, IsEmployeeScoped(event.type) ? "subject" : "id");
    } else if (pick < 66) {
      *kind = "bad_specversion";
      applied = ReplaceStringValue(&line, "specversion", "0.3");
    } else if (pick < 74) {
      *kind = "negative_hours";
      if (event.type == EventType::kLearningProgressed ||
          event.type == EventType::kLearningCompleted) {
        applied = ReplaceScalarValue(&line, "hours", "-1.5");
      }
    } else if (pick < 76) {
      *kind = "oversized";
      line.insert(line.size() - 1, ",\"padding\":\"" + std::string(70 * 1024, 'x') + "\"");
      applied = true;
    } else if (pick < 78) {
      *kind = "not_an_object";
      line = rng_.Chance(0.5) ? "[\"not\",\"an\",\"event\"]" : "null";
      applied = true;
    } else {
      *kind = "malformed_json";
    }
    // Every kind must really fail decoding (the summary is a contract with
    // the tests): fall back to a truncated line when a mutation did not apply
    // or did not make the event invalid.
    if (!applied || DecodeJsonEvent(line).ok()) {
      *kind = "malformed_json";
      line = EncodeJsonEvent(event);
      line.resize(1 + rng_.Below(line.size() - 2));
    }
    return line;
  }

  const GeneratorOptions& options_;
  const LineWriter& writer_;
  GeneratorSummary* summary_;
  Rng rng_;
  std::array<int64_t, kEventTypeCount> valid_by_type_{};
  std::array<int64_t, kEventTypeCount> duplicates_by_type_{};
  std::vector<Held> held_;  // min-heap by (release_us, sequence)
  uint64_t held_sequence_ = 0;
  int64_t max_time_written_ = std::numeric_limits<int64_t>::min();
};

// ============================================================== simulation

struct ProgramProgress {
  int32_t reached = 0;         // highest step reached (finalised or automatic)
  int64_t reached_time_us = 0;
  int32_t pending = -1;        // declaration in flight, index into declarations_
  bool planned = false;        // a submission is scheduled
  int64_t cooldown_until_us = 0;  // after a rejection/withdrawal
};

struct Person {
  std::string id;
  std::string name;
  int32_t unit = -1;
  int32_t manager = -1;
  int32_t head_of = -1;      // unit this person leads
  int32_t member_slot = -1;  // position in units_[unit].members
  int32_t program = kDxLiteracy;
  int32_t disposition = 3;   // hidden learning state 1..6
  int32_t declaration_seq = 0;
  int32_t review_days_min = 2;
  int32_t review_days_max = 10;
  uint32_t passed_courses = 0;  // bit per Course
  uint32_t in_progress = 0;     // bit per Course
  uint32_t certs = 0;           // bit per Cert
  bool active = false;
  bool hr = false;
  bool rhythm_keeper = false;  // as a manager: monthly 1on1s, 1-2 career interviews
  bool transfer_wish = false;
  std::array<ProgramProgress, kProgramCount> progress;
};

struct OrgUnit {
  std::string id;
  std::string name;
  int32_t parent = -1;
  int32_t head = -1;
  bool team = false;
  std::vector<int32_t> members;  // active people in the unit, head included
};

enum class DeclarationState : uint8_t {
  kSubmitted, kReturned, kAmended, kConfirmed, kRejected, kWithdrawn, kFinalized,
  kNoWorkflow,  // learning_state / career_wish: effective at submission, never approved
  kInvalid,     // a planted out-of-order step declaration
};

struct Declaration {
  std::string id;
  int32_t person = -1;
  DeclarationKind kind = DeclarationKind::kStep;
  int32_t program = -1;
  int32_t step = 0;
  int32_t returns = 0;
  DeclarationState state = DeclarationState::kSubmitted;
};

struct Enrolment {
  int32_t person = -1;
  int32_t course = 0;
  int32_t reports_planned = 1;
  int32_t reports_done = 0;
  int32_t withdraw_at = -1;  // report index at which the learner gives up
  double total_hours = 0;
  double reported_hours = 0;  // sum of the progress reports so far
};

enum class ActionKind : uint8_t {
  kMonthStart, kKpiTargets, kPersonTick, kHire, kLeave, kTransfer, kRotateLead,
  kEnrol, kProgress, kCertify, kInterview, kSubmitDeclaration, kWithdrawDeclaration,
  kReview, kAmend, kFinalize, kInvalidCommand,
};

enum class InvalidCommand : int32_t { kNotManager = 0, kSelfApproval, kFinalizeUnconfirmed, kStepOutOfOrder };

struct Action {
  int64_t time_us;
  uint64_t sequence;
  ActionKind kind;
  int32_t a = 0, b = 0, c = 0;
};

bool ActionLater(const Action& x, const Action& y) {
  return std::tie(x.time_us, x.sequence) > std::tie(y.time_us, y.sequence);
}

std::string FormatId(const char* prefix, uint64_t number, int width) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%s%0*llu", prefix, width,
                static_cast<unsigned long long>(number));
  return buffer;
}

double RoundQuarter(double hours) { return std::max(0.25, std::round(hours * 4) / 4); }

// The source systems and the id prefix each uses for its events.
enum class Source : uint8_t {
  kHr, kPrograms, kKpi, kMoodle, kUdemy, kInterviews, kCounseling, kDeclarations, kWorkflow,
  kHrReview,
};
struct SourceInfo {
  const char* uri;
  const char* id_prefix;
};
constexpr std::array<SourceInfo, 10> kSources = {{
    {"/hr/workday", "wd-"},
    {"/talent/programs", "prg-"},
    {"/hr/kpi-planning", "kpi-"},
    {"/lms/moodle", "mdl-"},
    {"/lms/udemy-business", "udb-"},
    {"/talent/1on1-tool", "1on1-"},
    {"/hr/career-counseling", "cc-"},
    {"/talent/self-declaration", "sd-"},
    {"/talent/workflow", "wf-"},
    {"/hr/talent-review", "hrr-"},
}};

class Simulation {
 public:
  Simulation(const GeneratorOptions& options, int64_t first_day, LineEmitter* emitter,
             GeneratorSummary* summary)
      : options_(options), emitter_(emitter), summary_(summary),
        rng_(DeriveSeed(options.seed, 0)), programs_(BuildPrograms()), first_day_(first_day) {
    const CivilDate start = CivilFromDays(first_day);
    for (int32_t k = 0; k <= options.months; ++k) {
      const int64_t month_index = start.month - 1 + k;
      month_first_days_.push_back(
          DaysFromCivil(start.year + month_index / 12, static_cast<int>(month_index % 12) + 1, 1));
    }
    end_us_ = LocalInstant(month_first_days_.back(), 0);
  }

  Status Run() {
    BuildOrganisation();
    now_us_ = LocalInstant(first_day_, kReferenceTime);
    JIRITSU_RETURN_IF_ERROR(EmitReferenceData());
    JIRITSU_RETURN_IF_ERROR(EmitKpiTargets(FiscalYearOf(first_day_)));
    now_us_ = LocalInstant(first_day_, kOrgChangeTime);
    for (size_t p = 0; p < people_.size(); ++p) {
      JIRITSU_RETURN_IF_ERROR(EmitHired(static_cast<int32_t>(p)));
      ScheduleOnboarding(static_cast<int32_t>(p));
    }
    for (int32_t k = 0; k < options_.months; ++k) {
      Schedule(LocalInstant(month_first_days_[k], 0), ActionKind::kMonthStart, k);
    }
    while (!actions_.empty()) {
      std::pop_heap(actions_.begin(), actions_.end(), ActionLater);
      const Action action = actions_.back();
      actions_.pop_back();
      if (action.time_us >= end_us_) continue;  // beyond the simulated window
      now_us_ = action.time_us;
      JIRITSU_RETURN_IF_ERROR(Execute(action));
    }
    summary_->org_units = static_cast<int64_t>(units_.size());
    return Status::Ok();
  }

 private:
  // ------------------------------------------------------------ scheduling

  void Schedule(int64_t time_us, ActionKind kind, int32_t a = 0, int32_t b = 0, int32_t c = 0) {
    time_us = std::max(time_us, now_us_);  // never in the past
    actions_.push_back({time_us, action_sequence_++, kind, a, b, c});
    std::push_heap(actions_.begin(), actions_.end(), ActionLater);
  }

  // A working-hours instant `days` after today (next workday if a weekend).
  int64_t WorkInstantAfterDays(int64_t days) {
    const int64_t day = NextWorkday(LocalDayOf(now_us_) + days);
    const int64_t instant = LocalInstant(day, kWorkStart + rng_.Between(0, 10 * 3600 - 1));
    return std::max(instant, now_us_ + 60 * kMicros);
  }

  // Any day, 09:00-23:30: e-learning happens evenings and weekends too.
  int64_t LearningInstantAfterDays(int64_t days) {
    const int64_t day = LocalDayOf(now_us_) + days;
    const int64_t instant = LocalInstant(day, kWorkStart + rng_.Between(0, 14 * 3600 + 1800));
    return std::max(instant, now_us_ + 60 * kMicros);
  }

  // A uniformly random day of month k, working hours (weekends shift).
  int64_t WorkInstantInMonth(int32_t k) {
    const int64_t days = month_first_days_[k + 1] - month_first_days_[k];
    const int64_t day = NextWorkday(month_first_days_[k] + rng_.Between(0, days - 1));
    return LocalInstant(day, kWorkStart + rng_.Between(0, 10 * 3600 - 1));
  }

  int64_t LearningInstantInMonth(int32_t k) {
    const int64_t days = month_first_days_[k + 1] - month_first_days_[k];
    const int64_t day = month_first_days_[k] + rng_.Between(0, days - 1);
    return LocalInstant(day, kWorkStart + rng_.Between(0, 14 * 3600 + 1800));
  }

  // ------------------------------------------------------------ emission

  Status Emit(EventType type, Source source, std::string subject, EventData data) {
    const SourceInfo& info = kSources[static_cast<size_t>(source)];
    Event event;
    event.type = type;
    event.source = info.uri;
    event.id = FormatId(info.id_prefix, ++event_sequence_, 10);
    event.subject = std::move(subject);
    event.time_us = now_us_;
    event.utc_offset_minutes = kJstOffsetMinutes;
    event.data = std::move(data);
    return emitter_->Emit(event);
  }

  // ------------------------------------------------------------ organisation

  int32_t AddUnit(std::string id, std::string name, int32_t parent, bool team) {
    units_.push_back({std::move(id), std::move(name), parent, -1, team, {}});
    return static_cast<int32_t>(units_.size() - 1);
  }

  int32_t NewPerson() {
    Person person;
    person.id = FormatId("E", people_.size() + 1, 6);
    person.name = std::string(PickFrom(rng_, kFamilyNames)) + " " + PickFrom(rng_, kGivenNames);
    person.disposition = static_cast<int32_t>(rng_.Weighted(kDispositionShare));
    const double profile = rng_.Unit();
    person.program = profile < 0.76 ? kDxLiteracy : profile < 0.88 ? kDxPromoter : kDataSpecialist;
    person.rhythm_keeper = rng_.Chance(0.55);
    person.review_days_min = person.rhythm_keeper ? 1 : 3;
    person.review_days_max = person.rhythm_keeper ? 6 : 21;
    people_.push_back(std::move(person));
    ++summary_->dispositions[people_.back().disposition];
    return static_cast<int32_t>(people_.size() - 1);
  }

  void JoinUnit(int32_t p, int32_t u) {
    Person& person = people_[p];
    person.unit = u;
    person.member_slot = static_cast<int32_t>(units_[u].members.size());
    units_[u].members.push_back(p);
  }

  void LeaveUnit(int32_t p) {
    Person& person = people_[p];
    std::vector<int32_t>& members = units_[person.unit].members;
    const int32_t last = members.back();
    members[person.member_slot] = last;
    people_[last].member_slot = person.member_slot;
    members.pop_back();
    person.unit = -1;
    person.member_slot = -1;
  }

  void MakeHead(int32_t p, int32_t u) {
    units_[u].head = p;
    people_[p].head_of = u;
  }

  // Manager: head of the own unit, or for a head the head of the nearest
  // ancestor unit; the root's head has none.
  int32_t DerivedManager(int32_t p) const {
    int32_t u = people_[p].unit;
    while (u >= 0) {
      const int32_t head = units_[u].head;
      if (head >= 0 && head != p) return head;
      u = units_[u].parent;
    }
    return -1;
  }

  void BuildOrganisation() {
    const int64_t n = options_.employees;
    const int64_t hr_staff = std::max<int64_t>(2, n / 500);
    const int64_t remaining = n - 2 - hr_staff;  // CEO and HR head
    // ~11.5 per team (lead included), ~5 teams per department, at most 12
    // divisions (a 20000-person company: 12 divisions of ~28 departments).
    const int64_t teams = std::max<int64_t>(1, (remaining * 10 + 59) / 117);
    const int64_t departments = (teams + 4) / 5;
    const int64_t divisions = std::min<int64_t>(12, (departments + 3) / 4);
    int64_t members = remaining - teams - departments - divisions;
    if (members < 0) members = 0;

    const int32_t root = AddUnit("C01", "Jiritsu Industries", -1, false);
    const int32_t hr_unit = AddUnit("C01-HR", "Human Resources", root, false);
    std::vector<int32_t> team_units;
    std::vector<int32_t> division_units, department_units;
    for (int64_t v = 0; v < divisions; ++v) {
      const std::string name = std::string(kDivisionNames[v % 10]) +
                               (v >= 10 ? " " + std::to_string(v / 10 + 1) : "");
      division_units.push_back(AddUnit(FormatId("C01-D", v + 1, 2), name + " Division", root, false));
    }
    for (int64_t d = 0; d < departments; ++d) {
      const int32_t division = division_units[d * divisions / departments];
      const std::string id = units_[division].id + FormatId("-P", d + 1, 3);
      const std::string name = units_[division].name.substr(0, units_[division].name.size() - 9) +
                               " Dept " + std::to_string(d + 1);
      department_units.push_back(AddUnit(id, name, division, false));
    }
    for (int64_t t = 0; t < teams; ++t) {
      const int32_t department = department_units[t * departments / teams];
      const std::string id = units_[department].id + FormatId("-T", t + 1, 4);
      const std::string name = units_[department].name + " Team " + std::to_string(t + 1);
      team_units.push_back(AddUnit(id, name, department, true));
    }
    team_units_ = team_units;

    // People, top down, so that managers precede their reports.
    const int32_t ceo = NewPerson();
    people_[ceo].program = kDxPromoter;
    JoinUnit(ceo, root);
    MakeHead(ceo, root);
    const int32_t hr_head = NewPerson();
    JoinUnit(hr_head, hr_unit);
    MakeHead(hr_head, hr_unit);
    people_[hr_head].hr = true;
    hr_people_.push_back(hr_head);
    for (int64_t i = 0; i < hr_staff; ++i) {
      const int32_t p = NewPerson();
      JoinUnit(p, hr_unit);
      people_[p].hr = true;
      hr_people_.push_back(p);
    }
    for (int32_t u : division_units) {
      const int32_t p = NewPerson();
      JoinUnit(p, u);
      MakeHead(p, u);
    }
    for (int32_t u : department_units) {
      const int32_t p = NewPerson();
      JoinUnit(p, u);
      MakeHead(p, u);
    }
    // Team sizes vary (8-15 with the lead): proportional to random weights.
    std::vector<int64_t> weights(team_units.size());
    int64_t weight_total = 0;
    for (auto& w : weights) weight_total += (w = rng_.Between(7, 14));
    int64_t assigned = 0;
    for (size_t t = 0; t < team_units.size(); ++t) {
      const int32_t lead = NewPerson();
      JoinUnit(lead, team_units[t]);
      MakeHead(lead, team_units[t]);
      const int64_t until = (t + 1 == team_units.size())
                                ? members
                                : members * (weight_total - SumFrom(weights, t + 1)) / weight_total;
      for (; assigned < until; ++assigned) JoinUnit(NewPerson(), team_units[t]);
    }
    for (size_t p = 0; p < people_.size(); ++p) {
      people_[p].manager = DerivedManager(static_cast<int32_t>(p));
    }
  }

  static int64_t SumFrom(const std::vector<int64_t>& values, size_t from) {
    int64_t sum = 0;
    for (size_t i = from; i < values.size(); ++i) sum += values[i];
    return sum;
  }

  Status EmitReferenceData() {
    for (const OrgUnit& unit : units_) {
      OrgUnitDefined data;
      data.org_unit_id = unit.id;
      data.name = unit.name;
      if (unit.parent >= 0) data.parent_id = units_[unit.parent].id;
      JIRITSU_RETURN_IF_ERROR(Emit(EventType::kOrgUnitDefined, Source::kHr, unit.id, data));
    }
    for (const ProgramInfo& program : programs_) {
      ProgramDefined data;
      data.program_id = program.id;
      data.name = program.name;
      data.talent_profile = program.profile;
      for (size_t s = 0; s < program.steps.size(); ++s) {
        ProgramStep step;
        step.step = static_cast<int32_t>(s + 1);
        step.name = program.steps[s].name;
        for (int course : program.steps[s].courses) step.required_courses.push_back(kCourses[course].id);
        step.declaration_required = program.steps[s].declaration_required;
        data.steps.push_back(std::move(step));
      }
      JIRITSU_RETURN_IF_ERROR(Emit(EventType::kProgramDefined, Source::kPrograms, program.id, data));
    }
    return Status::Ok();
  }

  // HR sets next year's targets for the company and each division: process
  // counts, awareness, completion and maturity (DOMAIN.md KPI types).
  Status EmitKpiTargets(int64_t fiscal_year) {
    const std::string period = "FY" + std::to_string(fiscal_year);
    const double growth = 1.0 + 0.05 * static_cast<double>(fiscal_year - FiscalYearOf(first_day_));
    std::vector<int32_t> scopes = {0};
    for (size_t u = 0; u < units_.size(); ++u) {
      if (units_[u].parent == 0 && units_[u].id != "C01-HR") scopes.push_back(static_cast<int32_t>(u));
    }
    for (int32_t scope : scopes) {
      std::array<int64_t, kProgramCount> population{};
      int64_t headcount = 0;
      for (const Person& person : people_) {
        // Everybody placed in the tree (the initial population before its
        // hire events, later the current staff).
        if (person.unit < 0 || !IsWithin(person.unit, scope)) continue;
        ++population[person.program];
        ++headcount;
      }
      auto target = [&](const std::string& profile, const char* metric, double value) {
        KpiTargetSet data;
        data.org_unit_id = units_[scope].id;
        data.period = period;
        data.talent_profile = profile;
        data.metric = metric;
        data.target = value;
        // kpi.target.set has no entity id of its own: the subject names the
        // target (ids allow [A-Za-z0-9._:@-]).
        const std::string subject = "kpi:" + data.org_unit_id + ":" + period + ":" +
                                    (profile.empty() ? "all" : profile) + ":" + metric;
        return Emit(EventType::kKpiTargetSet, Source::kKpi, subject, data);
      };
      // Metric names from schemas/catalog.h (= the KPI view, docs/views.md).
      const double people_all = static_cast<double>(headcount);
      JIRITSU_RETURN_IF_ERROR(target("", "awareness_rate", std::min(0.9, 0.4 * growth)));
      JIRITSU_RETURN_IF_ERROR(target("", "interviews_career", std::round(people_all * 1.2)));
      JIRITSU_RETURN_IF_ERROR(target("", "interviews_one_on_one", std::round(people_all * 10)));
      JIRITSU_RETURN_IF_ERROR(target("", "trainings_completed", std::round(people_all * 3 * growth)));
      JIRITSU_RETURN_IF_ERROR(target("", "learning_hours", std::round(people_all * 12 * growth)));
      if (scope == 0) {
        JIRITSU_RETURN_IF_ERROR(target("", "line_started_learning_rate", std::min(0.9, 0.3 * growth)));
        JIRITSU_RETURN_IF_ERROR(target("", "approval_lead_time_p50_days", 14));
      }
      for (int32_t prog = 0; prog < kProgramCount; ++prog) {
        if (population[prog] == 0) continue;
        const std::string profile = programs_[prog].profile;
        const double people = static_cast<double>(population[prog]);
        JIRITSU_RETURN_IF_ERROR(target(profile, "required_training_rate", std::min(0.95, 0.75 * growth)));
        JIRITSU_RETURN_IF_ERROR(target(profile, "maturity_count", std::round(people * 0.15 * growth)));
        JIRITSU_RETURN_IF_ERROR(target(profile, "declarations_submitted",
                                       std::round(people * 0.3 * growth)));
        JIRITSU_RETURN_IF_ERROR(target(profile, "declarations_finalized",
                                       std::round(people * 0.2 * growth)));
      }
    }
    return Status::Ok();
  }

  bool IsWithin(int32_t unit, int32_t ancestor) const {
    for (int32_t u = unit; u >= 0; u = units_[u].parent) {
      if (u == ancestor) return true;
    }
    return false;
  }

  Status EmitHired(int32_t p) {
    Person& person = people_[p];
    person.active = true;
    ++summary_->employees_hired;
    EmployeeHired data;
    data.org_unit_id = units_[person.unit].id;
    if (person.manager >= 0) data.manager_id = people_[person.manager].id;
    data.talent_profile = programs_[person.program].profile;
    data.display_name = person.name;
    return Emit(EventType::kEmployeeHired, Source::kHr, person.id, data);
  }

  // New people take the compliance basics in their first weeks.
  void ScheduleOnboarding(int32_t p) {
    if (rng_.Chance(0.9)) {
      Schedule(LearningInstantAfterDays(rng_.Between(3, 30)), ActionKind::kEnrol, p, kDxMindset);
    }
    if (rng_.Chance(0.9)) {
      Schedule(LearningInstantAfterDays(rng_.Between(3, 30)), ActionKind::kEnrol, p, kInfoSecurity);
    }
  }

  Status SetManager(int32_t p, int32_t manager) {
    Person& person = people_[p];
    if (person.manager == manager || manager < 0) return Status::Ok();
    person.manager = manager;
    EmployeeManagerChanged data;
    data.manager_id = people_[manager].id;
    return Emit(EventType::kEmployeeManagerChanged, Source::kHr, person.id, data);
  }

  bool IsRegularMember(int32_t p) const {
    const Person& person = people_[p];
    return person.active && person.head_of < 0 && !person.hr;
  }

  // ------------------------------------------------------------ actions

  Status Execute(const Action& action) {
    switch (action.kind) {
      case ActionKind::kMonthStart: return MonthStart(action.a);
      case ActionKind::kKpiTargets: return EmitKpiTargets(action.a);
      case ActionKind::kPersonTick: return PersonTick(action.a, action.b);
      case ActionKind::kHire: return Hire(action.a);
      case ActionKind::kLeave: return Leave(action.a);
      case ActionKind::kTransfer: return Transfer(action.a);
      case ActionKind::kRotateLead: return RotateLead(action.a);
      case ActionKind::kEnrol: return Enrol(action.a, action.b);
      case ActionKind::kProgress: return Progress(action.a);
      case ActionKind::kCertify: return Certify(action.a, action.b);
      case ActionKind::kInterview: return Interview(action.a, static_cast<InterviewKind>(action.b));
      case ActionKind::kSubmitDeclaration:
        return Submit(action.a, static_cast<DeclarationKind>(action.b), action.c);
      case ActionKind::kWithdrawDeclaration: return Withdraw(action.a);
      case ActionKind::kReview: return Review(action.a);
      case ActionKind::kAmend: return Amend(action.a);
      case ActionKind::kFinalize: return Finalize(action.a);
      case ActionKind::kInvalidCommand:
        return IssueInvalidCommand(action.a, static_cast<InvalidCommand>(action.b));
    }
    return Internal("unknown generator action");
  }

  Status MonthStart(int32_t k) {
    const CivilDate date = CivilFromDays(month_first_days_[k]);
    const int64_t n = options_.employees;
    const int64_t first_workday = NextWorkday(month_first_days_[k]);
    const int64_t org_change = LocalInstant(month_first_days_[k], kOrgChangeTime);
    if (date.month == 3) {  // next fiscal year's plan, mid-March
      Schedule(LocalInstant(month_first_days_[k] + 14, 10 * 3600), ActionKind::kKpiTargets,
               static_cast<int32_t>(date.year));
    }
    // Japanese HR calendar: the April (and smaller October) rotation, new
    // graduates joining on April 1, mid-career hires and leavers all year.
    double transfer_share = 0.003;
    if (date.month == 4 && k > 0) {
      transfer_share = 0.05;
      for (size_t t = 0; t < team_units_.size(); ++t) {
        if (rng_.Chance(0.08)) Schedule(org_change, ActionKind::kRotateLead, team_units_[t]);
      }
      const int64_t graduates = rng_.RoundRandom(static_cast<double>(n) * 0.03);
      for (int64_t i = 0; i < graduates; ++i) {
        Schedule(org_change, ActionKind::kHire, NewPerson());
      }
    } else if (date.month == 10) {
      transfer_share = 0.02;
    }
    const int64_t mid_career = rng_.RoundRandom(static_cast<double>(n) * 0.004);
    for (int64_t i = 0; i < mid_career; ++i) {
      const int64_t days = month_first_days_[k + 1] - first_workday;
      const int64_t day = NextWorkday(first_workday + rng_.Between(0, std::max<int64_t>(0, days - 1)));
      Schedule(LocalInstant(day, kOrgChangeTime), ActionKind::kHire, NewPerson());
    }
    const int64_t last_day = month_first_days_[k + 1] - 1;
    for (size_t p = 0; p < people_.size(); ++p) {
      const int32_t person = static_cast<int32_t>(p);
      if (!IsRegularMember(person)) continue;
      if (rng_.Chance(transfer_share)) {
        const int64_t when = (date.month == 4 || date.month == 10)
                                 ? org_change
                                 : LocalInstant(NextWorkday(month_first_days_[k] +
                                                            rng_.Between(0, last_day - month_first_days_[k])),
                                                kOrgChangeTime);
        Schedule(when, ActionKind::kTransfer, person);
      }
      // ~10% a year; an unmet transfer wish makes leaving likelier.
      if (rng_.Chance(people_[p].transfer_wish ? 0.012 : 0.008)) {
        Schedule(LocalInstant(last_day, kOrgChangeTime), ActionKind::kLeave, person);
      }
    }
    for (size_t p = 0; p < people_.size(); ++p) {
      if (people_[p].active) {
        Schedule(LocalInstant(month_first_days_[k], 0), ActionKind::kPersonTick,
                 static_cast<int32_t>(p), k);
      }
    }
    return Status::Ok();
  }

  int32_t SmallestTeam() const {
    int32_t best = team_units_.front();
    for (int32_t u : team_units_) {
      if (units_[u].members.size() < units_[best].members.size()) best = u;
    }
    return best;
  }

  Status Hire(int32_t p) {
    JoinUnit(p, SmallestTeam());
    people_[p].manager = DerivedManager(p);
    JIRITSU_RETURN_IF_ERROR(EmitHired(p));
    ScheduleOnboarding(p);
    return Status::Ok();
  }

  Status Leave(int32_t p) {
    if (!IsRegularMember(p)) return Status::Ok();
    EmployeeLeft data;
    data.reason = PickFrom(rng_, kLeaveReasons);
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kEmployeeLeft, Source::kHr, people_[p].id, data));
    LeaveUnit(p);
    people_[p].active = false;
    ++summary_->employees_left;
    return Status::Ok();
  }

  Status Transfer(int32_t p) {
    if (!IsRegularMember(p)) return Status::Ok();
    Person& person = people_[p];
    int32_t target = -1;
    for (int attempt = 0; attempt < 8 && target < 0; ++attempt) {
      const int32_t u = team_units_[rng_.Below(team_units_.size())];
      if (u != person.unit && units_[u].members.size() < 15) target = u;
    }
    if (target < 0) return Status::Ok();
    EmployeeTransferred data;
    data.org_unit_id = units_[target].id;
    // Habitual learners are sometimes moved into the DX promoter profile.
    if (person.program == kDxLiteracy && person.disposition <= 2 && rng_.Chance(0.15)) {
      person.program = kDxPromoter;
      data.talent_profile = programs_[kDxPromoter].profile;
    }
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kEmployeeTransferred, Source::kHr, person.id, data));
    LeaveUnit(p);
    JoinUnit(p, target);
    person.transfer_wish = false;
    return SetManager(p, DerivedManager(p));
  }

  // A team member takes over the team; the previous lead stays as a member.
  Status RotateLead(int32_t u) {
    OrgUnit& unit = units_[u];
    std::vector<int32_t> candidates;
    for (int32_t m : unit.members) {
      if (m != unit.head && !people_[m].hr) candidates.push_back(m);
    }
    if (candidates.empty()) return Status::Ok();
    const int32_t new_lead = candidates[rng_.Below(candidates.size())];
    const int32_t old_lead = unit.head;
    people_[old_lead].head_of = -1;
    MakeHead(new_lead, u);
    people_[new_lead].rhythm_keeper = rng_.Chance(0.55);
    JIRITSU_RETURN_IF_ERROR(SetManager(new_lead, DerivedManager(new_lead)));
    for (int32_t m : unit.members) {
      if (m != new_lead) JIRITSU_RETURN_IF_ERROR(SetManager(m, DerivedManager(m)));
    }
    return Status::Ok();
  }

  // Monthly plan of one person: learning, interviews, declarations.
  Status PersonTick(int32_t p, int32_t k) {
    Person& person = people_[p];
    if (!person.active) return Status::Ok();
    const CivilDate date = CivilFromDays(month_first_days_[k]);
    const int d = person.disposition;

    // Learning: required courses of the next step (the organisation pushes
    // them) plus electives, at a rate set by the disposition.
    std::vector<int> required = OutstandingRequiredCourses(p);
    if (!required.empty() && rng_.Chance(kRequiredRate[d])) {
      const int course = required[rng_.Below(required.size())];
      Schedule(LearningInstantInMonth(k), ActionKind::kEnrol, p, course);
    }
    const int64_t electives = rng_.RoundRandom(kElectiveRate[d]);
    for (int64_t i = 0; i < electives; ++i) {
      const std::vector<int>& choices = programs_[person.program].electives;
      const int course = rng_.Chance(0.8) ? choices[rng_.Below(choices.size())]
                                          : static_cast<int>(rng_.Below(kCourseCount));
      Schedule(LearningInstantInMonth(k), ActionKind::kEnrol, p, course);
    }

    // Interviews: keepers of the rhythm hold monthly 1on1s and career
    // interviews in May (goal setting) and November (mid-year).
    if (person.manager >= 0) {
      const bool keeper = people_[person.manager].rhythm_keeper;
      if (rng_.Chance(keeper ? 0.9 : 0.25)) {
        Schedule(WorkInstantInMonth(k), ActionKind::kInterview, p,
                 static_cast<int32_t>(InterviewKind::kOneOnOne));
      }
      const double career = date.month == 5 ? (keeper ? 0.85 : 0.3)
                            : date.month == 11 ? (keeper ? 0.5 : 0.1)
                                               : 0.0;
      if (rng_.Chance(career)) {
        Schedule(WorkInstantInMonth(k), ActionKind::kInterview, p,
                 static_cast<int32_t>(InterviewKind::kCareer));
      }
      if (rng_.Chance(person.transfer_wish ? 0.04 : 0.008)) {
        Schedule(WorkInstantInMonth(k), ActionKind::kInterview, p,
                 static_cast<int32_t>(InterviewKind::kCounseling));
      }
    }

    // Declarations: learning state at the start of the fiscal year, career
    // wishes in the autumn self-declaration round, practice at year end.
    const int64_t month_start = LocalInstant(month_first_days_[k], 0);
    if (date.month == 4 && rng_.Chance(0.85)) {
      Schedule(month_start + rng_.Between(1, 50) * kDaySeconds * kMicros + rng_.Between(9 * 3600, 18 * 3600) * kMicros,
               ActionKind::kSubmitDeclaration, p, static_cast<int32_t>(DeclarationKind::kLearningState));
    }
    if (person.manager >= 0) {
      if (date.month == 10 && rng_.Chance(0.3)) {
        Schedule(WorkInstantInMonth(k), ActionKind::kSubmitDeclaration, p,
                 static_cast<int32_t>(DeclarationKind::kCareerWish));
      }
      if (date.month == 2 && person.progress[person.program].reached >= 1 &&
          rng_.Chance(kPracticeDeclareProbability[d])) {
        Schedule(WorkInstantInMonth(k), ActionKind::kSubmitDeclaration, p,
                 static_cast<int32_t>(DeclarationKind::kPractice), person.program);
      }
    }
    MaybePlanStepDeclaration(p);

    // Dispositions drift: busy periods make some habitual learners lapse.
    if (person.disposition <= 2 && rng_.Chance(0.006)) ++person.disposition;
    return Status::Ok();
  }

  std::vector<int> OutstandingRequiredCourses(int32_t p) const {
    const Person& person = people_[p];
    const ProgramInfo& program = programs_[person.program];
    const int32_t next = person.progress[person.program].reached + 1;
    std::vector<int> result;
    if (next > static_cast<int32_t>(program.steps.size())) return result;
    for (int course : program.steps[next - 1].courses) {
      const uint32_t bit = 1u << course;
      if (!(person.passed_courses & bit) && !(person.in_progress & bit)) result.push_back(course);
    }
    return result;
  }

  bool StepCoursesPassed(const Person& person, int32_t program, int32_t step) const {
    for (int course : programs_[program].steps[step - 1].courses) {
      if (!(person.passed_courses & (1u << course))) return false;
    }
    return true;
  }

  // Steps without a declaration are reached when their courses are passed;
  // for the others a submission is planned once the person is eligible.
  void MaybePlanStepDeclaration(int32_t p) {
    Person& person = people_[p];
    const int32_t program = person.program;
    ProgramProgress& progress = person.progress[program];
    const ProgramInfo& info = programs_[program];
    while (progress.reached < static_cast<int32_t>(info.steps.size()) &&
           !info.steps[progress.reached].declaration_required &&
           StepCoursesPassed(person, program, progress.reached + 1)) {
      ++progress.reached;
      progress.reached_time_us = now_us_;
    }
    if (person.manager < 0 || progress.pending >= 0 || progress.planned ||
        now_us_ < progress.cooldown_until_us) {
      return;
    }
    const int32_t next = progress.reached + 1;
    if (next > static_cast<int32_t>(info.steps.size())) return;
    const StepInfo& step = info.steps[next - 1];
    if (!StepCoursesPassed(person, program, next)) return;
    const int64_t practiced_days = (now_us_ - progress.reached_time_us) / (kDaySeconds * kMicros);
    if (next > 1 && practiced_days < step.min_practice_months * 30) return;
    if (!rng_.Chance(kDeclareProbability[person.disposition])) return;
    progress.planned = true;
    const int64_t delay = static_cast<int64_t>(rng_.Between(3, 20) * kGapFactor[person.disposition]);
    Schedule(WorkInstantAfterDays(delay), ActionKind::kSubmitDeclaration, p,
             static_cast<int32_t>(DeclarationKind::kStep), program);
  }

  Status Enrol(int32_t p, int32_t course) {
    Person& person = people_[p];
    const uint32_t bit = 1u << course;
    if (!person.active || (person.passed_courses & bit) || (person.in_progress & bit)) {
      return Status::Ok();
    }
    const CourseInfo& info = kCourses[course];
    LearningEnrolled data;
    data.course_id = info.id;
    data.course_title = info.title;
    data.provider = info.external ? "Udemy Business" : "Moodle";
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kLearningEnrolled,
                                 info.external ? Source::kUdemy : Source::kMoodle, person.id, data));
    person.in_progress |= bit;
    Enrolment enrolment;
    enrolment.person = p;
    enrolment.course = course;
    // The LMS reports each study session (~1.5 h), up to 12 per course.
    enrolment.reports_planned = static_cast<int32_t>(std::clamp(info.hours / 1.5 + 1.0, 1.0, 12.0));
    enrolment.total_hours = RoundQuarter(info.hours * (0.8 + 0.5 * rng_.Unit()));
    if (!rng_.Chance(kCompleteProbability[person.disposition])) {
      enrolment.withdraw_at = static_cast<int32_t>(rng_.Below(enrolment.reports_planned + 1));
    }
    enrolments_.push_back(enrolment);
    ScheduleNextReport(static_cast<int32_t>(enrolments_.size() - 1));
    return Status::Ok();
  }

  void ScheduleNextReport(int32_t e) {
    const Person& person = people_[enrolments_[e].person];
    const int64_t gap = static_cast<int64_t>(rng_.Between(1, 10) * kGapFactor[person.disposition]);
    Schedule(LearningInstantAfterDays(gap), ActionKind::kProgress, e);
  }

  Status Progress(int32_t e) {
    Enrolment& enrolment = enrolments_[e];
    Person& person = people_[enrolment.person];
    if (!person.active) return Status::Ok();
    const CourseInfo& info = kCourses[enrolment.course];
    const Source source = info.external ? Source::kUdemy : Source::kMoodle;
    const uint32_t bit = 1u << enrolment.course;
    if (enrolment.reports_done == enrolment.withdraw_at) {
      LearningWithdrawn data;
      data.course_id = info.id;
      data.reason = PickFrom(rng_, kLearningWithdrawReasons);
      person.in_progress &= ~bit;
      return Emit(EventType::kLearningWithdrawn, source, person.id, data);
    }
    if (enrolment.reports_done < enrolment.reports_planned) {
      ++enrolment.reports_done;
      LearningProgressed data;
      data.course_id = info.id;
      data.progress_percent = std::floor(100.0 * enrolment.reports_done / (enrolment.reports_planned + 1));
      data.hours = RoundQuarter(enrolment.total_hours / (enrolment.reports_planned + 1) *
                                (0.7 + 0.6 * rng_.Unit()));
      enrolment.reported_hours += data.hours;
      JIRITSU_RETURN_IF_ERROR(Emit(EventType::kLearningProgressed, source, person.id, data));
      ScheduleNextReport(e);
      return Status::Ok();
    }
    LearningCompleted data;
    data.course_id = info.id;
    // Hours since the previous report (the codec's definition), so the
    // reports of one enrolment add up to its total time.
    data.hours = RoundQuarter(enrolment.total_hours - enrolment.reported_hours);
    const int64_t score = std::clamp<int64_t>(kScoreBase[person.disposition] + rng_.Between(-22, 20), 30, 100);
    data.score = static_cast<double>(score);
    data.passed = score >= 60;
    person.in_progress &= ~bit;
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kLearningCompleted, source, person.id, data));
    if (data.passed) {
      person.passed_courses |= bit;
      for (int c = 0; c < kExamCertCount; ++c) {
        if (kCerts[c].prerequisite == enrolment.course && rng_.Chance(kCerts[c].take_probability)) {
          Schedule(WorkInstantAfterDays(rng_.Between(20, 90)), ActionKind::kCertify, enrolment.person, c);
        }
      }
      MaybePlanStepDeclaration(enrolment.person);
    }
    return Status::Ok();
  }

  Status Certify(int32_t p, int32_t cert) {
    Person& person = people_[p];
    if (!person.active || (person.certs & (1u << cert))) return Status::Ok();
    person.certs |= 1u << cert;
    LearningCertified data;
    data.certification_id = kCerts[cert].id;
    data.name = kCerts[cert].name;
    if (kCerts[cert].level > 0) data.level = kCerts[cert].level;
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kLearningCertified, Source::kMoodle, person.id, data));
    if (cert < kExamCertCount) {
      int held = 0;
      for (int c = 0; c < kExamCertCount; ++c) held += (person.certs >> c) & 1;
      Schedule(WorkInstantAfterDays(rng_.Between(7, 30)), ActionKind::kCertify, p,
               kDxPassport1 + held - 1);
    }
    return Status::Ok();
  }

  int32_t PickHr(int32_t exclude_a, int32_t exclude_b) {
    for (int attempt = 0; attempt < 16; ++attempt) {
      const int32_t hr = hr_people_[rng_.Below(hr_people_.size())];
      if (hr != exclude_a && hr != exclude_b) return hr;
    }
    for (int32_t hr : hr_people_) {
      if (hr != exclude_a && hr != exclude_b) return hr;
    }
    return -1;
  }

  Status Interview(int32_t p, InterviewKind kind) {
    Person& person = people_[p];
    if (!person.active) return Status::Ok();
    const bool counseling = kind == InterviewKind::kCounseling;
    const int32_t interviewer = counseling ? PickHr(p, -1) : person.manager;
    if (interviewer < 0) return Status::Ok();
    const Source source = counseling ? Source::kCounseling : Source::kInterviews;
    const std::string interview_id = FormatId("IV", ++interview_sequence_, 9);
    const double outcome = rng_.Unit();
    if (outcome < 0.10) {
      InterviewCancelled data;
      data.interview_id = interview_id;
      const bool no_show = outcome < 0.03;
      data.reason = no_show ? CancelReason::kNoShow : CancelReason::kCancelled;
      JIRITSU_RETURN_IF_ERROR(Emit(EventType::kInterviewCancelled, source, person.id, data));
      if (!no_show && rng_.Chance(0.6)) {  // rescheduled a few days later
        Schedule(WorkInstantAfterDays(rng_.Between(3, 10)), ActionKind::kInterview, p,
                 static_cast<int32_t>(kind));
      }
      return Status::Ok();
    }
    InterviewHeld data;
    data.interview_id = interview_id;
    data.interviewer_id = people_[interviewer].id;
    data.kind = kind;
    static constexpr std::array<int32_t, 3> kOneOnOneMinutes = {15, 30, 45};
    static constexpr std::array<int32_t, 3> kCareerMinutes = {45, 60, 90};
    data.duration_minutes = kind == InterviewKind::kOneOnOne ? kOneOnOneMinutes[rng_.Weighted(std::array<double, 3>{1, 3, 1})]
                            : kind == InterviewKind::kCareer ? kCareerMinutes[rng_.Below(3)]
                                                             : 60;
    const bool career_talk = kind != InterviewKind::kOneOnOne || rng_.Chance(0.2);
    if (career_talk) {
      // Career orientation shares, roughly as in the IPA survey.
      data.career_intention = static_cast<CareerIntention>(
          rng_.Weighted(std::array<double, 5>{0.12, 0.10, 0.30, 0.40, 0.08}));
      data.transfer_wish = rng_.Chance(0.12);
      data.side_job_wish = rng_.Chance(0.07);
      person.transfer_wish = person.transfer_wish || data.transfer_wish;
    }
    if (rng_.Chance(0.4)) data.notes = PickFrom(rng_, kInterviewNotes);
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kInterviewHeld, source, person.id, data));
    if (kind != InterviewKind::kOneOnOne) {
      // A career conversation is the trigger some people lacked (levels 3-5),
      // and often leads to learning and a career-wish declaration.
      if (person.disposition >= 3 && person.disposition <= 5 && rng_.Chance(0.12)) {
        --person.disposition;
      }
      if (rng_.Chance(kFollowUpLearning[person.disposition])) {
        const std::vector<int>& choices = programs_[person.program].electives;
        Schedule(LearningInstantAfterDays(rng_.Between(1, 45)), ActionKind::kEnrol, p,
                 choices[rng_.Below(choices.size())]);
      }
      if (person.manager >= 0 && rng_.Chance(0.15)) {
        Schedule(WorkInstantAfterDays(rng_.Between(2, 21)), ActionKind::kSubmitDeclaration, p,
                 static_cast<int32_t>(DeclarationKind::kCareerWish));
      }
    }
    return Status::Ok();
  }

  int32_t NewDeclaration(int32_t p, DeclarationKind kind, int32_t program, int32_t step) {
    Person& person = people_[p];
    Declaration declaration;
    char buffer[48];
    std::snprintf(buffer, sizeof(buffer), "DCL-%s-%04d", person.id.c_str(), ++person.declaration_seq);
    declaration.id = buffer;
    declaration.person = p;
    declaration.kind = kind;
    declaration.program = program;
    declaration.step = step;
    declarations_.push_back(std::move(declaration));
    return static_cast<int32_t>(declarations_.size() - 1);
  }

  Status Submit(int32_t p, DeclarationKind kind, int32_t program) {
    Person& person = people_[p];
    if (kind == DeclarationKind::kStep) person.progress[program].planned = false;
    if (!person.active) return Status::Ok();
    DeclarationSubmitted data;
    data.kind = kind;
    int32_t step = 0;
    switch (kind) {
      case DeclarationKind::kLearningState: {
        int32_t state = person.disposition;
        if (rng_.Chance(0.1)) state = std::clamp(state + (rng_.Chance(0.5) ? 1 : -1), 1, 6);
        data.learning_state = state;
        break;
      }
      case DeclarationKind::kCareerWish:
        data.career_wish = PickFrom(rng_, kCareerWishes);
        break;
      case DeclarationKind::kPractice: {
        const ProgramProgress& progress = person.progress[program];
        data.program_id = programs_[program].id;
        data.practice_months = static_cast<int32_t>(
            std::max<int64_t>(1, (now_us_ - progress.reached_time_us) / (30 * kDaySeconds * kMicros)));
        data.evidence = "OJT: " + std::string(units_[person.unit].name);
        break;
      }
      case DeclarationKind::kStep: {
        ProgramProgress& progress = person.progress[program];
        step = progress.reached + 1;
        if (progress.pending >= 0 || step > static_cast<int32_t>(programs_[program].steps.size()) ||
            person.manager < 0) {
          return Status::Ok();
        }
        data.program_id = programs_[program].id;
        data.step = step;
        const StepInfo& info = programs_[program].steps[step - 1];
        if (info.evidence.empty()) {
          data.evidence = "Completed the required courses";
        } else {
          data.evidence = info.evidence[rng_.Below(info.evidence.size())];
        }
        break;
      }
    }
    const int32_t d = NewDeclaration(p, kind, program, step);
    data.declaration_id = declarations_[d].id;
    if (kind == DeclarationKind::kStep) person.progress[program].pending = d;
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kDeclarationSubmitted, Source::kDeclarations, person.id, data));
    // Only step and practice declarations need approval (docs/views.md);
    // learning states and career wishes count from submission and may be
    // amended (career wishes sometimes are, after a second thought).
    if (kind == DeclarationKind::kLearningState || kind == DeclarationKind::kCareerWish ||
        person.manager < 0) {
      declarations_[d].state = DeclarationState::kNoWorkflow;
      if (kind == DeclarationKind::kCareerWish && rng_.Chance(0.1)) {
        Schedule(WorkInstantAfterDays(rng_.Between(3, 30)), ActionKind::kAmend, d);
      }
      return Status::Ok();
    }
    // The manager reviews after a lead time that depends on the manager.
    const Person& manager = people_[person.manager];
    int64_t review_days = rng_.Between(manager.review_days_min, manager.review_days_max);
    if (rng_.Chance(0.04)) {
      Schedule(WorkInstantAfterDays(rng_.Between(1, 2)), ActionKind::kWithdrawDeclaration, d);
      review_days = std::max<int64_t>(review_days, 4);
    }
    if (rng_.Chance(options_.domain_invalid_share)) {
      const auto command = static_cast<InvalidCommand>(rng_.Below(4));
      Schedule(now_us_ + rng_.Between(600, kDaySeconds) * kMicros, ActionKind::kInvalidCommand, d,
               static_cast<int32_t>(command));
      review_days = std::max<int64_t>(review_days, 2);
    }
    Schedule(WorkInstantAfterDays(review_days), ActionKind::kReview, d);
    return Status::Ok();
  }

  bool Open(const Declaration& declaration) const {
    return declaration.state == DeclarationState::kSubmitted ||
           declaration.state == DeclarationState::kReturned ||
           declaration.state == DeclarationState::kAmended;
  }

  // Closes a step declaration that will not be finalised; the person may
  // declare again after a while.
  void CloseStep(const Declaration& declaration) {
    if (declaration.kind != DeclarationKind::kStep) return;
    ProgramProgress& progress = people_[declaration.person].progress[declaration.program];
    progress.pending = -1;
    progress.cooldown_until_us = now_us_ + rng_.Between(30, 90) * kDaySeconds * kMicros;
  }

  Status Withdraw(int32_t d) {
    Declaration& declaration = declarations_[d];
    if (!Open(declaration) || !people_[declaration.person].active) return Status::Ok();
    DeclarationWithdrawn data;
    data.declaration_id = declaration.id;
    data.reason = PickFrom(rng_, kWithdrawReasons);
    declaration.state = DeclarationState::kWithdrawn;
    CloseStep(declaration);
    return Emit(EventType::kDeclarationWithdrawn, Source::kDeclarations,
                people_[declaration.person].id, data);
  }

  Status Review(int32_t d) {
    Declaration& declaration = declarations_[d];
    const Person& person = people_[declaration.person];
    if (!person.active || person.manager < 0) return Status::Ok();
    if (declaration.state != DeclarationState::kSubmitted &&
        declaration.state != DeclarationState::kAmended) {
      return Status::Ok();
    }
    ApprovalDecision data;
    data.declaration_id = declaration.id;
    data.approver_id = people_[person.manager].id;
    const double r = rng_.Unit();
    const bool first = declaration.returns == 0;
    const double return_share = first ? 0.12 : (declaration.returns < 2 ? 0.06 : 0.0);
    const double reject_share = first ? 0.07 : 0.05;
    if (r < return_share) {
      data.comment = PickFrom(rng_, kReturnComments);
      declaration.state = DeclarationState::kReturned;
      ++declaration.returns;
      JIRITSU_RETURN_IF_ERROR(Emit(EventType::kApprovalReturned, Source::kWorkflow, person.id, data));
      Schedule(WorkInstantAfterDays(rng_.Between(2, 14)), ActionKind::kAmend, d);
      return Status::Ok();
    }
    if (r < return_share + reject_share) {
      data.comment = PickFrom(rng_, kRejectComments);
      declaration.state = DeclarationState::kRejected;
      CloseStep(declaration);
      return Emit(EventType::kApprovalRejected, Source::kWorkflow, person.id, data);
    }
    if (rng_.Chance(0.3)) data.comment = "Confirmed. Good progress.";
    declaration.state = DeclarationState::kConfirmed;
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kApprovalConfirmed, Source::kWorkflow, person.id, data));
    // HR aggregates confirmed declarations in batches: days to weeks later.
    Schedule(WorkInstantAfterDays(rng_.Between(3, 30)), ActionKind::kFinalize, d);
    return Status::Ok();
  }

  Status Amend(int32_t d) {
    Declaration& declaration = declarations_[d];
    const Person& person = people_[declaration.person];
    const bool career_wish_update = declaration.kind == DeclarationKind::kCareerWish &&
                                    declaration.state == DeclarationState::kNoWorkflow;
    if ((declaration.state != DeclarationState::kReturned && !career_wish_update) ||
        !person.active) {
      return Status::Ok();
    }
    DeclarationAmended data;
    data.declaration_id = declaration.id;
    switch (declaration.kind) {
      case DeclarationKind::kPractice:
        data.practice_months = static_cast<int32_t>(rng_.Between(3, 24));
        data.evidence = "Added the period and my role in the OJT";
        break;
      case DeclarationKind::kCareerWish:
        data.career_wish = PickFrom(rng_, kCareerWishes);
        break;
      default:
        data.evidence = "Added evidence as requested by my manager";
        break;
    }
    if (career_wish_update) {
      return Emit(EventType::kDeclarationAmended, Source::kDeclarations, person.id, data);
    }
    declaration.state = DeclarationState::kAmended;
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kDeclarationAmended, Source::kDeclarations, person.id, data));
    const Person* manager = person.manager >= 0 ? &people_[person.manager] : nullptr;
    const int64_t days = manager ? rng_.Between(1, std::max(2, manager->review_days_max / 2)) : 5;
    Schedule(WorkInstantAfterDays(days), ActionKind::kReview, d);
    return Status::Ok();
  }

  Status Finalize(int32_t d) {
    Declaration& declaration = declarations_[d];
    Person& person = people_[declaration.person];
    if (declaration.state != DeclarationState::kConfirmed || !person.active) return Status::Ok();
    const int32_t hr = PickHr(declaration.person, person.manager);
    if (hr < 0) return Status::Ok();
    ApprovalDecision data;
    data.declaration_id = declaration.id;
    data.approver_id = people_[hr].id;
    data.comment = "Reflected in the FY" + std::to_string(FiscalYearOf(LocalDayOf(now_us_)) + 1) +
                   " development plan";
    declaration.state = DeclarationState::kFinalized;
    JIRITSU_RETURN_IF_ERROR(Emit(EventType::kApprovalFinalized, Source::kHrReview, person.id, data));
    if (declaration.kind == DeclarationKind::kStep) {
      ProgramProgress& progress = person.progress[declaration.program];
      progress.reached = std::max(progress.reached, declaration.step);
      progress.reached_time_us = now_us_;
      progress.pending = -1;
    }
    return Status::Ok();
  }

  // Commands the workflow must reject; recorded in the summary.
  Status IssueInvalidCommand(int32_t d, InvalidCommand command) {
    const Declaration& declaration = declarations_[d];
    const Person& person = people_[declaration.person];
    if (!person.active) return Status::Ok();
    ApprovalDecision data;
    data.declaration_id = declaration.id;
    if (command == InvalidCommand::kStepOutOfOrder) {
      // Skips a step: declares reached + 2 of the own programme if it exists.
      const int32_t program = person.program;
      const int32_t step = person.progress[program].reached + 2;
      if (step <= static_cast<int32_t>(programs_[program].steps.size())) {
        DeclarationSubmitted submitted;
        submitted.kind = DeclarationKind::kStep;
        submitted.program_id = programs_[program].id;
        submitted.step = step;
        submitted.evidence = "Declaring the advanced step directly";
        const int32_t skipped = NewDeclaration(declaration.person, DeclarationKind::kStep, program, step);
        declarations_[skipped].state = DeclarationState::kInvalid;
        submitted.declaration_id = declarations_[skipped].id;
        ++summary_->domain_invalid_by_kind["step_out_of_order"];
        return Emit(EventType::kDeclarationSubmitted, Source::kDeclarations, person.id, submitted);
      }
      command = InvalidCommand::kSelfApproval;
    }
    if (command == InvalidCommand::kFinalizeUnconfirmed) {
      if (declaration.state == DeclarationState::kConfirmed ||
          declaration.state == DeclarationState::kFinalized) {
        return Status::Ok();
      }
      const int32_t hr = PickHr(declaration.person, person.manager);
      if (hr < 0) return Status::Ok();
      data.approver_id = people_[hr].id;
      ++summary_->domain_invalid_by_kind["finalize_unconfirmed"];
      return Emit(EventType::kApprovalFinalized, Source::kHrReview, person.id, data);
    }
    if (command == InvalidCommand::kNotManager) {
      // Another manager (e.g. a neighbouring team's lead) confirms by mistake.
      int32_t other = -1;
      for (int attempt = 0; attempt < 16 && other < 0; ++attempt) {
        const int32_t candidate = units_[team_units_[rng_.Below(team_units_.size())]].head;
        if (candidate != person.manager && candidate != declaration.person) other = candidate;
      }
      if (other >= 0) {
        data.approver_id = people_[other].id;
        ++summary_->domain_invalid_by_kind["not_manager"];
        return Emit(EventType::kApprovalConfirmed, Source::kWorkflow, person.id, data);
      }
    }
    data.approver_id = person.id;
    ++summary_->domain_invalid_by_kind["self_approval"];
    return Emit(EventType::kApprovalConfirmed, Source::kWorkflow, person.id, data);
  }

  const GeneratorOptions& options_;
  LineEmitter* emitter_;
  GeneratorSummary* summary_;
  Rng rng_;
  std::vector<ProgramInfo> programs_;
  int64_t first_day_;
  std::vector<int64_t> month_first_days_;  // months + 1 entries
  int64_t end_us_ = 0;
  int64_t now_us_ = 0;
  uint64_t action_sequence_ = 0;
  uint64_t event_sequence_ = 0;
  uint64_t interview_sequence_ = 0;
  std::vector<Action> actions_;  // min-heap by (time, sequence)
  std::vector<OrgUnit> units_;
  std::vector<int32_t> team_units_;
  std::vector<Person> people_;
  std::vector<int32_t> hr_people_;
  std::vector<Declaration> declarations_;
  std::vector<Enrolment> enrolments_;
};

Result<int64_t> ParseStartDay(const std::string& text) {
  int year = 0, month = 0, day = 0;
  char tail = 0;
  if (text.size() != 10 ||
      std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &year, &month, &day, &tail) != 3 ||
      text[4] != '-' || text[7] != '-') {
    return InvalidArgument("--start: must be a date YYYY-MM-01, got \"" + text + "\"");
  }
  if (year < 1971 || year > 9000 || month < 1 || month > 12 || day != 1) {
    return InvalidArgument("--start: must be the first day of a month (YYYY-MM-01), got \"" +
                           text + "\"");
  }
  return DaysFromCivil(year, month, 1);
}

}  // namespace

Status ValidateGeneratorOptions(const GeneratorOptions& options) {
  if (options.employees < 10 || options.employees > 999'999) {
    return InvalidArgument("--employees: must be 10..999999, got " + std::to_string(options.employees));
  }
  if (options.months < 1 || options.months > 240) {
    return InvalidArgument("--months: must be 1..240, got " + std::to_string(options.months));
  }
  const std::pair<const char*, double> shares[] = {
      {"--duplicate-share", options.duplicate_share},
      {"--out-of-order-share", options.out_of_order_share},
      {"--invalid-share", options.invalid_share},
      {"--domain-invalid-share", options.domain_invalid_share}};
  for (const auto& [name, value] : shares) {
    if (!(value >= 0.0 && value <= 0.5)) {
      return InvalidArgument(std::string(name) + ": must be in [0, 0.5], got " + std::to_string(value));
    }
  }
  return ParseStartDay(options.start).status();
}

std::string GeneratorSummary::ToLine() const {
  std::string line = "gen: " + std::to_string(lines) + " lines: " + std::to_string(valid_events) +
                     " events, " + std::to_string(duplicate_lines) + " duplicates, " +
                     std::to_string(out_of_order_lines) + " out of order, " +
                     std::to_string(invalid_lines) + " invalid; ";
  int64_t domain_invalid = 0;
  for (const auto& [kind, count] : domain_invalid_by_kind) domain_invalid += count;
  line += std::to_string(domain_invalid) + " domain-invalid commands; " +
          std::to_string(employees_hired) + " hired, " + std::to_string(employees_left) +
          " left, " + std::to_string(org_units) + " org units; by type:";
  for (const auto& [type, count] : valid_by_type) {
    line += " " + type + "=" + std::to_string(count);
  }
  return line;
}

Result<GeneratorSummary> GenerateEnterprise(const GeneratorOptions& options,
                                            const LineWriter& write_line) {
  JIRITSU_RETURN_IF_ERROR(ValidateGeneratorOptions(options));
  JIRITSU_ASSIGN_OR_RETURN(const int64_t first_day, ParseStartDay(options.start));
  GeneratorSummary summary;
  LineEmitter emitter(options, write_line, &summary);
  Simulation simulation(options, first_day, &emitter, &summary);
  JIRITSU_RETURN_IF_ERROR(simulation.Run());
  JIRITSU_RETURN_IF_ERROR(emitter.Finish());
  return summary;
}

}  // namespace jiritsu
