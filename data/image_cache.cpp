// ImageCache: parallel decode + resize of a whole dataset into memory.
#include "data/image_cache.h"

#include <omp.h>

#include <string>

#include "engine/error.h"

namespace busi::data {

ImageCache::ImageCache(const DatasetIndex& index, const CacheOptions& options)
    : options_(options), num_classes_(index.num_classes()) {
  BUSI_CHECK(options.height > 0 && options.width > 0, "ImageCache: size must be positive, got ",
             options.height, "x", options.width);
  BUSI_CHECK(options.channels == 1 || options.channels == 3,
             "ImageCache: channels must be 1 or 3, got ", options.channels);
  const int64_t n = index.size();
  images_.resize(n);
  for (const Sample& sample : index.samples) labels_.push_back(sample.label);

  // Each thread fills its own slots; errors are kept per image so that the one reported is the
  // first in sample order, whatever the thread timing.
  std::vector<std::string> errors(n);
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    try {
      const Image decoded = decode_image_file(index.samples[i].path, options.channels);
      images_[i] = resize_image(decoded, options.height, options.width);
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  for (int64_t i = 0; i < n; ++i) BUSI_CHECK(errors[i].empty(), errors[i]);
}

size_t ImageCache::bytes() const {
  size_t total = 0;
  for (const Image& image : images_) total += image.pixels.size();
  return total;
}

}  // namespace busi::data
