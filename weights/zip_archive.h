// Reading the entries of a ZIP archive that stores them uncompressed, as PyTorch's checkpoint
// format does (torch.save since 1.6: archive/data.pkl, archive/data/<key>, archive/version).
// The whole file is read into memory once; the central directory (ZIP64 records included) is
// checked against the file's size before any entry is used, and an entry that is compressed,
// encrypted or lies outside the file is an error naming the archive and the entry.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace busi::weights {

struct ZipEntry {
  std::string name;
  uint64_t offset = 0;  // of its data in the file
  uint64_t size = 0;    // bytes (stored: compressed size = size)
  uint32_t crc32 = 0;   // as the directory records it
};

class ZipArchive {
 public:
  // Reads `path` and its central directory. Throws busi::Error naming the file if it is not a
  // ZIP archive of stored entries.
  explicit ZipArchive(const std::string& path);
  // The same from bytes already in memory (tests); `name` is used in messages.
  ZipArchive(std::vector<uint8_t> bytes, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;
  const uint8_t* data(const ZipEntry& entry) const { return bytes_.data() + entry.offset; }
  uint64_t file_size() const { return bytes_.size(); }

  // Throws when the entry's data does not have the CRC-32 the directory records (a damaged file).
  void verify(const ZipEntry& entry) const;

  // True when the file starts with a ZIP local header ("PK\3\4").
  static bool looks_like_zip(const uint8_t* head, size_t size);
  static uint32_t crc32(const uint8_t* data, uint64_t size);

 private:
  void read_directory();
  std::string path_;
  std::vector<uint8_t> bytes_;
  std::vector<ZipEntry> entries_;
};

}  // namespace busi::weights
