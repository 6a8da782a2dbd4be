// SHA-256 (FIPS 180-4), to check weight files against the checksums in weights/manifest.json
// and to record the checksum of a converted input in the output's metadata.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace busi::weights {

class Sha256 {
 public:
  Sha256();
  void update(const void* bytes, size_t count);
  // The digest as 64 lowercase hex digits. Call once, after the last update().
  std::string hex_digest();

 private:
  void compress(const unsigned char* block);  // one 64-byte block
  std::array<uint32_t, 8> state_;
  unsigned char buffer_[64] = {};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(const std::string& bytes);
// Checksum of a whole file, read in chunks. Throws busi::Error if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace busi::weights
