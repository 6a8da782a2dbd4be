// Running the trainers from compare: a program started with its output going straight to ours,
// its command line printed as a shell would take it, and the trainers found beside compare.
#pragma once

#include <string>
#include <vector>

namespace busi::tools {

// A command line quoted for a POSIX shell, printed so the user can rerun one step by hand.
std::string shell_line(const std::vector<std::string>& args);

// Runs a program with its output going straight to ours (progress bars included) and returns
// its exit status (128 + signal number when it was killed).
int run_program(const std::vector<std::string>& args);

// The path of the program `name` beside this executable (build/tools/); throws busi::Error
// saying how to build it when it is missing.
std::string sibling_tool(const std::string& name);

}  // namespace busi::tools
