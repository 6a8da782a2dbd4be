// Whole text files, read and written in one call (see text_file.h).
#include "tools/formats/text_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernels/common/error.h"

namespace busi::tools {

void write_text_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  BUSI_CHECK(out.good(), path,
             ": cannot open for writing (does the folder exist and is it writable?)");
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  BUSI_CHECK(out.good(), path, ": write failed (disk full?)");
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  BUSI_CHECK(std::filesystem::exists(path, ec), path, ": missing");
  BUSI_CHECK(!std::filesystem::is_directory(path, ec), path, ": is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  BUSI_CHECK(in.good(), path, ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace busi::tools
