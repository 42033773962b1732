// `jiritsu gen`: writes a synthetic enterprise as CloudEvents JSONL
// (ops/generator.h) to a file or stdout, and a one-line summary to stderr.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ops/cli.h"
#include "ops/generator.h"

namespace jiritsu {
namespace {

// Buffered line output to a FILE* (stdout or a file we own).
class FileLineSink {
 public:
  explicit FileLineSink(std::FILE* file) : file_(file) { buffer_.reserve(kBufferBytes + 4096); }

  Status Write(std::string_view line) {
    buffer_.append(line);
    buffer_.push_back('\n');
    if (buffer_.size() >= kBufferBytes) return Drain();
    return Status::Ok();
  }

  Status Drain() {
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
      return IOError(std::string("write failed: ") + std::strerror(errno));
    }
    buffer_.clear();
    if (std::fflush(file_) != 0) return IOError(std::string("flush failed: ") + std::strerror(errno));
    return Status::Ok();
  }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;
  std::FILE* file_;
  std::string buffer_;
};

struct GenFlags {
  GeneratorOptions options;
  std::string out = "-";
};

int RunGen(const GenFlags& flags) {
  if (Status valid = ValidateGeneratorOptions(flags.options); !valid.ok()) {
    std::fprintf(stderr, "gen: %s\n", valid.message().c_str());
    return 2;
  }
  std::FILE* file = stdout;
  if (flags.out != "-") {
    file = std::fopen(flags.out.c_str(), "wb");
    if (file == nullptr) {
      std::fprintf(stderr, "gen: cannot open %s: %s\n", flags.out.c_str(), std::strerror(errno));
      return 3;
    }
  }
  const auto started = std::chrono::steady_clock::now();
  FileLineSink sink(file);
  Result<GeneratorSummary> summary = GenerateEnterprise(
      flags.options, [&sink](std::string_view line) { return sink.Write(line); });
  Status drained = summary.ok() ? sink.Drain() : summary.status();
  if (file != stdout && std::fclose(file) != 0 && drained.ok()) {
    drained = IOError(std::string("close failed: ") + std::strerror(errno));
  }
  if (!drained.ok()) {
    std::fprintf(stderr, "gen: %s\n", drained.ToString().c_str());
    return drained.code() == StatusCode::kInvalidArgument ? 2 : 3;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "%s (%.2fs)\n", summary->ToLine().c_str(), seconds);
  return 0;
}

}  // namespace

Command AddGenCommand(CLI::App& root) {
  auto flags = std::make_shared<GenFlags>();
  Command command;
  command.app = root.add_subcommand(
      "gen", "Generate a realistic synthetic enterprise as CloudEvents JSONL (same seed, same bytes)");
  CLI::App* app = command.app;
  GeneratorOptions& o = flags->options;
  app->add_option("--employees", o.employees, "Initial headcount (>= 10)")->capture_default_str();
  app->add_option("--months", o.months, "Simulated calendar months")->capture_default_str();
  app->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  app->add_option("--start", o.start, "First simulated day, YYYY-MM-01 (+09:00)")
      ->capture_default_str();
  app->add_option("--duplicate-share", o.duplicate_share,
                  "Extra exact duplicate lines, per valid event")
      ->capture_default_str();
  app->add_option("--out-of-order-share", o.out_of_order_share,
                  "Share of valid events written late (after later events)")
      ->capture_default_str();
  app->add_option("--invalid-share", o.invalid_share,
                  "Extra schema-invalid lines, per valid event")
      ->capture_default_str();
  app->add_option("--domain-invalid-share", o.domain_invalid_share,
                  "Share of declarations accompanied by a command the workflow must reject")
      ->capture_default_str();
  app->add_option("--out", flags->out, "Output file, '-' for stdout")->capture_default_str();
  command.run = [flags] { return RunGen(*flags); };
  return command;
}

}  // namespace jiritsu
