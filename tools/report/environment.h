// Where and how a report was built: the date, the compiler of the report builder and the host
// (CPU model, threads, operating system).
#pragma once

#include <string>

namespace busi::tools {

// Where and how the report was built.
struct ReportEnvironment {
  std::string generated_at;  // local date and time
  std::string compiler;      // of the report builder (the engine's build)
  std::string host;          // CPU model and core count, operating system
};
ReportEnvironment current_environment();

}  // namespace busi::tools
