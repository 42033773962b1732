// docs/events.md: the per-type field tables and examples between
// "<!-- generated: ... -->" and "<!-- end generated -->" are produced from the
// codec's field descriptions and the valid examples, so the catalogue
// integrators read cannot drift from what the decoder enforces.
// JIRITSU_WRITE_SCHEMAS=1 rewrites them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "schemas/codec.h"
#include "schemas/event_fields.h"
#include "tests/schemas/schema_test_util.h"

namespace jiritsu {
namespace {

using fields::IntRule;
using fields::NumRule;
using fields::Presence;
using fields::Str;

std::string Cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\";
    out += c;
  }
  return out;
}

std::string Code(std::string_view text) { return "`" + std::string(text) + "`"; }

std::string Num(double v) {
  std::string out = std::to_string(v);
  while (out.find('.') != std::string::npos && (out.back() == '0' || out.back() == '.')) {
    const bool dot = out.back() == '.';
    out.pop_back();
    if (dot) break;
  }
  return out;
}

// One markdown row per field: | field | type | presence | rule | meaning |.
class MarkdownWriter {
 public:
  struct Row {
    std::string field, type, presence, rule, meaning;
  };
  std::vector<Row> rows;
  std::vector<std::string_view> at_least_one;

  void String(std::string_view n, std::string*, Str rule, Presence p, std::string_view doc) {
    Add(n, "string", PresenceText(p, "absent = empty"), StringRule(rule), doc);
  }
  void OptString(std::string_view n, std::optional<std::string>*, Str rule, std::string_view doc) {
    Add(n, "string", "optional", StringRule(rule), doc);
  }
  void Int(std::string_view n, int32_t* v, IntRule r, Presence p, std::string_view doc) {
    const std::string rule = r.positional ? "integer, its position in `steps` (1..n)"
                                          : "integer " + std::to_string(r.lo) + ".." + std::to_string(r.hi);
    Add(n, "integer", PresenceText(p, "default " + Code(std::to_string(*v))), rule, doc);
  }
  void OptInt(std::string_view n, std::optional<int32_t>*, IntRule r, std::string_view doc) {
    Add(n, "integer", "optional", "integer " + std::to_string(r.lo) + ".." + std::to_string(r.hi), doc);
  }
  void Number(std::string_view n, double* v, NumRule r, Presence p, std::string_view doc) {
    Add(n, "number", PresenceText(p, "default " + Code(Num(*v))), NumberRule(r), doc);
  }
  void OptNumber(std::string_view n, std::optional<double>*, NumRule r, std::string_view doc) {
    Add(n, "number", "optional", NumberRule(r), doc);
  }
  void Bool(std::string_view n, bool* v, Presence p, std::string_view doc) {
    Add(n, "boolean", PresenceText(p, std::string("default ") + (*v ? "`true`" : "`false`")),
        "`true` or `false`", doc);
  }
  template <class E>
  void Enum(std::string_view n, E* v, std::span<const std::string_view> names, Presence p,
            std::string_view doc) {
    std::string rule;
    for (std::string_view name : names) rule += (rule.empty() ? "" : " | ") + Code(name);
    Add(n, "string", PresenceText(p, "default " + Code(names[static_cast<size_t>(*v)])), rule, doc);
  }
  void IdList(std::string_view n, std::vector<std::string>*, std::string_view doc) {
    Add(n, "array", "optional (default `[]`)", "unique [ids](#common-value-rules), at most 100", doc);
  }
  void Steps(std::string_view n, std::vector<ProgramStep>*, std::string_view doc) {
    Add(n, "array", "required", "1..9 [step objects](#programdefined-steps)", doc);
  }
  void AtLeastOne(std::span<const std::string_view> names, bool) {
    at_least_one.assign(names.begin(), names.end());
  }

  static std::string StringRule(Str rule) {
    switch (rule) {
      case Str::kId: return "[id](#common-value-rules)";
      case Str::kText: return "at most 4000 characters";
      case Str::kNonEmptyText: return "1..4000 characters";
      case Str::kPeriod: return "`FY2025` (fiscal year from April), `2025Q3` or `2025-07`";
      case Str::kMetric: return "a [KPI metric name](#kpi-metric-names)";
      case Str::kPersonalText:
        return "at most 4000 characters, or a [sealed value](#personal-data) (personal data)";
      case Str::kPersonalNonEmptyText:
        return "1..4000 characters, or a [sealed value](#personal-data) (personal data)";
    }
    return "";
  }
  static std::string NumberRule(NumRule r) {
    return r.bounded ? "number " + Num(r.lo) + ".." + Num(r.hi) : "any number";
  }
  static std::string PresenceText(Presence p, const std::string& optional_default) {
    switch (p.mode) {
      case Presence::kRequired: return "required";
      case Presence::kOptional: return "optional (" + optional_default + ")";
      case Presence::kForbidden: return "absent";
    }
    return "";
  }

 private:
  void Add(std::string_view n, std::string type, std::string presence, std::string rule,
           std::string_view doc) {
    rows.push_back({std::string(n), std::move(type), std::move(presence), std::move(rule),
                    std::string(doc)});
  }
};

std::string Table(const std::vector<MarkdownWriter::Row>& rows) {
  std::string out = "| field | type | presence | rule | meaning |\n|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    out += "| " + Code(r.field) + " | " + r.type + " | " + Cell(r.presence) + " | " + Cell(r.rule) +
           " | " + Cell(r.meaning) + " |\n";
  }
  return out;
}

std::string FieldsSection(const std::string& what) {
  if (what == "program.defined/steps") {
    MarkdownWriter w;
    ProgramStep step;
    fields::VisitFields(w, step, 1);
    return Table(w.rows);
  }
  const std::optional<EventType> type = ParseEventType(what);
  if (!type) return "UNKNOWN SECTION " + what;
  if (*type == EventType::kDeclarationSubmitted) {
    // Presence per kind, merged into one column.
    std::vector<MarkdownWriter> per_kind(kDeclarationKindNames.size());
    for (size_t k = 0; k < per_kind.size(); ++k) {
      DeclarationSubmitted d;
      d.kind = static_cast<DeclarationKind>(k);
      fields::VisitFields(per_kind[k], d);
    }
    std::vector<MarkdownWriter::Row> rows = per_kind[0].rows;
    for (size_t f = 0; f < rows.size(); ++f) {
      std::map<std::string, std::vector<std::string>> kinds_by_presence;
      for (size_t k = 0; k < per_kind.size(); ++k) {
        kinds_by_presence[per_kind[k].rows[f].presence].push_back(Code(kDeclarationKindNames[k]));
      }
      if (kinds_by_presence.size() == 1) continue;
      std::string text;
      for (const auto& [presence, kinds] : kinds_by_presence) {
        if (presence == "absent") continue;
        std::string list;
        for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
        text += (text.empty() ? "" : "; ") + presence + " for kind " + list;
      }
      rows[f].presence = text + "; absent for other kinds";
    }
    return Table(rows);
  }
  MarkdownWriter w;
  fields::WithDataType(*type, [&](auto tag) {
    typename decltype(tag)::type value{};
    fields::VisitFields(w, value);
  });
  std::string out = Table(w.rows);
  if (!w.at_least_one.empty()) {
    out += "\nAt least one of ";
    for (size_t i = 0; i < w.at_least_one.size(); ++i) {
      out += (i ? ", " : "") + Code(w.at_least_one[i]);
    }
    out += " must be present.\n";
  }
  return out;
}

std::string ExampleSection(const std::string& type) {
  const std::string json =
      testing_schemas::ReadFile(testing_schemas::ExamplesDir() / type / "valid.json");
  const Result<Event> event = DecodeJsonEvent(json);
  if (!event.ok()) return "INVALID EXAMPLE: " + event.status().ToString();
  return "```json\n" + EncodeJsonEvent(*event) + "\n```\n";
}

// Rewrites every generated section of `doc`; counts sections by kind.
std::string Regenerate(const std::string& doc, std::map<std::string, int>* seen) {
  static constexpr std::string_view kBegin = "<!-- generated: ";
  static constexpr std::string_view kEnd = "<!-- end generated -->";
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t begin = doc.find(kBegin, pos);
    if (begin == std::string::npos) break;
    const size_t header_end = doc.find(" -->\n", begin);
    const size_t end = doc.find(kEnd, header_end);
    if (header_end == std::string::npos || end == std::string::npos) break;
    const std::string header = doc.substr(begin + kBegin.size(), header_end - begin - kBegin.size());
    out += doc.substr(pos, header_end + 5 - pos);
    const size_t space = header.find(' ');
    const std::string kind = header.substr(0, space);
    const std::string what = header.substr(space + 1);
    out += kind == "fields" ? FieldsSection(what) : kind == "example" ? ExampleSection(what)
                                                                        : "UNKNOWN KIND\n";
    (*seen)[kind + " " + what]++;
    pos = end;
  }
  return out + doc.substr(pos);
}

TEST(EventsDoc, GeneratedSectionsAreUpToDate) {
  const auto path = testing_schemas::SourceDir() / "docs" / "events.md";
  const std::string doc = testing_schemas::ReadFile(path);
  std::map<std::string, int> seen;
  const std::string regenerated = Regenerate(doc, &seen);
  const char* write = std::getenv("JIRITSU_WRITE_SCHEMAS");
  if (write != nullptr && std::string(write) == "1") {
    testing_schemas::WriteFile(path, regenerated);
    return;
  }
  for (int i = 0; i < kEventTypeCount; ++i) {
    const std::string name(EventTypeName(static_cast<EventType>(i)));
    EXPECT_EQ(seen["fields " + name], 1) << name;
    EXPECT_EQ(seen["example " + name], 1) << name;
  }
  EXPECT_EQ(regenerated.find("UNKNOWN"), std::string::npos);
  EXPECT_EQ(regenerated.find("INVALID EXAMPLE"), std::string::npos);
  EXPECT_EQ(doc, regenerated) << "docs/events.md is stale: run with JIRITSU_WRITE_SCHEMAS=1";
}

TEST(EventsDoc, ListsEveryKpiMetric) {
  const std::string doc =
      testing_schemas::ReadFile(testing_schemas::SourceDir() / "docs" / "events.md");
  for (std::string_view metric : kKpiMetricNames) {
    EXPECT_NE(doc.find("| `" + std::string(metric) + "` |"), std::string::npos) << metric;
  }
}

}  // namespace
}  // namespace jiritsu
