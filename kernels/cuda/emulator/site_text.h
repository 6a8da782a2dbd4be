// How the emulator's fault messages name things (internal to kernels/cuda/emulator/): a place in
// the kernel source, a warp function, a lane mask.
#pragma once

#include <cstdio>
#include <cstring>
#include <string>

#include "kernels/cuda/emulator/device_code.h"

namespace busi::emu {

inline bool same_site(Site a, Site b) {
  return a.line == b.line && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

// "kernels/cuda/reduce.cu:30" (paths are absolute in CMake builds).
inline std::string where(Site s) {
  const char* file = s.file ? s.file : "?";
  for (const char* top : {"kernels/", "engine/", "tests/", "tools/"}) {
    if (const char* at = std::strstr(file, top)) {
      file = at;
      break;
    }
  }
  return std::string(file) + ":" + std::to_string(s.line);
}

inline const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::Sync:
      return "__syncwarp";
    case WarpOp::Ballot:
      return "__ballot_sync";
    case WarpOp::ShuffleIndex:
      return "__shfl_sync";
    case WarpOp::ShuffleUp:
      return "__shfl_up_sync";
    case WarpOp::ShuffleDown:
      return "__shfl_down_sync";
    case WarpOp::ShuffleXor:
      return "__shfl_xor_sync";
  }
  return "?";
}

inline std::string hex(unsigned mask) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", mask);
  return text;
}

}  // namespace busi::emu
