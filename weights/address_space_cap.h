// A scoped cap on how much more memory the process may map, for a third-party parser that
// sizes its allocations from the file before checking them (libhdf5: a corrupt superblock can
// make H5Fopen realloc 4 GiB and zero it, found by fuzz/fuzz_keras_h5).
#pragma once

#include <cstddef>

namespace busi::weights {

// While alive, the process's address space (RLIMIT_AS) may grow by at most `extra_bytes`
// beyond what is mapped at construction; an allocation past that fails (malloc returns null),
// and the library reports it as an error instead of taking the machine's memory. The previous
// limit comes back at destruction. The cap is process-wide: hold it only around single-threaded
// work. Where the limit cannot be read or set (not Linux, /proc unreadable), it does nothing,
// and active() says so.
class AddressSpaceCap {
 public:
  explicit AddressSpaceCap(std::size_t extra_bytes);
  ~AddressSpaceCap();
  AddressSpaceCap(const AddressSpaceCap&) = delete;
  AddressSpaceCap& operator=(const AddressSpaceCap&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;
  unsigned long long previous_soft_ = 0;  // rlim_t, kept without <sys/resource.h> here
};

}  // namespace busi::weights
