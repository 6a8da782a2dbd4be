// The split CSV: path,class,subset,group, written and read back (see split.h). Files of the
// older format, path,class,subset, load too.
#include <algorithm>
#include <fstream>
#include <unordered_map>

#include "data/grouping.h"
#include "data/split.h"
#include "kernels/common/error.h"

namespace busi::data {

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
  out << "path,class,subset,group\n";
  const std::vector<int64_t> groups = group_ids(index);
  for (int64_t i = 0; i < index.size(); ++i) {
    const Sample& sample = index.samples[i];
    BUSI_CHECK(sample.relative_path.find_first_of("\r\n") == std::string::npos,
               "write_split_csv: file name with a line break: ", sample.path);
    out << csv_field(sample.relative_path) << "," << csv_field(index.classes[sample.label]) << ","
        << subset_name(split.subset_of[i]) << "," << groups[i] << "\n";
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
  size_t columns = 3;  // 4 with the group column
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // A UTF-8 byte order mark, which some editors and spreadsheets write at the start.
    if (line_number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    const std::string where = csv_path + ":" + std::to_string(line_number) + ": ";
    if (line_number == 1) {
      BUSI_CHECK(line == "path,class,subset" || line == "path,class,subset,group", where,
                 "expected the header 'path,class,subset,group' (or 'path,class,subset')");
      columns = line.ends_with(",group") ? 4 : 3;
      if (columns == 4) split.group_of.assign(index.size(), -1);
      continue;
    }
    if (line.empty()) continue;
    BUSI_CHECK(parse_csv_line(line, fields) && fields.size() == columns, where, "expected ",
               columns,
               columns == 4 ? " fields (path,class,subset,group)" : " fields (path,class,subset)");
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
    for (Subset subset : {Subset::Train, Subset::Val, Subset::Test, Subset::Excluded})
      if (fields[2] == subset_name(subset)) split.subset_of[id] = subset, known = true;
    BUSI_CHECK(known, where, "unknown subset '", fields[2],
               "' (expected train, val, test or excluded)");
    if (columns == 4) {
      const std::string& group = fields[3];
      BUSI_CHECK(!group.empty() && group.size() <= 18 &&
                     std::all_of(group.begin(), group.end(),
                                 [](unsigned char ch) { return ch >= '0' && ch <= '9'; }),
                 where, "group '", group, "' is not a number");
      split.group_of[id] = std::stoll(group);
    }
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
