// history.csv: writing a row and reading the file back.
#include "tools/run_folder/history.h"

#include <cmath>

namespace busi::tools {

const std::vector<std::string>& history_header() {
  static const std::vector<std::string> header = {
      "epoch",   "phase",        "train_loss", "train_acc", "val_loss",
      "val_acc", "val_macro_f1", "lr",         "seconds",   "img_per_s"};
  return header;
}

// The rate is written as a float: the precision it has.
std::vector<CsvField> history_fields(const HistoryRow& r) {
  return {r.epoch,    r.phase,    r.train_loss,   r.train_acc,
          r.val_loss, r.val_acc,  r.val_macro_f1, static_cast<float>(r.lr),
          r.seconds,  r.img_per_s};
}

std::vector<HistoryRow> read_history(const std::string& path) {
  const CsvTable table = read_csv(path);
  const size_t epoch = table.require_column("epoch");
  const int phase = table.column_index("phase");
  // The value of an optional column in row r (NaN where the file has no such column).
  auto number = [&](size_t r, const char* name) {
    const int column = table.column_index(name);
    return column < 0 ? std::nan("") : table.number(r, static_cast<size_t>(column));
  };
  std::vector<HistoryRow> rows;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    HistoryRow row;
    row.epoch = table.integer(r, epoch);
    row.phase = phase < 0 ? "train" : table.rows[r][static_cast<size_t>(phase)];
    row.train_loss = number(r, "train_loss");
    row.train_acc = number(r, "train_acc");
    row.val_loss = number(r, "val_loss");
    row.val_acc = number(r, "val_acc");
    row.val_macro_f1 = number(r, "val_macro_f1");
    row.lr = number(r, "lr");
    row.seconds = number(r, "seconds");
    row.img_per_s = number(r, "img_per_s");
    rows.push_back(row);
  }
  return rows;
}

}  // namespace busi::tools
