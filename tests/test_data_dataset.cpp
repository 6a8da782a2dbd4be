// Folder discovery (data/dataset.h) and the image cache on folders the test writes itself:
// classes, masks, other files, odd names, duplicates, every kind of bad input with and without
// skip-bad (unreadable files in a child without root's privileges), warnings; class weights.
#include <doctest/doctest.h>

#include <cstdlib>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/split.h"
#include "kernels/common/error.h"
#include "test_data_helpers.h"

using namespace busi::data;
using namespace busi::data::testing;

namespace {

std::string scan_error(const std::string& root, const ScanOptions& options = {}) {
  try {
    scan_folder(root, options);
  } catch (const busi::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Three classes written out of alphabetical order, with masks, a text file, a hidden file and
// names with spaces and parentheses.
void write_small_dataset(const fs::path& root) {
  write_png(root / "normal" / "normal (2).png", 20, 24, 1,
            [](int, int, int) { return uint8_t{10}; });
  write_png(root / "normal" / "normal (10).png", 31, 17, 3,
            [](int y, int, int) { return uint8_t(y); });
  write_png(root / "benign" / "benign (1).png", 16, 16, 4,
            [](int, int x, int) { return uint8_t(x); });
  write_png(root / "benign" / "benign (1)_mask.png", 16, 16, 1,
            [](int, int, int) { return uint8_t{255}; });
  write_png(root / "benign" / "benign (1)_mask_1.png", 16, 16, 1,
            [](int, int, int) { return uint8_t{0}; });
  write_jpeg(root / "benign" / "benign (2).JPG", 16, 16, 3,
             [](int, int, int) { return uint8_t{90}; });
  write_png(root / "malignant" / "malignant (1).png", 16, 16, 3,
            [](int y, int x, int) { return uint8_t(x + y); });
  write_png(root / "malignant" / "malignant (1)_mask.png", 16, 16, 1,
            [](int, int, int) { return uint8_t{255}; });
  write_bytes(root / "malignant" / "notes.txt", {'h', 'i'});
  write_bytes(root / "malignant" / ".DS_Store", {0, 1, 2});
  write_bytes(root / "README.md", {'#'});  // files beside the class folders are ignored
}

}  // namespace

TEST_CASE("scan: classes sorted, masks and other files skipped, odd names kept") {
  TempDir dir("scan_basic");
  write_small_dataset(dir.path());
  const DatasetIndex index = scan_folder(dir.str());

  CHECK(index.classes == std::vector<std::string>{"benign", "malignant", "normal"});
  REQUIRE(index.size() == 5);
  // Sorted by (class, file name), whatever the order the files were written in.
  CHECK(index.samples[0].relative_path == "benign/benign (1).png");
  CHECK(index.samples[1].relative_path == "benign/benign (2).JPG");
  CHECK(index.samples[2].relative_path == "malignant/malignant (1).png");
  CHECK(index.samples[3].relative_path == "normal/normal (10).png");
  CHECK(index.samples[4].relative_path == "normal/normal (2).png");
  CHECK(index.samples[2].label == 1);
  CHECK(index.samples[4].label == 2);
  CHECK(index.class_counts() == std::vector<int64_t>{2, 1, 2});
  // The header's size and channels as stored.
  CHECK(index.samples[0].channels == 4);
  CHECK(index.samples[3].height == 31);
  CHECK(index.samples[3].width == 17);
  CHECK(index.samples[4].channels == 1);

  CHECK(index.skipped_masks == 3);
  CHECK(index.skipped_other == 2);
  CHECK(index.skipped_bad == 0);
  CHECK(index.duplicate_groups.empty());
  const std::string summary = index.summary();
  CHECK(contains(summary, "5 images in 3 classes (benign 2, malignant 1, normal 2)"));
  CHECK(contains(summary, "skipped 3 masks, 2 other files, 0 bad files"));
  CHECK(!contains(summary, "warning"));
  CHECK(index.warnings_text().empty());
}

TEST_CASE("scan: the summary condenses many image sizes into a range") {
  TempDir dir("scan_sizes");
  for (int size : {9, 12, 15, 21})
    write_flat_png(dir.path() / "only" / ("img" + std::to_string(size) + ".png"), size, 1);
  const std::string summary = scan_folder(dir.str()).summary();
  CHECK(contains(summary, "sizes 4 distinct (width 9-21, height 9-21)"));
}

TEST_CASE("scan: byte-identical files form a duplicate group, a label conflict across classes") {
  TempDir dir("scan_duplicates");
  write_small_dataset(dir.path());
  fs::copy_file(dir.path() / "benign" / "benign (1).png", dir.path() / "normal" / "copy.png");
  fs::copy_file(dir.path() / "normal" / "normal (2).png", dir.path() / "normal" / "again.png");
  const DatasetIndex index = scan_folder(dir.str());
  // Samples: 0 benign (1), 1 benign (2), 2 malignant (1), 3 normal/again, 4 normal/copy,
  // 5 normal (10), 6 normal (2).
  REQUIRE(index.size() == 7);
  CHECK(index.duplicate_groups == std::vector<std::vector<int64_t>>{{0, 4}, {3, 6}});
  REQUIRE(index.warnings.size() == 1);  // only the group that crosses classes
  CHECK(contains(index.warnings[0], "benign/benign (1).png"));
  CHECK(contains(index.warnings[0], "normal/copy.png"));
  CHECK(contains(index.summary(), "2 groups of duplicates (4 images)"));
  CHECK(contains(index.summary(), "0 bad files; 1 warning"));
  CHECK(index.warnings_text() ==
        "warning: label conflict: duplicates filed under different classes: "
        "'benign/benign (1).png' 'normal/copy.png'\n");
  CHECK(label_conflicts(index) == std::vector<int64_t>{0});

  ScanOptions no_hashing;
  no_hashing.find_duplicates = false;
  CHECK(scan_folder(dir.str(), no_hashing).duplicate_groups.empty());
}

TEST_CASE("scan: missing folder, no classes, empty class are errors naming the folder") {
  TempDir dir("scan_structure");
  const std::string missing = (dir.path() / "nowhere").string();
  CHECK(contains(scan_error(missing), missing));
  CHECK(contains(scan_error(missing), "does not exist"));

  write_bytes(dir.path() / "flat" / "image.png", {1});
  const std::string file_not_folder = (dir.path() / "flat" / "image.png").string();
  CHECK(contains(scan_error(file_not_folder), "is not a folder"));

  fs::create_directories(dir.path() / "no_classes");
  CHECK(contains(scan_error((dir.path() / "no_classes").string()), "holds no class folders"));

  write_flat_png(dir.path() / "one_empty" / "benign" / "a.png", 8, 50);
  write_flat_png(dir.path() / "one_empty" / "normal" / "a_mask.png", 8, 50);  // a mask only
  const std::string empty_error = scan_error((dir.path() / "one_empty").string());
  CHECK(contains(empty_error, (dir.path() / "one_empty" / "normal").string()));
  CHECK(contains(empty_error, "holds no images"));
}

TEST_CASE("scan: corrupt, truncated, zero-byte and unreadable files") {
  struct BadFile {
    std::string name;
    std::function<void(const fs::path&)> write;
    std::string problem;
    bool needs_decode;  // found only by the full decode (the header looks fine)
  };
  const std::vector<BadFile> bad_files = {
      {"corrupt.png", [](const fs::path& p) { write_bytes(p, std::vector<uint8_t>(500, 0x33)); },
       "not a PNG or JPEG", false},
      {"truncated.png", [](const fs::path& p) { write_truncated_png(p, 48); },
       "corrupt or truncated", true},
      {"zero.png", [](const fs::path& p) { write_bytes(p, {}); }, "zero-byte", false},
      {"dangling.png",
       [](const fs::path& p) { fs::create_symlink(p.parent_path() / "gone.png", p); },
       "cannot open", false},
  };
  for (const BadFile& bad : bad_files) {
    CAPTURE(bad.name);
    TempDir dir("scan_bad");
    write_small_dataset(dir.path());
    const fs::path file = dir.path() / "malignant" / bad.name;
    bad.write(file);

    const std::string error = scan_error(dir.str());
    CHECK(contains(error, file.string()));
    CHECK(contains(error, bad.problem));

    // skip-bad: left out with a count and a warning; the other images keep their labels.
    ScanOptions skip;
    skip.skip_bad = true;
    const DatasetIndex index = scan_folder(dir.str(), skip);
    CHECK(index.size() == 5);
    CHECK(index.skipped_bad == 1);
    REQUIRE(index.warnings.size() == 1);
    CHECK(contains(index.warnings[0], file.string()));
    CHECK(index.samples[2].relative_path == "malignant/malignant (1).png");
    CHECK(index.samples[2].label == 1);

    // Without the full decode only the header is checked: a truncated file passes the scan,
    // and the cache then names it.
    ScanOptions headers_only;
    headers_only.verify_decode = false;
    if (bad.needs_decode) {
      const DatasetIndex unverified = scan_folder(dir.str(), headers_only);
      CHECK(unverified.size() == 6);
      std::string cache_error;
      try {
        ImageCache cache(unverified, {8, 8, 1, 2});
      } catch (const busi::Error& e) {
        cache_error = e.what();
      }
      CHECK(contains(cache_error, file.string()));
      CHECK(contains(cache_error, bad.problem));
    }

    // The trainers' start-up with skip-bad: headers-only scan, then ImageCache::build decodes
    // each image once and drops what fails. Whichever step finds the file, the result is the
    // same: left out, counted once, one warning naming it and the problem.
    ScanOptions headers_skip = headers_only;
    headers_skip.skip_bad = true;
    DatasetIndex built = scan_folder(dir.str(), headers_skip);
    const ImageCache cache = ImageCache::build(built, {8, 8, 1, 2}, true);
    CHECK(built.size() == 5);
    CHECK(cache.size() == 5);
    CHECK(built.skipped_bad == 1);
    CHECK(built.bad_files == std::vector<std::string>{"malignant/" + bad.name});
    REQUIRE(built.warnings.size() == 1);
    CHECK(contains(built.warnings[0], file.string()));
    CHECK(contains(built.warnings[0], bad.problem));
    for (int64_t id = 0; id < built.size(); ++id) CHECK(cache.label(id) == built.samples[id].label);
    CHECK(built.samples[2].relative_path == "malignant/malignant (1).png");
  }
}

TEST_CASE("skip-bad: a truncated PNG with a valid header is dropped by the cache before splits") {
  TempDir dir("skip_truncated");
  write_small_dataset(dir.path());
  const fs::path truncated = dir.path() / "benign" / "benign (1b).png";  // sorts second
  write_truncated_png(truncated, 48);
  // A byte-identical pair of good images after the bad one, to check the renumbering.
  fs::copy_file(dir.path() / "normal" / "normal (2).png", dir.path() / "normal" / "again.png");

  ScanOptions scan;
  scan.verify_decode = false;
  scan.skip_bad = true;
  DatasetIndex index = scan_folder(dir.str(), scan);
  // 0 benign (1), 1 benign (1b) [truncated], 2 benign (2), 3 malignant (1), 4 normal/again,
  // 5 normal (10), 6 normal (2).
  REQUIRE(index.size() == 7);
  CHECK(index.samples[1].relative_path == "benign/benign (1b).png");
  CHECK(index.skipped_bad == 0);  // the header is fine: the scan cannot tell
  CHECK(index.duplicate_groups == std::vector<std::vector<int64_t>>{{4, 6}});

  // Without skip-bad the cache build is an error naming the file and the problem, and leaves
  // the index as it was.
  std::string error;
  try {
    ImageCache::build(index, {8, 8, 3, 2}, false);
  } catch (const busi::Error& e) {
    error = e.what();
  }
  CHECK(contains(error, truncated.string()));
  CHECK(contains(error, "corrupt or truncated"));
  CHECK(index.size() == 7);

  const ImageCache cache = ImageCache::build(index, {8, 8, 3, 2}, true);
  REQUIRE(index.size() == 6);
  REQUIRE(cache.size() == 6);
  CHECK(index.skipped_bad == 1);
  CHECK(index.bad_files == std::vector<std::string>{"benign/benign (1b).png"});
  REQUIRE(index.warnings.size() == 1);
  CHECK(contains(index.warnings[0], "skipped " + truncated.string()));
  CHECK(contains(index.warnings[0], "corrupt or truncated"));
  CHECK(contains(index.summary(), "1 bad files; 1 warning"));
  CHECK(index.warnings_text() == "warning: " + index.warnings[0] + "\n");
  // The samples after the dropped one moved down by one, in the index, its duplicate groups
  // and the cache alike: id 1 is now benign (2) (a JPEG of value 90: close to it).
  CHECK(index.samples[1].relative_path == "benign/benign (2).JPG");
  CHECK(index.duplicate_groups == std::vector<std::vector<int64_t>>{{3, 5}});
  CHECK(index.samples[3].relative_path == "normal/again.png");
  CHECK(index.samples[5].relative_path == "normal/normal (2).png");
  for (int64_t id = 0; id < index.size(); ++id) CHECK(cache.label(id) == index.samples[id].label);
  CHECK(std::abs(int(cache.image(1).at(4, 4, 0)) - 90) <= 3);
  CHECK(cache.image(5).pixels == std::vector<uint8_t>(8 * 8 * 3, 10));  // normal (2): flat 10
  CHECK(cache.image(3).pixels == cache.image(5).pixels);                // its copy

  // Splits made now see only the good images; a split file naming the dropped one is refused
  // with the reason.
  const Split split = make_split(index, {0.2, 0.2, 1});
  CHECK(split.subset_of.size() == 6);
  CHECK(split.subset_of[3] == split.subset_of[5]);
  const std::string csv = (dir.path() / "split.csv").string();
  write_split_csv(csv, index, split);
  CHECK(read_split_csv(csv, index).subset_of == split.subset_of);
  std::vector<uint8_t> text = read_bytes(csv);
  const std::string extra = "benign/benign (1b).png,benign,train,9\n";
  text.insert(text.end(), extra.begin(), extra.end());
  write_bytes(csv, text);
  std::string csv_error;
  try {
    read_split_csv(csv, index);
  } catch (const busi::Error& e) {
    csv_error = e.what();
  }
  CHECK(contains(csv_error, "left out of the data set as a bad file"));
}

TEST_CASE("drop_bad_samples: renumbers samples and duplicate groups, checks what is left") {
  DatasetIndex index;
  index.root = "/data";
  index.classes = {"a", "b"};
  for (int64_t label : {0, 0, 0, 1, 1})
    index.samples.push_back(Sample{"", "x" + std::to_string(index.samples.size()), label});
  index.duplicate_groups = {{0, 2, 3}, {1, 4}};
  drop_bad_samples(index, {{2, "/data/a/x2: broken"}, {2, "/data/a/x2: broken"}, {4, "gone"}});
  REQUIRE(index.size() == 3);
  CHECK(index.samples[2].relative_path == "x3");
  CHECK(index.duplicate_groups == std::vector<std::vector<int64_t>>{{0, 2}});
  CHECK(index.skipped_bad == 2);  // id 2 listed twice counts once
  CHECK(index.bad_files == std::vector<std::string>{"x2", "x4"});
  CHECK(index.warnings == std::vector<std::string>{"skipped /data/a/x2: broken", "skipped gone"});

  CHECK_THROWS_AS(drop_bad_samples(index, {{3, "out of range"}}), busi::Error);
  std::string error;
  try {
    drop_bad_samples(index, {{2, "the last of class b"}});
  } catch (const busi::Error& e) {
    error = e.what();
  }
  CHECK(contains(error, "class folder '/data/b' holds no images (after skipping bad files)"));
}

TEST_CASE("scan: a file without read permission is an error naming it (checked as non-root)") {
  TempDir dir("scan_unreadable");
  write_small_dataset(dir.path());
  const fs::path file = dir.path() / "benign" / "locked.png";
  write_flat_png(file, 8, 10);
  // Everything readable by everyone (whatever the umask) but the locked file, so that it is the
  // only thing the unprivileged child cannot read.
  const fs::perms folder_perms = fs::perms::owner_all | fs::perms::group_read |
                                 fs::perms::group_exec | fs::perms::others_read |
                                 fs::perms::others_exec;
  const fs::perms file_perms = fs::perms::owner_read | fs::perms::owner_write |
                               fs::perms::group_read | fs::perms::others_read;
  fs::permissions(dir.path(), folder_perms);
  for (const auto& entry : fs::recursive_directory_iterator(dir.path()))
    fs::permissions(entry.path(), entry.is_directory() ? folder_perms : file_perms);
  fs::permissions(file, fs::perms::none);

  // In the child: exit 0 with the scan's error as the report, 1 when the scan did not fail.
  const ChildResult plain = run_unprivileged([&](std::string& report) {
    ScanOptions options;
    options.threads = 1;  // no OpenMP thread pool after fork
    try {
      scan_folder(dir.str(), options);
    } catch (const busi::Error& e) {
      report = e.what();
      return 0;
    }
    return 1;
  });
  if (!plain.dropped) {
    MESSAGE("skipped: " << plain.report << "; the permission test needs a user other than root");
    return;
  }
  CHECK(plain.signal == 0);
  CHECK(plain.exit_code == 0);
  CHECK(contains(plain.report, file.string()));
  CHECK(contains(plain.report, "cannot open"));
  CHECK(contains(plain.report, "Permission denied"));

  // With skip-bad: exit 0, with the warning as the report, when the file was left out and
  // counted.
  const ChildResult skipped = run_unprivileged([&](std::string& report) {
    ScanOptions options;
    options.threads = 1;
    options.skip_bad = true;
    const DatasetIndex index = scan_folder(dir.str(), options);
    if (index.size() != 5 || index.skipped_bad != 1 || index.warnings.size() != 1) return 1;
    report = index.warnings[0];
    return 0;
  });
  CHECK(skipped.signal == 0);
  CHECK(skipped.exit_code == 0);
  CHECK(contains(skipped.report, file.string()));
  CHECK(contains(skipped.report, "Permission denied"));
}

TEST_CASE("scan: paths whose type cannot be read are busi::Error naming them") {
  TempDir dir("scan_paths");
  // A name longer than the file system allows: its type cannot be read (it is not "missing").
  const std::string too_long = (dir.path() / std::string(300, 'x')).string();
  const std::string long_error = scan_error(too_long);
  CHECK(contains(long_error, too_long));
  CHECK(contains(long_error, "cannot read it"));

  // A loop of symbolic links beside the class folders: is it a class? An error, not a guess.
  write_small_dataset(dir.path() / "data");
  fs::create_symlink("loop", dir.path() / "data" / "loop");
  const std::string loop = (dir.path() / "data" / "loop").string();
  const std::string loop_error = scan_error((dir.path() / "data").string());
  CHECK(contains(loop_error, loop));
  CHECK(contains(loop_error, "cannot tell whether it is a class folder"));

  // The same loop inside a class folder, named like an image: a bad file.
  fs::remove(dir.path() / "data" / "loop");
  const fs::path looped_image = dir.path() / "data" / "normal" / "loop.png";
  fs::create_symlink("loop.png", looped_image);
  const std::string image_error = scan_error((dir.path() / "data").string());
  CHECK(contains(image_error, looped_image.string()));
  CHECK(contains(image_error, "cannot open"));
  ScanOptions skip;
  skip.skip_bad = true;
  const DatasetIndex index = scan_folder((dir.path() / "data").string(), skip);
  CHECK(index.size() == 5);
  CHECK(index.skipped_bad == 1);
}

TEST_CASE("scan: a class emptied by skip-bad is still an error") {
  TempDir dir("scan_emptied");
  write_flat_png(dir.path() / "a" / "good.png", 8, 10);
  write_bytes(dir.path() / "b" / "bad.png", {});
  ScanOptions skip;
  skip.skip_bad = true;
  const std::string error = scan_error(dir.str(), skip);
  CHECK(contains(error, "holds no images (after skipping bad files)"));
}

TEST_CASE("image cache: decoded once at the requested size and channels, same with any threads") {
  TempDir dir("cache");
  write_small_dataset(dir.path());
  const DatasetIndex index = scan_folder(dir.str());

  const ImageCache grey(index, {12, 10, 1, 1});
  REQUIRE(grey.size() == 5);
  CHECK(grey.num_classes() == 3);
  for (int64_t id = 0; id < grey.size(); ++id) {
    CHECK(grey.image(id).height == 12);
    CHECK(grey.image(id).width == 10);
    CHECK(grey.image(id).channels == 1);
    CHECK(grey.label(id) == index.samples[id].label);
  }
  // normal (2).png is flat 10: resizing keeps it 10.
  CHECK(grey.image(4).pixels == std::vector<uint8_t>(120, 10));
  CHECK(grey.bytes() == 5 * 120);

  const ImageCache rgb_one_thread(index, {20, 20, 3, 1});
  const ImageCache rgb_three_threads(index, {20, 20, 3, 3});
  for (int64_t id = 0; id < index.size(); ++id)
    CHECK(rgb_one_thread.image(id).pixels == rgb_three_threads.image(id).pixels);
  // Grey stored images come out R = G = B.
  const Image& normal = rgb_one_thread.image(4);
  CHECK(normal.at(3, 3, 0) == normal.at(3, 3, 2));

  CHECK_THROWS_AS(ImageCache(index, {8, 8, 2, 1}), busi::Error);
}

TEST_CASE("class weights: N / (K n_c), zero for an absent class") {
  DatasetIndex index;
  index.classes = {"a", "b", "c"};
  for (int64_t label : {0, 0, 0, 1, 0, 1}) index.samples.push_back(Sample{"", "", label});
  const std::vector<float> weights = class_weights_inverse_frequency(index, {0, 1, 2, 3, 4, 5});
  // 6 samples, 3 classes: a has 4 -> 6 / 12, b has 2 -> 6 / 6, c has none -> 0.
  CHECK(weights[0] == doctest::Approx(0.5));
  CHECK(weights[1] == doctest::Approx(1.0));
  CHECK(weights[2] == 0.0f);
  // Each present class weighs N / K in total (4 x 0.5 = 2 x 1 = 2); with class c absent the
  // mean weight per sample is K' / K = 2 / 3, not 1.
  CHECK((4 * weights[0] + 2 * weights[1]) / 6 == doctest::Approx(2.0 / 3.0));
  // Over a subset only.
  const std::vector<float> subset_weights = class_weights_inverse_frequency(index, {0, 3});
  CHECK(subset_weights[0] == doctest::Approx(2.0 / 3.0));
  CHECK(subset_weights[1] == doctest::Approx(2.0 / 3.0));
  CHECK_THROWS_AS(class_weights_inverse_frequency(index, {6}), busi::Error);
}
