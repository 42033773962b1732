#include "core/topics.h"

namespace jiritsu {

std::string TopicForFamily(Family family) {
  switch (family) {
    case Family::kReference: return std::string(kReferenceTopic);
    case Family::kEmployee: return std::string(kEmployeeTopic);
    case Family::kInterview: return std::string(kInterviewTopic);
    case Family::kLearning: return std::string(kLearningTopic);
    case Family::kDeclaration: return std::string(kDeclarationTopic);
    case Family::kApproval: return std::string(kApprovalTopic);
  }
  return std::string(kDeadLetterTopic);
}

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
  return specs;
}

}  // namespace jiritsu
