// AtomicFile (atomic_file.h) on POSIX: a new, uniquely named temporary file in the destination's
// directory (O_CREAT | O_EXCL), write, fsync, rename over the destination, fsync the directory.
#include "weights/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "engine/kill_point.h"
#include "kernels/common/error.h"

namespace busi::weights {

namespace {

std::string last_error() { return std::strerror(errno); }

// "<path>.tmp-<pid>-<n>-<random hex>": in the same directory as <path>, so that the final rename
// stays within one file system (and is therefore atomic), and different for every AtomicFile,
// so two writers of the same path (two runs, two threads) never share a temporary file.
std::string temp_name_for(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ".tmp-%ld-%llu-%08llx", static_cast<long>(::getpid()),
                static_cast<unsigned long long>(counter++),
                static_cast<unsigned long long>(random() & 0xFFFFFFFFu));
  return path + suffix;
}

// Creates and opens a temporary file that did not exist before: O_EXCL fails if the name is
// taken (by a file, or by a symlink planted there, which O_CREAT | O_EXCL never follows; O_NOFOLLOW
// says so explicitly), so this never truncates or writes through someone else's file. A taken
// name is retried with a fresh one, as mkstemp does. Mode 0644 minus the umask, as for any new
// file (mkstemp itself would make it 0600).
int create_unique_temp(const std::string& path, std::string& temp_path) {
  constexpr int kAttempts = 100;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    temp_path = temp_name_for(path);
    const int fd =
        ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  fd_ = create_unique_temp(path_, temp_path_);
  BUSI_CHECK(fd_ >= 0, "cannot write '", path_, "': cannot create the temporary file '", temp_path_,
             "': ", last_error());
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(temp_path_.c_str());  // ours alone (created with O_EXCL), so safe to remove
}

void AtomicFile::write(const void* bytes, size_t count) {
  BUSI_CHECK(fd_ >= 0 && !committed_, "cannot write '", path_, "': file already committed");
  auto write_all = [&](const char* p, size_t n) {
    while (n > 0) {
      const ssize_t done = ::write(fd_, p, n);
      if (done < 0 && errno == EINTR) continue;  // interrupted by a signal before writing: retry
      BUSI_CHECK(done > 0, "cannot write '", temp_path_, "': ", last_error());
      p += done;
      n -= static_cast<size_t>(done);
    }
  };
  // Half, then the crash-safety tests' kill point (engine/kill_point.h), then the rest.
  const char* p = static_cast<const char*>(bytes);
  write_all(p, count / 2);
  kill_point("write:" + std::filesystem::path(path_).filename().string());
  write_all(p + count / 2, count - count / 2);
}

void AtomicFile::commit() {
  BUSI_CHECK(fd_ >= 0 && !committed_, "cannot write '", path_, "': file already committed");
  // The data must be on disk before the rename makes it visible under the final name.
  BUSI_CHECK(::fsync(fd_) == 0, "cannot write '", temp_path_, "': fsync failed: ", last_error());
  const int close_result = ::close(fd_);
  fd_ = -1;
  BUSI_CHECK(close_result == 0, "cannot write '", temp_path_, "': close failed: ", last_error());
  BUSI_CHECK(std::rename(temp_path_.c_str(), path_.c_str()) == 0, "cannot write '", path_,
             "': renaming '", temp_path_, "' onto it failed: ", last_error());
  committed_ = true;
  // Persist the directory entry too (best effort: some file systems refuse fsync on a dir).
  std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace busi::weights
