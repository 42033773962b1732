// `jiritsu summary`: a readable report of the views for people (the demo's
// last step): KPIs of the latest fiscal year per top-level org unit, the
// cross-measure line as a funnel, step distribution, segments, rejections
// and dead letters. Machines should use `jiritsu query` (JSON) instead.
#include <CLI/CLI.hpp>
#include <simdjson.h>

#include <cstdio>
#include <map>
#include <string>

#include "core/projection_runtime.h"
#include "ops/cli.h"
#include "ops/projections.h"
#include "processors/query.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

struct SummaryFlags {
  LogSelection log;
  std::string views_dir;
  std::vector<std::string> orgs;  // default: every root org unit
};

double Number(simdjson::dom::element element, const char* path) {
  auto value = element.at_pointer(path);
  if (value.error()) return 0;
  if (value.is_double()) return value.get_double().value();
  if (value.is_int64()) return static_cast<double>(value.get_int64().value());
  if (value.is_uint64()) return static_cast<double>(value.get_uint64().value());
  return 0;
}

std::string Percent(simdjson::dom::element element, const char* path) {
  auto value = element.at_pointer(path);
  if (value.error() || value.is_null()) return "  n/a";
  char text[16];
  std::snprintf(text, sizeof(text), "%5.1f%%", 100.0 * Number(element, path));
  return text;
}

std::string FiscalYearOf(int64_t time_us) {
  // Fiscal year April-March in the reporting offset.
  std::string text = FormatRfc3339(time_us, kDefaultReportingOffsetMinutes);
  int year = std::stoi(text.substr(0, 4));
  int month = std::stoi(text.substr(5, 2));
  return "FY" + std::to_string(month >= 4 ? year : year - 1);
}

int Fail(const Status& status) {
  std::fprintf(stderr, "jiritsu summary: %s\n", status.ToString().c_str());
  return status.code() == StatusCode::kNotFound ? 4 : 3;
}

void PrintOrg(const processors::QueryService& query, const std::string& org,
              const std::string& period, simdjson::dom::parser& parser) {
  auto kpi_json = query.Kpi(org, period);
  auto engagement_json = query.OrgEngagement(org);
  if (!kpi_json.ok() || !engagement_json.ok()) {
    std::printf("  %s: %s\n", org.c_str(),
                (!kpi_json.ok() ? kpi_json.status() : engagement_json.status()).ToString().c_str());
    return;
  }
  simdjson::dom::element kpi = parser.parse(*kpi_json).value();
  std::printf("\n== Org unit %s (and below), %s\n", org.c_str(), period.c_str());
  std::printf("  population %.0f\n", Number(kpi, "/rolled_up/population"));
  std::printf("  process    interviews held %.0f (career %.0f, 1on1 %.0f, counseling %.0f), "
              "cancelled %.0f\n",
              Number(kpi, "/rolled_up/process/interviews_held/total"),
              Number(kpi, "/rolled_up/process/interviews_held/career"),
              Number(kpi, "/rolled_up/process/interviews_held/one_on_one"),
              Number(kpi, "/rolled_up/process/interviews_held/counseling"),
              Number(kpi, "/rolled_up/process/interviews_cancelled"));
  std::printf("             trainings completed %.0f, learning hours %.0f, certifications %.0f, "
              "declarations submitted %.0f / finalised %.0f\n",
              Number(kpi, "/rolled_up/process/trainings_completed"),
              Number(kpi, "/rolled_up/process/learning_hours"),
              Number(kpi, "/rolled_up/process/certifications"),
              Number(kpi, "/rolled_up/process/declarations_submitted"),
              Number(kpi, "/rolled_up/process/declarations_finalized"));
  std::printf("  rates      required training %s, awareness (state 1-2) %s, maturity (step>=2) "
              "%s (%.0f people)\n",
              Percent(kpi, "/rolled_up/required_training/rate").c_str(),
              Percent(kpi, "/rolled_up/awareness/rate").c_str(),
              Percent(kpi, "/rolled_up/maturity/rate").c_str(),
              Number(kpi, "/rolled_up/maturity/at_step_2_plus"));
  std::printf("  line       of %.0f interviewed: started learning <=90d %s, completed <=180d %s, "
              "declared %s, finalised %s\n",
              Number(kpi, "/rolled_up/line/interviewed"),
              Percent(kpi, "/rolled_up/line/started_learning_90d/rate").c_str(),
              Percent(kpi, "/rolled_up/line/completed_learning_180d/rate").c_str(),
              Percent(kpi, "/rolled_up/line/declared_365d/rate").c_str(),
              Percent(kpi, "/rolled_up/line/finalized_365d/rate").c_str());
  std::printf("  lead time  submitted -> finalised: p50 %.1f days, p90 %.1f days (%.0f finalised)\n",
              Number(kpi, "/rolled_up/approval_lead_time_days/p50"),
              Number(kpi, "/rolled_up/approval_lead_time_days/p90"),
              Number(kpi, "/rolled_up/approval_lead_time_days/count"));
  auto targets = kpi.at_pointer("/targets").get_array();
  if (!targets.error()) {
    for (auto target : targets.value()) {
      std::string_view metric = target["metric"].get_string().value_unsafe();
      std::printf("  target     %-32.*s value %10.3f  target %10.3f\n",
                  static_cast<int>(metric.size()), metric.data(), Number(target, "/value"),
                  Number(target, "/target"));
    }
  }
  simdjson::dom::element engagement = parser.parse(*engagement_json).value();
  std::printf("  segments   leading %.0f, middle %.0f, lagging %.0f; at risk %.0f (%s)\n",
              Number(engagement, "/rolled_up/by_segment/leading/population"),
              Number(engagement, "/rolled_up/by_segment/middle/population"),
              Number(engagement, "/rolled_up/by_segment/lagging/population"),
              Number(engagement, "/rolled_up/at_risk"),
              Percent(engagement, "/rolled_up/at_risk_rate").c_str());
  std::printf("  learning   declared state 1..6: %.0f %.0f %.0f %.0f %.0f %.0f, undeclared %.0f\n",
              Number(engagement, "/rolled_up/learning_state/1"),
              Number(engagement, "/rolled_up/learning_state/2"),
              Number(engagement, "/rolled_up/learning_state/3"),
              Number(engagement, "/rolled_up/learning_state/4"),
              Number(engagement, "/rolled_up/learning_state/5"),
              Number(engagement, "/rolled_up/learning_state/6"),
              Number(engagement, "/rolled_up/learning_state/undeclared"));
}

int Summarize(const SummaryFlags& flags) {
  auto dir = ResolveViewsDir(flags.log, flags.views_dir);
  if (!dir.ok()) return Fail(dir.status());
  auto store = OpenViewsForReading(*dir);
  if (!store.ok()) return Fail(store.status());
  auto query = processors::QueryService::Open(store->get());
  if (!query.ok()) return Fail(query.status());
  auto view_time = (*query)->ViewTime();
  if (!view_time.ok()) return Fail(view_time.status());
  if (!*view_time) return Fail(NotFound("the views hold no employee events yet"));
  const std::string period = FiscalYearOf(**view_time);
  std::printf("Jiritsu summary of %s\n  view time %s (latest event time; indicators are as of "
              "it), fiscal year %s\n",
              dir->c_str(), FormatRfc3339(**view_time, kDefaultReportingOffsetMinutes).c_str(),
              period.c_str());
  std::vector<std::string> orgs = flags.orgs;
  if (orgs.empty()) orgs = (*query)->RootOrgUnits();
  simdjson::dom::parser parser;
  for (const auto& org : orgs) PrintOrg(**query, org, period, parser);

  // Step distribution from each employee's step status. Step status is a
  // private view: an instance reports the employees it owns (all of them on
  // the embedded log) and says how many it does not hold.
  std::map<std::string, std::map<int64_t, size_t>> steps_by_program;
  size_t not_owned = 0;
  auto facts = (*store)->NewIterator("facts");
  for (facts->SeekToFirst(); facts->Valid(); facts->Next()) {
    auto status_json = (*query)->StepStatus(std::string(facts->key()));
    if (!status_json.ok()) {
      if (status_json.status().code() != StatusCode::kNotFound) {
        std::fprintf(stderr, "jiritsu summary: step status of %s: %s\n",
                     std::string(facts->key()).c_str(), status_json.status().ToString().c_str());
      }
      ++not_owned;
      continue;
    }
    simdjson::dom::element status = parser.parse(*status_json).value();
    auto programs = status["programs"].get_array();
    if (programs.error()) continue;
    std::string_view profile;
    auto employee_profile = status["talent_profile"].get_string();
    if (!employee_profile.error()) profile = employee_profile.value();
    for (auto program : programs.value()) {
      // An employee counts in the programme of their talent profile, and in
      // any other one where they reached a step.
      const auto step = static_cast<int64_t>(Number(program, "/current_step"));
      auto program_profile = program["talent_profile"].get_string();
      const bool own = !program_profile.error() && program_profile.value() == profile;
      if (!own && step == 0) continue;
      std::string id(program["program_id"].get_string().value_unsafe());
      steps_by_program[id][step]++;
    }
  }
  std::printf("\n== Step distribution (employees per current step, per programme)\n");
  for (const auto& [program, counts] : steps_by_program) {
    std::printf("  %-16s", program.c_str());
    for (const auto& [step, count] : counts) {
      std::printf("  step %lld: %-6zu", static_cast<long long>(step), count);
    }
    std::printf("\n");
  }
  if (not_owned > 0) {
    std::printf("  (%zu employees are owned by other instances of the group)\n", not_owned);
  }

  auto rejections = (*query)->Rejections(std::nullopt, 0);
  if (rejections.ok()) {
    simdjson::dom::element rows = parser.parse(*rejections).value();
    std::printf("\n== Workflow rejections (invalid commands, recorded with their rule)\n");
    auto by_code = rows.at_pointer("/by_code").get_object();
    size_t total = 0;
    if (!by_code.error()) {
      for (auto [code, count] : by_code.value()) {
        std::printf("  %-28.*s %.0f\n", static_cast<int>(code.size()), code.data(),
                    Number(count, ""));
        total += static_cast<size_t>(Number(count, ""));
      }
    }
    if (total == 0) std::printf("  none\n");
  }
  size_t dead_letters = 0;
  auto it = (*store)->NewIterator(kDeadLetterFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++dead_letters;
  std::printf("\n== Dead letters (undecodable or misplaced log records): %zu%s\n", dead_letters,
              dead_letters ? "  -> jiritsu query dlq" : "");
  return 0;
}

}  // namespace

Command AddSummaryCommand(CLI::App& root) {
  auto flags = std::make_shared<SummaryFlags>();
  Command command;
  command.app = root.add_subcommand("summary", "Readable summary of the views (for people)");
  command.app->add_option("--store", flags->log.store_dir, "Embedded store directory")
      ->capture_default_str();
  AddKafkaDeploymentOptions(command.app, &flags->log);
  AddStateOptions(command.app, &flags->log);
  command.app->add_option("--views", flags->views_dir, "Summarize this views store instead");
  command.app->add_option("--org", flags->orgs, "Org units to report (default: the roots)");
  command.run = [flags] { return Summarize(*flags); };
  return command;
}

}  // namespace jiritsu
