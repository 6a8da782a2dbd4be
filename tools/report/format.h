// How the report writes numbers: metrics to three decimals, signed differences, intervals,
// p-values, counts with thousands separators, durations, parameter counts; a dash where a value is
// missing.
#pragma once

#include <cstdint>
#include <string>

#include "tools/metrics/bootstrap.h"

namespace busi::tools {

inline constexpr const char* kDash = "\u2014";  // shown where a value is missing

// One number through a printf format ("%.3f").
std::string printf_string(const char* format, double value);

// A metric to three decimals: 0.812 (a dash when not finite).
std::string fmt_metric(double v);
// A difference with its sign: +0.034, -0.120; 0.000 when it rounds to zero.
std::string fmt_signed(double v);
// "[0.712, 0.845]"; "" when the interval is not finite (no bootstrap).
std::string fmt_interval(const Interval& ci);
// "0.0123", "< 0.0001".
std::string fmt_p_value(double p);
// 14714688 -> "14,714,688"
std::string fmt_count(int64_t n);
// "42.0 s", "5 min 01 s", "1 h 05 min".
std::string fmt_duration(double seconds);
// "1 test image", "3 test images"
std::string count_of(int64_t n, const std::string& noun);
// True when the interval lies wholly above or below 0 (a difference the bootstrap supports).
bool excludes_zero(const Interval& ci);
// "14,714,688 (14.71 M)".
std::string fmt_parameters(double n);

}  // namespace busi::tools
