// Mapping of validated xAPI statements onto Jiritsu learning events
// (docs/xapi.md, "Mapping"):
//   verb   -> learning.* type (ADL and cmi5 verbs, table in kVerbTable),
//   actor  -> employee id (explicit table, or account.homePage match with
//             account.name as the id, or mbox domain match with the local
//             part as the id),
//   object -> course id (activity id with a configured prefix stripped, or
//             an explicit table).
// A statement that cannot be mapped is still stored and kept in the log;
// its outcome says why (unmapped_actor, unmapped_verb, unmapped_activity) so
// it is counted and listed, never dropped.
//
// The produced CloudEvent is deterministic in the statement: id
// "xapi-<statement id>", time = the statement's timestamp (or `stored`),
// source = the LRS client's source. Replaying the log therefore gives the
// same events; the mapping configuration is applied once, at ingestion.
//
// Thread-safety: a Mapper is immutable after construction. Failure: Map()
// never fails; outcomes are values.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jiritsu::xapi {

struct ActorRule {
  // Exactly one of mbox ("mailto:..."), or account_home_page + account_name.
  std::string mbox;
  std::string account_home_page;
  std::string account_name;
  std::string employee;
};

struct ActivityRule {
  std::string activity_id;
  std::string course_id;
};

struct MappingConfig {
  // account.homePage values whose account.name is the employee id.
  std::vector<std::string> account_home_pages;
  // mbox domains ("example.com") whose local part is the employee id.
  std::vector<std::string> mbox_domains;
  std::vector<ActorRule> actors;  // explicit; checked first
  // Activity id prefixes stripped to give the course id (first match wins).
  std::vector<std::string> course_id_prefixes;
  std::vector<ActivityRule> activities;  // explicit; checked first
};

enum class Outcome {
  kMapped,            // a learning event was produced
  kVoiding,           // a voiding statement (learning.voided when its target was mapped)
  kUnmappedActor,
  kUnmappedVerb,
  kUnmappedActivity,  // the object is not an Activity, or its id gives no course id
};
std::string_view OutcomeName(Outcome outcome);  // "mapped", "unmapped_actor", ...

struct VerbMapping {
  std::string_view verb_iri;
  std::string_view short_name;  // "completed"
  std::string_view event_type;  // "learning.completed"; empty for voided
};
// Every mapped verb (ADL http://adlnet.gov/expapi/verbs/* and the cmi5
// https://w3id.org/xapi/adl/verbs/* forms of satisfied/waived/abandoned).
const std::vector<VerbMapping>& VerbTable();
const VerbMapping* FindVerb(std::string_view iri);

struct Mapped {
  Outcome outcome = Outcome::kUnmappedVerb;
  std::string reason;       // for the unmapped outcomes
  std::string employee;     // when the actor mapped
  std::string course_id;    // when the activity mapped
  std::string event_type;   // learning.* type
  std::string event_json;   // the CloudEvent (structured mode), when kMapped
  std::string voided_statement_id;  // for kVoiding
};

class Mapper {
 public:
  explicit Mapper(MappingConfig config) : config_(std::move(config)) {}
  // `statement` must be valid (ValidateStatement) and carry id and stored.
  // `source` is the CloudEvents source of the produced event.
  Mapped Map(simdjson::dom::element statement, std::string_view source) const;
  std::optional<std::string> EmployeeOf(simdjson::dom::element actor) const;
  std::optional<std::string> CourseOf(std::string_view activity_id) const;
  const MappingConfig& config() const { return config_; }

 private:
  MappingConfig config_;
};

// The CloudEvent that compensates the learning event of a voided statement:
// learning.voided with data {statement_id, voided_source, voided_id}.
// `time` is the voiding statement's event time (RFC 3339).
std::string VoidedEventJson(std::string_view voiding_statement_id, std::string_view source,
                            std::string_view employee, std::string_view time,
                            std::string_view voided_source, std::string_view voided_event_id);

// CloudEvents id of the learning event mapped from a statement.
std::string EventIdFor(std::string_view statement_id);

}  // namespace jiritsu::xapi
