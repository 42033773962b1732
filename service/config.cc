#include "service/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <variant>

namespace jiritsu::service {
namespace {

// One scalar option: where it lives and how to check it.
struct Option {
  const char* section;
  const char* key;
  std::variant<std::string*, int*, int64_t*, bool*, std::vector<std::string>*> target;
  int64_t min = 0;
  int64_t max = 0;  // min == max == 0: no range check
};

std::vector<Option> OptionsOf(ServeConfig* c) {
  return {
      {"server", "listen_address", &c->listen_address},
      {"server", "port", &c->port, 0, 65535},
      {"server", "threads", &c->threads, 1, 1024},
      {"server", "max_pending_connections", &c->max_pending_connections, 1, 1'000'000},
      {"server", "max_body_bytes", &c->max_body_bytes, 1024, int64_t{1} << 30},
      {"server", "read_timeout_s", &c->read_timeout_s, 1, 3600},
      {"server", "write_timeout_s", &c->write_timeout_s, 1, 3600},
      {"server", "static_dir", &c->static_dir},
      {"log", "store_dir", &c->store_dir},
      {"log", "kafka_bootstrap", &c->kafka_bootstrap},
      {"log", "kafka_topic_prefix", &c->kafka_topic_prefix},
      {"log", "kafka_properties", &c->kafka_properties},
      {"log", "partitions", &c->partitions, 1, 4096},
      {"log", "state_dir", &c->state_dir},
      {"log", "keys_dir", &c->keys_dir},
      {"runtime", "run_projections", &c->run_projections},
      {"runtime", "catch_up_merge", &c->catch_up_merge},
      {"runtime", "low_priority_compactions", &c->low_priority_compactions},
      {"runtime", "group", &c->group},
      {"runtime", "checkpoint_events", &c->checkpoint_events, 1, 100'000'000},
      {"runtime", "checkpoint_ms", &c->checkpoint_ms, 1, 3'600'000},
      {"runtime", "facts_interval_ms", &c->facts_interval_ms, 0, 3'600'000},
      {"runtime", "facts_budget_percent", &c->facts_budget_percent, 1, 100},
      {"runtime", "warm_cache_percent", &c->warm_cache_percent, 0, 100},
      {"runtime", "memory_budget_mb", &c->memory_budget_mb, 4, int64_t{1} << 20},
      {"ingest", "max_batch_events", &c->max_batch_events, 1, 1'000'000},
      {"ingest", "max_queued_events", &c->max_queued_events, 1, 100'000'000},
      {"ingest", "retry_after_s", &c->retry_after_s, 1, 3600},
      {"ingest", "flush_timeout_ms", &c->flush_timeout_ms, 1, 3'600'000},
      {"ingest", "request_timeout_ms", &c->request_timeout_ms, 1, 3'600'000},
      {"ingest", "dedupe_dir", &c->dedupe_dir},
      {"query", "refresh_ms", &c->refresh_ms, 0, 3'600'000},
      {"query", "default_page_size", &c->default_page_size, 1, 100'000},
      {"query", "max_page_size", &c->max_page_size, 1, 100'000},
      {"query", "as_of_dir", &c->as_of_dir},
      {"health", "ready_max_lag_events", &c->ready_max_lag_events, 0, int64_t{1} << 50},
      {"health", "stall_after_s", &c->stall_after_s, 1, 86'400},
      {"health", "lag_sample_ms", &c->lag_sample_ms, 100, 3'600'000},
      {"auth", "issuer", &c->issuer},
      {"auth", "audience", &c->audience},
      {"auth", "leeway_s", &c->leeway_s, 0, 600},
      {"xapi", "enabled", &c->xapi_enabled},
      {"xapi", "store_dir", &c->xapi_store_dir},
      {"xapi", "account_home_pages", &c->xapi_mapping.account_home_pages},
      {"xapi", "mbox_domains", &c->xapi_mapping.mbox_domains},
      {"xapi", "course_id_prefixes", &c->xapi_mapping.course_id_prefixes},
  };
}

std::string Where(const char* section, const char* key) {
  return std::string("[") + section + "] " + key;
}

Status RangeCheck(const Option& option, int64_t value) {
  if (option.min == 0 && option.max == 0) return Status::Ok();
  if (value < option.min || value > option.max) {
    return InvalidArgument(Where(option.section, option.key) + ": must be " +
                           std::to_string(option.min) + ".." + std::to_string(option.max) +
                           ", got " + std::to_string(value));
  }
  return Status::Ok();
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    out.push_back(item.substr(first, item.find_last_not_of(" \t") - first + 1));
  }
  return out;
}

Status SetFromNode(const Option& option, const toml::node& node) {
  const std::string where = Where(option.section, option.key);
  return std::visit(
      [&](auto* target) -> Status {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!node.is_string()) return InvalidArgument(where + ": must be a string");
          *target = *node.value<std::string>();
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!node.is_boolean()) return InvalidArgument(where + ": must be true or false");
          *target = *node.value<bool>();
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          const toml::array* array = node.as_array();
          if (array == nullptr) return InvalidArgument(where + ": must be an array of strings");
          target->clear();
          for (const toml::node& item : *array) {
            if (!item.is_string()) return InvalidArgument(where + ": must be an array of strings");
            target->push_back(*item.value<std::string>());
          }
        } else {
          if (!node.is_integer()) return InvalidArgument(where + ": must be an integer");
          const int64_t value = *node.value<int64_t>();
          JIRITSU_RETURN_IF_ERROR(RangeCheck(option, value));
          *target = static_cast<T>(value);
        }
        return Status::Ok();
      },
      option.target);
}

Status SetFromEnv(const Option& option, const std::string& name, const std::string& text) {
  const std::string where = name + " (" + Where(option.section, option.key) + ")";
  return std::visit(
      [&](auto* target) -> Status {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, std::string>) {
          *target = text;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (text == "true" || text == "1") *target = true;
          else if (text == "false" || text == "0") *target = false;
          else return InvalidArgument(where + ": must be true|false|1|0, got \"" + text + "\"");
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          *target = SplitComma(text);
        } else {
          char* end = nullptr;
          errno = 0;
          const long long value = std::strtoll(text.c_str(), &end, 10);
          if (text.empty() || *end != '\0' || errno != 0) {
            return InvalidArgument(where + ": must be an integer, got \"" + text + "\"");
          }
          JIRITSU_RETURN_IF_ERROR(RangeCheck(option, value));
          *target = static_cast<T>(value);
        }
        return Status::Ok();
      },
      option.target);
}

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(what + ": cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Result<std::string> StringField(const toml::table& table, const std::string& where,
                                const char* key, bool required) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    if (required) return InvalidArgument(where + ": " + key + " is required");
    return std::string();
  }
  if (!node->is_string()) return InvalidArgument(where + ": " + key + " must be a string");
  return *node->value<std::string>();
}

Status CheckKeys(const toml::table& table, const std::string& where,
                 std::initializer_list<const char*> known) {
  for (const auto& [key, value] : table) {
    if (std::find_if(known.begin(), known.end(),
                     [&](const char* k) { return key.str() == k; }) == known.end()) {
      return InvalidArgument(where + ": unknown key \"" + std::string(key.str()) + "\"");
    }
  }
  return Status::Ok();
}

Result<JwtKeyConfig> ParseKey(const toml::table& table, size_t index, const EnvLookup& env) {
  const std::string where = "[[auth.keys]] #" + std::to_string(index + 1);
  JIRITSU_RETURN_IF_ERROR(CheckKeys(
      table, where, {"kid", "algorithm", "secret", "secret_env", "secret_file", "public_key_file"}));
  JwtKeyConfig key;
  JIRITSU_ASSIGN_OR_RETURN(key.kid, StringField(table, where, "kid", false));
  JIRITSU_ASSIGN_OR_RETURN(key.algorithm, StringField(table, where, "algorithm", true));
  JIRITSU_ASSIGN_OR_RETURN(std::string secret, StringField(table, where, "secret", false));
  JIRITSU_ASSIGN_OR_RETURN(std::string secret_env, StringField(table, where, "secret_env", false));
  JIRITSU_ASSIGN_OR_RETURN(std::string secret_file, StringField(table, where, "secret_file", false));
  JIRITSU_ASSIGN_OR_RETURN(std::string public_key_file,
                           StringField(table, where, "public_key_file", false));
  if (key.algorithm == "HS256") {
    const int sources = !secret.empty() + !secret_env.empty() + !secret_file.empty();
    if (sources != 1 || !public_key_file.empty()) {
      return InvalidArgument(where + ": HS256 needs exactly one of secret, secret_env, secret_file");
    }
    if (!secret_env.empty()) {
      std::optional<std::string> value = env(secret_env);
      if (!value) return InvalidArgument(where + ": environment variable " + secret_env + " is not set");
      secret = *value;
    } else if (!secret_file.empty()) {
      JIRITSU_ASSIGN_OR_RETURN(secret, ReadFile(secret_file, where + " secret_file"));
      while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    }
    if (secret.size() < 32) {
      return InvalidArgument(where + ": the HS256 secret must be at least 32 bytes, got " +
                             std::to_string(secret.size()));
    }
    key.secret = secret;
  } else if (key.algorithm == "RS256") {
    if (public_key_file.empty() || !secret.empty() || !secret_env.empty() || !secret_file.empty()) {
      return InvalidArgument(where + ": RS256 needs public_key_file (and no secret)");
    }
    JIRITSU_ASSIGN_OR_RETURN(key.public_key_pem, ReadFile(public_key_file, where + " public_key_file"));
  } else {
    return InvalidArgument(where + ": algorithm must be \"HS256\" or \"RS256\", got \"" +
                           key.algorithm + "\"");
  }
  return key;
}

bool IsLowerHex64(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Result<ServiceCredentialConfig> ParseCredential(const toml::table& table, size_t index) {
  const std::string where = "[[auth.service_credentials]] #" + std::to_string(index + 1);
  JIRITSU_RETURN_IF_ERROR(CheckKeys(table, where, {"name", "sources", "token_sha256"}));
  ServiceCredentialConfig credential;
  JIRITSU_ASSIGN_OR_RETURN(credential.name, StringField(table, where, "name", true));
  JIRITSU_ASSIGN_OR_RETURN(credential.token_sha256, StringField(table, where, "token_sha256", true));
  if (!IsLowerHex64(credential.token_sha256)) {
    return InvalidArgument(where + ": token_sha256 must be 64 lower-case hex digits");
  }
  if (credential.name.empty() || credential.name.find(':') != std::string::npos) {
    return InvalidArgument(where + ": name must be non-empty and without ':'");
  }
  const toml::node* sources = table.get("sources");
  const toml::array* array = sources ? sources->as_array() : nullptr;
  if (array == nullptr || array->empty()) {
    return InvalidArgument(where + ": sources must be a non-empty array of strings");
  }
  for (const toml::node& item : *array) {
    if (!item.is_string()) return InvalidArgument(where + ": sources must be strings");
    credential.sources.push_back(*item.value<std::string>());
  }
  return credential;
}

bool IsHex(const std::string& text) {
  return !text.empty() && text.size() % 2 == 0 && std::all_of(text.begin(), text.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

std::string HexToBytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

// "pbkdf2-sha256$<iterations>$<salt hex>$<key hex>"; the hex may be upper
// case and colon-separated (the output of `openssl kdf`).
Status ParsePasswordHash(const std::string& where, std::string text, XapiClientConfig* client) {
  const std::string usage = where + ": password_hash must be \"pbkdf2-sha256$<iterations>$<salt hex>$<key hex>\" "
                            "(docs/configuration.md shows the openssl command)";
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t dollar = text.find('$', start);
    parts.push_back(text.substr(start, dollar == std::string::npos ? std::string::npos : dollar - start));
    if (dollar == std::string::npos) break;
    start = dollar + 1;
  }
  if (parts.size() != 4 || parts[0] != "pbkdf2-sha256") return InvalidArgument(usage);
  char* end = nullptr;
  const long long iterations = std::strtoll(parts[1].c_str(), &end, 10);
  if (parts[1].empty() || *end != '\0' || iterations < 1000 || iterations > 10'000'000) {
    return InvalidArgument(where + ": password_hash iterations must be 1000..10000000");
  }
  for (std::string* hex : {&parts[2], &parts[3]}) {
    hex->erase(std::remove(hex->begin(), hex->end(), ':'), hex->end());
    for (char& c : *hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!IsHex(*hex)) return InvalidArgument(usage);
  }
  if (parts[2].size() < 16) return InvalidArgument(where + ": password_hash salt must be at least 8 bytes");
  if (parts[3].size() != 64) return InvalidArgument(where + ": password_hash key must be 32 bytes (SHA-256)");
  client->iterations = static_cast<int>(iterations);
  client->salt = HexToBytes(parts[2]);
  client->derived_key = HexToBytes(parts[3]);
  return Status::Ok();
}

Status ParseXapiTables(const toml::table& root, const EnvLookup& env, ServeConfig* config) {
  auto tables = [&](const char* key, const std::function<Status(const toml::table&, const std::string&)>& each)
      -> Status {
    const toml::node* node = root.at_path(std::string("xapi.") + key).node();
    if (node == nullptr) return Status::Ok();
    const toml::array* array = node->as_array();
    if (array == nullptr) return InvalidArgument(std::string("[xapi] ") + key + " must be an array of tables");
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table* table = (*array)[i].as_table();
      const std::string where = std::string("[[xapi.") + key + "]] #" + std::to_string(i + 1);
      if (table == nullptr) return InvalidArgument(where + " must be a table");
      JIRITSU_RETURN_IF_ERROR(each(*table, where));
    }
    return Status::Ok();
  };
  JIRITSU_RETURN_IF_ERROR(tables("clients", [&](const toml::table& t, const std::string& where) -> Status {
    JIRITSU_RETURN_IF_ERROR(CheckKeys(t, where, {"name", "source", "password_hash", "password_hash_env"}));
    XapiClientConfig client;
    JIRITSU_ASSIGN_OR_RETURN(client.name, StringField(t, where, "name", true));
    JIRITSU_ASSIGN_OR_RETURN(client.source, StringField(t, where, "source", true));
    JIRITSU_ASSIGN_OR_RETURN(std::string hash, StringField(t, where, "password_hash", false));
    JIRITSU_ASSIGN_OR_RETURN(std::string hash_env, StringField(t, where, "password_hash_env", false));
    if (hash.empty() == hash_env.empty()) {
      return InvalidArgument(where + ": exactly one of password_hash, password_hash_env is required");
    }
    if (!hash_env.empty()) {
      std::optional<std::string> value = env(hash_env);
      if (!value) return InvalidArgument(where + ": environment variable " + hash_env + " is not set");
      hash = *value;
    }
    if (client.name.empty() || client.name.find(':') != std::string::npos) {
      return InvalidArgument(where + ": name must be non-empty and without ':'");
    }
    if (client.source.empty() || client.source.find_first_of(" \t\"\\") != std::string::npos) {
      return InvalidArgument(where + ": source must be a CloudEvents source such as \"/lms/moodle\"");
    }
    for (const XapiClientConfig& other : config->xapi_clients) {
      if (other.name == client.name) return InvalidArgument(where + ": duplicate client name \"" + client.name + "\"");
    }
    JIRITSU_RETURN_IF_ERROR(ParsePasswordHash(where, hash, &client));
    config->xapi_clients.push_back(std::move(client));
    return Status::Ok();
  }));
  JIRITSU_RETURN_IF_ERROR(tables("actors", [&](const toml::table& t, const std::string& where) -> Status {
    JIRITSU_RETURN_IF_ERROR(CheckKeys(t, where, {"mbox", "account_home_page", "account_name", "employee"}));
    xapi::ActorRule rule;
    JIRITSU_ASSIGN_OR_RETURN(rule.mbox, StringField(t, where, "mbox", false));
    JIRITSU_ASSIGN_OR_RETURN(rule.account_home_page, StringField(t, where, "account_home_page", false));
    JIRITSU_ASSIGN_OR_RETURN(rule.account_name, StringField(t, where, "account_name", false));
    JIRITSU_ASSIGN_OR_RETURN(rule.employee, StringField(t, where, "employee", true));
    const bool by_mbox = !rule.mbox.empty();
    const bool by_account = !rule.account_home_page.empty() || !rule.account_name.empty();
    if (by_mbox == by_account || (by_account && (rule.account_home_page.empty() || rule.account_name.empty()))) {
      return InvalidArgument(where + ": give either mbox, or account_home_page and account_name");
    }
    if (by_mbox && !rule.mbox.starts_with("mailto:")) return InvalidArgument(where + ": mbox must start with mailto:");
    config->xapi_mapping.actors.push_back(std::move(rule));
    return Status::Ok();
  }));
  return tables("activities", [&](const toml::table& t, const std::string& where) -> Status {
    JIRITSU_RETURN_IF_ERROR(CheckKeys(t, where, {"activity_id", "course_id"}));
    xapi::ActivityRule rule;
    JIRITSU_ASSIGN_OR_RETURN(rule.activity_id, StringField(t, where, "activity_id", true));
    JIRITSU_ASSIGN_OR_RETURN(rule.course_id, StringField(t, where, "course_id", true));
    config->xapi_mapping.activities.push_back(std::move(rule));
    return Status::Ok();
  });
}

Result<ServeConfig> Build(const toml::table& root, const EnvLookup& env) {
  ServeConfig config;
  std::vector<Option> options = OptionsOf(&config);
  std::map<std::string, std::vector<std::string>> known;
  for (const Option& o : options) known[o.section].push_back(o.key);
  known["auth"].push_back("keys");
  known["auth"].push_back("service_credentials");
  for (const char* table : {"clients", "actors", "activities"}) known["xapi"].push_back(table);

  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    auto it = known.find(section);
    if (it == known.end()) return InvalidArgument("unknown section [" + section + "]");
    const toml::table* table = section_node.as_table();
    if (table == nullptr) return InvalidArgument("[" + section + "] must be a table");
    for (const auto& [key, node] : *table) {
      if (std::find(it->second.begin(), it->second.end(), key.str()) == it->second.end()) {
        return InvalidArgument("[" + section + "]: unknown key \"" + std::string(key.str()) + "\"");
      }
    }
  }
  for (const Option& option : options) {
    const toml::node* node = root.at_path(std::string(option.section) + "." + option.key).node();
    if (node != nullptr) JIRITSU_RETURN_IF_ERROR(SetFromNode(option, *node));
    const std::string name = EnvNameFor(option.section, option.key);
    if (std::optional<std::string> value = env(name)) {
      JIRITSU_RETURN_IF_ERROR(SetFromEnv(option, name, *value));
    }
  }
  if (const toml::node* keys = root.at_path("auth.keys").node()) {
    const toml::array* array = keys->as_array();
    if (array == nullptr) return InvalidArgument("[auth] keys must be an array of tables");
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table* table = (*array)[i].as_table();
      if (table == nullptr) return InvalidArgument("[[auth.keys]] must be tables");
      JIRITSU_ASSIGN_OR_RETURN(JwtKeyConfig key, ParseKey(*table, i, env));
      config.keys.push_back(std::move(key));
    }
  }
  if (const toml::node* credentials = root.at_path("auth.service_credentials").node()) {
    const toml::array* array = credentials->as_array();
    if (array == nullptr) return InvalidArgument("[auth] service_credentials must be an array of tables");
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table* table = (*array)[i].as_table();
      if (table == nullptr) return InvalidArgument("[[auth.service_credentials]] must be tables");
      JIRITSU_ASSIGN_OR_RETURN(ServiceCredentialConfig credential, ParseCredential(*table, i));
      config.service_credentials.push_back(std::move(credential));
    }
  }
  JIRITSU_RETURN_IF_ERROR(ParseXapiTables(root, env, &config));
  // Cross-field checks.
  if (config.keys.empty() && config.service_credentials.empty() && config.xapi_clients.empty()) {
    return InvalidArgument("[auth]: configure at least one key ([[auth.keys]]) or service credential");
  }
  if (!config.keys.empty() && (config.issuer.empty() || config.audience.empty())) {
    return InvalidArgument("[auth]: issuer and audience are required when keys are configured");
  }
  if (config.default_page_size > config.max_page_size) {
    return InvalidArgument("[query] default_page_size: must not exceed max_page_size");
  }
  if (config.max_batch_events > config.max_queued_events) {
    return InvalidArgument("[ingest] max_batch_events: must not exceed max_queued_events");
  }
  return config;
}

}  // namespace

std::string EnvNameFor(const std::string& section, const std::string& key) {
  std::string name = "JIRITSU_SERVE_" + section + "_" + key;
  for (char& c : name) {
    c = (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<ServeConfig> ParseServeConfig(const std::string& toml_text, const std::string& origin,
                                     const EnvLookup& env) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    return InvalidArgument(origin + ":" + std::to_string(where.line) + ":" +
                           std::to_string(where.column) + ": " + std::string(error.description()));
  }
  Result<ServeConfig> config = Build(root, env);
  if (!config.ok()) return config.status().WithContext(origin);
  return config;
}

Result<ServeConfig> LoadServeConfig(const std::string& path, const EnvLookup& env) {
  JIRITSU_ASSIGN_OR_RETURN(std::string text, ReadFile(path, "config"));
  return ParseServeConfig(text, path, env);
}

}  // namespace jiritsu::service
