// ImageCache: parallel decode + resize of a whole dataset into memory (and, when asked, each
// image's near-duplicate signature from the same decode); the skip-bad build that drops the
// files that fail to decode from the index and the cache together.
#include "data/image_cache.h"

#include <omp.h>

#include "kernels/common/error.h"

namespace busi::data {

ImageCache::ImageCache(const DatasetIndex& index, const CacheOptions& options)
    : ImageCache(index, options, nullptr) {}

ImageCache::ImageCache(const DatasetIndex& index, const CacheOptions& options,
                       std::vector<std::string>* problems)
    : options_(options), num_classes_(index.num_classes()) {
  BUSI_CHECK(options.height > 0 && options.width > 0, "ImageCache: size must be positive, got ",
             options.height, "x", options.width);
  BUSI_CHECK(options.channels == 1 || options.channels == 3,
             "ImageCache: channels must be 1 or 3, got ", options.channels);
  const int64_t n = index.size();
  images_.resize(n);
  if (options.signatures) signatures_.resize(n);
  for (const Sample& sample : index.samples) labels_.push_back(sample.label);

  // Each thread fills its own slots, and the problems are kept per image, so that the one
  // reported (the first in sample order) does not depend on the thread timing.
  std::vector<std::string> found(n);
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    try {
      const Image decoded = decode_image_file(index.samples[i].path, options.channels);
      if (options.signatures) signatures_[i] = make_signature(grey_like_decoder(decoded));
      images_[i] = resize_image(decoded, options.height, options.width);
    } catch (const std::exception& e) {
      found[i] = e.what();
    }
  }

  if (problems != nullptr) {
    *problems = std::move(found);
    return;
  }
  for (const std::string& problem : found)
    BUSI_CHECK(problem.empty(), problem,
               " (to leave such files out: scan with skip-bad and build the cache with "
               "ImageCache::build(index, options, true))");
}

ImageCache ImageCache::build(DatasetIndex& index, const CacheOptions& options, bool skip_bad) {
  std::vector<std::string> problems;
  ImageCache cache(index, options, &problems);
  std::vector<BadSample> bad;
  for (int64_t id = 0; id < index.size(); ++id)
    if (!problems[id].empty()) bad.push_back({id, problems[id]});
  if (bad.empty()) return cache;
  BUSI_CHECK(skip_bad, bad[0].problem, " (with skip-bad such files are left out)");

  // Drop the failed images from the index and from the cache in the same way (the kept ones in
  // their old order), so that sample id i is the same image in both.
  drop_bad_samples(index, bad);
  std::vector<Image> images;
  std::vector<int64_t> labels;
  std::vector<ImageSignature> signatures;
  for (size_t id = 0; id < problems.size(); ++id) {
    if (!problems[id].empty()) continue;
    images.push_back(std::move(cache.images_[id]));
    labels.push_back(cache.labels_[id]);
    if (options.signatures) signatures.push_back(std::move(cache.signatures_[id]));
  }
  cache.images_ = std::move(images);
  cache.labels_ = std::move(labels);
  cache.signatures_ = std::move(signatures);
  return cache;
}

size_t ImageCache::bytes() const {
  size_t total = 0;
  for (const Image& image : images_) total += image.pixels.size();
  return total;
}

}  // namespace busi::data
