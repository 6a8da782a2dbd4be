// serve's one page (HTML, CSS and JavaScript in one document), built into the binary from
// tools/serve/page.html by tools/serve/embed_page.cmake, so that the server reads no file.
#pragma once

#include <string_view>

namespace busi::tools {

std::string_view serve_page();

}  // namespace busi::tools
