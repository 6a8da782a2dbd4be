// Writing a file atomically: the bytes go to a new temporary file beside <path> with a unique
// name ("<path>.tmp-<pid>-<n>-<random>", created with O_EXCL), which is flushed to disk (fsync)
// and then renamed over <path>, so a crash or a full disk never leaves a half-written weight file.
#pragma once

#include <cstddef>
#include <string>

namespace busi::weights {

// Usage: AtomicFile f(path); f.write(...); ...; f.commit();
// If commit() is never reached or fails (an exception), the destructor removes the temporary
// file and <path> keeps its previous contents. Two AtomicFiles of one path never share a
// temporary file, and an existing file or symlink at a temporary name is never opened.
// Errors throw busi::Error naming the file and the reason.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* bytes, size_t count);
  // fsync, close, rename onto the final path, then fsync the directory so the rename persists.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace busi::weights
