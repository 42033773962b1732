// `jiritsu query ...`: the read API over the views, printing JSON, and
// `jiritsu digest`: one hash over all views for replay and determinism checks.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

#include "core/projection_runtime.h"
#include "core/store_diff.h"
#include "ops/cli.h"
#include "ops/projections.h"
#include "processors/query.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

struct QueryFlags {
  LogSelection log;
  std::string views_dir;  // explicit store (as-of audit store, a generation)
  std::string employee, program, org, period, profile, as_of;
  size_t limit = 100;
};

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return 2;
    case StatusCode::kNotFound: return 4;
    case StatusCode::kFailedPrecondition: return 4;
    default: return 3;
  }
}

int Fail(const char* command, const Status& status) {
  std::fprintf(stderr, "jiritsu %s: %s\n", command, status.ToString().c_str());
  return ExitCodeFor(status);
}

// Opens the views and runs `body` with a QueryService over them.
template <typename Body>
int WithQueryService(const QueryFlags& flags, const char* command, Body body) {
  auto dir = ResolveViewsDir(flags.log, flags.views_dir);
  if (!dir.ok()) return Fail(command, dir.status());
  auto store = OpenViewsForReading(*dir);
  if (!store.ok()) return Fail(command, store.status());
  auto keys = OpenKeyStore(flags.log);
  if (!keys.ok()) return Fail(command, keys.status());
  processors::ProjectorOptions options;
  options.key_store = keys->get();
  auto service = processors::QueryService::Open(store->get(), options);
  if (!service.ok()) return Fail(command, service.status());
  Result<std::string> output = body(**service, **store);
  if (!output.ok()) return Fail(command, output.status());
  std::printf("%s\n", output->c_str());
  return 0;
}

Result<std::optional<int64_t>> ParseAsOf(const std::string& text) {
  if (text.empty()) return std::optional<int64_t>();
  int32_t offset = 0;
  Result<int64_t> time = ParseRfc3339(text, &offset);
  if (!time.ok()) return InvalidArgument("--as-of: " + time.status().message());
  return std::optional<int64_t>(*time);
}

Result<std::string> ListDeadLetters(const StateStore& store, size_t limit) {
  auto it = store.NewIterator(kDeadLetterFamily);
  std::string rows;
  size_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++count) {
    if (count < limit) {
      if (!rows.empty()) rows += ",";
      rows.append(it->value());
    }
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  return "{\"count\":" + std::to_string(count) + ",\"dead_letters\":[" + rows + "]}";
}

}  // namespace

Command AddQueryCommand(CLI::App& root) {
  auto flags = std::make_shared<QueryFlags>();
  Command command;
  CLI::App* app = root.add_subcommand("query", "Query the views (JSON on stdout)");
  command.app = app;
  app->require_subcommand(1);
  app->add_option("--store", flags->log.store_dir, "Embedded store directory")->capture_default_str();
  AddKafkaDeploymentOptions(app, &flags->log);
  AddStateOptions(app, &flags->log);
  AddKeyOptions(app, &flags->log);
  app->add_option("--views", flags->views_dir,
                  "Read this views store instead (an as-of audit store from `jiritsu replay`)");

  auto* step = app->add_subcommand("step-status", "Step status of an employee");
  step->add_option("--employee", flags->employee, "Employee id")->required();
  step->add_option("--program", flags->program, "Only this programme");

  auto* engagement = app->add_subcommand("engagement", "Engagement of an employee or org unit");
  auto* employee_opt = engagement->add_option("--employee", flags->employee, "Employee id");
  auto* org_opt = engagement->add_option("--org", flags->org, "Org unit id (rolled up)");
  employee_opt->excludes(org_opt);
  engagement->add_option("--as-of", flags->as_of, "Evaluate as of this RFC 3339 time");

  auto* kpi = app->add_subcommand("kpi", "Cross-measure KPIs of an org unit and period");
  kpi->add_option("--org", flags->org, "Org unit id (rolled up the tree)")->required();
  kpi->add_option("--period", flags->period, "FY2025 | 2025Q3 | 2025-07")->required();
  kpi->add_option("--profile", flags->profile, "Only this talent profile");

  auto* rejections = app->add_subcommand("rejections", "Workflow rule violations");
  rejections->add_option("--employee", flags->employee, "Only this employee");
  rejections->add_option("--limit", flags->limit, "At most this many rows")->capture_default_str();

  auto* dlq = app->add_subcommand("dlq", "Dead letters (undecodable or invalid log records)");
  dlq->add_option("--limit", flags->limit, "At most this many rows")->capture_default_str();

  auto* view_time = app->add_subcommand("view-time", "The view time T (latest event time)");

  command.run = [=] {
    const QueryFlags& f = *flags;
    if (step->parsed()) {
      return WithQueryService(f, "query step-status", [&](const auto& q, const StateStore&) {
        return q.StepStatus(f.employee, f.program.empty() ? std::nullopt
                                                          : std::optional<std::string_view>(f.program));
      });
    }
    if (engagement->parsed()) {
      if (f.employee.empty() && f.org.empty()) {
        return Fail("query engagement", InvalidArgument("give --employee or --org"));
      }
      auto as_of = ParseAsOf(f.as_of);
      if (!as_of.ok()) return Fail("query engagement", as_of.status());
      return WithQueryService(f, "query engagement", [&](const auto& q, const StateStore&) {
        return f.employee.empty() ? q.OrgEngagement(f.org, *as_of) : q.Engagement(f.employee, *as_of);
      });
    }
    if (kpi->parsed()) {
      return WithQueryService(f, "query kpi", [&](const auto& q, const StateStore&) {
        return q.Kpi(f.org, f.period, f.profile.empty() ? std::nullopt
                                                        : std::optional<std::string_view>(f.profile));
      });
    }
    if (rejections->parsed()) {
      return WithQueryService(f, "query rejections", [&](const auto& q, const StateStore&) {
        return q.Rejections(f.employee.empty() ? std::nullopt
                                               : std::optional<std::string_view>(f.employee),
                            f.limit);
      });
    }
    if (dlq->parsed()) {
      return WithQueryService(f, "query dlq", [&](const auto&, const StateStore& store) {
        return ListDeadLetters(store, f.limit);
      });
    }
    if (view_time->parsed()) {
      return WithQueryService(f, "query view-time", [&](const auto& q, const StateStore&)
                                                        -> Result<std::string> {
        JIRITSU_ASSIGN_OR_RETURN(auto time, q.ViewTime());
        if (!time) return std::string("{\"view_time\":null}");
        std::string out = "{\"view_time\":";
        AppendJsonString(&out, FormatRfc3339(*time, kDefaultReportingOffsetMinutes));
        return out + "}";
      });
    }
    return 2;
  };
  return command;
}

Command AddDigestCommand(CLI::App& root) {
  auto flags = std::make_shared<QueryFlags>();
  Command command;
  command.app = root.add_subcommand(
      "digest",
      "Print BLAKE2b digests of the views: `digest` over every view, `global_digest` over "
      "the instance-independent ones (equal on every instance of a group), and per view");
  command.app->add_option("--store", flags->log.store_dir, "Embedded store directory")
      ->capture_default_str();
  AddKafkaDeploymentOptions(command.app, &flags->log);
  AddStateOptions(command.app, &flags->log);
  command.app->add_option("--views", flags->views_dir, "Digest this views store instead");
  command.run = [flags] {
    auto dir = ResolveViewsDir(flags->log, flags->views_dir);
    if (!dir.ok()) return Fail("digest", dir.status());
    auto store = OpenViewsForReading(*dir);
    if (!store.ok()) return Fail("digest", store.status());
    auto all = DigestFamilies(**store, ViewColumnFamilies());
    if (!all.ok()) return Fail("digest", all.status());
    auto global = DigestFamilies(**store, GlobalViewFamilies());
    if (!global.ok()) return Fail("digest", global.status());
    std::string out = "{\"digest\":\"" + all->combined + "\",\"global_digest\":\"" +
                      global->combined + "\",\"views\":{";
    bool first = true;
    for (const auto& family : all->families) {
      if (!first) out += ",";
      first = false;
      AppendJsonString(&out, family.family);
      out += ":{\"keys\":" + std::to_string(family.keys) + ",\"digest\":\"" + family.digest + "\"}";
    }
    out += "}}";
    std::printf("%s\n", out.c_str());
    return 0;
  };
  return command;
}

}  // namespace jiritsu
