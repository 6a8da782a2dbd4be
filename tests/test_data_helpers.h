// Helpers shared by the data tests: a temporary folder removed at the end, small PNG/JPEG files
// written with stb_image_write (its implementation is private to each test executable), a
// child process without root's privileges (for permission tests, which root would pass), an
// index built in memory, and the message of a busi::Error.
#pragma once

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#include "data/dataset.h"
#include "kernels/common/error.h"

namespace busi::data::testing {

namespace fs = std::filesystem;

// A fresh folder under the system's temporary directory, deleted with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("busi_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

// pixel(y, x, c) -> value; written as (H, W, C) interleaved bytes.
using PixelFunction = std::function<uint8_t(int, int, int)>;

inline std::vector<uint8_t> make_pixels(int height, int width, int channels,
                                        const PixelFunction& pixel) {
  std::vector<uint8_t> bytes(static_cast<size_t>(height) * width * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) bytes[(y * width + x) * channels + c] = pixel(y, x, c);
  return bytes;
}

inline void write_png(const fs::path& path, int height, int width, int channels,
                      const PixelFunction& pixel) {
  fs::create_directories(path.parent_path());
  const std::vector<uint8_t> bytes = make_pixels(height, width, channels, pixel);
  if (!stbi_write_png(path.string().c_str(), width, height, channels, bytes.data(),
                      width * channels))
    throw std::runtime_error("test could not write " + path.string());
}

inline void write_jpeg(const fs::path& path, int height, int width, int channels,
                       const PixelFunction& pixel) {
  fs::create_directories(path.parent_path());
  const std::vector<uint8_t> bytes = make_pixels(height, width, channels, pixel);
  if (!stbi_write_jpg(path.string().c_str(), width, height, channels, bytes.data(), 95))
    throw std::runtime_error("test could not write " + path.string());
}

// A PNG of a constant grey value.
inline void write_flat_png(const fs::path& path, int size, uint8_t value, int channels = 3) {
  write_png(path, size, size, channels, [value](int, int, int) { return value; });
}

inline void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The first half of a valid PNG: a truncated file.
inline void write_truncated_png(const fs::path& path, int size) {
  write_png(path, size, size, 3,
            [](int y, int x, int c) { return static_cast<uint8_t>(x * 7 + y * 3 + c); });
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes.resize(bytes.size() / 2);
  write_bytes(path, bytes);
}

// A PNG whose header claims height x width pixels: a small real PNG (2 x 2 grey) with its IHDR
// rewritten. Its header reads fine; only a decoder that believed it would allocate the pixels.
inline void write_png_claiming(const fs::path& path, uint32_t height, uint32_t width) {
  write_png(path, 2, 2, 1, [](int, int, int) { return uint8_t(0); });
  std::vector<uint8_t> bytes = read_bytes(path);
  // The 8-byte signature, then IHDR: length (4), "IHDR" (4), width (4, big-endian), height (4).
  for (int k = 0; k < 4; ++k) {
    bytes[16 + k] = static_cast<uint8_t>(width >> (24 - 8 * k));
    bytes[20 + k] = static_cast<uint8_t>(height >> (24 - 8 * k));
  }
  write_bytes(path, bytes);
}

// What a child started by run_unprivileged did.
struct ChildResult {
  bool dropped = false;  // false: it could not drop root's privileges (why: in `report`)
  int exit_code = -1;    // its exit status; -1 when a signal killed it
  int signal = 0;        // that signal (SIGABRT: std::terminate was called)
  std::string report;    // what the body wrote to its report
};

// Runs `body` in a forked child process to which file permissions apply. As root, the child
// first drops its supplementary groups, then its group and user ids to 65534 ("nobody"); as
// another user it stays that user. body(report) returns the child's exit status and may fill
// `report`, which comes back to the parent through a pipe.
//
// The child must not use doctest's CHECK macros (their results would stay in the child); it
// ends with _exit, so that no destructor (a TempDir's) or exit handler of the parent runs in it.
// Only the forking thread exists in the child: an OpenMP parallel region there must use one
// thread (libgomp would wait forever for the parent's pool threads).
inline ChildResult run_unprivileged(const std::function<int(std::string& report)>& body) {
  constexpr int kCannotDrop = 99;  // the child's exit status when dropping privileges failed
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed: " + std::string(strerror(errno)));
  std::cout.flush();  // so that buffered output is not written twice, once by the child
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed: " + std::string(strerror(errno)));

  if (pid == 0) {  // the child
    ::close(fds[0]);
    std::string report;
    int status = 0;
    const gid_t nobody_group = 65534;
    const uid_t nobody_user = 65534;
    // Groups first: once the user id is dropped, changing the groups is no longer allowed.
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 ||
                             ::setresgid(nobody_group, nobody_group, nobody_group) != 0 ||
                             ::setresuid(nobody_user, nobody_user, nobody_user) != 0)) {
      report = "cannot drop root's privileges (" + std::string(strerror(errno)) + ")";
      status = kCannotDrop;
    } else {
      try {
        status = body(report);
      } catch (const std::exception& e) {
        report = std::string("exception: ") + e.what();
        status = 98;
      }
    }
    for (size_t done = 0; done < report.size();) {
      const ssize_t wrote = ::write(fds[1], report.data() + done, report.size() - done);
      if (wrote <= 0) break;
      done += static_cast<size_t>(wrote);
    }
    ::_exit(status);
  }

  // The parent: read the report until the child closes the pipe, then collect its status.
  ::close(fds[1]);
  ChildResult result;
  char chunk[4096];
  ssize_t got;
  while ((got = ::read(fds[0], chunk, sizeof(chunk))) > 0)
    result.report.append(chunk, static_cast<size_t>(got));
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.dropped = result.exit_code != kCannotDrop;
  return result;
}

// An index built in memory (splitting never opens the files): counts[c] images of class c,
// "class<c>/img (<i>).png".
inline DatasetIndex make_index(const std::vector<int64_t>& counts) {
  DatasetIndex index;
  index.root = "/nowhere";
  for (size_t c = 0; c < counts.size(); ++c) {
    index.classes.push_back("class" + std::to_string(c));
    for (int64_t i = 0; i < counts[c]; ++i) {
      const std::string relative = index.classes[c] + "/img (" + std::to_string(i) + ").png";
      index.samples.push_back(Sample{"/nowhere/" + relative, relative, static_cast<int64_t>(c)});
    }
  }
  return index;
}

// The message of the busi::Error `action` throws; empty when it throws none.
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const busi::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace busi::data::testing
