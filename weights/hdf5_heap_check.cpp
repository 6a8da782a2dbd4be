// find_looping_local_heap (hdf5_heap_check.h): the superblock's field sizes, a scan of the file
// for "HEAP" signatures, and each local heap's free list followed the way libhdf5 1.10 follows
// it when it first reads the heap (H5HL__fl_deserialize: one allocation per free block, no check
// for a block seen before).
//
// The layouts, from the HDF5 file format specification (all integers little-endian):
//   superblock, at byte 0, 512, 1024, 2048, ...: the 8-byte signature \211 H D F \r \n \032 \n,
//     then the version; the sizes of an offset (O) and of a length (L) are bytes 13 and 14 for
//     versions 0 and 1, bytes 9 and 10 for versions 2 and 3. Addresses count from the
//     superblock (libhdf5 moves the base address there when a user block comes first).
//   local heap: "HEAP", version 0, 3 reserved bytes, the data segment's size (L), the offset of
//     the first free block in the segment (L; 1 means none), the segment's address (O).
//   free block, inside the data segment: the offset of the next free block (L; 1 ends the list),
//     then this block's size (L).
#include "weights/hdf5_heap_check.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <unordered_set>
#include <vector>

namespace busi::weights {

namespace {

constexpr std::uint64_t kFreeListEnd = 1;  // H5HL_FREE_NULL
// More free blocks than the local heaps of any real file hold: a VGG16 Keras file has about 40
// heaps (one per group) with one or two free blocks each. libhdf5 would allocate a node for each.
constexpr std::uint64_t kMaxFreeBlocks = std::uint64_t{1} << 20;

// Bytes [offset, offset + n) of the file, or an empty vector if they are not all in it.
std::vector<std::uint8_t> read_at(std::ifstream& in, std::uint64_t offset, std::size_t n,
                                  std::uint64_t file_size) {
  if (offset > file_size || n > file_size - offset) return {};
  std::vector<std::uint8_t> bytes(n);
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(n));
  if (!in) return {};
  return bytes;
}

// A little-endian unsigned integer of `size` bytes (2, 4 or 8).
std::uint64_t decode(const std::uint8_t* p, int size) {
  std::uint64_t value = 0;
  for (int i = size - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

bool plausible_size(int size) { return size == 2 || size == 4 || size == 8; }

struct Superblock {
  std::uint64_t base = 0;  // where addresses count from
  int offset_size = 8;     // O
  int length_size = 8;     // L
};

// The first superblock at byte 0, 512, 1024, 2048, ... (where libhdf5 looks), if its sizes are
// ones this check can decode (libhdf5 also allows 16 and 32 bytes; no Keras file uses them).
std::optional<Superblock> find_superblock(std::ifstream& in, std::uint64_t file_size) {
  static const std::uint8_t kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (std::uint64_t at = 0; at < file_size; at = at == 0 ? 512 : 2 * at) {
    const std::vector<std::uint8_t> b = read_at(in, at, 16, file_size);
    if (b.empty()) return std::nullopt;
    if (std::memcmp(b.data(), kSignature, 8) != 0) continue;
    const bool old_layout = b[8] <= 1;  // superblock versions 0 and 1
    Superblock s;
    s.base = at;
    s.offset_size = old_layout ? b[13] : b[9];
    s.length_size = old_layout ? b[14] : b[10];
    if (!plausible_size(s.offset_size) || !plausible_size(s.length_size)) return std::nullopt;
    return s;
  }
  return std::nullopt;
}

// Follows the free list of the local heap whose "HEAP" signature is at `at`. `blocks_seen` counts
// the free blocks of every heap so far. Returns a problem, or nothing where the list ends or
// libhdf5 would stop at an error of its own (a block outside the segment).
std::optional<HeapProblem> follow_free_list(std::ifstream& in, std::uint64_t file_size,
                                            const Superblock& sb, std::uint64_t at,
                                            std::uint64_t& blocks_seen) {
  const int L = sb.length_size, O = sb.offset_size;
  const std::vector<std::uint8_t> h = read_at(in, at, 8 + 2 * L + O, file_size);
  if (h.empty() || h[4] != 0) return std::nullopt;  // libhdf5 reads version 0 only
  const std::uint64_t segment_size = decode(&h[8], L);
  std::uint64_t block = decode(&h[8 + L], L);
  const std::uint64_t segment_address = decode(&h[8 + 2 * L], O);
  if (segment_address > file_size - sb.base) return std::nullopt;  // libhdf5 cannot read it
  const std::uint64_t segment = sb.base + segment_address;         // in the file
  if (segment_size > file_size - segment) return std::nullopt;

  std::unordered_set<std::uint64_t> visited;
  while (block != kFreeListEnd) {
    // libhdf5's own checks: a block starts inside the segment (the two fields of a block are
    // read from there too) and does not run past its end.
    if (block >= segment_size || segment_size - block < 2 * static_cast<std::uint64_t>(L))
      return std::nullopt;
    if (!visited.insert(block).second)
      return HeapProblem{at, "its free list loops back to offset " + std::to_string(block) +
                                 " of its " + std::to_string(segment_size) + "-byte data segment"};
    if (++blocks_seen > kMaxFreeBlocks)
      return HeapProblem{at, "the local heaps list more than " + std::to_string(kMaxFreeBlocks) +
                                 " free blocks in all"};
    const std::vector<std::uint8_t> f = read_at(in, segment + block, 2 * L, file_size);
    if (f.empty()) return std::nullopt;
    const std::uint64_t next = decode(f.data(), L), size = decode(f.data() + L, L);
    if (size > segment_size - block) return std::nullopt;
    block = next;
  }
  return std::nullopt;
}

}  // namespace

std::optional<HeapProblem> find_looping_local_heap(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end <= 0) return std::nullopt;
  const auto file_size = static_cast<std::uint64_t>(end);
  const std::optional<Superblock> sb = find_superblock(in, file_size);
  if (!sb) return std::nullopt;

  // The file is read in chunks that overlap by 3 bytes, so that a signature across a chunk
  // boundary is found once, in the chunk where it starts.
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::vector<char> chunk(kChunk + 3);
  std::uint64_t blocks_seen = 0;
  for (std::uint64_t start = 0; start < file_size; start += kChunk) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(kChunk + 3, file_size - start));
    in.clear();
    in.seekg(static_cast<std::streamoff>(start));
    if (!in.read(chunk.data(), static_cast<std::streamsize>(n))) return std::nullopt;
    for (std::size_t i = 0; i + 4 <= n && i < kChunk; ++i) {
      if (chunk[i] != 'H' || std::memcmp(&chunk[i], "HEAP", 4) != 0) continue;
      const std::optional<HeapProblem> problem =
          follow_free_list(in, file_size, *sb, start + i, blocks_seen);
      if (problem) return problem;
    }
  }
  return std::nullopt;
}

}  // namespace busi::weights
