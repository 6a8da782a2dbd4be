// Run folders: naming, creation with write check, git commit lookup (see run_dir.h).
#include "tools/run_folder/run_dir.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <omp.h>
#include <unistd.h>

#include "kernels/common/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tools/formats/text_file.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/controls.h"
#endif

namespace busi::tools {

namespace {

std::string format_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, format, &local);
  return buffer;
}

// Quotes a path for the shell: 'it''s' style, so folders with spaces or quotes are safe.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string default_run_dir(const std::string& tool) {
  return "runs/" + tool + "-" + format_now("%Y%m%d-%H%M%S");
}

std::string local_timestamp() { return format_now("%Y-%m-%dT%H:%M:%S"); }

void prepare_run_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string what = "output folder '" + dir + "': ";
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw Error(what + "exists and is not a folder");
  fs::create_directories(dir, ec);
  if (ec) throw Error(what + "cannot create it (" + ec.message() + ")");
  // Permissions alone do not tell (root ignores them, read-only mounts): try a real write.
  const std::string probe = dir + "/.write_test";
  {
    std::ofstream out(probe);
    if (!(out << "ok\n")) throw Error(what + "is not writable (" + std::strerror(errno) + ")");
  }
  fs::remove(probe, ec);
}

std::string git_commit(const std::string& source_dir) {
  const std::string command = "git -C " + shell_quote(source_dir) + " rev-parse HEAD 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "unknown";
  char buffer[128] = {0};
  const bool got_line = std::fgets(buffer, sizeof buffer, pipe) != nullptr;
  const int status = pclose(pipe);
  std::string commit = got_line ? buffer : "";
  while (!commit.empty() && (commit.back() == '\n' || commit.back() == '\r')) commit.pop_back();
  if (status != 0 || commit.size() != 40) return "unknown";
  return commit;
}

namespace {

// The "model name" line of /proc/cpuinfo ("" where there is none).
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "";
}

}  // namespace

Json environment_json(bool on_gpu) {
  Json env = Json::object();
#if defined(__clang__)
  env["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  env["compiler"] = std::string("g++ ") + __VERSION__;
#endif
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) env["host"] = std::string(host);
  env["cpu"] = cpu_model();
  env["omp_threads"] = static_cast<int64_t>(omp_get_max_threads());
  env["cpu_kernels"] = cpu::cpu_kernels_description();  // the GEMM micro-kernels' vector units
#ifdef BUSI_WITH_CUDA
  if (on_gpu) {
    env["gpu_name"] = cuda::device_info().name;
    env["cuda_version"] = cuda::runtime_description();
  }
#else
  (void)on_gpu;
#endif
  return env;
}

void write_config_json(const std::string& dir, const Json& config) {
  write_text_file(dir + "/config.json", config.dump(2) + "\n");
}

}  // namespace busi::tools
