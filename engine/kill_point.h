// Kill points: places where a crash-safety test may have the process killed on purpose, to show
// that nothing is lost or left half-written wherever a real crash strikes. Inert unless the
// environment variable BUSI_KILL_AT names the point: BUSI_KILL_AT=<name>:<n> sends the process
// SIGKILL (which cannot be caught: no cleanup runs, as in a power cut of the process) the n-th
// time kill_point(<name>) is reached. Names used: "batch" (each training step),
// "write:<file name>" (halfway through writing a file atomically, e.g. "write:last.safetensors").
#pragma once

#include <string_view>

namespace busi {

void kill_point(std::string_view name);

}  // namespace busi
