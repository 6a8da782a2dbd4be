// Whole text files read and written in one call, with errors that name the file: what config.json,
// metrics.json, the reports and the CSV reader are built on.
#pragma once

#include <string>
#include <string_view>

namespace busi::tools {

// Writes text to a file, replacing it atomically (the old file stays whole if anything fails);
// throws busi::Error naming the file and the reason when it cannot.
void write_text_file(const std::string& path, std::string_view text);
// Reads a whole file; throws busi::Error "<path>: missing" or "<path>: cannot read".
std::string read_text_file(const std::string& path);

}  // namespace busi::tools
