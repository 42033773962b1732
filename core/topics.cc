#include "core/topics.h"

namespace jiritsu {

std::string_view TopicNameForFamily(Family family) {
  switch (family) {
    case Family::kReference: return kReferenceTopic;
    case Family::kEmployee: return kEmployeeTopic;
    case Family::kInterview: return kInterviewTopic;
    case Family::kLearning: return kLearningTopic;
    case Family::kDeclaration: return kDeclarationTopic;
    case Family::kApproval: return kApprovalTopic;
  }
  return kDeadLetterTopic;
}

std::string TopicForFamily(Family family) { return std::string(TopicNameForFamily(family)); }

std::vector<std::string> EmployeeSourceTopics() {
  return {std::string(kEmployeeTopic), std::string(kInterviewTopic),
          std::string(kLearningTopic), std::string(kDeclarationTopic),
          std::string(kApprovalTopic)};
}

std::vector<TopicSpec> AllTopicSpecs(int32_t employee_partitions) {
  std::vector<TopicSpec> specs;
  specs.push_back({std::string(kReferenceTopic), 1, false});
  for (const auto& topic : EmployeeSourceTopics()) {
    specs.push_back({topic, employee_partitions, false});
  }
  specs.push_back({std::string(kDeadLetterTopic), 1, false});
  specs.push_back({std::string(kFactsTopic), employee_partitions, true});
  specs.push_back({std::string(kXapiTopic), 1, false});
  return specs;
}

}  // namespace jiritsu
