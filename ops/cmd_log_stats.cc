// `jiritsu log-stats [--store DIR | --kafka BOOTSTRAP]`: what the log holds,
// as JSON: per topic, each partition's end offset and record count, event
// counts by type (source topics are read in full and decoded) and a few
// sample events; `--format text` prints the same as a table. Opens the
// embedded log read-only, so it also works while another process writes it;
// creates no topics.
//
// Exit codes: 0 ok; 1 some records did not decode or a partition could not be
// read to its end; 2 usage; 3 log unavailable.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/topics.h"
#include "ops/cli.h"
#include "ops/log_factory.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

struct LogStatsFlags {
  LogSelection log;
  int samples = 2;
  std::string format = "json";
};

struct PartitionStats {
  int64_t end_offset = 0;
  int64_t records = 0;
};

struct TopicStats {
  bool exists = false;
  bool read = false;  // records were consumed and decoded
  std::string error;
  std::vector<PartitionStats> partitions;
  std::map<std::string, int64_t> by_type;
  int64_t undecodable = 0;
  bool incomplete = false;
  std::vector<std::string> samples;  // canonical JSON of the first events
};

// Reads every partition of `topic` from 0 to its end offset.
Status ReadTopic(EventLog* log, const std::string& topic, int samples, TopicStats* stats) {
  JIRITSU_ASSIGN_OR_RETURN(auto consumer, log->NewConsumer(ConsumerOptions{}));
  std::map<TopicPartition, int64_t> starts;
  std::map<int32_t, int64_t> remaining_end;
  for (size_t p = 0; p < stats->partitions.size(); ++p) {
    const int32_t partition = static_cast<int32_t>(p);
    if (stats->partitions[p].end_offset > 0) {
      starts[{topic, partition}] = 0;
      remaining_end[partition] = stats->partitions[p].end_offset;
    }
  }
  if (starts.empty()) return Status::Ok();
  JIRITSU_RETURN_IF_ERROR(consumer->Assign(starts));
  std::vector<LogRecord> records;
  int idle_polls = 0;
  while (!remaining_end.empty() && idle_polls < 20) {
    records.clear();
    JIRITSU_RETURN_IF_ERROR(consumer->Poll(std::chrono::milliseconds(500), 10'000, &records));
    idle_polls = records.empty() ? idle_polls + 1 : 0;
    for (const LogRecord& record : records) {
      auto end = remaining_end.find(record.partition);
      if (end == remaining_end.end() || record.offset >= end->second) continue;
      ++stats->partitions[record.partition].records;
      Result<Event> event = DecodeJsonEvent(record.value);
      if (event.ok()) {
        ++stats->by_type[std::string(EventTypeName(event->type))];
        if (static_cast<int>(stats->samples.size()) < samples) {
          stats->samples.push_back(EncodeJsonEvent(*event));
        }
      } else {
        ++stats->undecodable;
      }
      if (record.offset + 1 >= end->second) remaining_end.erase(end);
    }
  }
  stats->incomplete = !remaining_end.empty();
  stats->read = true;
  return Status::Ok();
}

std::string RenderJson(const std::string& log_name,
                       const std::vector<std::pair<std::string, TopicStats>>& topics) {
  std::string out = "{\"log\":";
  AppendJsonString(&out, log_name);
  out += ",\"topics\":{";
  bool first_topic = true;
  for (const auto& [name, stats] : topics) {
    if (!first_topic) out.push_back(',');
    first_topic = false;
    AppendJsonString(&out, name);
    out += ":{\"exists\":" + std::string(stats.exists ? "true" : "false");
    int64_t end_total = 0;
    int64_t record_total = 0;
    out += ",\"partitions\":[";
    for (size_t p = 0; p < stats.partitions.size(); ++p) {
      if (p > 0) out.push_back(',');
      out += "{\"partition\":" + std::to_string(p) +
             ",\"end_offset\":" + std::to_string(stats.partitions[p].end_offset);
      if (stats.read) out += ",\"records\":" + std::to_string(stats.partitions[p].records);
      out += "}";
      end_total += stats.partitions[p].end_offset;
      record_total += stats.partitions[p].records;
    }
    out += "],\"end_offsets_total\":" + std::to_string(end_total);
    if (stats.read) {
      out += ",\"records\":" + std::to_string(record_total) + ",\"by_type\":{";
      bool first_type = true;
      for (const auto& [type, n] : stats.by_type) {
        if (!first_type) out.push_back(',');
        first_type = false;
        AppendJsonString(&out, type);
        out += ":" + std::to_string(n);
      }
      out += "},\"undecodable\":" + std::to_string(stats.undecodable);
      if (stats.incomplete) out += ",\"incomplete\":true";
      out += ",\"samples\":[";
      for (size_t i = 0; i < stats.samples.size(); ++i) {
        if (i > 0) out.push_back(',');
        out += stats.samples[i];  // canonical JSON object
      }
      out += "]";
    }
    if (!stats.error.empty()) {
      out += ",\"error\":";
      AppendJsonString(&out, stats.error);
    }
    out += "}";
  }
  out += "}}\n";
  return out;
}

// A table for people (ops/demo): one row per topic, partition counts below.
std::string RenderText(const std::string& log_name,
                       const std::vector<std::pair<std::string, TopicStats>>& topics) {
  std::string out = "log: " + log_name + "\n";
  char row[256];
  std::snprintf(row, sizeof(row), "%-22s %5s %12s  %s\n", "topic", "parts", "end offsets",
                "events by type");
  out += row;
  std::string samples;
  for (const auto& [name, stats] : topics) {
    int64_t end_total = 0;
    for (const PartitionStats& p : stats.partitions) end_total += p.end_offset;
    std::snprintf(row, sizeof(row), "%-22s %5zu %12lld  ", name.c_str(), stats.partitions.size(),
                  static_cast<long long>(end_total));
    out += row;
    if (!stats.exists) out += "(topic does not exist)";
    for (const auto& [type, n] : stats.by_type) out += type + "=" + std::to_string(n) + " ";
    if (stats.undecodable > 0) out += "undecodable=" + std::to_string(stats.undecodable) + " ";
    if (stats.incomplete) out += "(incomplete read) ";
    if (!stats.error.empty()) out += "error: " + stats.error;
    out += "\n";
    if (stats.partitions.size() > 1) {
      out += "  per partition:";
      for (size_t p = 0; p < stats.partitions.size(); ++p) {
        out += " " + std::to_string(p) + ":" + std::to_string(stats.partitions[p].end_offset);
      }
      out += "\n";
    }
    for (const std::string& sample : stats.samples) samples += "  " + name + ": " + sample + "\n";
  }
  if (!samples.empty()) out += "samples:\n" + samples;
  return out;
}

int RunLogStats(const LogStatsFlags& flags) {
  Result<std::unique_ptr<EventLog>> opened = OpenLog(flags.log, LogAccess::kReadOnly);
  if (!opened.ok()) {
    std::fprintf(stderr, "log-stats: log unavailable: %s\n", opened.status().ToString().c_str());
    return opened.status().code() == StatusCode::kInvalidArgument ? 2 : 3;
  }
  EventLog* log = opened->get();
  std::vector<std::string> source_topics = {std::string(kReferenceTopic)};
  for (const std::string& t : EmployeeSourceTopics()) source_topics.push_back(t);
  bool problems = false;
  std::vector<std::pair<std::string, TopicStats>> topics;
  for (const TopicSpec& spec : AllTopicSpecs(flags.log.partitions)) {
    TopicStats stats;
    Result<int32_t> count = log->PartitionCount(spec.name);
    if (count.ok()) {
      stats.exists = true;
      stats.partitions.resize(static_cast<size_t>(count.value()));
      for (int32_t p = 0; p < count.value(); ++p) {
        Result<int64_t> end = log->EndOffset({spec.name, p});
        if (!end.ok()) {
          stats.error = end.status().ToString();
          break;
        }
        stats.partitions[p].end_offset = end.value();
      }
      const bool is_source =
          std::find(source_topics.begin(), source_topics.end(), spec.name) != source_topics.end();
      if (stats.error.empty() && is_source) {
        const Status read = ReadTopic(log, spec.name, flags.samples, &stats);
        if (!read.ok()) stats.error = read.ToString();
      }
    } else if (count.status().code() != StatusCode::kNotFound) {
      stats.error = count.status().ToString();
    }
    problems = problems || !stats.error.empty() || stats.undecodable > 0 || stats.incomplete;
    topics.emplace_back(spec.name, std::move(stats));
  }
  const std::string out = flags.format == "text" ? RenderText(log->Describe(), topics)
                                                 : RenderJson(log->Describe(), topics);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return problems ? 1 : 0;
}

}  // namespace

Command AddLogStatsCommand(CLI::App& root) {
  auto flags = std::make_shared<LogStatsFlags>();
  Command command;
  command.app = root.add_subcommand(
      "log-stats",
      "Print the log's contents as JSON: end offsets per partition, events by type, samples");
  AddLogOptions(command.app, &flags->log);
  command.app->add_option("--samples", flags->samples, "Sample events printed per topic")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  command.app->add_option("--format", flags->format, "json (default) or text (a table)")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "text"}));
  command.run = [flags] { return RunLogStats(*flags); };
  return command;
}

}  // namespace jiritsu
