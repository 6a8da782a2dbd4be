// Whole text files, read and written in one call (see text_file.h).
#include "tools/formats/text_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernels/common/error.h"
#include "weights/atomic_file.h"

namespace busi::tools {

// Through a temporary file and a rename (weights/atomic_file.h): a crash, a kill or a full disk
// leaves the previous file whole, never half of the new one.
void write_text_file(const std::string& path, std::string_view text) {
  weights::AtomicFile file(path);
  file.write(text.data(), text.size());
  file.commit();
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
