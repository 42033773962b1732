// `jiritsu dlq list` and `jiritsu dlq replay`: working off the dead letters.
//
//   jiritsu dlq list [--store DIR | --kafka B --state-dir DIR | --views DIR] [--raw] [--out FILE]
//     One JSON line per dead letter: {"position": "topic/partition/offset",
//     "reason", "value_bytes", "fixable", "value"}; `value` is the original
//     record when it is complete, valid UTF-8 on one line ("fixable"), else
//     absent (binary or truncated: read it from the log at its position).
//     --raw writes only the fixable originals, one per line: the file to
//     correct and give back to `dlq replay`. A summary {"dead_letters",
//     "fixable", "written"} goes to stderr.
//   jiritsu dlq replay --fixed FILE [log options] [--rejects FILE] [--dedupe-dir DIR]
//     Re-submits corrected events through exactly the validation, dedupe and
//     appending of `jiritsu ingest` (same summary and exit codes): a line
//     that is still invalid is rejected again with its reason; an event
//     whose (source, id) was ingested meanwhile is a duplicate. The dead
//     letters themselves stay (the log is immutable): they document what
//     arrived and when.
//
// Exit codes: list 0 ok, 3 views unavailable, 4 nothing projected yet;
// replay as `jiritsu ingest`.
#include <CLI/CLI.hpp>
#include <simdjson.h>
#include <sodium.h>

#include <cstdio>
#include <memory>
#include <string>

#include "core/projection_runtime.h"
#include "core/state_store.h"
#include "ops/cli.h"
#include "ops/projections.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

struct DlqListFlags {
  LogSelection log;
  std::string views_dir;
  std::string out;  // "" = stdout
  bool raw = false;
};

bool ValidUtf8SingleLine(std::string_view text) {
  if (text.empty() || text.find('\n') != std::string_view::npos ||
      text.find('\r') != std::string_view::npos) {
    return false;
  }
  return simdjson::validate_utf8(text.data(), text.size());
}

int RunDlqList(const DlqListFlags& flags) {
  auto fail = [](int code, const Status& status) {
    std::fprintf(stderr, "jiritsu dlq list: %s\n", status.ToString().c_str());
    return code;
  };
  auto dir = ResolveViewsDir(flags.log, flags.views_dir);
  if (!dir.ok()) return fail(dir.status().code() == StatusCode::kNotFound ? 4 : 3, dir.status());
  auto store = OpenViewsForReading(*dir);
  if (!store.ok()) return fail(3, store.status());
  std::FILE* out = stdout;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(nullptr, [](std::FILE* f) { return std::fclose(f); });
  if (!flags.out.empty()) {
    out = std::fopen(flags.out.c_str(), "wb");
    if (out == nullptr) return fail(3, IOError("cannot write " + flags.out));
    closer.reset(out);
  }
  if (sodium_init() < 0) return fail(3, Internal("libsodium unavailable"));
  simdjson::dom::parser parser;
  int64_t total = 0, fixable = 0, written = 0;
  auto it = (*store)->NewIterator(kDeadLetterFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++total;
    simdjson::dom::object row;
    std::string_view reason, encoded;
    if (parser.parse(it->value().data(), it->value().size()).get(row) != simdjson::SUCCESS ||
        row["reason"].get(reason) != simdjson::SUCCESS ||
        row["value_base64"].get(encoded) != simdjson::SUCCESS) {
      return fail(3, Corruption("dead-letter row " + std::string(it->key()) + " is not readable"));
    }
    bool truncated = false;
    if (row["value_truncated"].get(truncated) != simdjson::SUCCESS) truncated = false;
    std::string value(encoded.size(), '\0');
    size_t value_size = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(value.data()), value.size(),
                          encoded.data(), encoded.size(), nullptr, &value_size, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
      return fail(3, Corruption("dead-letter row " + std::string(it->key()) + ": bad base64"));
    }
    value.resize(value_size);
    int64_t value_bytes = static_cast<int64_t>(value.size());
    if (row["value_bytes"].get(value_bytes) != simdjson::SUCCESS) {
      value_bytes = static_cast<int64_t>(value.size());
    }
    const bool can_fix = !truncated && ValidUtf8SingleLine(value);
    if (can_fix) ++fixable;
    if (flags.raw) {
      if (!can_fix) continue;
      std::fprintf(out, "%s\n", value.c_str());
    } else {
      std::string line = "{\"position\":";
      AppendJsonString(&line, std::string(it->key()));
      line += ",\"reason\":";
      AppendJsonString(&line, reason);
      line += ",\"value_bytes\":" + std::to_string(value_bytes);
      line += can_fix ? ",\"fixable\":true,\"value\":" : ",\"fixable\":false";
      if (can_fix) AppendJsonString(&line, value);
      line += "}";
      std::fprintf(out, "%s\n", line.c_str());
    }
    ++written;
  }
  if (!it->status().ok()) return fail(3, it->status());
  if (std::fflush(out) != 0) return fail(3, IOError("cannot write the output"));
  std::fprintf(stderr, "{\"dead_letters\":%lld,\"fixable\":%lld,\"written\":%lld}\n",
               static_cast<long long>(total), static_cast<long long>(fixable),
               static_cast<long long>(written));
  return 0;
}

}  // namespace

Command AddDlqCommand(CLI::App& root) {
  Command command;
  command.app = root.add_subcommand(
      "dlq", "Dead letters: list them (and export the fixable originals), re-submit fixed events");
  command.app->require_subcommand(1);

  auto list_flags = std::make_shared<DlqListFlags>();
  CLI::App* list = command.app->add_subcommand(
      "list", "One JSON line per dead letter (position, reason, original value when fixable)");
  list->add_option("--store", list_flags->log.store_dir, "Embedded store directory")
      ->capture_default_str();
  AddKafkaDeploymentOptions(list, &list_flags->log);
  AddStateOptions(list, &list_flags->log);
  list->add_option("--views", list_flags->views_dir, "Read this views store instead");
  list->add_flag("--raw", list_flags->raw,
                 "Write only the fixable original events, one per line (to correct and pass to "
                 "`dlq replay --fixed`)");
  list->add_option("--out", list_flags->out, "Write to this file instead of stdout");

  auto replay_flags = std::make_shared<IngestFlags>();
  replay_flags->rejects = "./jiritsu-dlq-rejects.jsonl";
  CLI::App* replay = command.app->add_subcommand(
      "replay",
      "Re-submit corrected events (JSONL) through the normal ingest validation and dedupe");
  AddIngestOptions(replay, replay_flags.get());
  replay->add_option("--fixed", replay_flags->input, "JSONL of corrected events, or - for stdin")
      ->required();

  command.run = [list, list_flags, replay, replay_flags] {
    if (list->parsed()) return RunDlqList(*list_flags);
    if (replay->parsed()) return RunIngest(*replay_flags, "dlq replay");
    return 2;
  };
  return command;
}

}  // namespace jiritsu
