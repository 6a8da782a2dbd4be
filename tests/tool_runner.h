// Running the built programs from a test, as a user runs them: a scratch folder per test process
// (removed at exit), a command through the shell with stdout and stderr captured apart, and the
// tools of this build by name. Shared by the tests of predict, serve and export_onnx.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace busi::test {

namespace fs = std::filesystem;

inline const std::string kToolsDir = std::string(BUSI_BINARY_DIR) + "/tools/";

// A fresh folder <tmp>/busi_<name>_<pid>, made on first use and removed when the process exits.
// Every test file names its own, so that tests running at once never share one.
inline const fs::path& scratch_folder(const std::string& name) {
  static const fs::path dir = [&name] {
    const fs::path d =
        fs::temp_directory_path() / ("busi_" + name + "_" + std::to_string(getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    static const fs::path to_remove = d;
    std::atexit([] { fs::remove_all(to_remove); });
    return d;
  }();
  return dir;
}

// The whole file as bytes ("" when it cannot be read).
inline std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// 'text' for the shell (the paths here hold spaces and parentheses, never a quote).
inline std::string shell_quote(const std::string& text) { return "'" + text + "'"; }

struct ToolRun {
  int exit_code = -1;    // -1: killed by a signal
  std::string out, err;  // stdout and stderr apart (a CSV goes to stdout alone)
};

// Runs a shell command line, its output captured in files of the scratch folder `scratch`.
inline ToolRun run_command(const fs::path& scratch, const std::string& command_line) {
  static int counter = 0;
  const std::string n = std::to_string(counter++);
  const fs::path out = scratch / ("out" + n), err = scratch / ("err" + n);
  std::string command = command_line;
  command += " > " + shell_quote(out.string());
  command += " 2> " + shell_quote(err.string());
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_whole_file(out), read_whole_file(err)};
}

// Runs build/tools/<tool> with `args` (already quoted where needed).
inline ToolRun run_tool(const fs::path& scratch, const std::string& tool, const std::string& args) {
  return run_command(scratch, shell_quote(kToolsDir + tool) + " " + args);
}

}  // namespace busi::test
