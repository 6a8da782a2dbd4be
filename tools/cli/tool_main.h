// What every tool's main() is: the tool's run function, with what it throws turned into one
// message and the exit status the tools share (2: a usage error, 1: any other failure).
#pragma once

namespace busi::tools {

// A tool's main(): runs `run` and turns what it throws into the exit status every tool uses:
// 2 and "<program>: <message> (see --help)" for a usage error, 1 and "<program>: error:
// <message>" for anything else (a missing file, a corrupt image, out of memory...).
int run_tool_main(const char* program, int (*run)(int, char**), int argc, char** argv);

}  // namespace busi::tools
