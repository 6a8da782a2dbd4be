// AddressSpaceCap (address_space_cap.h): RLIMIT_AS lowered to "mapped now + budget" and put back.
#include "weights/address_space_cap.h"

#include <fstream>

#ifdef __linux__
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace busi::weights {

namespace {

// Bytes of address space the process has mapped now (Linux: /proc/self/statm), or 0 if unknown.
std::size_t mapped_bytes_now() {
#ifdef __linux__
  // statm's first field: the total program size (every mapping), in pages.
  std::ifstream statm("/proc/self/statm");
  unsigned long long pages = 0;
  if (!(statm >> pages)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
#else
  return 0;
#endif
}

}  // namespace

AddressSpaceCap::AddressSpaceCap(std::size_t extra_bytes) {
#ifdef __linux__
  const std::size_t now = mapped_bytes_now();
  rlimit limit{};
  if (now == 0 || getrlimit(RLIMIT_AS, &limit) != 0) return;
  const rlim_t cap = static_cast<rlim_t>(now) + static_cast<rlim_t>(extra_bytes);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur <= cap) return;  // already tighter
  previous_soft_ = limit.rlim_cur;
  rlimit capped = limit;
  capped.rlim_cur = cap;  // only the soft limit: it can be raised back up to the hard one
  active_ = setrlimit(RLIMIT_AS, &capped) == 0;
#endif
}

AddressSpaceCap::~AddressSpaceCap() {
#ifdef __linux__
  if (!active_) return;
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0) return;
  limit.rlim_cur = static_cast<rlim_t>(previous_soft_);
  setrlimit(RLIMIT_AS, &limit);
#endif
}

}  // namespace busi::weights
