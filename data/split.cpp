// Stratified train/val/test and k-fold splits that keep duplicate groups together and leave
// label conflicts out (unless kept); the split CSV is in split_csv.cpp.
#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "data/seeds.h"
#include "kernels/common/error.h"
#include "engine/random.h"

namespace busi::data {

const char* subset_name(Subset subset) {
  switch (subset) {
    case Subset::Train:
      return "train";
    case Subset::Val:
      return "val";
    case Subset::Test:
      return "test";
    case Subset::Excluded:
      return "excluded";
  }
  return "?";
}

std::vector<int64_t> Split::indices(Subset subset) const {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < static_cast<int64_t>(subset_of.size()); ++i)
    if (subset_of[i] == subset) ids.push_back(i);
  return ids;
}

namespace {

// quotas[c][p]: how many images of class c go to part p (a subset, or a fold).
using Quotas = std::vector<std::vector<int64_t>>;

// Gives each of `members` (sample ids) a part so that class c ends with quotas[c][p] images in
// part p; duplicate groups stay in one part. Returns the part per sample id (-1: not a member).
//
// 1. Duplicate groups, in an order shuffled by `gen`, each go whole to a part drawn at random with
//    probability proportional to the room that part has left for the group's images (sum over
//    them of remaining[class][p]), among the parts where each of the group's classes still has
//    room for all its images of that class. So a part holding 15 % of the places gets about 15 %
//    of the groups, as it gets 15 % of the single images: validation, test and every fold hold
//    grouped images at their share (issue 24), not only images without a look-alike, which is
//    what always sending a group to the part with the most room (training) did.
// 2. Each class's other images, shuffled by `gen`, fill the parts' remaining places in turn.
// Every quota is then met exactly. Only a group too large for every part's room (larger than a
// part's quota) goes to the part with the most room and overfills it, by at most its own size.
std::vector<int> distribute(const DatasetIndex& index, const std::vector<int64_t>& members,
                            const Quotas& quotas, Generator& gen) {
  std::vector<int> part_of(index.size(), -1);
  std::vector<char> is_member(index.size(), 0), placed(index.size(), 0);
  for (int64_t id : members) is_member[id] = 1;
  Quotas remaining = quotas;
  const int64_t parts = static_cast<int64_t>(quotas[0].size());
  const int64_t classes = index.num_classes();

  std::vector<std::vector<int64_t>> groups;
  for (const auto& group : index.duplicate_groups)
    if (is_member[group[0]]) groups.push_back(group);  // a group is always wholly in or out
  for (int64_t g : gen.permutation(static_cast<int64_t>(groups.size()))) {
    std::vector<int64_t> needs(classes, 0);  // the group's images per class
    for (int64_t id : groups[g]) ++needs[index.samples[id].label];
    std::vector<int64_t> room(parts, 0);  // places left for the group's images, per part
    std::vector<char> fits(parts, 1);
    int64_t total_fitting = 0, most = 0;
    for (int64_t p = 0; p < parts; ++p) {
      for (int64_t c = 0; c < classes; ++c) {
        room[p] += needs[c] * remaining[c][p];
        if (needs[c] > remaining[c][p]) fits[p] = 0;
      }
      if (fits[p]) total_fitting += room[p];
      if (room[p] > room[most]) most = p;
    }
    int64_t chosen = most;
    if (total_fitting > 0) {  // a draw proportional to room, among the parts it fits in
      int64_t ticket = gen.randint(total_fitting);
      for (int64_t p = 0; p < parts; ++p) {
        if (!fits[p]) continue;
        if (ticket < room[p]) {
          chosen = p;
          break;
        }
        ticket -= room[p];
      }
    }
    for (int64_t id : groups[g]) {
      part_of[id] = static_cast<int>(chosen);
      --remaining[index.samples[id].label][chosen];
      placed[id] = 1;
    }
  }

  for (int64_t c = 0; c < classes; ++c) {
    std::vector<int64_t> singles;
    for (int64_t id : members)
      if (index.samples[id].label == c && !placed[id]) singles.push_back(id);
    const std::vector<int64_t> order = gen.permutation(static_cast<int64_t>(singles.size()));
    size_t next = 0;
    for (int64_t p = 0; p < parts; ++p)
      for (int64_t r = remaining[c][p]; r > 0 && next < singles.size(); --r)
        part_of[singles[order[next++]]] = static_cast<int>(p);
    // The quotas of class c sum to its member count, so the places always suffice.
    BUSI_CHECK(next == singles.size(), "split: internal error, places do not add up");
  }
  return part_of;
}

// The sample ids a split places: all but the images of label conflicts, unless those are kept.
std::vector<int64_t> placed_ids(const DatasetIndex& index, bool keep_conflicts) {
  std::vector<char> excluded(index.size(), 0);
  if (!keep_conflicts)
    for (int64_t g : label_conflicts(index))
      for (int64_t id : index.duplicate_groups[g]) excluded[id] = 1;
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < index.size(); ++i)
    if (!excluded[i]) ids.push_back(i);
  return ids;
}

// ", 5 label-conflict images excluded" when any are.
std::string excluded_note(const DatasetIndex& index, const std::vector<int64_t>& placed) {
  const int64_t excluded = index.size() - static_cast<int64_t>(placed.size());
  return excluded == 0 ? "" : ", " + std::to_string(excluded) + " label-conflict images excluded";
}

void check_fractions(double val_fraction, double test_fraction) {
  BUSI_CHECK(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1,
             "split: fractions must be >= 0 and leave some training images (val ", val_fraction,
             ", test ", test_fraction, ")");
}

std::string percent(double fraction) { return std::to_string(std::lround(100 * fraction)); }

}  // namespace

Split make_split(const DatasetIndex& index, const SplitOptions& options) {
  check_fractions(options.val_fraction, options.test_fraction);
  const std::vector<int64_t> placed = placed_ids(index, options.keep_conflicts);
  Quotas quotas;
  for (int64_t n : index.class_counts(placed)) {
    // round() keeps each share within half an image of n f, so train is within one image.
    const int64_t val = std::llround(n * options.val_fraction);
    const int64_t test = std::llround(n * options.test_fraction);
    quotas.push_back({n - val - test, val, test});  // parts in Subset order: train, val, test
  }
  Generator gen(derive_seed(options.seed, SeedStream::Split));
  const std::vector<int> part_of = distribute(index, placed, quotas, gen);

  Split split;
  for (int part : part_of)
    split.subset_of.push_back(part < 0 ? Subset::Excluded : static_cast<Subset>(part));
  split.description = "stratified " + percent(1 - options.val_fraction - options.test_fraction) +
                      "/" + percent(options.val_fraction) + "/" + percent(options.test_fraction) +
                      " train/val/test, seed " + std::to_string(options.seed) +
                      excluded_note(index, placed);
  return split;
}

Split make_kfold_split(const DatasetIndex& index, const KFoldOptions& options) {
  const int64_t K = options.folds;
  BUSI_CHECK(K >= 2 && K <= index.size(), "k-fold split: folds must be in [2, ", index.size(),
             "], got ", K);
  BUSI_CHECK(options.fold >= 0 && options.fold < K, "k-fold split: fold must be in [0, ", K,
             "), got ", options.fold);
  check_fractions(options.val_fraction, 0.0);

  // Class c puts n_c / K images in every fold and its n_c % K spare ones in the folds after
  // the previous class's spares, so that fold totals also differ by at most one.
  const std::vector<int64_t> placed = placed_ids(index, options.keep_conflicts);
  Quotas fold_quotas;
  int64_t first_spare = 0;
  for (int64_t n : index.class_counts(placed)) {
    std::vector<int64_t> row(K, n / K);
    for (int64_t j = 0; j < n % K; ++j) ++row[(first_spare + j) % K];
    first_spare = (first_spare + n % K) % K;
    fold_quotas.push_back(row);
  }
  Generator fold_gen(derive_seed(options.seed, SeedStream::KFold));
  const std::vector<int> fold_of = distribute(index, placed, fold_quotas, fold_gen);

  Split split;
  split.subset_of.assign(index.size(), Subset::Excluded);
  std::vector<int64_t> rest;
  for (int64_t id : placed) {
    if (fold_of[id] == options.fold)
      split.subset_of[id] = Subset::Test;
    else
      rest.push_back(id);
  }

  // Validation images come from the other folds, stratified the same way.
  Quotas val_quotas;
  for (int64_t m : index.class_counts(rest)) {
    const int64_t val = std::llround(m * options.val_fraction);
    val_quotas.push_back({m - val, val});  // parts: train, val
  }
  Generator val_gen(derive_seed(options.seed, SeedStream::KFoldValidation,
                                {static_cast<uint64_t>(options.fold)}));
  const std::vector<int> part_of = distribute(index, rest, val_quotas, val_gen);
  for (int64_t id : rest) split.subset_of[id] = part_of[id] == 0 ? Subset::Train : Subset::Val;

  split.description = "stratified " + std::to_string(K) + "-fold, test fold " +
                      std::to_string(options.fold) + ", validation " +
                      percent(options.val_fraction) + "% of the other folds, seed " +
                      std::to_string(options.seed) + excluded_note(index, placed);
  return split;
}

std::string split_summary(const DatasetIndex& index, const Split& split) {
  std::ostringstream os;
  for (Subset subset : {Subset::Train, Subset::Val, Subset::Test, Subset::Excluded}) {
    const std::vector<int64_t> ids = split.indices(subset);
    if (subset == Subset::Excluded && ids.empty()) continue;
    const std::vector<int64_t> counts = index.class_counts(ids);
    os << (subset == Subset::Train ? "" : "; ") << subset_name(subset) << " " << ids.size() << " (";
    for (int64_t c = 0; c < index.num_classes(); ++c)
      os << (c ? ", " : "") << index.classes[c] << " " << counts[c];
    os << ")";
  }
  return os.str();
}

std::vector<int64_t> leaking_groups(const DatasetIndex& index, const Split& split) {
  std::vector<int64_t> leaks;
  for (size_t g = 0; g < index.duplicate_groups.size(); ++g) {
    int subsets_seen = 0;  // bit s: some image of the group is in subset s
    for (int64_t id : index.duplicate_groups[g])
      if (split.subset_of[id] != Subset::Excluded)
        subsets_seen |= 1 << static_cast<int>(split.subset_of[id]);
    if (subsets_seen & (subsets_seen - 1)) leaks.push_back(static_cast<int64_t>(g));
  }
  return leaks;
}

}  // namespace busi::data
