#include "tests/testing/kafka_namespace.h"

#include <unistd.h>

#include <cstdlib>
#include <random>

namespace jiritsu::testing {

std::string RealBrokerBootstrap() {
  const char* bootstrap = std::getenv("JIRITSU_KAFKA_BOOTSTRAP");
  return bootstrap == nullptr ? "" : bootstrap;
}

std::string FreshTopicPrefix(std::string_view stem) {
  std::random_device random;
  return "jiritsu-test-" + std::string(stem) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(random()) + ".";
}

}  // namespace jiritsu::testing
