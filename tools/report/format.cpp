// Number formatting for the report (see format.h).
#include "tools/report/format.h"

#include <cmath>
#include <cstdio>

namespace busi::tools {

std::string printf_string(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string fmt_metric(double v) { return std::isfinite(v) ? printf_string("%.3f", v) : kDash; }

std::string fmt_signed(double v) {
  if (!std::isfinite(v)) return kDash;
  return std::abs(v) < 5e-4 ? "0.000" : printf_string("%+.3f", v);
}

std::string fmt_interval(const Interval& ci) {
  if (!std::isfinite(ci.low) || !std::isfinite(ci.high)) return "";
  // One snprintf: GCC 12 warns wrongly (-Wrestrict) on the inlined chain of string additions.
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%.3f, %.3f]", ci.low, ci.high);
  return buf;
}

std::string fmt_p_value(double p) {
  if (!std::isfinite(p)) return kDash;
  if (p < 1e-4) return "< 0.0001";
  return printf_string("%.4f", p);
}

// 14714688 -> "14,714,688"
std::string fmt_count(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string fmt_duration(double seconds) {
  if (!std::isfinite(seconds)) return kDash;
  if (seconds < 60) return printf_string("%.1f s", seconds);
  const auto total = static_cast<int64_t>(std::lround(seconds));
  char buf[64];
  if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", static_cast<long long>(total / 3600),
                  static_cast<long long>(total % 3600 / 60));
  }
  return buf;
}

// "1 test image", "3 test images"
std::string count_of(int64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

bool excludes_zero(const Interval& ci) {
  return std::isfinite(ci.low) && std::isfinite(ci.high) && (ci.low > 0 || ci.high < 0);
}

std::string fmt_parameters(double n) {
  if (!std::isfinite(n)) return kDash;
  return fmt_count(static_cast<int64_t>(n)) + " (" + printf_string("%.2f", n / 1e6) + " M)";
}

}  // namespace busi::tools
