// Helpers shared by the weight-file tests: a temporary directory removed at the end, writing
// raw bytes, building safetensors bytes by hand (to make corrupt files on purpose), listing a
// directory.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace busi::testing {

// A fresh directory, deleted with everything in it when destroyed. It lives in /dev/shm when
// that exists (memory: the fuzz loop rewrites a file thousands of times, which takes seconds
// on some disks), else in the system temp dir.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::error_code ec;
    const std::filesystem::path base =
        std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
            ? std::filesystem::path("/dev/shm")
            : std::filesystem::temp_directory_path();
    path_ = base / ("busi-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The path of build/tools/NAME, or "" (and a MESSAGE saying so) when it was not built.
inline std::string built_tool(const std::string& name) {
  const std::string tool = std::string(BUSI_BINARY_DIR) + "/tools/" + name;
  if (std::filesystem::exists(tool)) return tool;
  MESSAGE("skipping: " << tool << " not built");
  return "";
}

// Runs a shell command with its output (stdout and stderr) in `log`; returns its exit status.
inline int run_logged(const std::string& command, const std::string& log) {
  return WEXITSTATUS(std::system((command + " > '" + log + "' 2>&1").c_str()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The 8-byte little-endian length prefix of the format.
inline std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

// A file made of a header `json` (used verbatim) and `data_bytes` bytes of data.
inline std::string safetensors_bytes(const std::string& json, const std::string& data) {
  return u64_le(json.size()) + json + data;
}

// `n` float32 values as little-endian bytes.
inline std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

// The names of the entries of `dir`, sorted (to check that no temporary file is left behind).
inline std::vector<std::string> file_names_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// True when python3 can be run (tests that use it skip with a message otherwise).
inline bool python3_available() { return std::system("python3 -c pass > /dev/null 2>&1") == 0; }

}  // namespace busi::testing
