#include "core/thread_name.h"

#include <pthread.h>

#include <array>

namespace jiritsu {

void NameCurrentThread(std::string_view name) {
#if defined(__linux__)
  const std::string cut(name.substr(0, kMaxThreadNameBytes));
  (void)pthread_setname_np(pthread_self(), cut.c_str());
#else
  (void)name;
#endif
}

std::string CurrentThreadName() {
#if defined(__linux__)
  std::array<char, kMaxThreadNameBytes + 1> buffer{};
  if (pthread_getname_np(pthread_self(), buffer.data(), buffer.size()) != 0) return "";
  return std::string(buffer.data());
#else
  return "";
#endif
}

}  // namespace jiritsu
