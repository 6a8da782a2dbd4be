// Plain text tables for the terminal: the per-epoch summary a trainer prints at the end.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace busi::tools {

// A text table with aligned columns: numbers right-aligned, text left-aligned.
//   TextTable t({"epoch", "loss"});
//   t.add_row({"1", "0.83"});
//   t.print(std::cout);
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace busi::tools
