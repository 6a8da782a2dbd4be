// ImageCache: every image of a DatasetIndex decoded once (in parallel), resized to one size and
// channel count, kept as uint8 in memory so that epochs never decode again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image.h"
#include "data/image_signature.h"

namespace busi::data {

struct CacheOptions {
  int64_t height = 256, width = 256;  // every image is resized to this (aspect not kept)
  int64_t channels = 3;               // 1 grey, or 3 (grey repeated into R=G=B)
  int threads = 0;                    // decoding threads; 0 = all cores
  // Also make each image's near-duplicate signature (image_signature.h) from the same decoded
  // pixels, full size, before the resize: the grouping then needs no second decode of the files.
  bool signatures = false;
};

class ImageCache {
 public:
  // Decodes all of index's images. Throws busi::Error naming the first file (in sample order)
  // that cannot be decoded and the problem. The cache keeps its own copy of the labels; it does
  // not refer to `index` afterwards.
  ImageCache(const DatasetIndex& index, const CacheOptions& options);

  // The same, with the choice of what a file that cannot be decoded does:
  //   skip_bad = false: busi::Error naming the first such file and the problem, as above;
  //   skip_bad = true:  the file is dropped from `index` (drop_bad_samples: a warning naming it
  //                     and the problem, counted in skipped_bad) and from the cache, so that the
  //                     sample ids of both still agree.
  // Each image is decoded once: scan with ScanOptions::verify_decode = false before this (the
  // scan then only checks headers). Make splits after this call, from the updated index.
  static ImageCache build(DatasetIndex& index, const CacheOptions& options, bool skip_bad);

  // With CacheOptions::signatures: each kept image's signature, by sample id (the grey of the
  // decoded image, as decoding it as grey gives: grey_like_decoder). Moved out: call once.
  std::vector<ImageSignature> take_signatures() { return std::move(signatures_); }

  int64_t size() const { return static_cast<int64_t>(images_.size()); }
  int64_t num_classes() const { return num_classes_; }
  int64_t height() const { return options_.height; }
  int64_t width() const { return options_.width; }
  int64_t channels() const { return options_.channels; }
  const Image& image(int64_t sample_id) const { return images_.at(sample_id); }
  int64_t label(int64_t sample_id) const { return labels_.at(sample_id); }
  size_t bytes() const;  // memory held by the pixels

 private:
  // Decodes every image. A file that fails: with `problems` null, busi::Error naming the first
  // one; otherwise its slot stays empty and (*problems)[id] says why (empty for the good ones).
  ImageCache(const DatasetIndex& index, const CacheOptions& options,
             std::vector<std::string>* problems);

  CacheOptions options_;
  int64_t num_classes_ = 0;
  std::vector<Image> images_;               // by sample id, each (height, width, channels)
  std::vector<int64_t> labels_;             // by sample id
  std::vector<ImageSignature> signatures_;  // by sample id, with CacheOptions::signatures
};

}  // namespace busi::data
