// Kill points (kill_point.h): BUSI_KILL_AT is read once; every call compares its name and counts.
#include "engine/kill_point.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

namespace busi {

namespace {

struct Target {
  std::string name;  // empty: no kill point armed
  long long at = 0;  // the call that kills
};

const Target& target() {
  static const Target t = [] {
    Target parsed;
    const char* text = std::getenv("BUSI_KILL_AT");
    if (!text) return parsed;
    const std::string spec = text;
    const size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0) return parsed;
    parsed.at = std::atoll(spec.c_str() + colon + 1);
    if (parsed.at >= 1) parsed.name = spec.substr(0, colon);
    return parsed;
  }();
  return t;
}

}  // namespace

void kill_point(std::string_view name) {
  const Target& t = target();
  if (t.name.empty() || name != t.name) return;
  static std::atomic<long long> calls{0};
  if (++calls == t.at) std::raise(SIGKILL);
}

}  // namespace busi
