#include "xapi/statement.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <map>

#include "schemas/civil_date.h"

namespace jiritsu::xapi {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

std::string Join(std::string_view path, std::string_view key) {
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

Status Error(std::string_view where, std::string_view why) {
  return InvalidArgument(std::string(where) + ": " + std::string(why));
}

std::string Shorten(std::string_view text) {
  if (text.size() <= 80) return std::string(text);
  return std::string(text.substr(0, 77)) + "...";
}

const char* TypeName(element value) {
  switch (value.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

Status ExpectObject(element value, std::string_view where, object* out) {
  if (value.get_object().get(*out) != simdjson::SUCCESS) {
    return Error(where, std::string("must be an object, got ") + TypeName(value));
  }
  return Status::Ok();
}

Status ExpectString(element value, std::string_view where, std::string_view* out) {
  if (value.get_string().get(*out) != simdjson::SUCCESS) {
    return Error(where, std::string("must be a string, got ") + TypeName(value));
  }
  return Status::Ok();
}

// Rejects keys outside `allowed` and null values (xAPI-Data 2.2: "null
// values are not allowed" outside extensions) and duplicate keys.
Status CheckKeys(object obj, std::string_view where, std::initializer_list<std::string_view> allowed) {
  std::vector<std::string_view> seen;
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error(Join(where, key), "unknown property (allowed here: " + [&] {
        std::string list;
        for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        return list;
      }() + ")");
    }
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return Error(Join(where, key), "appears twice");
    }
    seen.push_back(key);
    if (field.value.is_null()) return Error(Join(where, key), "must not be null");
  }
  return Status::Ok();
}

bool Get(object obj, std::string_view key, element* out) {
  return obj[key].get(*out) == simdjson::SUCCESS;
}

bool IsHex(std::string_view text, size_t length) {
  return text.size() == length && std::all_of(text.begin(), text.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

Status IriAt(element value, std::string_view where) {
  std::string_view text;
  JIRITSU_RETURN_IF_ERROR(ExpectString(value, where, &text));
  if (!IsIri(text)) return Error(where, "must be an absolute IRI, got \"" + Shorten(text) + "\"");
  return Status::Ok();
}

Status LanguageMapAt(element value, std::string_view where) {
  object map;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &map));
  for (auto field : map) {
    if (!IsLanguageTag(field.key)) {
      return Error(where, "\"" + Shorten(field.key) + "\" is not an RFC 5646 language tag");
    }
    std::string_view text;
    JIRITSU_RETURN_IF_ERROR(ExpectString(field.value, Join(where, field.key), &text));
  }
  return Status::Ok();
}

Status ExtensionsAt(element value, std::string_view where) {
  object map;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &map));
  for (auto field : map) {
    if (!IsIri(field.key)) {
      return Error(where, "extension key \"" + Shorten(field.key) + "\" must be an absolute IRI");
    }
  }
  return Status::Ok();
}

Status UuidAt(element value, std::string_view where) {
  std::string_view text;
  JIRITSU_RETURN_IF_ERROR(ExpectString(value, where, &text));
  if (!IsUuid(text)) return Error(where, "must be a UUID (8-4-4-4-12 hex digits), got \"" + Shorten(text) + "\"");
  return Status::Ok();
}

Status TimestampAt(element value, std::string_view where) {
  std::string_view text;
  JIRITSU_RETURN_IF_ERROR(ExpectString(value, where, &text));
  Result<int64_t> parsed = ParseTimestamp(text);
  if (!parsed.ok()) return Error(where, parsed.status().message());
  return Status::Ok();
}

// Counts the inverse functional identifiers of an Agent/Group object and
// validates each.
Status IdentifiersAt(object obj, std::string_view where, int* count) {
  *count = 0;
  element e;
  if (Get(obj, "mbox", &e)) {
    ++*count;
    std::string_view text;
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, "mbox"), &text));
    const size_t at = text.find('@');
    if (!text.starts_with("mailto:") || at == std::string_view::npos || at <= 7 || at + 1 >= text.size() ||
        text.find_first_of(" \t\r\n<>") != std::string_view::npos) {
      return Error(Join(where, "mbox"), "must be \"mailto:\" followed by an email address, got \"" +
                                            Shorten(text) + "\"");
    }
  }
  if (Get(obj, "mbox_sha1sum", &e)) {
    ++*count;
    std::string_view text;
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, "mbox_sha1sum"), &text));
    if (!IsHex(text, 40)) return Error(Join(where, "mbox_sha1sum"), "must be 40 hex digits (SHA-1)");
  }
  if (Get(obj, "openid", &e)) {
    ++*count;
    JIRITSU_RETURN_IF_ERROR(IriAt(e, Join(where, "openid")));
  }
  if (Get(obj, "account", &e)) {
    ++*count;
    const std::string at = Join(where, "account");
    object account;
    JIRITSU_RETURN_IF_ERROR(ExpectObject(e, at, &account));
    JIRITSU_RETURN_IF_ERROR(CheckKeys(account, at, {"homePage", "name"}));
    element home, name;
    if (!Get(account, "homePage", &home)) return Error(Join(at, "homePage"), "is required");
    if (!Get(account, "name", &name)) return Error(Join(at, "name"), "is required");
    JIRITSU_RETURN_IF_ERROR(IriAt(home, Join(at, "homePage")));
    std::string_view text;
    JIRITSU_RETURN_IF_ERROR(ExpectString(name, Join(at, "name"), &text));
  }
  return Status::Ok();
}

Status NameAt(object obj, std::string_view where) {
  element e;
  std::string_view text;
  if (Get(obj, "name", &e)) JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, "name"), &text));
  return Status::Ok();
}

Status AgentAt(element value, std::string_view where, bool object_type_required);
Status GroupAt(object obj, std::string_view where);

// An Agent or a Group, by objectType (default Agent).
Status ActorAt(element value, std::string_view where) {
  object obj;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &obj));
  element type;
  if (Get(obj, "objectType", &type)) {
    std::string_view text;
    JIRITSU_RETURN_IF_ERROR(ExpectString(type, Join(where, "objectType"), &text));
    if (text == "Group") return GroupAt(obj, where);
    if (text != "Agent") {
      return Error(Join(where, "objectType"), "must be \"Agent\" or \"Group\", got \"" + Shorten(text) + "\"");
    }
  }
  return AgentAt(value, where, false);
}

Status AgentAt(element value, std::string_view where, bool object_type_required) {
  object obj;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &obj));
  JIRITSU_RETURN_IF_ERROR(
      CheckKeys(obj, where, {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"}));
  element type;
  if (Get(obj, "objectType", &type)) {
    std::string_view text;
    JIRITSU_RETURN_IF_ERROR(ExpectString(type, Join(where, "objectType"), &text));
    if (text != "Agent") return Error(Join(where, "objectType"), "must be \"Agent\", got \"" + Shorten(text) + "\"");
  } else if (object_type_required) {
    return Error(Join(where, "objectType"), "is required here");
  }
  JIRITSU_RETURN_IF_ERROR(NameAt(obj, where));
  int count = 0;
  JIRITSU_RETURN_IF_ERROR(IdentifiersAt(obj, where, &count));
  if (count != 1) {
    return Error(where, "an Agent must have exactly one inverse functional identifier (mbox, "
                        "mbox_sha1sum, openid, account), got " + std::to_string(count));
  }
  return Status::Ok();
}

Status GroupAt(object obj, std::string_view where) {
  JIRITSU_RETURN_IF_ERROR(CheckKeys(
      obj, where, {"objectType", "name", "member", "mbox", "mbox_sha1sum", "openid", "account"}));
  JIRITSU_RETURN_IF_ERROR(NameAt(obj, where));
  int count = 0;
  JIRITSU_RETURN_IF_ERROR(IdentifiersAt(obj, where, &count));
  if (count > 1) {
    return Error(where, "a Group has at most one inverse functional identifier, got " + std::to_string(count));
  }
  element members;
  if (!Get(obj, "member", &members)) {
    if (count == 0) return Error(Join(where, "member"), "an anonymous Group (no identifier) must list its members");
    return Status::Ok();
  }
  const std::string at = Join(where, "member");
  array list;
  if (members.get_array().get(list) != simdjson::SUCCESS) {
    return Error(at, std::string("must be an array of Agents, got ") + TypeName(members));
  }
  if (count == 0 && list.size() == 0) return Error(at, "an anonymous Group must have at least one member");
  size_t i = 0;
  for (element member : list) {
    const std::string item = Index(at, i++);
    object m;
    JIRITSU_RETURN_IF_ERROR(ExpectObject(member, item, &m));
    element type;
    std::string_view text;
    if (Get(m, "objectType", &type) && type.get_string().get(text) == simdjson::SUCCESS && text == "Group") {
      return Error(Join(item, "objectType"), "a Group's members must be Agents, not Groups");
    }
    JIRITSU_RETURN_IF_ERROR(AgentAt(member, item, false));
  }
  return Status::Ok();
}

constexpr std::array<std::string_view, 10> kInteractionTypes = {
    "true-false", "choice", "fill-in", "long-fill-in", "matching",
    "performance", "sequencing", "likert", "numeric", "other"};

Status InteractionComponentsAt(element value, std::string_view where) {
  array list;
  if (value.get_array().get(list) != simdjson::SUCCESS) {
    return Error(where, std::string("must be an array of interaction components, got ") + TypeName(value));
  }
  std::vector<std::string_view> ids;
  size_t i = 0;
  for (element item : list) {
    const std::string at = Index(where, i++);
    object component;
    JIRITSU_RETURN_IF_ERROR(ExpectObject(item, at, &component));
    JIRITSU_RETURN_IF_ERROR(CheckKeys(component, at, {"id", "description"}));
    element id;
    std::string_view text;
    if (!Get(component, "id", &id)) return Error(Join(at, "id"), "is required");
    JIRITSU_RETURN_IF_ERROR(ExpectString(id, Join(at, "id"), &text));
    if (text.empty() || text.find_first_of(" \t\r\n") != std::string_view::npos) {
      return Error(Join(at, "id"), "must be a non-empty string without whitespace");
    }
    if (std::find(ids.begin(), ids.end(), text) != ids.end()) {
      return Error(Join(at, "id"), "ids of interaction components must be unique within the list");
    }
    ids.push_back(text);
    element description;
    if (Get(component, "description", &description)) {
      JIRITSU_RETURN_IF_ERROR(LanguageMapAt(description, Join(at, "description")));
    }
  }
  return Status::Ok();
}

Status DefinitionAt(element value, std::string_view where) {
  object def;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &def));
  JIRITSU_RETURN_IF_ERROR(CheckKeys(def, where,
                                    {"name", "description", "type", "moreInfo", "extensions",
                                     "interactionType", "correctResponsesPattern", "choices",
                                     "scale", "source", "target", "steps"}));
  element e;
  if (Get(def, "name", &e)) JIRITSU_RETURN_IF_ERROR(LanguageMapAt(e, Join(where, "name")));
  if (Get(def, "description", &e)) JIRITSU_RETURN_IF_ERROR(LanguageMapAt(e, Join(where, "description")));
  if (Get(def, "type", &e)) JIRITSU_RETURN_IF_ERROR(IriAt(e, Join(where, "type")));
  if (Get(def, "moreInfo", &e)) JIRITSU_RETURN_IF_ERROR(IriAt(e, Join(where, "moreInfo")));
  if (Get(def, "extensions", &e)) JIRITSU_RETURN_IF_ERROR(ExtensionsAt(e, Join(where, "extensions")));
  std::string_view interaction;
  if (Get(def, "interactionType", &e)) {
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, "interactionType"), &interaction));
    if (std::find(kInteractionTypes.begin(), kInteractionTypes.end(), interaction) == kInteractionTypes.end()) {
      return Error(Join(where, "interactionType"), "unknown interaction type \"" + Shorten(interaction) + "\"");
    }
  }
  if (Get(def, "correctResponsesPattern", &e)) {
    const std::string at = Join(where, "correctResponsesPattern");
    if (interaction.empty()) return Error(at, "is only allowed with interactionType");
    array list;
    if (e.get_array().get(list) != simdjson::SUCCESS) return Error(at, "must be an array of strings");
    size_t i = 0;
    for (element item : list) {
      std::string_view text;
      JIRITSU_RETURN_IF_ERROR(ExpectString(item, Index(at, i++), &text));
    }
  }
  // Which component lists each interaction type may carry (xAPI-Data 2.4.4.1.1).
  struct Allowed {
    std::string_view list;
    std::initializer_list<std::string_view> types;
  };
  const Allowed allowed[] = {{"choices", {"choice", "sequencing"}},
                             {"scale", {"likert"}},
                             {"source", {"matching"}},
                             {"target", {"matching"}},
                             {"steps", {"performance"}}};
  for (const Allowed& a : allowed) {
    if (!Get(def, a.list, &e)) continue;
    const std::string at = Join(where, a.list);
    if (std::find(a.types.begin(), a.types.end(), interaction) == a.types.end()) {
      return Error(at, "is not allowed for interactionType \"" + std::string(interaction) + "\"");
    }
    JIRITSU_RETURN_IF_ERROR(InteractionComponentsAt(e, at));
  }
  return Status::Ok();
}

Status ActivityAt(object obj, std::string_view where) {
  JIRITSU_RETURN_IF_ERROR(CheckKeys(obj, where, {"objectType", "id", "definition"}));
  element e;
  if (!Get(obj, "id", &e)) return Error(Join(where, "id"), "is required for an Activity");
  JIRITSU_RETURN_IF_ERROR(IriAt(e, Join(where, "id")));
  if (Get(obj, "definition", &e)) JIRITSU_RETURN_IF_ERROR(DefinitionAt(e, Join(where, "definition")));
  return Status::Ok();
}

Status ActivityValueAt(element value, std::string_view where) {
  object obj;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &obj));
  element type;
  if (Get(obj, "objectType", &type)) {
    std::string_view text;
    JIRITSU_RETURN_IF_ERROR(ExpectString(type, Join(where, "objectType"), &text));
    if (text != "Activity") return Error(Join(where, "objectType"), "must be \"Activity\" here");
  }
  return ActivityAt(obj, where);
}

Status StatementRefAt(object obj, std::string_view where) {
  JIRITSU_RETURN_IF_ERROR(CheckKeys(obj, where, {"objectType", "id"}));
  element e;
  if (!Get(obj, "id", &e)) return Error(Join(where, "id"), "is required for a StatementRef");
  return UuidAt(e, Join(where, "id"));
}

Status StatementBody(object obj, std::string_view where, bool sub_statement);

// The statement's object; *kind receives its objectType.
Status ObjectAt(element value, std::string_view where, bool in_sub_statement, std::string_view* kind) {
  object obj;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &obj));
  *kind = "Activity";
  element type;
  if (Get(obj, "objectType", &type)) JIRITSU_RETURN_IF_ERROR(ExpectString(type, Join(where, "objectType"), kind));
  if (*kind == "Activity") return ActivityAt(obj, where);
  if (*kind == "Agent") return AgentAt(value, where, true);
  if (*kind == "Group") return GroupAt(obj, where);
  if (*kind == "StatementRef") return StatementRefAt(obj, where);
  if (*kind == "SubStatement") {
    if (in_sub_statement) return Error(Join(where, "objectType"), "a SubStatement must not contain a SubStatement");
    return StatementBody(obj, where, true);
  }
  return Error(Join(where, "objectType"),
               "must be Activity, Agent, Group, StatementRef or SubStatement, got \"" + Shorten(*kind) + "\"");
}

Status ResultAt(element value, std::string_view where) {
  object result;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &result));
  JIRITSU_RETURN_IF_ERROR(
      CheckKeys(result, where, {"score", "success", "completion", "response", "duration", "extensions"}));
  element e;
  for (const char* flag : {"success", "completion"}) {
    bool b = false;
    if (Get(result, flag, &e) && e.get_bool().get(b) != simdjson::SUCCESS) {
      return Error(Join(where, flag), std::string("must be true or false, got ") + TypeName(e));
    }
  }
  std::string_view text;
  if (Get(result, "response", &e)) JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, "response"), &text));
  if (Get(result, "duration", &e)) {
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, "duration"), &text));
    if (!IsIso8601Duration(text)) {
      return Error(Join(where, "duration"), "must be an ISO 8601 duration (e.g. PT1H30M), got \"" + Shorten(text) + "\"");
    }
  }
  if (Get(result, "extensions", &e)) JIRITSU_RETURN_IF_ERROR(ExtensionsAt(e, Join(where, "extensions")));
  if (Get(result, "score", &e)) {
    const std::string at = Join(where, "score");
    object score;
    JIRITSU_RETURN_IF_ERROR(ExpectObject(e, at, &score));
    JIRITSU_RETURN_IF_ERROR(CheckKeys(score, at, {"scaled", "raw", "min", "max"}));
    std::map<std::string_view, double> values;
    for (const char* key : {"scaled", "raw", "min", "max"}) {
      element n;
      if (!Get(score, key, &n)) continue;
      double d = 0;
      if (n.get_double().get(d) != simdjson::SUCCESS) {
        return Error(Join(at, key), std::string("must be a number, got ") + TypeName(n));
      }
      values[key] = d;
    }
    auto has = [&](std::string_view k) { return values.count(k) != 0; };
    auto fmt = [](double d) {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%g", d);
      return std::string(buffer);
    };
    if (has("scaled") && (values["scaled"] < -1 || values["scaled"] > 1)) {
      return Error(Join(at, "scaled"), "must be between -1 and 1, got " + fmt(values["scaled"]));
    }
    if (has("min") && has("max") && !(values["min"] < values["max"])) {
      return Error(Join(at, "max"), "must be greater than min (" + fmt(values["min"]) + "), got " + fmt(values["max"]));
    }
    if (has("raw") && has("min") && values["raw"] < values["min"]) {
      return Error(Join(at, "raw"), "must not be below min (" + fmt(values["min"]) + "), got " + fmt(values["raw"]));
    }
    if (has("raw") && has("max") && values["raw"] > values["max"]) {
      return Error(Join(at, "raw"), "must not exceed max (" + fmt(values["max"]) + "), got " + fmt(values["raw"]));
    }
  }
  return Status::Ok();
}

Status ContextActivitiesAt(element value, std::string_view where) {
  object obj;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &obj));
  JIRITSU_RETURN_IF_ERROR(CheckKeys(obj, where, {"parent", "grouping", "category", "other"}));
  for (auto field : obj) {
    const std::string at = Join(where, field.key);
    array list;
    if (field.value.get_array().get(list) == simdjson::SUCCESS) {
      size_t i = 0;
      for (element item : list) JIRITSU_RETURN_IF_ERROR(ActivityValueAt(item, Index(at, i++)));
    } else {
      JIRITSU_RETURN_IF_ERROR(ActivityValueAt(field.value, at));
    }
  }
  return Status::Ok();
}

Status ContextAt(element value, std::string_view where, std::string_view object_kind) {
  object ctx;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(value, where, &ctx));
  JIRITSU_RETURN_IF_ERROR(CheckKeys(ctx, where,
                                    {"registration", "instructor", "team", "contextActivities",
                                     "revision", "platform", "language", "statement",
                                     "extensions", "contextAgents", "contextGroups"}));
  element e;
  std::string_view text;
  if (Get(ctx, "registration", &e)) JIRITSU_RETURN_IF_ERROR(UuidAt(e, Join(where, "registration")));
  if (Get(ctx, "instructor", &e)) JIRITSU_RETURN_IF_ERROR(ActorAt(e, Join(where, "instructor")));
  if (Get(ctx, "team", &e)) {
    const std::string at = Join(where, "team");
    object team;
    JIRITSU_RETURN_IF_ERROR(ExpectObject(e, at, &team));
    element type;
    if (!Get(team, "objectType", &type) || type.get_string().get(text) != simdjson::SUCCESS || text != "Group") {
      return Error(Join(at, "objectType"), "the team must be a Group (objectType \"Group\")");
    }
    JIRITSU_RETURN_IF_ERROR(GroupAt(team, at));
  }
  if (Get(ctx, "contextActivities", &e)) {
    JIRITSU_RETURN_IF_ERROR(ContextActivitiesAt(e, Join(where, "contextActivities")));
  }
  for (const char* key : {"revision", "platform"}) {
    if (!Get(ctx, key, &e)) continue;
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, key), &text));
    if (object_kind != "Activity") {
      return Error(Join(where, key), "is only allowed when the statement's object is an Activity (it is a " +
                                         std::string(object_kind) + ")");
    }
  }
  if (Get(ctx, "language", &e)) {
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, "language"), &text));
    if (!IsLanguageTag(text)) return Error(Join(where, "language"), "must be an RFC 5646 language tag, got \"" + Shorten(text) + "\"");
  }
  if (Get(ctx, "statement", &e)) {
    const std::string at = Join(where, "statement");
    object ref;
    JIRITSU_RETURN_IF_ERROR(ExpectObject(e, at, &ref));
    element type;
    if (!Get(ref, "objectType", &type) || type.get_string().get(text) != simdjson::SUCCESS || text != "StatementRef") {
      return Error(Join(at, "objectType"), "must be \"StatementRef\"");
    }
    JIRITSU_RETURN_IF_ERROR(StatementRefAt(ref, at));
  }
  if (Get(ctx, "extensions", &e)) JIRITSU_RETURN_IF_ERROR(ExtensionsAt(e, Join(where, "extensions")));
  // xAPI 2.0 contextAgents / contextGroups.
  for (const char* key : {"contextAgents", "contextGroups"}) {
    if (!Get(ctx, key, &e)) continue;
    const std::string at = Join(where, key);
    array list;
    if (e.get_array().get(list) != simdjson::SUCCESS) return Error(at, "must be an array");
    size_t i = 0;
    for (element item : list) {
      const std::string it = Index(at, i++);
      object entry;
      JIRITSU_RETURN_IF_ERROR(ExpectObject(item, it, &entry));
      const bool agents = std::string_view(key) == "contextAgents";
      JIRITSU_RETURN_IF_ERROR(CheckKeys(entry, it, {"objectType", agents ? "agent" : "group", "relevantTypes"}));
      element type, who, types;
      const std::string expected = agents ? "contextAgent" : "contextGroup";
      if (!Get(entry, "objectType", &type) || type.get_string().get(text) != simdjson::SUCCESS || text != expected) {
        return Error(Join(it, "objectType"), "must be \"" + expected + "\"");
      }
      if (!Get(entry, agents ? "agent" : "group", &who)) return Error(Join(it, agents ? "agent" : "group"), "is required");
      if (agents) {
        JIRITSU_RETURN_IF_ERROR(AgentAt(who, Join(it, "agent"), false));
      } else {
        object g;
        JIRITSU_RETURN_IF_ERROR(ExpectObject(who, Join(it, "group"), &g));
        JIRITSU_RETURN_IF_ERROR(GroupAt(g, Join(it, "group")));
      }
      if (Get(entry, "relevantTypes", &types)) {
        array t;
        if (types.get_array().get(t) != simdjson::SUCCESS || t.size() == 0) {
          return Error(Join(it, "relevantTypes"), "must be a non-empty array of IRIs");
        }
        size_t j = 0;
        for (element iri : t) JIRITSU_RETURN_IF_ERROR(IriAt(iri, Index(Join(it, "relevantTypes"), j++)));
      }
    }
  }
  return Status::Ok();
}

Status AttachmentsAt(element value, std::string_view where) {
  array list;
  if (value.get_array().get(list) != simdjson::SUCCESS) return Error(where, "must be an array");
  size_t i = 0;
  for (element item : list) {
    const std::string at = Index(where, i++);
    object a;
    JIRITSU_RETURN_IF_ERROR(ExpectObject(item, at, &a));
    JIRITSU_RETURN_IF_ERROR(CheckKeys(
        a, at, {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}));
    element e;
    std::string_view text;
    for (const char* required : {"usageType", "display", "contentType", "length", "sha2"}) {
      if (!Get(a, required, &e)) return Error(Join(at, required), "is required");
    }
    Get(a, "usageType", &e);
    JIRITSU_RETURN_IF_ERROR(IriAt(e, Join(at, "usageType")));
    Get(a, "display", &e);
    JIRITSU_RETURN_IF_ERROR(LanguageMapAt(e, Join(at, "display")));
    if (Get(a, "description", &e)) JIRITSU_RETURN_IF_ERROR(LanguageMapAt(e, Join(at, "description")));
    Get(a, "contentType", &e);
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(at, "contentType"), &text));
    if (text.find('/') == std::string_view::npos) return Error(Join(at, "contentType"), "must be an Internet media type");
    Get(a, "length", &e);
    int64_t length = 0;
    if (e.get_int64().get(length) != simdjson::SUCCESS || length < 0) {
      return Error(Join(at, "length"), "must be a non-negative integer");
    }
    Get(a, "sha2", &e);
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(at, "sha2"), &text));
    if (!(IsHex(text, 56) || IsHex(text, 64) || IsHex(text, 96) || IsHex(text, 128))) {
      return Error(Join(at, "sha2"), "must be a SHA-2 hash in hex");
    }
    if (Get(a, "fileUrl", &e)) {
      JIRITSU_RETURN_IF_ERROR(IriAt(e, Join(at, "fileUrl")));
    } else {
      return Error(at, "an attachment without fileUrl needs its body in a multipart/mixed request, "
                       "which this LRS does not accept (send fileUrl, see docs/xapi.md)");
    }
  }
  return Status::Ok();
}

Status StatementBody(object obj, std::string_view where, bool sub_statement) {
  if (sub_statement) {
    JIRITSU_RETURN_IF_ERROR(CheckKeys(obj, where,
                                      {"objectType", "actor", "verb", "object", "result", "context",
                                       "timestamp", "attachments"}));
  } else {
    JIRITSU_RETURN_IF_ERROR(CheckKeys(obj, where,
                                      {"id", "actor", "verb", "object", "result", "context",
                                       "timestamp", "stored", "authority", "version", "attachments"}));
  }
  element e;
  for (const char* required : {"actor", "verb", "object"}) {
    if (!Get(obj, required, &e)) return Error(Join(where, required), "is required");
  }
  if (!sub_statement && Get(obj, "id", &e)) JIRITSU_RETURN_IF_ERROR(UuidAt(e, Join(where, "id")));
  Get(obj, "actor", &e);
  JIRITSU_RETURN_IF_ERROR(ActorAt(e, Join(where, "actor")));

  Get(obj, "verb", &e);
  const std::string verb_at = Join(where, "verb");
  object verb;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(e, verb_at, &verb));
  JIRITSU_RETURN_IF_ERROR(CheckKeys(verb, verb_at, {"id", "display"}));
  element verb_id, display;
  if (!Get(verb, "id", &verb_id)) return Error(Join(verb_at, "id"), "is required");
  JIRITSU_RETURN_IF_ERROR(IriAt(verb_id, Join(verb_at, "id")));
  if (Get(verb, "display", &display)) JIRITSU_RETURN_IF_ERROR(LanguageMapAt(display, Join(verb_at, "display")));

  Get(obj, "object", &e);
  std::string_view kind;
  JIRITSU_RETURN_IF_ERROR(ObjectAt(e, Join(where, "object"), sub_statement, &kind));
  std::string_view verb_text;
  xapi::IgnoreError(verb_id.get_string().get(verb_text));
  if (verb_text == kVoidedVerb && kind != "StatementRef") {
    return Error(Join(where, "object.objectType"),
                 "a voiding statement (verb " + std::string(kVoidedVerb) + ") must have a StatementRef object");
  }
  if (Get(obj, "result", &e)) JIRITSU_RETURN_IF_ERROR(ResultAt(e, Join(where, "result")));
  if (Get(obj, "context", &e)) JIRITSU_RETURN_IF_ERROR(ContextAt(e, Join(where, "context"), kind));
  if (Get(obj, "timestamp", &e)) JIRITSU_RETURN_IF_ERROR(TimestampAt(e, Join(where, "timestamp")));
  if (Get(obj, "attachments", &e)) JIRITSU_RETURN_IF_ERROR(AttachmentsAt(e, Join(where, "attachments")));
  if (sub_statement) return Status::Ok();
  if (Get(obj, "stored", &e)) JIRITSU_RETURN_IF_ERROR(TimestampAt(e, Join(where, "stored")));
  if (Get(obj, "authority", &e)) {
    const std::string at = Join(where, "authority");
    JIRITSU_RETURN_IF_ERROR(ActorAt(e, at));
    object authority;
    xapi::IgnoreError(e.get_object().get(authority));
    element members;
    array list;
    if (Get(authority, "member", &members) && members.get_array().get(list) == simdjson::SUCCESS &&
        list.size() != 2) {
      return Error(Join(at, "member"), "a Group authority must have exactly two members (OAuth consumer and user)");
    }
  }
  if (Get(obj, "version", &e)) {
    std::string_view text;
    JIRITSU_RETURN_IF_ERROR(ExpectString(e, Join(where, "version"), &text));
    auto patch_ok = [&](std::string_view prefix) {
      if (!text.starts_with(prefix)) return false;
      std::string_view rest = text.substr(prefix.size());
      return !rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!patch_ok("1.0.") && !patch_ok("2.0.") && text != "1.0" && text != "2.0") {
      return Error(Join(where, "version"), "must be 1.0.x or 2.0.x, got \"" + Shorten(text) + "\"");
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- comparison

void AppendQuoted(std::string* out, std::string_view text) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          *out += buffer;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendNumber(std::string* out, element value) {
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  if (value.get_int64().get(i) == simdjson::SUCCESS) {
    *out += std::to_string(i);
  } else if (value.get_uint64().get(u) == simdjson::SUCCESS) {
    *out += std::to_string(u);
  } else if (value.get_double().get(d) == simdjson::SUCCESS) {
    // Integral doubles compare equal to integers (1.0 == 1).
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
      *out += std::to_string(static_cast<int64_t>(d));
    } else {
      char buffer[40];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), d);
      out->append(buffer, ec == std::errc() ? end : buffer);
    }
  } else {
    *out += simdjson::to_string(value);
  }
}

void Canonical(element value, std::string_view key_of_parent, std::string* out);

// Properties outside the immutable statement (xAPI-Data 2.3.1): the ones the
// LRS may assign (id, authority, stored, timestamp, version), attachments,
// activity definitions and the verb's display.
void CanonicalObject(object obj, std::string* out, bool top_level, std::string_view key_of_parent = "") {
  std::vector<std::pair<std::string_view, element>> fields;
  for (auto field : obj) {
    if (top_level && (field.key == "id" || field.key == "authority" || field.key == "stored" ||
                      field.key == "version" || field.key == "timestamp" || field.key == "attachments")) {
      continue;
    }
    if (field.key == "definition" || (key_of_parent == "verb" && field.key == "display")) continue;
    fields.emplace_back(field.key, field.value);
  }
  std::sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  out->push_back('{');
  bool first = true;
  for (const auto& [key, value] : fields) {
    if (!first) out->push_back(',');
    first = false;
    AppendQuoted(out, key);
    out->push_back(':');
    Canonical(value, key, out);
  }
  out->push_back('}');
}

void Canonical(element value, std::string_view key_of_parent, std::string* out) {
  switch (value.type()) {
    case element_type::OBJECT: CanonicalObject(value.get_object().value_unsafe(), out, false, key_of_parent); return;
    case element_type::ARRAY: {
      std::vector<std::string> items;
      const simdjson::dom::array range_1 = value.get_array().value_unsafe();
      for (element item : range_1) {
        std::string text;
        Canonical(item, "", &text);
        items.push_back(std::move(text));
      }
      // Group members are a set (xAPI-Data 2.3.1: "Order of Group members").
      if (key_of_parent == "member") std::sort(items.begin(), items.end());
      out->push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out->push_back(',');
        *out += items[i];
      }
      out->push_back(']');
      return;
    }
    case element_type::STRING: {
      std::string_view text = value.get_string().value();
      if (key_of_parent == "timestamp") {
        Result<int64_t> t = ParseTimestamp(text);
        if (t.ok()) {
          *out += "\"@" + std::to_string(*t) + "\"";
          return;
        }
      }
      if (key_of_parent == "mbox") {
        std::string lower(text);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        AppendQuoted(out, lower);
        return;
      }
      AppendQuoted(out, text);
      return;
    }
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: AppendNumber(out, value); return;
    case element_type::BOOL: *out += value.get_bool().value() ? "true" : "false"; return;
    case element_type::NULL_VALUE: *out += "null"; return;
  }
}

bool ReadInt(std::string_view text, size_t pos, size_t count, int* out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- public

Status ValidateStatement(element statement, std::string_view path) {
  object obj;
  JIRITSU_RETURN_IF_ERROR(ExpectObject(statement, path, &obj));
  return StatementBody(obj, path, false);
}

bool IsUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (text[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

bool IsIri(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) return false;
  if (!std::isalpha(static_cast<unsigned char>(text[0]))) return false;
  for (size_t i = 1; i < colon; ++i) {
    const char c = text[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '{' || c == '}' ||
        c == '|' || c == '\\' || c == '^' || c == '`') {
      return false;
    }
  }
  return true;
}

bool IsLanguageTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 64) return false;
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t dash = tag.find('-', start);
    parts.push_back(tag.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  auto alpha = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
  };
  auto alnum = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
  };
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  for (std::string_view p : parts) {
    if (p.empty() || p.size() > 8 || !alnum(p)) return false;
  }
  size_t i = 0;
  if (parts[0] == "x" || parts[0] == "X" || parts[0] == "i" || parts[0] == "I") {
    return parts.size() > 1;  // private use / grandfathered irregular
  }
  if (!alpha(parts[0]) || parts[0].size() < 2) return false;
  ++i;
  // extlang (up to three 3-letter subtags after a 2-3 letter language)
  int extlang = 0;
  while (i < parts.size() && parts[0].size() <= 3 && parts[i].size() == 3 && alpha(parts[i]) && extlang < 3) {
    ++i;
    ++extlang;
  }
  if (i < parts.size() && parts[i].size() == 4 && alpha(parts[i])) ++i;  // script
  if (i < parts.size() && ((parts[i].size() == 2 && alpha(parts[i])) || (parts[i].size() == 3 && digits(parts[i])))) {
    ++i;  // region
  }
  while (i < parts.size() && ((parts[i].size() >= 5) || (parts[i].size() == 4 && std::isdigit(static_cast<unsigned char>(parts[i][0]))))) {
    ++i;  // variants
  }
  while (i < parts.size() && parts[i].size() == 1 && parts[i] != "x" && parts[i] != "X") {
    ++i;  // extension singleton + subtags
    if (i >= parts.size() || parts[i].size() < 2) return false;
    while (i < parts.size() && parts[i].size() >= 2) ++i;
  }
  if (i < parts.size() && (parts[i] == "x" || parts[i] == "X")) {
    return i + 1 < parts.size();
  }
  return i == parts.size();
}

std::optional<double> DurationSeconds(std::string_view text) {
  if (text.size() < 3 || text[0] != 'P') return std::nullopt;
  size_t pos = 1;
  bool in_time = false;
  bool any = false;
  bool fraction_seen = false;
  double seconds = 0;
  std::string_view order = "YMWD";
  size_t next_date = 0;
  std::string_view time_order = "HMS";
  size_t next_time = 0;
  while (pos < text.size()) {
    if (text[pos] == 'T') {
      if (in_time || pos + 1 >= text.size()) return std::nullopt;
      in_time = true;
      ++pos;
      continue;
    }
    if (fraction_seen) return std::nullopt;  // a fraction only on the last component
    size_t start = pos;
    while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.' || text[pos] == ',')) ++pos;
    if (pos == start || pos >= text.size()) return std::nullopt;
    std::string number(text.substr(start, pos - start));
    std::replace(number.begin(), number.end(), ',', '.');
    if (number.front() == '.' || number.back() == '.' || std::count(number.begin(), number.end(), '.') > 1) {
      return std::nullopt;
    }
    if (number.find('.') != std::string::npos) fraction_seen = true;
    const double value = std::strtod(number.c_str(), nullptr);
    const char unit = text[pos++];
    any = true;
    if (!in_time) {
      const size_t at = order.find(unit);
      if (at == std::string_view::npos || at < next_date) return std::nullopt;
      next_date = at + 1;
      static constexpr double kUnit[] = {365 * 86400.0, 30 * 86400.0, 7 * 86400.0, 86400.0};
      seconds += value * kUnit[at];
    } else {
      const size_t at = time_order.find(unit);
      if (at == std::string_view::npos || at < next_time) return std::nullopt;
      next_time = at + 1;
      static constexpr double kUnit[] = {3600.0, 60.0, 1.0};
      seconds += value * kUnit[at];
    }
  }
  if (!any) return std::nullopt;
  // PnW is not combined with other components in ISO 8601.
  if (text.find('W') != std::string_view::npos && (text.find_first_of("YMDT") != std::string_view::npos)) {
    const size_t w = text.find('W');
    if (text.find_first_of("YMDHS", 1) != std::string_view::npos || w + 1 != text.size()) return std::nullopt;
  }
  return seconds;
}

bool IsIso8601Duration(std::string_view text) { return DurationSeconds(text).has_value(); }

Result<int64_t> ParseTimestamp(std::string_view text, int32_t* utc_offset_minutes) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("must be an ISO 8601 timestamp with a time zone (e.g. "
                           "2025-04-24T11:40:00.000Z): " + std::string(why) + ", got \"" + Shorten(text) + "\"");
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 17 || !ReadInt(text, 0, 4, &year) || text[4] != '-' || !ReadInt(text, 5, 2, &month) ||
      text[7] != '-' || !ReadInt(text, 8, 2, &day) || (text[10] != 'T' && text[10] != 't') ||
      !ReadInt(text, 11, 2, &hour) || text[13] != ':' || !ReadInt(text, 14, 2, &minute)) {
    return bad("expected YYYY-MM-DDThh:mm[:ss[.f]]<zone>");
  }
  size_t pos = 16;
  if (pos < text.size() && text[pos] == ':') {
    if (!ReadInt(text, pos + 1, 2, &second)) return bad("bad seconds");
    pos += 3;
  }
  int64_t micros = 0;
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    ++pos;
    const size_t start = pos;
    int digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (pos == start) return bad("empty fraction");
    for (int d = digits; d < 6; ++d) micros *= 10;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return bad("no such date");
  }
  if (hour > 23 || minute > 59 || second > 59) return bad("no such time");
  if (pos >= text.size()) return bad("no time zone");
  int32_t offset = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    const bool negative = text[pos] == '-';
    int oh = 0, om = 0;
    if (!ReadInt(text, pos + 1, 2, &oh)) return bad("bad zone offset");
    pos += 3;
    if (pos < text.size()) {
      if (text[pos] == ':') ++pos;
      if (!ReadInt(text, pos, 2, &om)) return bad("bad zone offset");
      pos += 2;
    }
    if (oh > 23 || om > 59) return bad("bad zone offset");
    if (negative && oh == 0 && om == 0) return bad("\"-00:00\" means an unknown offset");
    offset = (negative ? -1 : 1) * (oh * 60 + om);
  } else {
    return bad("no time zone");
  }
  if (pos != text.size()) return bad("trailing characters");
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - int64_t{offset} * 60;
  if (utc_offset_minutes != nullptr) *utc_offset_minutes = offset;
  return seconds * 1'000'000 + micros;
}

std::string FormatTimestampUtc(int64_t time_us) {
  int64_t seconds = time_us / 1'000'000;
  int64_t micros = time_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    --seconds;
  }
  int64_t days = seconds / 86400;
  int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  int64_t y = 0;
  int m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", static_cast<int>(y), m, d,
                static_cast<int>(rest / 3600), static_cast<int>(rest / 60 % 60), static_cast<int>(rest % 60),
                static_cast<int>(micros));
  return buffer;
}

std::string NewUuid() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // RAND_bytes only fails without an entropy source; fall back to the
    // clock so an id is still unique enough for this process.
    const uint64_t t = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int i = 0; i < 16; ++i) bytes[i] = static_cast<unsigned char>(t >> ((i % 8) * 8)) ^ static_cast<unsigned char>(i * 37);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> AgentIdentity(element agent) {
  object obj;
  if (agent.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
  std::string_view text;
  element e;
  if (Get(obj, "mbox", &e) && e.get_string().get(text) == simdjson::SUCCESS) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "mbox:" + lower;
  }
  if (Get(obj, "mbox_sha1sum", &e) && e.get_string().get(text) == simdjson::SUCCESS) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "sha1:" + lower;
  }
  if (Get(obj, "openid", &e) && e.get_string().get(text) == simdjson::SUCCESS) return "openid:" + std::string(text);
  if (Get(obj, "account", &e)) {
    std::string_view home, name;
    if (e["homePage"].get_string().get(home) == simdjson::SUCCESS &&
        e["name"].get_string().get(name) == simdjson::SUCCESS) {
      return "account:" + std::string(home) + "|" + std::string(name);
    }
  }
  return std::nullopt;
}

std::string ComparisonForm(element statement) {
  std::string out;
  object obj;
  if (statement.get_object().get(obj) == simdjson::SUCCESS) {
    CanonicalObject(obj, &out, true);
  } else {
    Canonical(statement, "", &out);
  }
  return out;
}

std::string ComparisonHash(element statement) { return Sha256Hex(ComparisonForm(statement)); }

std::string ToJson(element value) { return simdjson::to_string(value); }

}  // namespace jiritsu::xapi
