// AtomicFile (atomic_file.h) on POSIX: open/write/fsync/rename.
#include "weights/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace busi::weights {

namespace {
std::string last_error() {
  return std::strerror(errno);
}
}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path), temp_path_(path + ".tmp") {
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  BUSI_CHECK(fd_ >= 0, "cannot write '", path_, "': cannot create the temporary file '", temp_path_,
             "': ", last_error());
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* bytes, size_t count) {
  BUSI_CHECK(fd_ >= 0 && !committed_, "cannot write '", path_, "': file already committed");
  const char* p = static_cast<const char*>(bytes);
  while (count > 0) {
    const ssize_t n = ::write(fd_, p, count);
    if (n < 0 && errno == EINTR) continue;  // interrupted by a signal before writing: retry
    BUSI_CHECK(n > 0, "cannot write '", temp_path_, "': ", last_error());
    p += n;
    count -= static_cast<size_t>(n);
  }
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
