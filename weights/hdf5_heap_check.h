// A check of an HDF5 file's bytes that runs before libhdf5 opens it: the free lists of its local
// heaps must end. libhdf5 1.10 follows a free list without noticing a loop and allocates a node
// at each step, so a corrupt 22 KB file made it take gigabytes (found by fuzz/fuzz_keras_h5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace busi::weights {

// What the check found wrong, with the byte offset of the local heap ("HEAP" signature) in the
// file, or nothing.
struct HeapProblem {
  std::uint64_t heap_offset = 0;
  std::string problem;  // "its free list loops back to offset 48 of its 88-byte data segment"
};

// Scans the HDF5 file at `path` for local heaps (the version-0 "HEAP" blocks that hold a group's
// link names) and follows each one's free list exactly as libhdf5 does, stopping where libhdf5
// would stop with an error. Returns the first heap whose list comes back to a block it has
// already visited, or that has more free blocks than any real file (over a million in all).
// Returns nothing for a file that is not HDF5 or cannot be read: libhdf5 then reports that.
std::optional<HeapProblem> find_looping_local_heap(const std::string& path);

}  // namespace busi::weights
