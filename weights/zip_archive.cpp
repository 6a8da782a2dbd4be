// The ZIP reader of zip_archive.h. Layout (PKWARE APPNOTE): local headers and data, then the
// central directory (one record per entry), then the end-of-central-directory record; archives
// over 4 GiB or 65,535 entries add ZIP64 records, whose 64-bit values replace 0xFFFF... fields.
#include "weights/zip_archive.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "kernels/common/error.h"

namespace busi::weights {

namespace {

constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50;
constexpr uint32_t kEndRecord = 0x06054b50, kZip64EndRecord = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;

// Little-endian reads at an offset the caller has checked (or checks through `need`).
struct Reader {
  const std::vector<uint8_t>& bytes;
  const std::string& name;
  void need(uint64_t offset, uint64_t n, const char* what) const {
    if (offset > bytes.size() || n > bytes.size() - offset)
      throw Error(detail::concat("'", name, "': ", what, " at byte ", offset,
                                 " runs past the end of the file (", bytes.size(),
                                 " bytes): truncated or not a ZIP archive"));
  }
  uint64_t le(uint64_t offset, int n) const {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t(bytes[offset + k]) << (8 * k);
    return v;
  }
};

}  // namespace

bool ZipArchive::looks_like_zip(const uint8_t* head, size_t size) {
  return size >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
}

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary);
  BUSI_CHECK(in, "cannot open '", path, "'");
  bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  BUSI_CHECK(!in.bad(), "cannot read '", path, "'");
  read_directory();
}

ZipArchive::ZipArchive(std::vector<uint8_t> bytes, const std::string& name)
    : path_(name), bytes_(std::move(bytes)) {
  read_directory();
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

void ZipArchive::read_directory() {
  const Reader r{bytes_, path_};
  BUSI_CHECK(looks_like_zip(bytes_.data(), bytes_.size()), "'", path_,
             "' is not a ZIP archive (no local header at its start)");
  // The end record: 22 bytes plus a comment of at most 65,535, so it starts in the last 65,557.
  BUSI_CHECK(bytes_.size() >= 22, "'", path_, "' is too short to be a ZIP archive");
  uint64_t end = bytes_.size() - 22;
  const uint64_t lowest = bytes_.size() > 65557 ? bytes_.size() - 65557 : 0;
  while (r.le(end, 4) != kEndRecord) {
    BUSI_CHECK(end > lowest, "'", path_,
               "': no ZIP end-of-central-directory record (a truncated archive?)");
    --end;
  }
  uint64_t count = r.le(end + 10, 2), dir_size = r.le(end + 12, 4), dir_offset = r.le(end + 16, 4);
  if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {
    BUSI_CHECK(end >= 20 && r.le(end - 20, 4) == kZip64Locator, "'", path_,
               "': a ZIP64 archive without its ZIP64 locator");
    const uint64_t record = r.le(end - 20 + 8, 8);
    r.need(record, 56, "the ZIP64 end record");
    BUSI_CHECK(r.le(record, 4) == kZip64EndRecord, "'", path_, "': no ZIP64 end record at byte ",
               record);
    count = r.le(record + 32, 8);
    dir_size = r.le(record + 40, 8);
    dir_offset = r.le(record + 48, 8);
  }
  r.need(dir_offset, dir_size, "the central directory");
  // Each record is at least 46 bytes: the count cannot exceed what the directory can hold.
  BUSI_CHECK(count <= dir_size / 46, "'", path_, "': the directory claims ", count, " entries in ",
             dir_size, " bytes");

  uint64_t at = dir_offset;
  for (uint64_t k = 0; k < count; ++k) {
    r.need(at, 46, "a central directory record");
    BUSI_CHECK(r.le(at, 4) == kCentralHeader, "'", path_,
               "': bad central directory record at byte ", at);
    const uint64_t flags = r.le(at + 8, 2), method = r.le(at + 10, 2);
    uint64_t stored = r.le(at + 20, 4), size = r.le(at + 24, 4), local = r.le(at + 42, 4);
    const uint64_t name_len = r.le(at + 28, 2), extra_len = r.le(at + 30, 2);
    const uint64_t comment_len = r.le(at + 32, 2);
    r.need(at + 46, name_len + extra_len + comment_len, "a central directory record");
    ZipEntry e;
    e.name.assign(reinterpret_cast<const char*>(&bytes_[at + 46]), name_len);
    // ZIP64 extra field (id 1): the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
    for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      const uint64_t id = r.le(x, 2), len = r.le(x + 2, 2);
      BUSI_CHECK(x + 4 + len <= at + 46 + name_len + extra_len, "'", path_, "': entry '", e.name,
                 "' has a malformed extra field");
      if (id == 1) {
        uint64_t p = x + 4;
        auto take = [&](uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          BUSI_CHECK(p + 8 <= x + 4 + len, "'", path_, "': entry '", e.name,
                     "' has a short ZIP64 extra field");
          field = r.le(p, 8);
          p += 8;
        };
        take(size);
        take(stored);
        take(local);
      }
      x += 4 + len;
    }
    BUSI_CHECK(!(flags & 1), "'", path_, "': entry '", e.name, "' is encrypted");
    BUSI_CHECK(method == 0, "'", path_, "': entry '", e.name, "' is compressed (method ", method,
               "); PyTorch stores its entries uncompressed: was the file re-zipped?");
    BUSI_CHECK(stored == size, "'", path_, "': entry '", e.name, "' is stored with ", stored,
               " bytes but says it holds ", size);
    r.need(local, 30, "a local header");
    BUSI_CHECK(r.le(local, 4) == kLocalHeader, "'", path_, "': entry '", e.name,
               "' has no local header at byte ", local);
    e.offset = local + 30 + r.le(local + 26, 2) + r.le(local + 28, 2);
    e.size = size;
    r.need(e.offset, e.size, ("the data of entry '" + e.name + "'").c_str());
    e.crc32 = static_cast<uint32_t>(r.le(at + 16, 4));
    entries_.push_back(std::move(e));
    at += 46 + name_len + extra_len + comment_len;
  }
}

// CRC-32 (the ZIP polynomial 0xEDB88320, reflected), a byte at a time through a table.
uint32_t ZipArchive::crc32(const uint8_t* data, uint64_t size) {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (uint64_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void ZipArchive::verify(const ZipEntry& entry) const {
  const uint32_t got = crc32(data(entry), entry.size);
  BUSI_CHECK(got == entry.crc32, "'", path_, "': entry '", entry.name,
             "' is damaged: its CRC-32 is ", got, ", the archive says ", entry.crc32);
}

}  // namespace busi::weights
