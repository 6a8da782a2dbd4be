// A tool's main(): the exit status and message for each kind of failure (see tool_main.h).
#include "tools/cli/tool_main.h"

#include <exception>
#include <iostream>

#include "tools/cli/command_line.h"

namespace busi::tools {

int run_tool_main(const char* program, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << program << ": " << e.what() << " (see --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace busi::tools
