// The Jiritsu topic layout, shared by ingestion, processors and replay.
//
// Employee-scoped families are keyed by subject (employee id) and
// co-partitioned: they all have kEmployeePartitions partitions and use the
// same partitioner, so partition p of every family holds the same employees.
// The reference topic has one partition: reference data is totally ordered
// and read in full by every instance (a global table).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/event_log.h"
#include "schemas/event.h"

namespace jiritsu {

inline constexpr std::string_view kReferenceTopic = "jiritsu.reference";
inline constexpr std::string_view kEmployeeTopic = "jiritsu.employee";
inline constexpr std::string_view kInterviewTopic = "jiritsu.interview";
inline constexpr std::string_view kLearningTopic = "jiritsu.learning";
inline constexpr std::string_view kDeclarationTopic = "jiritsu.declaration";
inline constexpr std::string_view kApprovalTopic = "jiritsu.approval";
inline constexpr std::string_view kDeadLetterTopic = "jiritsu.dlq";
// Internal: per-employee facts for cross-partition views (KPIs, rollups).
// Keyed by employee, compacted, read in full by every instance.
inline constexpr std::string_view kFactsTopic = "jiritsu.facts";
// xAPI statements as received by the LRS (docs/xapi.md): one partition, key =
// statement id, value = the audit record (raw statement + mapping outcome).
// Not a CloudEvents topic and not read by the processors or replays.
inline constexpr std::string_view kXapiTopic = "jiritsu.xapi";

inline constexpr int32_t kDefaultEmployeePartitions = 8;

std::string TopicForFamily(Family family);
// The same without an allocation (hot paths).
std::string_view TopicNameForFamily(Family family);
// The five employee-keyed source topics, in family order.
std::vector<std::string> EmployeeSourceTopics();
// Every topic Jiritsu uses, with partition counts.
std::vector<TopicSpec> AllTopicSpecs(int32_t employee_partitions = kDefaultEmployeePartitions);

}  // namespace jiritsu
