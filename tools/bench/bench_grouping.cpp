// bench_grouping: how long near-duplicate grouping takes at scale. Builds N synthetic 64 x 64
// grey images (random smooth textures, one in ten a planted near-duplicate of another: brighter,
// cropped, shifted, marked or noisier), then times what group_duplicates does after decoding:
// signatures, LSH candidates, the key gate, the plain and fine checks, union-find. Prints the
// times, images per second, how many planted pairs were found and whether unrelated images were
// merged. docs/benchmarks.md has the figures.
#include <omp.h>
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "data/grouping.h"
#include "data/image.h"
#include "data/image_signature.h"
#include "data/near_duplicates.h"
#include "data/seeds.h"
#include "engine/random.h"
#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"

using namespace busi;
using namespace busi::tools;

namespace {

constexpr int64_t kSide = 64;

// Image `index` of the set: random texture, the sum of value noise at 4, 8, 16 and 32 cells
// per side (bilinear between random grid values, amplitudes 60, 30, 20, 15) around grey 120, plus
// pixel noise of +-6. Deterministic from (seed, index).
data::Image texture(uint64_t seed, int64_t index) {
  Generator gen(seed * 1000003ULL + static_cast<uint64_t>(index));
  std::vector<double> value(kSide * kSide, 120.0);
  for (const auto& [cells, amplitude] : {std::pair{4, 60.0}, {8, 30.0}, {16, 20.0}, {32, 15.0}}) {
    std::vector<double> grid((cells + 1) * (cells + 1));
    for (double& g : grid) g = gen.uniform(-amplitude, amplitude);
    for (int64_t y = 0; y < kSide; ++y)
      for (int64_t x = 0; x < kSide; ++x) {
        const double gy = double(y) * cells / kSide, gx = double(x) * cells / kSide;
        const int64_t y0 = static_cast<int64_t>(gy), x0 = static_cast<int64_t>(gx);
        const double fy = gy - y0, fx = gx - x0;
        auto at = [&](int64_t yy, int64_t xx) { return grid[yy * (cells + 1) + xx]; };
        value[y * kSide + x] += (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
                                fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
      }
  }
  data::Image image(kSide, kSide, 1);
  for (int64_t i = 0; i < kSide * kSide; ++i)
    image.pixels[i] =
        static_cast<uint8_t>(std::clamp(std::lround(value[i] + gen.uniform(-6, 6)), 0L, 255L));
  return image;
}

// A near-duplicate of `image`, one of five kinds by `kind`: brighter with more contrast; the
// centre 90 % cropped and resized back; moved 2 px (3 %); two white crosses (7 px) drawn; noisier.
data::Image planted_copy(const data::Image& image, int kind, Generator& gen) {
  data::Image out = image;
  switch (kind) {
    case 0:
      for (uint8_t& v : out.pixels)
        v = static_cast<uint8_t>(std::clamp(std::lround(1.2 * v + 10), 0L, 255L));
      break;
    case 1:
      out = data::resize_image(data::crop_image(image, 3, 3, kSide - 6, kSide - 6), kSide, kSide);
      break;
    case 2:
      for (int64_t y = 0; y < kSide; ++y)
        for (int64_t x = 0; x < kSide; ++x)
          out.at(y, x, 0) =
              image.at(std::min<int64_t>(y + 2, kSide - 1), std::min<int64_t>(x + 2, kSide - 1), 0);
      break;
    case 3:
      for (int64_t c : {20, 44})
        for (int64_t d = -3; d <= 3; ++d) out.at(c, c + d, 0) = out.at(c + d, c, 0) = 255;
      break;
    default:
      for (uint8_t& v : out.pixels)
        v = static_cast<uint8_t>(std::clamp(std::lround(v + gen.uniform(-10, 10)), 0L, 255L));
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run(int argc, char** argv) {
  int64_t images = 100000;
  int64_t seed = 1;
  CommandLine cli("bench_grouping",
                  "Times near-duplicate grouping (signatures, LSH, checks, union-find) on N "
                  "synthetic 64 x 64 images, one in ten a planted near-duplicate.");
  cli.add("--images", &images, "N", "images in the synthetic set (copies included)");
  cli.add("--seed", &seed, "S", "seed of the textures and of which images are copied");
  if (!cli.parse(argc, argv)) return 0;
  if (images < 10) throw UsageError("--images must be at least 10");
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("%lld images, %d threads; load average before: %.2f\n",
              static_cast<long long>(images), omp_get_max_threads(), load[0]);

  // Image i < originals is a texture; image originals + k copies texture source[k].
  const int64_t copies = images / 10, originals = images - copies;
  std::vector<int64_t> source(copies);
  Generator pick(static_cast<uint64_t>(seed));
  for (int64_t& s : source) s = pick.randint(originals);

  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  std::vector<data::ImageSignature> signatures(images);
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < images; ++i) {
    if (i < originals) {
      signatures[i] = data::make_signature(texture(static_cast<uint64_t>(seed), i));
    } else {
      Generator gen(static_cast<uint64_t>(seed) * 7 + static_cast<uint64_t>(i));
      const int64_t k = i - originals;
      signatures[i] = data::make_signature(planted_copy(
          texture(static_cast<uint64_t>(seed), source[k]), static_cast<int>(k % 5), gen));
    }
  }
  const double made = seconds_since(start);

  const auto group_start = std::chrono::steady_clock::now();
  const data::NearDuplicates found = data::find_near_duplicates(signatures);
  std::vector<std::pair<int64_t, int64_t>> edges;
  for (const data::ComparedPair& p : found.compared)
    if (p.near_duplicate) edges.push_back({p.a, p.b});
  const auto groups = data::connected_groups(images, edges);
  const double grouped = seconds_since(group_start);
  const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;

  // Which planted copies ended in their source's group; groups holding two originals.
  std::vector<int64_t> group_of(images, -1);
  for (size_t g = 0; g < groups.size(); ++g)
    for (int64_t id : groups[g]) group_of[id] = static_cast<int64_t>(g);
  int64_t found_copies = 0, merged = 0;
  for (int64_t k = 0; k < copies; ++k)
    found_copies += group_of[originals + k] >= 0 && group_of[originals + k] == group_of[source[k]];
  for (const auto& group : groups) {
    std::vector<int64_t> roots;
    for (int64_t id : group) roots.push_back(id < originals ? id : source[id - originals]);
    std::sort(roots.begin(), roots.end());
    merged += std::unique(roots.begin(), roots.end()) - roots.begin() > 1;
  }
  int64_t missed_by_kind[5] = {0, 0, 0, 0, 0};
  for (int64_t k = 0; k < copies; ++k)
    if (!(group_of[originals + k] >= 0 && group_of[originals + k] == group_of[source[k]]))
      ++missed_by_kind[k % 5];
  std::printf(
      "missed by kind (brighter, cropped, moved, crosses, noisier): %lld %lld %lld %lld %lld\n",
      (long long)missed_by_kind[0], (long long)missed_by_kind[1], (long long)missed_by_kind[2],
      (long long)missed_by_kind[3], (long long)missed_by_kind[4]);
  for (const data::ComparedPair& p : found.compared) {
    const int64_t ra = p.a < originals ? p.a : source[p.a - originals];
    const int64_t rb = p.b < originals ? p.b : source[p.b - originals];
    if (p.near_duplicate && ra != rb)
      std::printf("false: key %.3f plain %.3f fine %.3f\n", p.key, p.plain, p.fine);
  }
  getloadavg(load, 3);
  std::printf(
      "signatures (textures made and signed): %.2f s\n"
      "grouping (LSH, gate, checks, union-find): %.2f s: %lld LSH candidates, %lld compared, "
      "%lld near-duplicate pairs, %zu groups\n"
      "total %.2f s wall, %.2f s CPU; %.0f images/s; load average after: %.2f\n"
      "planted copies found with their original: %lld of %lld; groups joining unrelated images: "
      "%lld\n",
      made, grouped, static_cast<long long>(found.candidates),
      static_cast<long long>(found.compared.size()), static_cast<long long>(edges.size()),
      groups.size(), made + grouped, cpu, images / (made + grouped), load[0],
      static_cast<long long>(found_copies), static_cast<long long>(copies),
      static_cast<long long>(merged));
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("bench_grouping", run, argc, argv); }
