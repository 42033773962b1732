// `jiritsu serve --config FILE`: the projection processors and the HTTP API
// in one process (ops/serve.h, service/). `jiritsu token`: signs a dev JWT
// with an HS256 key of the same configuration (demos, tests).
//
// Exit codes: 0 stopped by SIGINT/SIGTERM; 2 configuration error; 3 log,
// index or port unavailable, or the runner failed.
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "core/logging.h"
#include "core/projection_runtime.h"
#include "core/swap_coordinator.h"
#include "core/thread_name.h"
#include "ops/log_factory.h"
#include "ops/projections.h"
#include "ops/serve.h"
#include "processors/json.h"
#include "schemas/codec.h"
#include "service/jwt.h"

namespace jiritsu {

LogSelection LogSelectionOf(const service::ServeConfig& config) {
  LogSelection selection;
  selection.store_dir = config.store_dir;
  selection.kafka_bootstrap = config.kafka_bootstrap;
  selection.kafka_properties = config.kafka_properties;
  selection.kafka_topic_prefix = config.kafka_topic_prefix;
  selection.partitions = config.partitions;
  selection.state_dir = config.state_dir;
  selection.keys_dir = config.keys_dir;
  return selection;
}

Result<std::unique_ptr<ServeInstance>> ServeInstance::Start(const service::ServeConfig& config) {
  std::unique_ptr<ServeInstance> instance(new ServeInstance());
  instance->config_ = config;
  const LogSelection selection = LogSelectionOf(config);
  JIRITSU_ASSIGN_OR_RETURN(instance->log_, OpenLog(selection));
  JIRITSU_ASSIGN_OR_RETURN(instance->index_,
                           DedupeIndex::Open(IngestIndexDir(selection, config.dedupe_dir)));
  JIRITSU_ASSIGN_OR_RETURN(instance->keys_, OpenKeyStore(selection));
  const std::string views_root = ViewsRoot(selection);
  std::error_code error;
  std::filesystem::create_directories(views_root, error);
  instance->monitor_ =
      std::make_unique<service::RunnerMonitor>(config.run_projections, config.stall_after_s);

  service::ServiceDeps deps;
  deps.log = instance->log_.get();
  deps.dedupe = instance->index_.get();
  deps.views_root = views_root;
  deps.view_families = ViewColumnFamilies();
  deps.runner = config.run_projections ? instance->monitor_.get() : nullptr;
  deps.metrics = &instance->metrics_;
  deps.keys = instance->keys_.get();
  const MemoryBudget memory = MemoryBudget::FromMb(static_cast<size_t>(config.memory_budget_mb));
  deps.projector_factory = [keys = instance->keys_.get(), memory] {
    return NewProjector(keys, memory);
  };
  deps.view_version = kViewVersion;
  JIRITSU_ASSIGN_OR_RETURN(instance->http_, service::HttpService::Create(config, std::move(deps)));

  if (config.run_projections) {
    ServeInstance* self = instance.get();
    instance->runner_ = std::thread([self, views_root] {
      NameCurrentThread("jr-runner");
      const service::ServeConfig& c = self->config_;
      RuntimeMaker make_runtime = [self, &c](const std::string& store_dir)
          -> Result<std::unique_ptr<ProjectionRuntime>> {
        RuntimeOptions options;
        options.state_dir = store_dir;
        options.group_id = c.group;
        options.checkpoint_every_events = static_cast<size_t>(c.checkpoint_events);
        options.checkpoint_every_ms = c.checkpoint_ms;
        options.catch_up_merge_by_event_time = c.catch_up_merge;
        options.low_priority_compactions = c.low_priority_compactions;
        const MemoryBudget memory = MemoryBudget::FromMb(static_cast<size_t>(c.memory_budget_mb));
        ApplyMemoryBudget(memory, &options);
        options.view_version = kViewVersion;
        options.progress_every_ms = 500;
        options.on_progress = [self](const RuntimeStats& stats) { self->monitor_->OnProgress(stats); };
        return ProjectionRuntime::Create(
            self->log_.get(),
            NewProjector(self->keys_.get(), memory,
                         {c.facts_interval_ms, static_cast<int32_t>(c.facts_budget_percent),
                          static_cast<int32_t>(c.warm_cache_percent)}),
            options);
      };
      Status status = RunServingSwaps(views_root, make_runtime, self->stop_runner_);
      if (!status.ok()) {
        ModuleLogger("serve")->error("projection runner stopped: {}", status.ToString());
      }
      self->monitor_->OnRunnerExit(status);
      std::lock_guard lock(self->mutex_);
      self->runner_done_ = true;
      self->runner_status_ = status;
      self->wake_.notify_all();
    });
    instance->sampler_ = std::thread([self] {
      NameCurrentThread("jr-sampler");
      std::unique_lock lock(self->mutex_);
      while (!self->stop_requested_) {
        lock.unlock();
        self->monitor_->Sample(self->log_.get());
        lock.lock();
        self->wake_.wait_for(lock, std::chrono::milliseconds(self->config_.lag_sample_ms),
                             [self] { return self->stop_requested_; });
      }
    });
  }
  Status started = instance->http_->Start();
  if (!started.ok()) {
    instance->Stop();
    return started;
  }
  return instance;
}

ServeInstance::~ServeInstance() { Stop(); }

void ServeInstance::RequestStop() {
  std::lock_guard lock(mutex_);
  stop_requested_ = true;
  wake_.notify_all();
}

Status ServeInstance::Wait() {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return stop_requested_ || runner_done_; });
  return runner_done_ ? runner_status_ : Status::Ok();
}

void ServeInstance::Stop() {
  if (stopped_) return;
  stopped_ = true;
  RequestStop();
  if (http_) http_->Stop();
  stop_runner_.store(true);
  if (runner_.joinable()) runner_.join();
  if (sampler_.joinable()) sampler_.join();
  http_.reset();
  index_.reset();
  log_.reset();
}

Status ServeInstance::WaitFor(std::chrono::milliseconds timeout, bool* finished) {
  std::unique_lock lock(mutex_);
  *finished = wake_.wait_for(lock, timeout, [this] { return stop_requested_ || runner_done_; });
  return runner_done_ ? runner_status_ : Status::Ok();
}

namespace {

volatile std::sig_atomic_t g_signal_seen = 0;
void OnSignal(int) { g_signal_seen = 1; }

int RunServe(const std::string& config_path) {
  Result<service::ServeConfig> config =
      service::LoadServeConfig(config_path, service::ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "jiritsu serve: %s\n", config.status().ToString().c_str());
    return 2;
  }
  Result<std::unique_ptr<ServeInstance>> instance = ServeInstance::Start(*config);
  if (!instance.ok()) {
    std::fprintf(stderr, "jiritsu serve: %s\n", instance.status().ToString().c_str());
    return instance.status().code() == StatusCode::kInvalidArgument ? 2 : 3;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::fprintf(stderr, "jiritsu serve: listening on http://%s:%d (%s)\n",
               config->listen_address.c_str(), (*instance)->port(),
               config->kafka_bootstrap.empty() ? ("embedded log " + config->store_dir).c_str()
                                               : ("kafka " + config->kafka_bootstrap).c_str());
  Status status;
  for (;;) {
    bool finished = false;
    status = (*instance)->WaitFor(std::chrono::milliseconds(200), &finished);
    if (finished || g_signal_seen) break;
  }
  (*instance)->Stop();
  if (!status.ok()) {
    std::fprintf(stderr, "jiritsu serve: %s\n", status.ToString().c_str());
    return 3;
  }
  std::fprintf(stderr, "jiritsu serve: stopped\n");
  return 0;
}

struct TokenFlags {
  std::string config;
  std::string subject;
  std::vector<std::string> roles;
  std::vector<std::string> sources;
  std::string kid;
  int64_t ttl_s = 3600;
};

int RunToken(const TokenFlags& flags) {
  Result<service::ServeConfig> config =
      service::LoadServeConfig(flags.config, service::ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "jiritsu token: %s\n", config.status().ToString().c_str());
    return 2;
  }
  const service::JwtKeyConfig* key = nullptr;
  for (const auto& k : config->keys) {
    if (k.algorithm == "HS256" && (flags.kid.empty() || k.kid == flags.kid)) {
      key = &k;
      break;
    }
  }
  if (key == nullptr) {
    std::fprintf(stderr, "jiritsu token: no HS256 key%s in %s\n",
                 flags.kid.empty() ? "" : (" with kid " + flags.kid).c_str(), flags.config.c_str());
    return 2;
  }
  for (const std::string& role : flags.roles) {
    if (service::RoleFromName(role) == 0) {
      std::fprintf(stderr, "jiritsu token: unknown role %s\n", role.c_str());
      return 2;
    }
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  processors::Json claims;
  claims["iss"] = config->issuer;
  claims["aud"] = config->audience;
  claims["sub"] = flags.subject;
  claims["iat"] = now;
  claims["exp"] = now + flags.ttl_s;
  claims["roles"] = processors::Json(processors::Json::Array(flags.roles.begin(), flags.roles.end()));
  if (!flags.sources.empty()) {
    claims["sources"] =
        processors::Json(processors::Json::Array(flags.sources.begin(), flags.sources.end()));
  }
  std::printf("%s\n", service::SignHs256(claims.Dump(), key->secret, key->kid).c_str());
  return 0;
}

}  // namespace

Command AddServeCommand(CLI::App& root) {
  auto config = std::make_shared<std::string>();
  Command command;
  command.app = root.add_subcommand(
      "serve", "Run the projection processors and the HTTP API (ingestion, queries, metrics)");
  command.app->add_option("--config", *config, "TOML configuration (docs/configuration.md)")
      ->required();
  command.run = [config] { return RunServe(*config); };
  return command;
}

Command AddTokenCommand(CLI::App& root) {
  auto flags = std::make_shared<TokenFlags>();
  Command command;
  command.app = root.add_subcommand(
      "token", "Development: print an HS256 JWT signed with a key of a serve configuration");
  CLI::App* app = command.app;
  app->add_option("--config", flags->config, "The serve configuration (its [auth] keys)")->required();
  app->add_option("--sub", flags->subject, "Subject: the employee id, or a client name")->required();
  app->add_option("--role", flags->roles, "Role(s): source employee manager hr auditor ops")
      ->required();
  app->add_option("--source", flags->sources, "CloudEvents source(s) a source may send (\"/a/*\" prefix)");
  app->add_option("--kid", flags->kid, "Use the HS256 key with this kid");
  app->add_option("--ttl", flags->ttl_s, "Lifetime in seconds")->capture_default_str();
  command.run = [flags] { return RunToken(*flags); };
  return command;
}

}  // namespace jiritsu
