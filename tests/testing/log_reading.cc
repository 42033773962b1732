#include "tests/testing/log_reading.h"

#include <simdjson.h>

#include <memory>
#include <vector>

#include "core/event_log.h"
#include "core/topics.h"
#include "ops/log_factory.h"
#include "schemas/codec.h"

namespace jiritsu::testing {

std::set<std::string> LogContents::Distinct() const {
  std::set<std::string> out;
  for (const auto& entry : identities) out.insert(entry.first);
  return out;
}

Result<LogContents> ReadSourceTopics(const LogSelection& selection, std::chrono::seconds timeout) {
  LogContents contents;
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenLog(selection, LogAccess::kReadOnly));
  std::vector<std::string> topics = EmployeeSourceTopics();
  topics.push_back(std::string(kReferenceTopic));
  std::map<TopicPartition, int64_t> start;
  std::map<TopicPartition, int64_t> ends;
  for (const auto& topic : topics) {
    JIRITSU_ASSIGN_OR_RETURN(int32_t partitions, log->PartitionCount(topic));
    for (int32_t p = 0; p < partitions; ++p) {
      TopicPartition tp{topic, p};
      JIRITSU_ASSIGN_OR_RETURN(int64_t end, log->EndOffset(tp));
      if (end > 0) {
        start[tp] = 0;
        ends[tp] = end;
      }
    }
  }
  if (start.empty()) return contents;
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<LogConsumer> consumer,
                           log->NewConsumer(ConsumerOptions{}));
  JIRITSU_RETURN_IF_ERROR(consumer->Assign(start));
  std::set<TopicPartition> finished;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<LogRecord> batch;
  while (finished.size() < ends.size()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return DeadlineExceeded("log not read to its end: " + std::to_string(finished.size()) +
                              " of " + std::to_string(ends.size()) + " partitions done");
    }
    batch.clear();
    JIRITSU_RETURN_IF_ERROR(consumer->Poll(std::chrono::milliseconds(200), 4096, &batch));
    for (const LogRecord& record : batch) {
      ++contents.records;
      contents.values.push_back(record.value);
      Result<Event> event = DecodeJsonEvent(record.value);
      if (event.ok()) {
        ++contents.identities[event->source + "\n" + event->id];
      } else {
        ++contents.undecodable;
      }
      TopicPartition tp{record.topic, record.partition};
      if (record.offset + 1 >= ends[tp]) finished.insert(tp);
    }
  }
  return contents;
}

std::string JsonField(const std::string& json, const std::string& name) {
  const std::string needle = "\"" + name + "\":";
  size_t at = json.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  if (at < json.size() && json[at] == '"') {
    size_t end = json.find('"', at + 1);
    return json.substr(at + 1, end - at - 1);
  }
  size_t end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

std::map<std::string, ViewDigest> ParseViewDigests(const std::string& digest_json) {
  std::map<std::string, ViewDigest> out;
  simdjson::dom::parser parser;
  simdjson::dom::object views;
  if (parser.parse(digest_json).at_key("views").get(views) != simdjson::SUCCESS) return out;
  for (auto [name, view] : views) {
    ViewDigest entry;
    std::string_view digest;
    if (view["digest"].get(digest) != simdjson::SUCCESS ||
        view["keys"].get(entry.keys) != simdjson::SUCCESS) {
      return {};
    }
    entry.digest = digest;
    out[std::string(name)] = entry;
  }
  return out;
}

}  // namespace jiritsu::testing
