// history.csv, one row per epoch of a training run: the row, its columns, and reading it back
// (the trainer to resume, the report to plot).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/formats/csv.h"

namespace busi::tools {

// One epoch (NaN where a value is missing, e.g. the validation columns of a run without one).
struct HistoryRow {
  int64_t epoch = 0;  // from 1, counted across all phases of the run
  std::string phase;  // "train" (SimpleCNN), "head" or "finetune" (VGG16)
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, val_macro_f1 = 0;
  double lr = 0, seconds = 0, img_per_s = 0;
};

// The header of history.csv.
const std::vector<std::string>& history_header();

// One row as CSV fields, in the header's order.
std::vector<CsvField> history_fields(const HistoryRow& row);

// Reads a history.csv. Only "epoch" is required: a missing "phase" reads as "train" and any
// other missing column as NaN, so that a file of an older or foreign writer still plots.
// Throws busi::Error naming the file when it is missing or malformed.
std::vector<HistoryRow> read_history(const std::string& path);

}  // namespace busi::tools
