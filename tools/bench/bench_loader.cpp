// bench_loader: images per second of the BUSI batch loader (cached images -> augmented,
// normalised (N, 3, 224, 224) batches), consumed as fast as possible. Not a test.
//   build/tools/bench_loader [--data DIR] [--workers N] [--batch N] [--size PX] [--epochs N]
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/loader.h"
#include "data/split.h"
#include "kernels/common/error.h"

using namespace busi::data;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs `epochs` epochs and returns images per second.
double images_per_second(BatchLoader& loader, int64_t epochs) {
  int64_t images = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) images += batch->inputs.size(0);
  }
  return static_cast<double>(images) / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = BUSI_SOURCE_DIR "/../shared/busi";
  int workers = 2;
  int64_t batch_size = 32, size = 224, epochs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--data")
      data_dir = value;
    else if (flag == "--workers")
      workers = std::stoi(value);
    else if (flag == "--batch")
      batch_size = std::stoll(value);
    else if (flag == "--size")
      size = std::stoll(value);
    else if (flag == "--epochs")
      epochs = std::stoll(value);
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  try {
    // Start-up as the trainers do it: the scan reads, hashes and checks the headers; the cache
    // then decodes every image once (ScanOptions::verify_decode would decode them twice).
    auto start = std::chrono::steady_clock::now();
    ScanOptions scan;
    scan.verify_decode = false;
    scan.threads = workers;
    DatasetIndex index = scan_folder(data_dir, scan);
    const double scan_seconds = seconds_since(start);

    // Cache a little larger than the output (256 for 224), as torchvision's resize-then-crop.
    const int64_t cache_size = size * 256 / 224;
    start = std::chrono::steady_clock::now();
    const ImageCache cache =
        ImageCache::build(index, {cache_size, cache_size, 3, workers}, /*skip_bad=*/false);
    const double cache_seconds = seconds_since(start);

    std::cout << index.summary() << "\n" << index.warnings_text();
    std::cout << "scan (read, hash, check headers): " << scan_seconds << " s\n";
    std::cout << "cache " << cache_size << " px, 3 channels, " << workers
              << " threads (decode, resize): " << cache_seconds << " s, "
              << cache.bytes() / (1 << 20) << " MiB\n";

    const Split split = make_split(index, {0.15, 0.15, 0});
    LoaderOptions options;
    options.batch_size = batch_size;
    options.height = options.width = size;
    options.augment = true;
    options.normalization = Normalization::imagenet_torch();
    options.workers = workers;
    BatchLoader train(cache, split.indices(Subset::Train), options);
    const double augmented = images_per_second(train, epochs);

    options.augment = false;
    options.eval_crop_fraction = 224.0 / 256.0;
    BatchLoader eval(cache, split.indices(Subset::Train), options);
    const double plain = images_per_second(eval, epochs);

    std::cout << "bench_loader: " << static_cast<int64_t>(augmented)
              << " images/s with augmentation (" << size << " px, batch " << batch_size << ", "
              << workers << " workers); " << static_cast<int64_t>(plain)
              << " images/s centre crop only\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_loader: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
