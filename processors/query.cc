#include "processors/query.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "core/personal_data.h"
#include "processors/aggregates.h"
#include "processors/employee_state.h"
#include "processors/engagement.h"
#include "processors/facts.h"
#include "processors/jiritsu_projector.h"
#include "processors/journal_tail.h"
#include "processors/json.h"
#include "processors/rows.h"
#include "processors/stored_event.h"
#include "processors/time_util.h"

namespace jiritsu::processors {
namespace {

constexpr std::string_view kDeadLetterFamilyName = "dlq";

Json EventRefJson(const EventRef& ref, int32_t offset) {
  Json out;
  out["type"] = EventTypeName(static_cast<EventType>(ref.type));
  out["source"] = ref.source;
  out["id"] = ref.id;
  out["time"] = FormatTime(ref.time_us, offset);
  out["topic"] = ref.topic;
  out["partition"] = ref.partition;
  out["offset"] = ref.offset;
  return out;
}

// One row of the rejections lists; `key` is the row's key (employee '\0' ...).
Json RejectionJson(std::string_view key, const Rejection& rejection, int32_t offset) {
  Json row;
  row["employee"] = key.substr(0, key.find('\0'));
  row["code"] = rejection.code;
  row["reason"] = rejection.reason;
  row["event"] = EventRefJson(rejection.event, offset);
  return row;
}

// null for "no event" (an empty ref).
Json LastChangedByJson(const EventRef& ref, int32_t offset) {
  return ref.source.empty() && ref.id.empty() ? Json() : EventRefJson(ref, offset);
}

// The greatest ref offered (fold order): the audit trail of a result built
// from several rows.
class LatestRef {
 public:
  void Offer(const EventRef& ref) {
    if (!any_ || EventRefLess(latest_, ref)) latest_ = ref;
    any_ = true;
  }
  void Offer(const LatestRef& other) {
    if (other.any_) Offer(other.latest_);
  }
  Json ToJson(int32_t offset) const { return any_ ? LastChangedByJson(latest_, offset) : Json(); }

 private:
  EventRef latest_;
  bool any_ = false;
};

// Reveals an employee's personal fields on the way out: the plaintext, or
// null when it cannot be read (erased, no key here, does not authenticate).
class Revealer {
 public:
  Revealer(std::string_view employee, KeyLookup lookup, bool erased_in_view)
      : employee_(employee), lookup_(lookup), erased_in_view_(erased_in_view) {}

  Json Reveal(const PersonalField& f) {
    const RevealedText text = RevealPersonalText(
        lookup_, erased_in_view_, SealContext{employee_, f.source, f.id, f.field}, f.value);
    if (text.Readable()) return Json(text.text);
    if (text.state != RevealedText::kErased) ++unreadable_;
    return Json();
  }
  // Sets out[name] for a field the event carried (absent ones stay absent).
  void Put(Json* out, std::string_view name, const PersonalField& f) {
    if (!f.empty()) (*out)[name] = Reveal(f);
  }
  bool erased() const { return erased_in_view_ || lookup_.state == KeyLookup::kErased; }
  int64_t unreadable() const { return unreadable_; }

 private:
  std::string_view employee_;
  KeyLookup lookup_;
  bool erased_in_view_;
  int64_t unreadable_ = 0;
};

Json DeclarationJson(const DeclarationRecord& d, int32_t offset, Revealer& reveal) {
  Json out;
  out["declaration_id"] = d.declaration_id;
  out["kind"] = DeclarationKindName(d.Kind());
  out["state"] = DeclarationStateName(d.State());
  out["submitted_at"] = FormatTime(d.submitted_at, offset);
  out["finalized_at"] = d.finalized_at ? Json(FormatTime(*d.finalized_at, offset)) : Json();
  switch (d.Kind()) {
    case DeclarationKind::kStep:
      out["program_id"] = d.program_id;
      out["step"] = d.step;
      break;
    case DeclarationKind::kPractice:
      out["program_id"] = d.program_id;
      out["practice_months"] = d.practice_months;
      if (d.step > 0) out["step"] = d.step;
      break;
    case DeclarationKind::kLearningState: out["learning_state"] = d.learning_state; break;
    case DeclarationKind::kCareerWish: break;
  }
  reveal.Put(&out, "evidence", d.evidence);
  reveal.Put(&out, "career_wish", d.career_wish);
  Json history = Json::MakeArray();
  for (const HistoryEntry& h : d.history) {
    Json entry;
    entry["action"] = h.action;
    entry["at"] = FormatTime(h.time_us, offset);
    entry["actor"] = h.actor;
    entry["event"] = EventRefJson(h.event, offset);
    reveal.Put(&entry, h.action == "withdrawn" ? "reason" : "comment", h.note);
    history.Push(std::move(entry));
  }
  out["history"] = std::move(history);
  // Audit trail: the event that last changed the declaration.
  out["last_changed_by"] = d.history.empty() ? Json() : EventRefJson(d.history.back().event, offset);
  return out;
}

bool IsOpen(DeclarationState s) {
  return s == DeclarationState::kSubmitted || s == DeclarationState::kConfirmed ||
         s == DeclarationState::kReturned || s == DeclarationState::kAmended;
}

Json ProgramJson(const EmployeeState& state, const std::string& program_id,
                 const ProgramDefined* program, int32_t offset, Revealer& reveal) {
  Json out;
  out["program_id"] = program_id;
  out["name"] = program ? Json(program->name) : Json();
  out["talent_profile"] = program ? Json(program->talent_profile) : Json();
  Json reached = Json::MakeArray();
  int32_t current = 0;
  if (auto it = state.steps_reached.find(program_id); it != state.steps_reached.end()) {
    for (const StepReached& r : it->second) {
      Json step;
      step["step"] = r.step;
      step["reached_at"] = FormatTime(r.time_us, offset);
      reached.Push(std::move(step));
      current = r.step;
    }
  }
  out["current_step"] = current;
  out["steps_reached"] = std::move(reached);
  const ProgramStep* next = nullptr;
  if (program) {
    for (const auto& s : program->steps) {
      if (s.step == current + 1) next = &s;
    }
  }
  if (next == nullptr) {
    out["next_step"] = Json();
  } else {
    Json criteria = Json::MakeArray();
    bool all_met = true;
    for (const auto& course : next->required_courses) {
      Json c;
      c["type"] = "course_completed";
      c["course_id"] = course;
      auto it = state.courses_passed.find(course);
      c["met"] = it != state.courses_passed.end();
      c["completed_at"] = it != state.courses_passed.end() ? Json(FormatTime(it->second, offset)) : Json();
      all_met &= it != state.courses_passed.end();
      criteria.Push(std::move(c));
    }
    if (next->declaration_required) {
      const DeclarationRecord* finalized = nullptr;
      const DeclarationRecord* latest = nullptr;
      for (const auto& [id, d] : state.declarations) {
        if (d.Kind() != DeclarationKind::kStep || d.program_id != program_id || d.step != next->step) continue;
        if (d.State() == DeclarationState::kFinalized) finalized = &d;
        if (latest == nullptr || d.submitted_at > latest->submitted_at) latest = &d;
      }
      const DeclarationRecord* shown = finalized ? finalized : latest;
      Json c;
      c["type"] = "declaration_finalized";
      c["met"] = finalized != nullptr;
      c["declaration_id"] = shown ? Json(shown->declaration_id) : Json();
      c["declaration_state"] = shown ? Json(DeclarationStateName(shown->State())) : Json();
      all_met &= finalized != nullptr;
      criteria.Push(std::move(c));
    }
    Json n;
    n["step"] = next->step;
    n["name"] = next->name;
    n["criteria"] = std::move(criteria);
    n["all_met"] = all_met;
    out["next_step"] = std::move(n);
  }
  // Declarations of this programme in submission order; the one in flight is
  // the latest that is still open (submitted, confirmed, returned, amended).
  std::vector<const DeclarationRecord*> declarations;
  for (const auto& [id, d] : state.declarations) {
    if (NeedsApproval(d.Kind()) && d.program_id == program_id) declarations.push_back(&d);
  }
  std::sort(declarations.begin(), declarations.end(), [](const auto* a, const auto* b) {
    return std::tie(a->submitted_at, a->declaration_id) < std::tie(b->submitted_at, b->declaration_id);
  });
  Json list = Json::MakeArray();
  Json in_flight;
  for (const DeclarationRecord* d : declarations) {
    if (IsOpen(d->State())) in_flight = d->declaration_id;
    list.Push(DeclarationJson(*d, offset, reveal));
  }
  out["declarations"] = std::move(list);
  out["in_flight"] = std::move(in_flight);
  return out;
}

// Nearest-rank percentile over a histogram of minutes, in days.
Json PercentileDays(const std::map<int64_t, int64_t>& histogram, int64_t count, int percent) {
  if (count <= 0) return Json();
  const int64_t rank = std::max<int64_t>(1, (count * percent + 99) / 100);
  int64_t seen = 0;
  for (const auto& [minutes, n] : histogram) {
    seen += n;
    if (seen >= rank) return Json(static_cast<double>(minutes) / 1440.0);
  }
  return Json();
}

struct KpiTotals {
  std::vector<int64_t> state = std::vector<int64_t>(kStateMeasureCount, 0);
  std::vector<int64_t> counters = std::vector<int64_t>(kPeriodCounterCount, 0);
  std::map<int64_t, int64_t> lead_minutes;
  void Add(const KpiTotals& other) {
    for (int i = 0; i < kStateMeasureCount; ++i) state[i] += other.state[i];
    for (int i = 0; i < kPeriodCounterCount; ++i) counters[i] += other.counters[i];
    for (const auto& [m, n] : other.lead_minutes) lead_minutes[m] += n;
  }
};

Json RateBlock(std::string_view count_name, int64_t count, int64_t denominator,
               std::string_view denominator_name) {
  Json out;
  out[count_name] = count;
  out[denominator_name] = denominator;
  out["rate"] = Ratio(count, denominator);
  return out;
}

struct KpiView {
  Json json;
  std::map<std::string, Json> metrics;  // flat names for targets
};

KpiView KpiJson(const KpiTotals& t, const ProjectorOptions& options) {
  KpiView view;
  Json& out = view.json;
  const auto& s = t.state;
  const auto& c = t.counters;
  const int64_t population = s[kPopulation];
  out["population"] = population;
  out["required_training"] = RateBlock("completed", s[kCompletedRequired], population, "population");
  Json awareness = RateBlock("aware", s[kAware], population, "population");
  awareness["declared"] = s[kDeclaredState];
  out["awareness"] = std::move(awareness);
  out["maturity"] = RateBlock("at_step_2_plus", s[kMature], population, "population");
  Json process;
  const int64_t interviews = c[kInterviewsCareer] + c[kInterviewsOneOnOne] + c[kInterviewsCounseling];
  process["interviews_held"]["career"] = c[kInterviewsCareer];
  process["interviews_held"]["one_on_one"] = c[kInterviewsOneOnOne];
  process["interviews_held"]["counseling"] = c[kInterviewsCounseling];
  process["interviews_held"]["total"] = interviews;
  process["interviews_cancelled"] = c[kInterviewsCancelled];
  process["trainings_enrolled"] = c[kTrainingsEnrolled];
  process["trainings_completed"] = c[kTrainingsCompleted];
  process["certifications"] = c[kCertifications];
  process["learning_hours"] = static_cast<double>(c[kLearningMilliHours]) / 1000.0;
  process["declarations_submitted"] = c[kDeclarationsSubmitted];
  process["declarations_finalized"] = c[kDeclarationsFinalized];
  out["process"] = std::move(process);
  const int64_t cohort = c[kLineInterviewed];
  Json line;
  line["interviewed"] = cohort;
  const auto days = [](int32_t d) { return std::to_string(d) + "d"; };
  const std::string started = "started_learning_" + days(options.line_learning_start_days);
  const std::string completed = "completed_learning_" + days(options.line_completion_days);
  const std::string declared = "declared_" + days(options.line_declaration_days);
  const std::string finalized = "finalized_" + days(options.line_declaration_days);
  line[started] = RateBlock("count", c[kLineStartedLearning], cohort, "of");
  line[completed] = RateBlock("count", c[kLineCompletedLearning], cohort, "of");
  line[declared] = RateBlock("count", c[kLineDeclared], cohort, "of");
  line[finalized] = RateBlock("count", c[kLineFinalized], cohort, "of");
  out["line"] = std::move(line);
  int64_t lead_count = 0;
  for (const auto& [m, n] : t.lead_minutes) lead_count += n;
  Json lead;
  lead["count"] = lead_count;
  lead["p50"] = PercentileDays(t.lead_minutes, lead_count, 50);
  lead["p90"] = PercentileDays(t.lead_minutes, lead_count, 90);
  out["approval_lead_time_days"] = lead;

  auto& m = view.metrics;
  m["population"] = population;
  m["required_training_completed"] = s[kCompletedRequired];
  m["required_training_rate"] = Ratio(s[kCompletedRequired], population);
  m["aware"] = s[kAware];
  m["awareness_rate"] = Ratio(s[kAware], population);
  m["maturity_count"] = s[kMature];
  m["maturity_rate"] = Ratio(s[kMature], population);
  m["interviews_career"] = c[kInterviewsCareer];
  m["interviews_one_on_one"] = c[kInterviewsOneOnOne];
  m["interviews_counseling"] = c[kInterviewsCounseling];
  m["interviews_total"] = interviews;
  m["trainings_enrolled"] = c[kTrainingsEnrolled];
  m["trainings_completed"] = c[kTrainingsCompleted];
  m["certifications"] = c[kCertifications];
  m["learning_hours"] = static_cast<double>(c[kLearningMilliHours]) / 1000.0;
  m["declarations_submitted"] = c[kDeclarationsSubmitted];
  m["declarations_finalized"] = c[kDeclarationsFinalized];
  m["line_interviewed"] = cohort;
  m["line_started_learning_rate"] = Ratio(c[kLineStartedLearning], cohort);
  m["line_completed_learning_rate"] = Ratio(c[kLineCompletedLearning], cohort);
  m["line_declared_rate"] = Ratio(c[kLineDeclared], cohort);
  m["line_finalized_rate"] = Ratio(c[kLineFinalized], cohort);
  m["approval_lead_time_p50_days"] = lead["p50"];
  m["approval_lead_time_p90_days"] = lead["p90"];
  return view;
}

double AsDouble(const Json& value, bool* ok) {
  // Json keeps numbers as int64 or double; re-read through the dump (cheap,
  // and it avoids exposing the variant).
  const std::string text = value.Dump();
  *ok = !value.is_null() && text != "true" && text != "false" && !text.starts_with('"');
  return *ok ? std::stod(text) : 0;
}

}  // namespace

Result<std::unique_ptr<QueryService>> QueryService::Open(const StateStore* store,
                                                         const ProjectorOptions& options) {
  std::unique_ptr<QueryService> service(new QueryService(store, options));
  JIRITSU_RETURN_IF_ERROR(service->reference_.Load(*store));
  return service;
}

Result<std::optional<int64_t>> QueryService::ViewTime() const {
  std::string value;
  Status s = store_->Get(kKpiFamily, kViewTimeKey, &value);
  if (s.code() == StatusCode::kNotFound) return std::optional<int64_t>();
  JIRITSU_RETURN_IF_ERROR(s);
  auto t = DecodeViewTime(value);
  if (!t) return Corruption("kpi_agg: bad view_time value");
  return std::optional<int64_t>(*t);
}

Result<int64_t> QueryService::ResolveAsOf(std::optional<int64_t> as_of_us) const {
  if (as_of_us) return *as_of_us;
  JIRITSU_ASSIGN_OR_RETURN(std::optional<int64_t> view_time, ViewTime());
  if (!view_time) return FailedPrecondition("no view time: the store holds no employee facts yet");
  return *view_time;
}

Result<std::string> QueryService::StepStatus(std::string_view employee,
                                             std::optional<std::string_view> program) const {
  auto loaded = LoadEmployeeState(*store_, reference_, employee);
  if (loaded.status().code() == StatusCode::kNotFound) {
    return NotFound("employee \"" + std::string(employee) + "\" has no step status on this store");
  }
  JIRITSU_ASSIGN_OR_RETURN(EmployeeState state, std::move(loaded));
  const int32_t offset = options_.reporting_utc_offset_minutes;

  std::set<std::string> program_ids;
  for (const auto& id : reference_.ProgramIds()) program_ids.insert(id);
  for (const auto& [id, steps] : state.steps_reached) program_ids.insert(id);
  for (const auto& [id, d] : state.declarations) {
    if (NeedsApproval(d.Kind())) program_ids.insert(d.program_id);
  }
  if (program && !program_ids.count(std::string(*program))) {
    return NotFound("programme \"" + std::string(*program) + "\" is unknown");
  }
  Json out;
  out["employee"] = state.employee_id;
  out["employed"] = state.employed;
  out["org_unit"] = state.org_unit;
  out["manager_id"] = state.manager_id;
  out["talent_profile"] = state.profile;
  out["events_folded"] = state.events_folded;
  out["last_event_time"] = state.events_folded ? Json(FormatTime(state.last_time_us, offset)) : Json();
  out["rejections"] = static_cast<int64_t>(state.rejections.size());
  KeyLookup lookup;
  if (options_.key_store != nullptr) {
    JIRITSU_ASSIGN_OR_RETURN(lookup, options_.key_store->Lookup(state.employee_id));
  }
  Revealer reveal(state.employee_id, lookup, state.erased_at.has_value());
  Json programs = Json::MakeArray();
  for (const std::string& id : program_ids) {
    if (program && id != *program) continue;
    // Criteria as the fold saw them: the programme version as of the
    // employee's last event (the latest version when that one is newer).
    const ProgramDefined* definition = reference_.ProgramAt(id, state.last_time_us);
    if (definition == nullptr) definition = reference_.LatestProgram(id);
    programs.Push(ProgramJson(state, id, definition, offset, reveal));
  }
  out["programs"] = std::move(programs);
  Json others = Json::MakeArray();
  std::vector<const DeclarationRecord*> other_declarations;
  for (const auto& [id, d] : state.declarations) {
    if (!NeedsApproval(d.Kind())) other_declarations.push_back(&d);
  }
  std::sort(other_declarations.begin(), other_declarations.end(), [](const auto* a, const auto* b) {
    return std::tie(a->submitted_at, a->declaration_id) < std::tie(b->submitted_at, b->declaration_id);
  });
  for (const DeclarationRecord* d : other_declarations) {
    others.Push(DeclarationJson(*d, offset, reveal));
  }
  out["other_declarations"] = std::move(others);
  out["display_name"] = state.display_name.empty() ? Json() : reveal.Reveal(state.display_name);
  out["erased"] = reveal.erased();
  out["erased_at"] = state.erased_at ? Json(FormatTime(*state.erased_at, offset)) : Json();
  out["personal_fields_unreadable"] = reveal.unreadable();
  out["last_changed_by"] =
      state.events_folded ? EventRefJson(state.last_changed_by, offset) : Json();
  return out.Dump();
}

Result<std::string> QueryService::Engagement(std::string_view employee,
                                             std::optional<int64_t> as_of_us) const {
  std::string bytes;
  Status s = store_->Get(kFactsFamily, employee, &bytes);
  if (s.code() == StatusCode::kNotFound) {
    return NotFound("employee \"" + std::string(employee) + "\" has no facts");
  }
  JIRITSU_RETURN_IF_ERROR(s);
  JIRITSU_ASSIGN_OR_RETURN(EmployeeFacts facts, DecodeFacts(bytes));
  JIRITSU_ASSIGN_OR_RETURN(int64_t as_of, ResolveAsOf(as_of_us));
  const EngagementIndicators indicators = EvaluateEngagement(facts, as_of, options_);
  Json out = EngagementToJson(facts, indicators, options_);
  out["last_changed_by"] = LastChangedByJson(facts.last_event, options_.reporting_utc_offset_minutes);
  return out.Dump();
}

Result<std::string> QueryService::OrgEngagement(std::string_view org_unit,
                                                std::optional<int64_t> as_of_us) const {
  JIRITSU_ASSIGN_OR_RETURN(std::optional<int64_t> view_time, ViewTime());
  JIRITSU_ASSIGN_OR_RETURN(int64_t as_of, ResolveAsOf(as_of_us));
  const std::vector<std::string> subtree = reference_.Subtree(org_unit);
  const std::set<std::string> scope(subtree.begin(), subtree.end());
  EngagementRollup own;
  EngagementRollup rolled_up;
  LatestRef own_last;
  LatestRef rolled_up_last;
  const auto add = [&](const EmployeeFacts& facts) {
    const EngagementIndicators e = EvaluateEngagement(facts, as_of, options_);
    if (!scope.count(e.org_unit)) return;
    rolled_up.Add(e);
    rolled_up_last.Offer(facts.last_event);
    if (e.org_unit == org_unit) {
      own.Add(e);
      own_last.Offer(facts.last_event);
    }
  };
  bool any_member = false;
  if (view_time && as_of >= *view_time) {
    // Every employee's org unit at T is its latest one: use the index.
    for (const std::string& org : subtree) {
      const std::string prefix = OrgIndexKey(org, "");
      auto it = store_->NewIterator(kOrgIndexFamily);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        std::string bytes;
        JIRITSU_RETURN_IF_ERROR(store_->Get(kFactsFamily, it->key().substr(prefix.size()), &bytes));
        JIRITSU_ASSIGN_OR_RETURN(EmployeeFacts facts, DecodeFacts(bytes));
        any_member = true;
        add(facts);
      }
      JIRITSU_RETURN_IF_ERROR(it->status());
    }
  } else {
    // A past as-of: membership at that time can differ from the index.
    auto it = store_->NewIterator(kFactsFamily);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      JIRITSU_ASSIGN_OR_RETURN(EmployeeFacts facts, DecodeFacts(it->value()));
      any_member = true;
      add(facts);
    }
    JIRITSU_RETURN_IF_ERROR(it->status());
  }
  if (reference_.LatestOrgUnit(org_unit) == nullptr && !any_member) {
    return NotFound("org unit \"" + std::string(org_unit) + "\" is unknown");
  }
  Json out;
  out["org_unit"] = org_unit;
  out["as_of"] = FormatTime(as_of, options_.reporting_utc_offset_minutes);
  out["org_units"] = Json(Json::Array(subtree.begin(), subtree.end()));
  const int32_t offset = options_.reporting_utc_offset_minutes;
  out["own"] = own.ToJson();
  out["own"]["last_changed_by"] = own_last.ToJson(offset);
  out["rolled_up"] = rolled_up.ToJson();
  out["rolled_up"]["last_changed_by"] = rolled_up_last.ToJson(offset);
  return out.Dump();
}

Result<std::string> QueryService::Kpi(std::string_view org_unit, std::string_view period_text,
                                      std::optional<std::string_view> profile) const {
  JIRITSU_ASSIGN_OR_RETURN(Period period, ParsePeriod(period_text));
  if (profile) {
    // A misspelt profile must not read as "zero of everything".
    std::set<std::string> known;
    for (const ProgramDefined* program : reference_.ProgramsAt(INT64_MAX)) {
      known.insert(program->talent_profile);
    }
    if (!known.contains(std::string(*profile))) {
      std::string list;
      for (const std::string& name : known) list += (list.empty() ? "" : ", ") + name;
      return InvalidArgument("profile: talent profile \"" + std::string(*profile) +
                             "\" is not defined by any programme (known: " +
                             (list.empty() ? "none" : list) + ")");
    }
  }
  const std::vector<std::string> subtree = reference_.Subtree(org_unit);
  const std::string last_month = MonthLabel(period.last_month);
  bool any_row = false;
  LatestRef own_last;
  LatestRef rolled_up_last;
  LatestRef org_last;
  const auto totals_of = [&](const std::string& org) -> Result<KpiTotals> {
    KpiTotals totals;
    org_last = LatestRef();
    // State measures: sum of monthly deltas up to the period's last month.
    const std::string state_prefix = org + std::string("\0S\0", 3);
    auto it = store_->NewIterator(kKpiFamily);
    for (it->Seek(state_prefix); it->Valid() && it->key().starts_with(state_prefix); it->Next()) {
      const std::string_view rest = it->key().substr(state_prefix.size());
      const size_t sep = rest.find('\0');
      if (sep == std::string_view::npos) return Corruption("kpi_agg: bad state row key");
      any_row = true;
      if (rest.substr(0, sep) > last_month) continue;
      if (profile && rest.substr(sep + 1) != *profile) continue;
      JIRITSU_ASSIGN_OR_RETURN(KpiRow row, DecodeKpiRow(it->value()));
      for (int i = 0; i < kStateMeasureCount && i < static_cast<int>(row.values.size()); ++i) {
        totals.state[i] += row.values[i];
      }
      org_last.Offer(row.last_changed_by);
    }
    JIRITSU_RETURN_IF_ERROR(it->status());
    const std::string period_prefix = PeriodRowKey(org, period.label, "");
    auto pit = store_->NewIterator(kKpiFamily);
    for (pit->Seek(period_prefix); pit->Valid() && pit->key().starts_with(period_prefix); pit->Next()) {
      any_row = true;
      if (profile && pit->key().substr(period_prefix.size()) != *profile) continue;
      JIRITSU_ASSIGN_OR_RETURN(KpiRow row, DecodeKpiRow(pit->value()));
      for (int i = 0; i < kPeriodCounterCount && i < static_cast<int>(row.values.size()); ++i) {
        totals.counters[i] += row.values[i];
      }
      for (const auto& [m, n] : row.lead_minutes) totals.lead_minutes[m] += n;
      org_last.Offer(row.last_changed_by);
    }
    JIRITSU_RETURN_IF_ERROR(pit->status());
    return totals;
  };
  KpiTotals own;
  KpiTotals rolled_up;
  for (const std::string& org : subtree) {
    JIRITSU_ASSIGN_OR_RETURN(KpiTotals totals, totals_of(org));
    if (org == org_unit) {
      own = totals;
      own_last = org_last;
    }
    rolled_up.Add(totals);
    rolled_up_last.Offer(org_last);
  }
  if (reference_.LatestOrgUnit(org_unit) == nullptr && !any_row) {
    return NotFound("org unit \"" + std::string(org_unit) + "\" is unknown");
  }
  Json out;
  out["org_unit"] = org_unit;
  out["period"] = period.label;
  out["period_kind"] = period.kind == PeriodKind::kMonth     ? "month"
                       : period.kind == PeriodKind::kQuarter ? "fiscal_quarter"
                                                             : "fiscal_year";
  out["first_month"] = MonthLabel(period.first_month);
  out["last_month"] = last_month;
  out["talent_profile"] = profile ? Json(*profile) : Json();
  out["org_units"] = Json(Json::Array(subtree.begin(), subtree.end()));
  const int32_t offset = options_.reporting_utc_offset_minutes;
  out["own"] = KpiJson(own, options_).json;
  out["own"]["last_changed_by"] = own_last.ToJson(offset);
  KpiView rolled = KpiJson(rolled_up, options_);
  out["rolled_up"] = rolled.json;
  out["rolled_up"]["last_changed_by"] = rolled_up_last.ToJson(offset);
  const std::map<std::string, EventRef> target_refs =
      reference_.TargetRefsFor(org_unit, period.label, profile.value_or(""));
  Json targets = Json::MakeArray();
  for (const auto& [metric, target] : reference_.TargetsFor(org_unit, period.label, profile.value_or(""))) {
    Json t;
    t["metric"] = metric;
    t["target"] = target;
    auto it = rolled.metrics.find(metric);
    const Json value = it == rolled.metrics.end() ? Json() : it->second;
    t["value"] = value;
    bool numeric = false;
    const double v = AsDouble(value, &numeric);
    t["ratio"] = numeric && target != 0 ? Json(v / target) : Json();
    t["known_metric"] = it != rolled.metrics.end();
    t["set_by"] = EventRefJson(target_refs.at(metric), offset);
    targets.Push(std::move(t));
  }
  out["targets"] = std::move(targets);
  return out.Dump();
}

Result<std::string> QueryService::Rejections(std::optional<std::string_view> employee,
                                             size_t limit) const {
  const std::string prefix = employee ? std::string(*employee) + '\0' : std::string();
  auto it = store_->NewIterator(kRejectionsFamily);
  Json list = Json::MakeArray();
  std::map<std::string, int64_t> by_code;
  int64_t total = 0;
  size_t shown = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    JIRITSU_ASSIGN_OR_RETURN(Rejection rejection, DecodeRejection(it->value()));
    ++total;
    ++by_code[rejection.code];
    if (shown >= limit) continue;
    ++shown;
    const std::string_view key = it->key();
    list.Push(RejectionJson(key, rejection, options_.reporting_utc_offset_minutes));
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  Json out;
  out["employee"] = employee ? Json(*employee) : Json();
  out["total"] = total;
  out["limit"] = static_cast<int64_t>(limit);
  Json codes = Json::MakeObject();
  for (const auto& [code, n] : by_code) codes[code] = n;
  out["by_code"] = std::move(codes);
  out["rejections"] = std::move(list);
  return out.Dump();
}

Result<std::string> QueryService::RejectionsPage(std::optional<std::string_view> employee,
                                                 std::string_view after_key, size_t limit,
                                                 std::string* next_key) const {
  const std::string prefix = employee ? std::string(*employee) + '\0' : std::string();
  next_key->clear();
  auto it = store_->NewIterator(kRejectionsFamily);
  if (after_key.empty() || !after_key.starts_with(prefix)) {
    it->Seek(prefix);
  } else {
    it->Seek(after_key);
    if (it->Valid() && it->key() == after_key) it->Next();
  }
  Json list = Json::MakeArray();
  size_t shown = 0;
  std::string last_key;
  for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (shown == limit) {
      *next_key = last_key;
      break;
    }
    JIRITSU_ASSIGN_OR_RETURN(Rejection rejection, DecodeRejection(it->value()));
    ++shown;
    const std::string_view key = it->key();
    last_key.assign(key.data(), key.size());
    list.Push(RejectionJson(key, rejection, options_.reporting_utc_offset_minutes));
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  Json out;
  out["employee"] = employee ? Json(*employee) : Json();
  out["limit"] = static_cast<int64_t>(limit);
  out["rejections"] = std::move(list);
  return out.Dump();
}

Result<std::string> QueryService::ManagerOf(std::string_view employee) const {
  auto loaded = LoadEmployeeState(*store_, reference_, employee);
  if (loaded.status().code() == StatusCode::kNotFound) {
    return NotFound("employee \"" + std::string(employee) + "\" is unknown on this store");
  }
  JIRITSU_ASSIGN_OR_RETURN(EmployeeState state, std::move(loaded));
  return state.manager_id;
}

Result<std::map<std::string, std::vector<std::string>>> QueryService::ReportsByManager() const {
  std::map<std::string, std::vector<std::string>> reports;
  const std::string prefix = EmployeeStateKey("");
  auto it = store_->NewIterator(kEmployeeFamily);
  auto journal = store_->NewIterator(kJournalFamily);  // the states' journal tails
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    JIRITSU_ASSIGN_OR_RETURN(EmployeeState state, DecodeEmployeeState(it->value()));
    JIRITSU_RETURN_IF_ERROR(
        FoldJournalTail(journal.get(), reference_, it->key().substr(prefix.size()), &state).status());
    if (state.employed && !state.manager_id.empty()) {
      reports[state.manager_id].push_back(state.employee_id);  // key order: sorted
    }
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  return reports;
}

Result<std::string> QueryService::Digest() const {
  std::vector<std::string> families = JiritsuColumnFamilies();
  families.emplace_back(kDeadLetterFamilyName);
  std::sort(families.begin(), families.end());
  Blake2bHasher all;
  Json views = Json::MakeObject();
  for (const std::string& family : families) {
    auto it = store_->NewIterator(family);
    it->SeekToFirst();
    if (!it->Valid() && it->status().code() == StatusCode::kNotFound &&
        family == kDeadLetterFamilyName) {
      continue;  // no dlq family on this store
    }
    Blake2bHasher one;
    all.AddField(family);
    int64_t rows = 0;
    for (; it->Valid(); it->Next()) {
      one.AddField(it->key());
      one.AddField(it->value());
      all.AddField(it->key());
      all.AddField(it->value());
      ++rows;
    }
    JIRITSU_RETURN_IF_ERROR(it->status().WithContext("digest of " + family));
    views[family]["digest"] = HexEncode(one.Finish());
    views[family]["rows"] = rows;
  }
  Json out;
  out["digest"] = HexEncode(all.Finish());
  out["views"] = std::move(views);
  return out.Dump();
}

}  // namespace jiritsu::processors

namespace jiritsu::processors {

Result<std::string> QueryService::OrgUnit(std::string_view org_unit) const {
  const OrgUnitDefined* unit = reference_.LatestOrgUnit(org_unit);
  if (unit == nullptr) return NotFound("org unit \"" + std::string(org_unit) + "\" is unknown");
  std::vector<std::string> children = reference_.Children(org_unit);
  std::sort(children.begin(), children.end());
  Json out;
  out["org_unit"] = unit->org_unit_id;
  out["name"] = unit->name;
  out["parent"] = Json::OrNull(unit->parent_id);
  out["children"] = Json(Json::Array(children.begin(), children.end()));
  const EventRef* defined_by = reference_.LatestOrgUnitRef(org_unit);
  out["last_changed_by"] = defined_by ? EventRefJson(*defined_by, options_.reporting_utc_offset_minutes)
                                      : Json();
  return out.Dump();
}

Result<std::string> QueryService::StepDistribution(std::optional<std::string_view> org_unit) const {
  std::set<std::string> scope;
  if (org_unit) {
    if (reference_.LatestOrgUnit(*org_unit) == nullptr) {
      return NotFound("org unit \"" + std::string(*org_unit) + "\" is unknown");
    }
    const std::vector<std::string> subtree = reference_.Subtree(*org_unit);
    scope.insert(subtree.begin(), subtree.end());
  }
  struct Distribution {
    const ProgramDefined* definition = nullptr;
    std::vector<int64_t> steps;  // index = current step
  };
  std::map<std::string, Distribution> programs;
  for (const std::string& id : reference_.ProgramIds()) {
    Distribution& d = programs[id];
    d.definition = reference_.LatestProgram(id);
    d.steps.assign((d.definition ? d.definition->steps.size() : 0) + 1, 0);
  }
  int64_t employees = 0;
  const std::string prefix = EmployeeStateKey("");
  auto it = store_->NewIterator(kEmployeeFamily);
  auto journal = store_->NewIterator(kJournalFamily);  // the states' journal tails
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    JIRITSU_ASSIGN_OR_RETURN(EmployeeState state, DecodeEmployeeState(it->value()));
    JIRITSU_RETURN_IF_ERROR(
        FoldJournalTail(journal.get(), reference_, it->key().substr(prefix.size()), &state).status());
    if (!state.employed) continue;
    if (org_unit && !scope.count(state.org_unit)) continue;
    ++employees;
    for (auto& [id, d] : programs) {
      auto reached = state.steps_reached.find(id);
      const size_t current = reached == state.steps_reached.end() ? 0 : reached->second.size();
      const bool own_profile = d.definition && d.definition->talent_profile == state.profile;
      if (!own_profile && current == 0) continue;
      if (current >= d.steps.size()) d.steps.resize(current + 1, 0);
      ++d.steps[current];
    }
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  Json out;
  out["org_unit"] = org_unit ? Json(*org_unit) : Json();
  out["employees"] = employees;
  Json list = Json::MakeArray();
  for (const auto& [id, d] : programs) {
    Json row;
    row["program"] = id;
    row["name"] = d.definition ? Json(d.definition->name) : Json();
    row["talent_profile"] = d.definition ? Json(d.definition->talent_profile) : Json();
    Json steps = Json::MakeArray();
    for (int64_t count : d.steps) steps.Push(count);
    row["steps"] = std::move(steps);
    list.Push(std::move(row));
  }
  out["programs"] = std::move(list);
  return out.Dump();
}

}  // namespace jiritsu::processors
