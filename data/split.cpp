// Stratified train/val/test and k-fold splits that keep duplicate groups together; split CSVs.
#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_map>

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
// 1. Duplicate groups, in an order shuffled by `gen`, each go whole to the part with the most
//    room left for their images: argmax_p sum over the group's images of remaining[class][p].
// 2. Each class's other images, shuffled by `gen`, fill the parts' remaining places in turn.
// Without duplicates every quota is met exactly; a group can only overfill a part by its own
// size, which then leaves that part short by as much in step 2.
std::vector<int> distribute(const DatasetIndex& index, const std::vector<int64_t>& members,
                            const Quotas& quotas, Generator& gen) {
  std::vector<int> part_of(index.size(), -1);
  std::vector<char> is_member(index.size(), 0), placed(index.size(), 0);
  for (int64_t id : members) is_member[id] = 1;
  Quotas remaining = quotas;
  const int64_t parts = static_cast<int64_t>(quotas[0].size());

  std::vector<std::vector<int64_t>> groups;
  for (const auto& group : index.duplicate_groups)
    if (is_member[group[0]]) groups.push_back(group);  // a group is always wholly in or out
  for (int64_t g : gen.permutation(static_cast<int64_t>(groups.size()))) {
    int64_t best = 0, best_room = INT64_MIN;
    for (int64_t p = 0; p < parts; ++p) {
      int64_t room = 0;
      for (int64_t id : groups[g]) room += remaining[index.samples[id].label][p];
      if (room > best_room) best = p, best_room = room;
    }
    for (int64_t id : groups[g]) {
      part_of[id] = static_cast<int>(best);
      --remaining[index.samples[id].label][best];
      placed[id] = 1;
    }
  }

  for (int64_t c = 0; c < index.num_classes(); ++c) {
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

std::vector<int64_t> all_ids(const DatasetIndex& index) {
  std::vector<int64_t> ids(index.size());
  for (int64_t i = 0; i < index.size(); ++i) ids[i] = i;
  return ids;
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
  Quotas quotas;
  for (int64_t n : index.class_counts()) {
    // round() keeps each share within half an image of n f, so train is within one image.
    const int64_t val = std::llround(n * options.val_fraction);
    const int64_t test = std::llround(n * options.test_fraction);
    quotas.push_back({n - val - test, val, test});  // parts in Subset order: train, val, test
  }
  Generator gen(derive_seed(options.seed, SeedStream::Split));
  const std::vector<int> part_of = distribute(index, all_ids(index), quotas, gen);

  Split split;
  for (int part : part_of) split.subset_of.push_back(static_cast<Subset>(part));
  split.description = "stratified " + percent(1 - options.val_fraction - options.test_fraction) +
                      "/" + percent(options.val_fraction) + "/" + percent(options.test_fraction) +
                      " train/val/test, seed " + std::to_string(options.seed);
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
  Quotas fold_quotas;
  int64_t first_spare = 0;
  for (int64_t n : index.class_counts()) {
    std::vector<int64_t> row(K, n / K);
    for (int64_t j = 0; j < n % K; ++j) ++row[(first_spare + j) % K];
    first_spare = (first_spare + n % K) % K;
    fold_quotas.push_back(row);
  }
  Generator fold_gen(derive_seed(options.seed, SeedStream::KFold));
  const std::vector<int> fold_of = distribute(index, all_ids(index), fold_quotas, fold_gen);

  Split split;
  split.subset_of.assign(index.size(), Subset::Test);
  std::vector<int64_t> rest;
  for (int64_t i = 0; i < index.size(); ++i)
    if (fold_of[i] != options.fold) rest.push_back(i);

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
                      std::to_string(options.seed);
  return split;
}

std::string split_summary(const DatasetIndex& index, const Split& split) {
  std::ostringstream os;
  for (Subset subset : {Subset::Train, Subset::Val, Subset::Test}) {
    const std::vector<int64_t> ids = split.indices(subset);
    const std::vector<int64_t> counts = index.class_counts(ids);
    os << (subset == Subset::Train ? "" : "; ") << subset_name(subset) << " " << ids.size() << " (";
    for (int64_t c = 0; c < index.num_classes(); ++c)
      os << (c ? ", " : "") << index.classes[c] << " " << counts[c];
    os << ")";
  }
  return os.str();
}

namespace {

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char ch : value) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

// Splits one CSV line into fields ("a","b ""c""" -> a, b "c"). Returns false on a bad quote.
bool parse_csv_line(const std::string& line, std::vector<std::string>& fields) {
  fields.assign(1, "");
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        fields.back() += ch;
      }
    } else if (ch == '"' && fields.back().empty()) {
      quoted = true;
    } else if (ch == ',') {
      fields.emplace_back();
    } else {
      fields.back() += ch;
    }
  }
  return !quoted;
}

}  // namespace

void write_split_csv(const std::string& csv_path, const DatasetIndex& index, const Split& split) {
  BUSI_CHECK(split.subset_of.size() == index.samples.size(), "write_split_csv: the split has ",
             split.subset_of.size(), " entries but the data set ", index.size(), " images");
  std::ofstream out(csv_path);
  BUSI_CHECK(out.good(), csv_path, ": cannot write the split file");
  out << "path,class,subset\n";
  for (int64_t i = 0; i < index.size(); ++i) {
    const Sample& sample = index.samples[i];
    BUSI_CHECK(sample.relative_path.find_first_of("\r\n") == std::string::npos,
               "write_split_csv: file name with a line break: ", sample.path);
    out << csv_field(sample.relative_path) << "," << csv_field(index.classes[sample.label]) << ","
        << subset_name(split.subset_of[i]) << "\n";
  }
  out.close();
  BUSI_CHECK(!out.fail(), csv_path, ": error while writing the split file");
}

Split read_split_csv(const std::string& csv_path, const DatasetIndex& index) {
  std::ifstream in(csv_path);
  BUSI_CHECK(in.good(), csv_path, ": cannot open the split file");
  std::unordered_map<std::string, int64_t> id_of;
  for (int64_t i = 0; i < index.size(); ++i) id_of[index.samples[i].relative_path] = i;

  Split split;
  split.subset_of.assign(index.size(), Subset::Train);
  std::vector<char> seen(index.size(), 0);
  std::string line;
  std::vector<std::string> fields;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // A UTF-8 byte order mark, which some editors and spreadsheets write at the start.
    if (line_number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    const std::string where = csv_path + ":" + std::to_string(line_number) + ": ";
    if (line_number == 1) {
      BUSI_CHECK(line == "path,class,subset", where, "expected the header 'path,class,subset'");
      continue;
    }
    if (line.empty()) continue;
    BUSI_CHECK(parse_csv_line(line, fields) && fields.size() == 3, where,
               "expected 3 fields (path,class,subset)");
    const auto found = id_of.find(fields[0]);
    const bool skipped = std::find(index.bad_files.begin(), index.bad_files.end(), fields[0]) !=
                         index.bad_files.end();
    BUSI_CHECK(found != id_of.end() || !skipped, where, "'", fields[0],
               "' was left out of the data set as a bad file (skip-bad); this split cannot be "
               "reused as it is");
    BUSI_CHECK(found != id_of.end(), where, "'", fields[0],
               "' is not an image of the data set at '", index.root, "'");
    const int64_t id = found->second;
    const std::string& class_name = index.classes[index.samples[id].label];
    BUSI_CHECK(fields[1] == class_name, where, "'", fields[0], "' has class '", fields[1],
               "' in the file but '", class_name, "' in the data set");
    BUSI_CHECK(!seen[id], where, "'", fields[0], "' is listed twice");
    seen[id] = 1;
    bool known = false;
    for (Subset subset : {Subset::Train, Subset::Val, Subset::Test})
      if (fields[2] == subset_name(subset)) split.subset_of[id] = subset, known = true;
    BUSI_CHECK(known, where, "unknown subset '", fields[2], "' (expected train, val or test)");
  }
  BUSI_CHECK(line_number > 0, csv_path, ": empty split file");
  int64_t missing = 0;
  std::string first_missing;
  for (int64_t i = 0; i < index.size(); ++i)
    if (!seen[i] && missing++ == 0) first_missing = index.samples[i].relative_path;
  BUSI_CHECK(missing == 0, csv_path, ": ", missing, " images of the data set at '", index.root,
             "' are not in the split file (first: '", first_missing, "')");
  split.description = "read from " + csv_path;
  return split;
}

}  // namespace busi::data
