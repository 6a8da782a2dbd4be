// Groups as the unit of every split (data/grouping.h, data/split.h): connected components and
// group numbers, a property test over many seeds and fold counts that no group straddles two
// subsets, label conflicts left out (or kept) and reported, the split CSV's group column and the
// older format without it; on ../shared/busi, the cross-class pairs of the issue as conflicts.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "data/dataset.h"
#include "data/grouping.h"
#include "data/split.h"
#include "engine/random.h"
#include "kernels/common/error.h"
#include "test_data_helpers.h"

using namespace busi::data;
using namespace busi::data::testing;

namespace {

// Random groups as connected components of random edges: mostly pairs and triples within a
// class, a few large ones, and (with `conflicts`) some across classes.
void add_random_groups(DatasetIndex& index, busi::Generator& gen, bool conflicts) {
  const int64_t n = index.size();
  std::vector<std::pair<int64_t, int64_t>> edges;
  for (int64_t e = 0; e < n / 4; ++e) {
    const int64_t a = gen.randint(n);
    int64_t b = a + 1 + gen.randint(3);  // neighbours in id order: mostly the same class
    if (b >= n) continue;
    if (!conflicts && index.samples[a].label != index.samples[b].label) continue;
    edges.push_back({a, b});
  }
  const int64_t big = 1 + gen.randint(std::max<int64_t>(1, n / 10));  // one large chain
  for (int64_t k = 0; k + 1 < big && k + 1 < n; ++k)
    if (conflicts || index.samples[k].label == index.samples[k + 1].label)
      edges.push_back({k, k + 1});
  index.duplicate_groups = connected_groups(n, edges);
}

void check_no_group_straddles(const DatasetIndex& index, const Split& split) {
  for (const auto& group : index.duplicate_groups)
    for (int64_t id : group) {
      CAPTURE(id);
      CHECK(split.subset_of[id] == split.subset_of[group[0]]);
    }
  CHECK(leaking_groups(index, split).empty());
}

}  // namespace

TEST_CASE("connected_groups and group_ids: components of the pairs, numbered by first image") {
  const auto groups = connected_groups(8, {{5, 1}, {6, 7}, {1, 3}, {7, 6}});
  CHECK(groups == std::vector<std::vector<int64_t>>{{1, 3, 5}, {6, 7}});
  DatasetIndex index = make_index({5, 3});
  index.duplicate_groups = groups;
  // Images 0, 1 3 5, 2, 4, 6 7 -> groups 0, 1, 2, 1, 3, 1, 4, 4.
  CHECK(group_ids(index) == std::vector<int64_t>{0, 1, 2, 1, 3, 1, 4, 4});
}

TEST_CASE("property: no group ever straddles two subsets, over seeds and fold counts") {
  busi::Generator gen(2024);
  int64_t splits_checked = 0;
  for (int trial = 0; trial < 12; ++trial) {
    DatasetIndex index =
        make_index({40 + gen.randint(200), 20 + gen.randint(100), 10 + gen.randint(60)});
    const bool conflicts = trial % 2 == 1;
    add_random_groups(index, gen, conflicts);
    CAPTURE(trial);
    for (bool keep : {false, true}) {
      for (uint64_t seed = 0; seed < 10; ++seed) {
        const Split split = make_split(index, {0.15, 0.15, seed, keep});
        check_no_group_straddles(index, split);
        ++splits_checked;
      }
      for (int64_t K : {2, 3, 5, 7, 10}) {
        std::vector<int> tested(index.size(), 0);
        for (int64_t fold = 0; fold < K; ++fold) {
          const Split split =
              make_kfold_split(index, {K, fold, 0.2, static_cast<uint64_t>(trial), keep});
          check_no_group_straddles(index, split);
          for (int64_t id : split.indices(Subset::Test)) ++tested[id];
          ++splits_checked;
        }
        // The test folds partition the images that are placed at all.
        const Split any = make_kfold_split(index, {K, 0, 0.2, static_cast<uint64_t>(trial), keep});
        for (int64_t id = 0; id < index.size(); ++id)
          CHECK(tested[id] == (any.subset_of[id] == Subset::Excluded ? 0 : 1));
      }
    }
  }
  MESSAGE(splits_checked << " splits checked");
}

TEST_CASE("label conflicts: left out of every subset by default, kept together on request") {
  DatasetIndex index = make_index({30, 20, 10});
  // {2, 31}: class 0 and 1, a label conflict; {4, 5}: one class; {40, 52, 55}: classes 1 and 2.
  index.duplicate_groups = {{2, 31}, {4, 5}, {40, 52, 55}};
  CHECK(label_conflicts(index) == std::vector<int64_t>{0, 2});
  const std::vector<std::string> warnings = label_conflict_warnings(index);
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0] ==
        "label conflict: duplicates filed under different classes: "
        "'class0/img (2).png' 'class1/img (1).png'");
  CHECK(warnings[1].find("'class1/img (10).png' 'class2/img (2).png' 'class2/img (5).png'") !=
        std::string::npos);

  const Split split = make_split(index, {0.2, 0.2, 3});
  for (int64_t id : {2, 31, 40, 52, 55}) CHECK(split.subset_of[id] == Subset::Excluded);
  CHECK(split.indices(Subset::Excluded).size() == 5);
  CHECK(split.subset_of[4] == split.subset_of[5]);
  CHECK(split.subset_of[4] != Subset::Excluded);
  CHECK(split.description.find("5 label-conflict images excluded") != std::string::npos);
  CHECK(split_summary(index, split).find("; excluded 5 (class0 1, class1 2, class2 2)") !=
        std::string::npos);
  // Stratified over the 55 images placed: class 0 has 29, so round(0.2 * 29) = 6 val, 6 test.
  CHECK(index.class_counts(split.indices(Subset::Val))[0] == 6);

  const Split kept = make_split(index, {0.2, 0.2, 3, true});
  CHECK(kept.indices(Subset::Excluded).empty());
  CHECK(kept.subset_of[2] == kept.subset_of[31]);
  CHECK(kept.subset_of[40] == kept.subset_of[52]);
  CHECK(kept.subset_of[52] == kept.subset_of[55]);

  for (int64_t fold = 0; fold < 4; ++fold) {
    const Split kfold = make_kfold_split(index, {4, fold, 0.2, 3});
    for (int64_t id : {2, 31, 40, 52, 55}) CHECK(kfold.subset_of[id] == Subset::Excluded);
  }
}

TEST_CASE("split CSV: the group column and excluded rows round-trip; the old format loads") {
  TempDir dir("grouping_csv");
  DatasetIndex index = make_index({6, 4});
  index.duplicate_groups = {{1, 2}, {3, 7}};  // {3, 7}: a label conflict
  const Split split = make_split(index, {0.25, 0.25, 5});
  const std::string csv = (dir.path() / "split.csv").string();
  write_split_csv(csv, index, split);
  const std::vector<uint8_t> bytes = read_bytes(csv);
  const std::string text(bytes.begin(), bytes.end());
  CHECK(text.rfind("path,class,subset,group\nclass0/img (0).png,class0,", 0) == 0);
  CHECK(text.find("class0/img (3).png,class0,excluded,2\n") != std::string::npos);
  CHECK(text.find("class1/img (1).png,class1,excluded,2\n") != std::string::npos);
  const Split back = read_split_csv(csv, index);
  CHECK(back.subset_of == split.subset_of);
  CHECK(back.group_of == group_ids(index));

  // Written before groups existed: three columns, every image in a subset. Loads as it is; the
  // groups come from the images (prepare_data regroups), and leaking_groups tells what leaks.
  const std::string old_csv = (dir.path() / "old.csv").string();
  std::string old_text = "path,class,subset\n";
  for (int64_t i = 0; i < index.size(); ++i)
    old_text += index.samples[i].relative_path + "," + index.classes[index.samples[i].label] + "," +
                (i == 1       ? "test"
                 : i % 3 == 0 ? "val"
                              : "train") +
                "\n";
  write_bytes(old_csv, std::vector<uint8_t>(old_text.begin(), old_text.end()));
  const Split old = read_split_csv(old_csv, index);
  CHECK(old.group_of.empty());
  CHECK(old.subset_of[1] == Subset::Test);
  CHECK(old.subset_of[2] == Subset::Train);
  CHECK(leaking_groups(index, old) == std::vector<int64_t>{0, 1});  // 1/2 and 3/7 apart

  // A group that is not a number, and rows of the wrong width, are errors naming the line.
  std::string bad = text;
  bad.replace(bad.find(",2\n"), 3, ",x\n");
  write_bytes(csv, std::vector<uint8_t>(bad.begin(), bad.end()));
  CHECK(error_of([&] { read_split_csv(csv, index); }).find("group 'x' is not a number") !=
        std::string::npos);
  std::string short_row = text + "class0/img (9).png,class0,train\n";
  write_bytes(csv, std::vector<uint8_t>(short_row.begin(), short_row.end()));
  CHECK(error_of([&] { read_split_csv(csv, index); }).find("expected 4 fields") !=
        std::string::npos);
}

TEST_CASE("grouping BUSI: the issue's cross-class pairs are label conflicts, groups are whole") {
  const fs::path root = fs::path(BUSI_SHARED_DIR) / "busi";
  if (!fs::is_directory(root)) {
    MESSAGE("skipped: " << root.string() << " is absent");
    return;
  }
  ScanOptions scan;
  scan.verify_decode = false;
  DatasetIndex index = scan_folder(root.string(), scan);
  const auto byte_identical = index.duplicate_groups;
  const GroupingReport report = group_duplicates(index);
  MESSAGE(report.summary());
  auto group_of = [&](const std::string& path) {
    for (size_t g = 0; g < index.duplicate_groups.size(); ++g)
      for (int64_t id : index.duplicate_groups[g])
        if (index.samples[id].relative_path == path) return static_cast<int64_t>(g);
    return int64_t{-1};
  };
  const std::vector<int64_t> conflicts = label_conflicts(index);
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
           {"benign/benign (131).png", "malignant/malignant (51).png"},
           {"benign/benign (269).png", "normal/normal (1).png"},
           {"benign/benign (333).png", "malignant/malignant (77).png"},
           {"benign/benign (435).png", "malignant/malignant (145).png"},
           {"benign/benign (433).png", "malignant/malignant (145).png"}}) {
    CAPTURE(a);
    CAPTURE(b);
    const int64_t g = group_of(a);
    CHECK(g >= 0);
    CHECK(group_of(b) == g);
    CHECK(std::count(conflicts.begin(), conflicts.end(), g) == 1);
  }
  // One mechanism: every byte-identical group lies inside a near-duplicate group.
  for (const auto& group : byte_identical)
    for (int64_t id : group)
      CHECK(group_of(index.samples[id].relative_path) ==
            group_of(index.samples[group[0]].relative_path));
  CHECK(report.conflicts == static_cast<int64_t>(conflicts.size()));
  MESSAGE(index.warnings_text());
  CHECK(index.warnings_text().find("'benign/benign (269).png' 'normal/normal (1).png'") !=
        std::string::npos);

  // The default split: conflicts excluded, no group straddling, stratified per class.
  const Split split = make_split(index, {0.15, 0.15, 42});
  check_no_group_straddles(index, split);
  CHECK(static_cast<int64_t>(split.indices(Subset::Excluded).size()) == report.conflict_images);
  MESSAGE(split_summary(index, split));
}
