// The report builder's own environment (see environment.h).
#include "tools/report/environment.h"

#include <sys/utsname.h>

#include <ctime>
#include <fstream>
#include <thread>

namespace busi::tools {

namespace {

std::string read_cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

ReportEnvironment current_environment() {
  ReportEnvironment env;
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M %Z", &local);
  env.generated_at = date;
#if defined(__clang__)
  env.compiler = std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
  env.compiler = std::string("GCC ") + __VERSION__;
#else
  env.compiler = "unknown compiler";
#endif
  env.host =
      read_cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " threads";
  utsname system{};
  if (uname(&system) == 0)
    env.host += ", " + std::string(system.sysname) + " " + std::string(system.release);
  return env;
}

}  // namespace busi::tools
