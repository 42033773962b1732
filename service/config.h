// ServeConfig: the configuration of `jiritsu serve`, read from a TOML file
// and overridden by environment variables. Every option is documented in
// docs/configuration.md (keep the two in sync: the table in config.cc is the
// single list of scalar options).
//
// Environment rule: each scalar option `key` of section `[section]` can be
// overridden by JIRITSU_SERVE_<SECTION>_<KEY> (upper case, dots and dashes
// as '_'), e.g. [server] port -> JIRITSU_SERVE_SERVER_PORT. List options
// take a comma-separated value. The environment wins over the file. Keys and
// secrets in arrays of tables ([[auth.keys]], [[auth.service_credentials]])
// are not overridable one by one; their secrets can come from a named
// variable (`secret_env`) or a file (`secret_file`) instead.
//
// Validation is strict: an unknown section or key, a value of the wrong
// type or out of range, a missing key file: kInvalidArgument naming the key
// ("[server] port: must be 0..65535, got 70000").
//
// Thread-safety: a plain value. Failure: see above; a missing or unreadable
// file -> kNotFound / kIOError.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "processors/options.h"
#include "xapi/mapping.h"

namespace jiritsu::service {

struct JwtKeyConfig {
  std::string kid;        // matched against the token header's kid (optional)
  std::string algorithm;  // "HS256" | "RS256": the only algorithm this key accepts
  std::string secret;     // HS256: the shared secret (>= 32 bytes), resolved
  std::string public_key_pem;  // RS256: the PEM public key, resolved
};

struct ServiceCredentialConfig {
  std::string name;          // shown in logs; the Basic-auth user name
  std::vector<std::string> sources;  // CloudEvents sources it may send ("/a/b" or "/a/*")
  std::string token_sha256;  // lower-case hex SHA-256 of the token
};

// An LRS client of the xAPI endpoints ([[xapi.clients]]): HTTP Basic
// name:password, role `source`, sending learning events as `source`.
struct XapiClientConfig {
  std::string name;
  std::string source;  // CloudEvents source of the learning events it produces
  // PBKDF2-HMAC-SHA256: iterations, salt and derived key (32 bytes), from
  // "pbkdf2-sha256$<iterations>$<salt hex>$<key hex>" (docs/configuration.md).
  int iterations = 0;
  std::string salt;
  std::string derived_key;
};

struct ServeConfig {
  // [server]
  std::string listen_address = "127.0.0.1";
  int port = 8080;  // 0: any free port (tests)
  int threads = 8;
  int64_t max_pending_connections = 1024;  // accepted, waiting for a worker
  int64_t max_body_bytes = 4 << 20;
  int read_timeout_s = 10;
  int write_timeout_s = 10;
  std::string static_dir;  // served at / when set (the dashboard)

  // [log]
  std::string store_dir = "./jiritsu-data";
  std::string kafka_bootstrap;
  std::vector<std::string> kafka_properties;  // "key=value"
  std::string kafka_topic_prefix;  // KafkaLogOptions::topic_prefix
  int partitions = 8;
  std::string state_dir;
  // Employee key store (personal data encryption); empty: <store_dir>/keys,
  // or ./jiritsu-keys with Kafka.
  std::string keys_dir;

  // [runtime]
  bool run_projections = true;
  std::string group = "jiritsu-projections";
  int64_t checkpoint_events = 50000;
  int64_t checkpoint_ms = 1000;
  // jiritsu run --facts-interval-ms: the global views (KPIs) follow the
  // employee views within about this interval (0: every checkpoint).
  int64_t facts_interval_ms = 2000;
  // jiritsu run --facts-budget-percent: the share of checkpoint_ms that
  // publishing due facts may take.
  int64_t facts_budget_percent = processors::kDefaultFactsBudgetPercent;
  // jiritsu run --warm-cache-percent: the share of the caches the projector
  // fills from the store when the runtime opens (0: a cold start).
  int64_t warm_cache_percent = processors::kDefaultWarmCachePercent;
  // jiritsu run --no-catch-up-merge when false: a backlog found at an
  // assignment is read as polled instead of merged by event time.
  bool catch_up_merge = true;
  // jiritsu run --no-low-priority-compactions when false: RocksDB's
  // compactions keep the runner's CPU priority.
  bool low_priority_compactions = true;
  // The projection runner's memory budget (jiritsu run --memory-budget-mb).
  int64_t memory_budget_mb = 1024;

  // [ingest]
  int64_t max_batch_events = 1000;
  int64_t max_queued_events = 20000;
  int retry_after_s = 1;
  int64_t flush_timeout_ms = 10000;
  int64_t request_timeout_ms = 30000;
  std::string dedupe_dir;

  // [query]
  int64_t refresh_ms = 1000;
  int64_t default_page_size = 100;
  int64_t max_page_size = 1000;
  std::string as_of_dir;

  // [health]
  int64_t ready_max_lag_events = 10000;
  int64_t stall_after_s = 60;
  int64_t lag_sample_ms = 2000;

  // [auth]
  std::string issuer;
  std::string audience;
  int leeway_s = 30;
  std::vector<JwtKeyConfig> keys;
  std::vector<ServiceCredentialConfig> service_credentials;

  // [xapi] (docs/xapi.md)
  bool xapi_enabled = true;
  std::string xapi_store_dir;  // empty: <store_dir>/xapi-statements (Kafka: ./jiritsu-xapi-statements)
  std::vector<XapiClientConfig> xapi_clients;
  xapi::MappingConfig xapi_mapping;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
EnvLookup ProcessEnvironment();

// Reads `path` (TOML), applies overrides from `env`, resolves key material,
// validates. Relative paths inside the file (key files, directories) are
// taken relative to the working directory.
Result<ServeConfig> LoadServeConfig(const std::string& path, const EnvLookup& env);
// The same from TOML text (tests); `origin` names it in errors.
Result<ServeConfig> ParseServeConfig(const std::string& toml_text, const std::string& origin,
                                     const EnvLookup& env);

// The environment variable overriding [section] key.
std::string EnvNameFor(const std::string& section, const std::string& key);

}  // namespace jiritsu::service
