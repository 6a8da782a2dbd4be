// What every decoder of data/ checks before it decodes (internal to data/): the size an image's
// header claims against the limit of image.h, the decoding memory budget, and the PNG chunk
// structure. Each check throws busi::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace busi::data::detail {

// The width and height a PNG (IHDR) or JPEG (start-of-frame) header claims; false when the
// bytes are neither, or the JPEG has no frame header.
bool claimed_size(const std::vector<uint8_t>& bytes, int64_t& width, int64_t& height);
// Throws when width x height is over max_image_pixels().
void check_claimed_size(int64_t width, int64_t height, const std::string& name);
// Throws when a PNG chunk claims more bytes than the file has left.
void check_png_chunks(const std::vector<uint8_t>& bytes, const std::string& name);

// Holds `bytes` of the decoding memory budget (image.h) for its scope; waits for room.
class BudgetHold {
 public:
  explicit BudgetHold(int64_t bytes);
  ~BudgetHold();
  BudgetHold(const BudgetHold&) = delete;
  BudgetHold& operator=(const BudgetHold&) = delete;

 private:
  int64_t bytes_;
};

}  // namespace busi::data::detail
