// The look of report.html: the two runs' colours, the page's style sheet, and the small pieces of
// markup every section uses (escaped text, a colour dot).
#pragma once

#include <string>
#include <string_view>

namespace busi::tools {

inline constexpr const char* kColourA = "#1f77b4";  // blue: the first run (SimpleCNN)
inline constexpr const char* kColourB = "#e6550d";  // orange: the second run (VGG16)

// The style sheet, inlined in the page's <head> (the page opens offline).
extern const char* const kStyle;

// Text made safe inside HTML.
std::string esc(std::string_view s);
// A round dot in a run's colour, before its name.
std::string dot(const char* colour);

}  // namespace busi::tools
