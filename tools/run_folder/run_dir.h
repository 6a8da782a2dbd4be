// The output folder of a run: its default name, its creation (with a clear error when it cannot
// be written), and the facts recorded in config.json beside the settings (git commit, machine).
#pragma once

#include <string>

#include "tools/formats/json_value.h"

namespace busi::tools {

// "runs/<tool>-YYYYmmdd-HHMMSS" (local time), relative to the current folder.
std::string default_run_dir(const std::string& tool);

// Creates `dir` and its parents if needed and checks that a file can be written in it. Throws
// busi::Error "output folder '<dir>': ..." saying what failed (exists as a file, permission
// denied, ...), before any training time is spent.
void prepare_run_dir(const std::string& dir);

// The commit checked out in `source_dir` (`git -C source_dir rev-parse HEAD`), or "unknown" when
// git, the repository or a commit is missing.
std::string git_commit(const std::string& source_dir);

// The current local time as "2025-01-31T14:05:09".
std::string local_timestamp();

// The machine a run used, for config.json and the report's Environment table: compiler, host,
// CPU model and OpenMP threads, and on a GPU the device line of cuda::runtime_description()
// (name, compute capability, math mode, cuDNN version) as gpu_name / cuda_version.
Json environment_json(bool on_gpu);

// Writes `config` to <dir>/config.json.
void write_config_json(const std::string& dir, const Json& config);

}  // namespace busi::tools
