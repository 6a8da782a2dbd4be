// What every fuzz target shares: the fuzzer's bytes as a file (most parsers read files, and the
// file path is the path users take), and the rule that a parser may refuse its input only with
// busi::Error. Any other exception (std::bad_alloc, std::out_of_range ...) escapes and the
// fuzzer reports it: an unchecked size or index is a finding, like a crash or a hang.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace busi::fuzz {

// A file of this process in /dev/shm (or /tmp) holding `data`, rewritten for every input.
inline const std::string& input_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string path = std::string(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") +
                                  "/busi-fuzz-" + std::to_string(getpid()) + suffix;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

inline std::vector<uint8_t> bytes(const uint8_t* data, size_t size) {
  return std::vector<uint8_t>(data, data + size);
}

}  // namespace busi::fuzz
