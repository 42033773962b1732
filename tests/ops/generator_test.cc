// Tests of the synthetic enterprise generator (ops/generator.h): determinism,
// that its planned anomalies are exactly what a decoder sees, and that the
// enterprise it simulates is consistent and shaped like DOMAIN.md says.
#include "ops/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "schemas/codec.h"
#include "schemas/event.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

struct Generated {
  std::vector<std::string> lines;
  GeneratorSummary summary;
};

Generated Generate(const GeneratorOptions& options) {
  Generated out;
  Result<GeneratorSummary> summary = GenerateEnterprise(options, [&](std::string_view line) {
    out.lines.emplace_back(line);
    return Status::Ok();
  });
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  if (summary.ok()) out.summary = summary.value();
  return out;
}

GeneratorOptions SmallOptions() {
  GeneratorOptions options;
  options.employees = 150;
  options.months = 12;
  options.seed = 7;
  return options;
}

// Decodes every line; failures are collected with their messages.
struct Decoded {
  std::vector<Event> events;  // in file order, duplicates included
  std::vector<std::string> valid_lines;
  std::vector<std::string> errors;
};

Decoded DecodeAll(const std::vector<std::string>& lines) {
  Decoded out;
  for (const std::string& line : lines) {
    Result<Event> event = DecodeJsonEvent(line);
    if (event.ok()) {
      out.events.push_back(event.value());
      out.valid_lines.push_back(line);
    } else {
      out.errors.push_back(event.status().message());
    }
  }
  return out;
}

// Distinct valid events sorted as the processors fold them.
std::vector<Event> DistinctInFoldOrder(const std::vector<Event>& events) {
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<Event> distinct;
  for (const Event& event : events) {
    if (seen.insert({event.source, event.id}).second) distinct.push_back(event);
  }
  std::stable_sort(distinct.begin(), distinct.end(), EventOrderLess);
  return distinct;
}

TEST(GeneratorTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const Generated a = Generate(SmallOptions());
  const Generated b = Generate(SmallOptions());
  ASSERT_FALSE(a.lines.empty());
  EXPECT_EQ(a.lines, b.lines);
  GeneratorOptions other = SmallOptions();
  other.seed = 8;
  EXPECT_NE(Generate(other).lines, a.lines);
}

TEST(GeneratorTest, RejectsBadOptionsWithTheOptionName) {
  GeneratorOptions options = SmallOptions();
  options.start = "2024-04-15";
  Status status = ValidateGeneratorOptions(options);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--start"), std::string::npos);
  options = SmallOptions();
  options.employees = 3;
  EXPECT_NE(ValidateGeneratorOptions(options).message().find("--employees"), std::string::npos);
  options = SmallOptions();
  options.duplicate_share = 0.9;
  EXPECT_NE(ValidateGeneratorOptions(options).message().find("--duplicate-share"),
            std::string::npos);
  options = SmallOptions();
  options.months = 0;
  EXPECT_FALSE(GenerateEnterprise(options, [](std::string_view) { return Status::Ok(); }).ok());
}

TEST(GeneratorTest, WriterFailureStopsGeneration) {
  int written = 0;
  Result<GeneratorSummary> summary = GenerateEnterprise(SmallOptions(), [&](std::string_view) {
    return ++written < 100 ? Status::Ok() : IOError("disk full");
  });
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), StatusCode::kIOError);
  EXPECT_EQ(written, 100);
}

TEST(GeneratorTest, EveryLineIsValidAndCanonicalOrOneOfThePlannedInvalidOnes) {
  GeneratorOptions options = SmallOptions();
  options.invalid_share = 0.05;  // enough lines for every kind
  const Generated g = Generate(options);
  const Decoded d = DecodeAll(g.lines);
  EXPECT_EQ(static_cast<int64_t>(g.lines.size()), g.summary.lines);
  EXPECT_EQ(static_cast<int64_t>(d.errors.size()), g.summary.invalid_lines);
  EXPECT_EQ(static_cast<int64_t>(d.events.size()),
            g.summary.valid_events + g.summary.duplicate_lines);
  // Valid lines are exactly the canonical encoding of what they decode to.
  for (size_t i = 0; i < d.events.size(); ++i) {
    ASSERT_EQ(EncodeJsonEvent(d.events[i]), d.valid_lines[i]);
  }
  // Each kind of corruption fails with the rule it breaks.
  const std::map<std::string, std::string> prefix_of_kind = {
      {"bad_time", "time:"},
      {"unknown_type", "type:"},
      {"bad_learning_state", "data.learning_state:"},
      {"missing_subject", "subject:"},
      {"missing_id", "id:"},
      {"bad_specversion", "specversion:"},
      {"negative_hours", "data.hours:"},
      {"oversized", "event:"},
      {"not_an_object", "event:"},
      {"malformed_json", "json:"},
  };
  std::map<std::string, int64_t> expected_by_prefix;
  for (const auto& [kind, count] : g.summary.invalid_by_kind) {
    ASSERT_TRUE(prefix_of_kind.count(kind)) << "undocumented kind " << kind;
    expected_by_prefix[prefix_of_kind.at(kind)] += count;
  }
  std::map<std::string, int64_t> actual_by_prefix;
  for (const std::string& error : d.errors) {
    actual_by_prefix[error.substr(0, error.find(':') + 1)]++;
  }
  EXPECT_EQ(actual_by_prefix, expected_by_prefix);
  EXPECT_GE(g.summary.invalid_by_kind.size(), 6u);
}

TEST(GeneratorTest, DuplicatesAreExactCopiesOfAnEarlierLine) {
  GeneratorOptions options = SmallOptions();
  options.duplicate_share = 0.05;
  const Generated g = Generate(options);
  const Decoded d = DecodeAll(g.lines);
  std::map<std::pair<std::string, std::string>, std::string> first_line;
  int64_t duplicates = 0;
  for (size_t i = 0; i < d.events.size(); ++i) {
    const auto identity = std::make_pair(d.events[i].source, d.events[i].id);
    auto [it, inserted] = first_line.emplace(identity, d.valid_lines[i]);
    if (!inserted) {
      ++duplicates;
      EXPECT_EQ(it->second, d.valid_lines[i]);
    }
  }
  EXPECT_GT(duplicates, 0);
  EXPECT_EQ(duplicates, g.summary.duplicate_lines);
  int64_t planned = 0;
  for (const auto& [type, n] : g.summary.duplicates_by_type) planned += n;
  EXPECT_EQ(planned, duplicates);
}

// The time-ordered stream is in order; late lines are exactly the planned ones.
TEST(GeneratorTest, OutOfOrderLinesAreTheOnlyOnesBehindTheClock) {
  auto behind = [](const Decoded& d) {
    int64_t count = 0;
    int64_t max_time = INT64_MIN;
    for (const Event& e : d.events) {
      if (e.time_us < max_time) ++count;
      max_time = std::max(max_time, e.time_us);
    }
    return count;
  };
  GeneratorOptions options = SmallOptions();
  options.duplicate_share = 0;
  options.invalid_share = 0;
  options.out_of_order_share = 0;
  EXPECT_EQ(behind(DecodeAll(Generate(options).lines)), 0);
  options.out_of_order_share = 0.05;
  const Generated late = Generate(options);
  EXPECT_GT(late.summary.out_of_order_lines, 0);
  EXPECT_EQ(behind(DecodeAll(late.lines)), late.summary.out_of_order_lines);
}

TEST(GeneratorTest, AnomalySharesDoNotChangeTheEnterprise) {
  GeneratorOptions clean = SmallOptions();
  clean.duplicate_share = 0;
  clean.out_of_order_share = 0;
  clean.invalid_share = 0;
  GeneratorOptions noisy = SmallOptions();
  noisy.duplicate_share = 0.03;
  noisy.out_of_order_share = 0.05;
  noisy.invalid_share = 0.01;
  const Generated a = Generate(clean);
  const Generated b = Generate(noisy);
  std::set<std::string> clean_lines(a.lines.begin(), a.lines.end());
  const Decoded d = DecodeAll(b.lines);
  std::set<std::string> noisy_valid(d.valid_lines.begin(), d.valid_lines.end());
  EXPECT_EQ(clean_lines, noisy_valid);
  EXPECT_EQ(a.summary.valid_by_type, b.summary.valid_by_type);
}

TEST(GeneratorTest, ReferenceDataComesFirstAndOrgTreeIsWellFormed) {
  const Generated g = Generate(SmallOptions());
  const Decoded d = DecodeAll(g.lines);
  ASSERT_FALSE(d.events.empty());
  std::set<std::string> units;
  size_t i = 0;
  for (; i < d.events.size() && FamilyOf(d.events[i].type) == Family::kReference; ++i) {
    if (d.events[i].type != EventType::kOrgUnitDefined) continue;
    const auto& unit = d.events[i].As<OrgUnitDefined>();
    if (unit.parent_id) {
      EXPECT_TRUE(units.count(*unit.parent_id)) << unit.org_unit_id;
    }
    units.insert(unit.org_unit_id);
  }
  EXPECT_EQ(static_cast<int64_t>(units.size()), g.summary.org_units);
  EXPECT_TRUE(units.count("C01-HR"));
  for (const std::string_view profile : {"dx_literacy", "dx_promoter"}) {
    bool defined = false;
    for (const Event& e : d.events) {
      if (e.type == EventType::kProgramDefined && e.As<ProgramDefined>().talent_profile == profile) {
        defined = true;
      }
    }
    EXPECT_TRUE(defined) << profile;
  }
  // Everything after the initial block happens at or after the first hire.
  for (; i < d.events.size(); ++i) {
    if (d.events[i].type == EventType::kOrgUnitDefined) ADD_FAILURE() << "late org unit";
  }
  for (const Event& e : d.events) {
    EXPECT_EQ(e.utc_offset_minutes, 9 * 60);
  }
}

// Replays the distinct events in fold order and checks the workflow facts
// the processors rely on; every deviation must be one the generator planned
// as a domain-invalid command.
TEST(GeneratorTest, WorkflowIsConsistentExceptForThePlannedInvalidCommands) {
  GeneratorOptions options;
  options.employees = 400;
  options.months = 24;
  options.seed = 11;
  options.domain_invalid_share = 0.05;
  const Generated g = Generate(options);
  const std::vector<Event> events = DistinctInFoldOrder(DecodeAll(g.lines).events);

  std::map<std::string, std::string> manager_of;
  std::map<std::string, std::string> unit_of;
  std::set<std::string> hr_staff;
  std::map<std::string, std::string> declarant_of;  // declaration id -> employee
  std::map<std::string, std::string> state_of;      // declaration id -> last decision
  std::set<std::string> all_declarations;
  std::set<std::string> without_workflow;  // learning_state and career_wish
  int64_t roots = 0;
  int64_t wrong_approver = 0, approvals = 0, finalize_unconfirmed = 0, finalized = 0;
  // Declarations may be decided before a late declaration line arrives, but
  // in event time they always exist first.
  for (const Event& e : events) {
    if (e.type == EventType::kDeclarationSubmitted) {
      const auto& submitted = e.As<DeclarationSubmitted>();
      all_declarations.insert(submitted.declaration_id);
      if (submitted.kind == DeclarationKind::kLearningState ||
          submitted.kind == DeclarationKind::kCareerWish) {
        without_workflow.insert(submitted.declaration_id);
      }
    }
  }
  for (const Event& e : events) {
    switch (e.type) {
      case EventType::kEmployeeHired: {
        const auto& hired = e.As<EmployeeHired>();
        if (hired.manager_id) {
          EXPECT_TRUE(unit_of.count(*hired.manager_id)) << e.subject << " reports to unknown";
          manager_of[e.subject] = *hired.manager_id;
        } else {
          ++roots;
        }
        unit_of[e.subject] = hired.org_unit_id;
        if (hired.org_unit_id == "C01-HR") hr_staff.insert(e.subject);
        EXPECT_EQ(e.subject.size(), 7u);
        EXPECT_EQ(e.subject[0], 'E');
        break;
      }
      case EventType::kEmployeeManagerChanged:
        EXPECT_TRUE(unit_of.count(e.As<EmployeeManagerChanged>().manager_id));
        manager_of[e.subject] = e.As<EmployeeManagerChanged>().manager_id;
        break;
      case EventType::kEmployeeTransferred:
        unit_of[e.subject] = e.As<EmployeeTransferred>().org_unit_id;
        break;
      case EventType::kDeclarationSubmitted:
        declarant_of[e.As<DeclarationSubmitted>().declaration_id] = e.subject;
        break;
      case EventType::kApprovalConfirmed:
      case EventType::kApprovalReturned:
      case EventType::kApprovalRejected: {
        const auto& decision = e.As<ApprovalDecision>();
        ASSERT_TRUE(all_declarations.count(decision.declaration_id)) << decision.declaration_id;
        EXPECT_FALSE(without_workflow.count(decision.declaration_id)) << "approval of a "
                                                                      << decision.declaration_id;
        EXPECT_EQ(declarant_of[decision.declaration_id], e.subject);
        ++approvals;
        if (manager_of[e.subject] != decision.approver_id) {
          ++wrong_approver;
        } else if (e.type == EventType::kApprovalConfirmed) {
          state_of[decision.declaration_id] = "confirmed";
        }
        break;
      }
      case EventType::kApprovalFinalized: {
        const auto& decision = e.As<ApprovalDecision>();
        ASSERT_TRUE(all_declarations.count(decision.declaration_id));
        EXPECT_FALSE(without_workflow.count(decision.declaration_id));
        EXPECT_TRUE(hr_staff.count(decision.approver_id)) << decision.approver_id;
        EXPECT_NE(decision.approver_id, e.subject);
        ++finalized;
        if (state_of[decision.declaration_id] != "confirmed") ++finalize_unconfirmed;
        break;
      }
      default:
        break;
    }
  }
  EXPECT_EQ(roots, 1);  // only the CEO has no manager
  const auto planned = [&](const char* kind) {
    auto it = g.summary.domain_invalid_by_kind.find(kind);
    return it == g.summary.domain_invalid_by_kind.end() ? 0 : it->second;
  };
  EXPECT_GT(approvals, 200);
  EXPECT_GT(finalized, 100);
  EXPECT_EQ(wrong_approver, planned("not_manager") + planned("self_approval"));
  EXPECT_EQ(finalize_unconfirmed, planned("finalize_unconfirmed"));
  EXPECT_GT(planned("not_manager") + planned("self_approval") + planned("finalize_unconfirmed") +
                planned("step_out_of_order"),
            0);
}

TEST(GeneratorTest, EnterpriseHasTheShapeOfTheDomainBrief) {
  GeneratorOptions options;
  options.employees = 1500;
  options.months = 12;
  options.seed = 3;
  const Generated g = Generate(options);
  const std::vector<Event> events = DistinctInFoldOrder(DecodeAll(g.lines).events);

  // Hidden dispositions: about a third habitual/continuing (IPA: ~33%).
  int64_t people = 0;
  for (int level = 1; level <= 6; ++level) people += g.summary.dispositions[level];
  const double hidden_share =
      static_cast<double>(g.summary.dispositions[1] + g.summary.dispositions[2]) / people;
  EXPECT_NEAR(hidden_share, 0.33, 0.05);

  std::map<std::string, int32_t> declared_state;  // latest declaration
  std::map<std::string, int> one_on_ones;
  std::map<std::string, int> team_size;
  std::set<std::string> learners;
  std::set<std::string> employees;
  int64_t returns = 0, rejects = 0, withdrawals = 0, certifications = 0, cancelled = 0;
  int64_t first_hire_us = 0;
  for (const Event& e : events) {
    if (e.type == EventType::kEmployeeHired) {
      employees.insert(e.subject);
      // The initial population is hired at one instant, before anything else
      // happens to employees.
      if (first_hire_us == 0) first_hire_us = e.time_us;
      const std::string& unit = e.As<EmployeeHired>().org_unit_id;
      if (e.time_us == first_hire_us && unit.find("-T") != std::string::npos) ++team_size[unit];
    }
    if (e.type == EventType::kDeclarationSubmitted &&
        e.As<DeclarationSubmitted>().kind == DeclarationKind::kLearningState) {
      declared_state[e.subject] = e.As<DeclarationSubmitted>().learning_state;
    }
    if (e.type == EventType::kInterviewHeld &&
        e.As<InterviewHeld>().kind == InterviewKind::kOneOnOne) {
      ++one_on_ones[e.subject];
    }
    if (e.type == EventType::kLearningCompleted) learners.insert(e.subject);
    returns += e.type == EventType::kApprovalReturned;
    rejects += e.type == EventType::kApprovalRejected;
    withdrawals += e.type == EventType::kDeclarationWithdrawn;
    certifications += e.type == EventType::kLearningCertified;
    cancelled += e.type == EventType::kInterviewCancelled;
  }
  // Declared learning state follows the hidden one: ~1/3 at levels 1-2.
  ASSERT_GT(declared_state.size(), 1000u);
  int64_t habitual = 0;
  for (const auto& [employee, state] : declared_state) habitual += state <= 2;
  EXPECT_NEAR(static_cast<double>(habitual) / declared_state.size(), 0.33, 0.07);

  // Some managers keep the monthly rhythm, others do not: both groups exist.
  int64_t regular = 0, rare = 0;
  for (const std::string& employee : employees) {
    const int n = one_on_ones.count(employee) ? one_on_ones[employee] : 0;
    regular += n >= 9;
    rare += n <= 4;
  }
  EXPECT_GT(regular, static_cast<int64_t>(employees.size() / 5));
  EXPECT_GT(rare, static_cast<int64_t>(employees.size() / 5));

  // Teams of roughly 8-15 people at the start.
  ASSERT_FALSE(team_size.empty());
  for (const auto& [team, size] : team_size) {
    EXPECT_GE(size, 5) << team;
    EXPECT_LE(size, 18) << team;
  }
  EXPECT_GT(learners.size(), employees.size() / 2);
  EXPECT_GT(returns, 0);
  EXPECT_GT(rejects, 0);
  EXPECT_GT(withdrawals, 0);
  EXPECT_GT(certifications, 0);
  EXPECT_GT(cancelled, 0);
  EXPECT_GT(g.summary.employees_left, 0);
  EXPECT_GT(g.summary.valid_by_type.at("employee.transferred"), 0);
  EXPECT_GT(g.summary.valid_by_type.at("employee.manager.changed"), 0);
}

// CLI level: stdout and --out produce the same bytes, and the summary line
// goes to stderr.
TEST(GeneratorCliTest, GenWritesTheSameBytesToStdoutAndFile) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/out.jsonl";
  const std::vector<std::string> base = {testing::JiritsuBinary(), "gen", "--employees", "40",
                                         "--months", "3", "--seed", "5"};
  std::vector<std::string> to_file = base;
  to_file.insert(to_file.end(), {"--out", file});
  const testing::CommandResult stdout_run = testing::RunCommand(base);
  const testing::CommandResult file_run = testing::RunCommand(to_file);
  ASSERT_EQ(stdout_run.exit_code, 0) << stdout_run.stderr_text;
  ASSERT_EQ(file_run.exit_code, 0) << file_run.stderr_text;
  std::FILE* f = std::fopen(file.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::string content;
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) content.append(buffer, n);
  std::fclose(f);
  EXPECT_EQ(content, stdout_run.stdout_text);
  EXPECT_NE(stdout_run.stderr_text.find("gen: "), std::string::npos);
  EXPECT_NE(stdout_run.stderr_text.find("employee.hired="), std::string::npos);

  const testing::CommandResult bad = testing::RunCommand(
      {testing::JiritsuBinary(), "gen", "--employees", "40", "--start", "2024-04-02"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.stderr_text.find("--start"), std::string::npos);
}

}  // namespace
}  // namespace jiritsu
