// CSV files as the tools write and read them (RFC 4180): comma-separated, a header row, fields
// quoted when they hold a comma, a quote, a line break or outer spaces ("benign (12).png" is safe).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace busi::tools {

// One field of a row to write, from text or a number. Numbers are written in their shortest
// exact form (a float 0.1f as "0.1"); NaN is written as an empty field (read back as NaN).
struct CsvField {
  std::string text;
  CsvField(const char* s) : text(s) {}
  CsvField(std::string s) : text(std::move(s)) {}
  CsvField(std::string_view s) : text(s) {}
  CsvField(int v) : text(std::to_string(v)) {}
  CsvField(unsigned v) : text(std::to_string(v)) {}
  CsvField(long v) : text(std::to_string(v)) {}
  CsvField(long long v) : text(std::to_string(v)) {}
  CsvField(unsigned long v) : text(std::to_string(v)) {}
  CsvField(unsigned long long v) : text(std::to_string(v)) {}
  CsvField(float v);
  CsvField(double v);
};

// The field as it appears in the file: quoted (with "" for each quote) only when it has to be.
std::string csv_escape(std::string_view field);

// Builds a CSV file in memory and writes it whole, atomically (write_text_file), on commit():
//   CsvWriter history(dir + "/history.csv", {"epoch", "phase", "train_loss"});
//   history.write_row({epoch, "train", loss});
//   history.commit();
// so a reader (or a run resumed after a crash) only ever sees the file complete as it was or
// complete as it is now, never a torn last row. Nothing is written without commit(). Throws
// busi::Error naming the file when a row has the wrong width or the file cannot be written.
class CsvWriter {
 public:
  CsvWriter(const std::string& path, const std::vector<std::string>& header);
  void write_row(const std::vector<CsvField>& fields);
  void commit() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  size_t columns_;
  std::string text_;
};

// A CSV file read whole: the header and the rows (every row has as many fields as the header).
struct CsvTable {
  std::string source;  // the file name, for error messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  // The index of a column, or -1 when there is none of that name.
  int column_index(std::string_view name) const;
  // Like column_index, but throws busi::Error "<source>: no column 'name'" when absent.
  size_t require_column(std::string_view name) const;
  // A field read as a number: throws busi::Error naming the file, row and column when the text
  // is not a number; an empty field reads as NaN.
  double number(size_t row, size_t column) const;
  int64_t integer(size_t row, size_t column) const;
};

// Parses CSV text: LF or CRLF line ends, quoted fields may hold commas, quotes ("") and line
// breaks; blank lines are skipped. Throws busi::Error "<source>: line N: ..." on a malformed row.
CsvTable parse_csv(std::string_view text, const std::string& source = "csv");
// Reads a CSV file; a missing file gives "<path>: missing".
CsvTable read_csv(const std::string& path);
// Writes a whole table at once.
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows);

}  // namespace busi::tools
