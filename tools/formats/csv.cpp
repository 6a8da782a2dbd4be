// CSV writing (quoting only where needed, one flushed row at a time) and reading (a small state
// machine over quoted and plain fields).
#include "tools/formats/csv.h"

#include <charconv>
#include <cmath>
#include <filesystem>

#include "kernels/common/error.h"
#include "tools/formats/json_value.h"
#include "tools/formats/text_file.h"

namespace busi::tools {

// ---- Writing ------------------------------------------------------------------------------------

CsvField::CsvField(float v) {
  if (std::isfinite(v)) text = json_number(v);  // the float's shortest exact form
}

CsvField::CsvField(double v) {
  if (std::isfinite(v)) text = json_number(v);
}

std::string csv_escape(std::string_view field) {
  const bool needs_quotes = field.find_first_of(",\"\r\n") != std::string_view::npos ||
                            (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!needs_quotes) return std::string(field);
  std::string out = "\"";
  for (const char c : field) {
    if (c == '"') out += '"';  // a quote inside a quoted field is doubled
    out += c;
  }
  return out + "\"";
}

namespace {

std::string join_row(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    line += csv_escape(fields[i]);
  }
  return line + '\n';
}

}  // namespace

CsvWriter::CsvWriter(const std::string& path, const std::vector<std::string>& header)
    : path_(path), columns_(header.size()), text_(join_row(header)) {}

void CsvWriter::write_row(const std::vector<CsvField>& fields) {
  BUSI_CHECK(fields.size() == columns_, path_, ": row of ", fields.size(),
             " fields, the header has ", columns_);
  std::vector<std::string> texts;
  for (const CsvField& f : fields) texts.push_back(f.text);
  text_ += join_row(texts);
}

void CsvWriter::commit() const { write_text_file(path_, text_); }

void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  std::string text = join_row(header);
  for (const auto& row : rows) {
    BUSI_CHECK(row.size() == header.size(), path, ": row of ", row.size(),
               " fields, the header has ", header.size());
    text += join_row(row);
  }
  write_text_file(path, text);
}

// ---- Reading ------------------------------------------------------------------------------------

CsvTable parse_csv(std::string_view text, const std::string& source) {
  CsvTable table;
  table.source = source;
  std::vector<std::vector<std::string>> records;
  std::vector<int> record_lines;  // the line each record starts on, for error messages

  std::vector<std::string> record;
  std::string field;
  bool in_quotes = false, field_was_quoted = false;
  int line = 1, record_line = 1;
  const auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_was_quoted = false;
  };
  const auto end_record = [&] {
    const bool blank = record.empty() && field.empty() && !field_was_quoted;
    end_field();
    if (!blank) {
      records.push_back(std::move(record));
      record_lines.push_back(record_line);
    }
    record.clear();
  };

  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';  // "" inside quotes is one quote
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"') {
      BUSI_CHECK(field.empty() && !field_was_quoted, source, ": line ", line,
                 ": a quote in the middle of an unquoted field");
      in_quotes = field_was_quoted = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n') {
      end_record();
      record_line = line;
    } else if (c == '\r') {
      // part of a CRLF line end: ignored
    } else {
      BUSI_CHECK(!field_was_quoted, source, ": line ", line, ": text after a closing quote");
      field += c;
    }
  }
  BUSI_CHECK(!in_quotes, source, ": line ", record_line, ": a quoted field is never closed");
  if (!field.empty() || field_was_quoted || !record.empty()) end_record();

  BUSI_CHECK(!records.empty(), source, ": empty (expected a header row)");
  table.header = std::move(records[0]);
  for (size_t r = 1; r < records.size(); ++r) {
    BUSI_CHECK(records[r].size() == table.header.size(), source, ": line ", record_lines[r], ": ",
               records[r].size(), " fields, the header has ", table.header.size());
    table.rows.push_back(std::move(records[r]));
  }
  return table;
}

CsvTable read_csv(const std::string& path) { return parse_csv(read_text_file(path), path); }

int CsvTable::column_index(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

size_t CsvTable::require_column(std::string_view name) const {
  const int i = column_index(name);
  BUSI_CHECK(i >= 0, source, ": no column '", name, "'");
  return static_cast<size_t>(i);
}

double CsvTable::number(size_t row, size_t column) const {
  const std::string& s = rows.at(row).at(column);
  if (s.empty() || s == "nan" || s == "NaN") return std::nan("");
  double x = 0.0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  BUSI_CHECK(ec == std::errc() && end == s.data() + s.size(), source, ": row ", row + 1,
             ", column '", header.at(column), "': '", s, "' is not a number");
  return x;
}

int64_t CsvTable::integer(size_t row, size_t column) const {
  const std::string& s = rows.at(row).at(column);
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  BUSI_CHECK(ec == std::errc() && end == s.data() + s.size(), source, ": row ", row + 1,
             ", column '", header.at(column), "': '", s, "' is not an integer");
  return n;
}

}  // namespace busi::tools
