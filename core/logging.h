// One named spdlog logger per module ("runtime", "kafka", "replay", ...),
// all writing to stderr so stdout stays machine-readable (JSON reports).
//
// Thread-safety: spdlog loggers are thread-safe; creation is serialized here.
// Level: JIRITSU_LOG_LEVEL (trace|debug|info|warn|error|off), default info.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace jiritsu {

std::shared_ptr<spdlog::logger> ModuleLogger(const std::string& module);

}  // namespace jiritsu
