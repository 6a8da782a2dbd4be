// Images inlined in an HTML page: a grey or RGB image encoded as PNG, as a data: URI.
#pragma once

#include <string>

#include "data/image.h"

namespace busi::tools {

// "data:image/png;base64,..." of `image` (1 or 3 channels).
std::string png_data_uri(const data::Image& image);

}  // namespace busi::tools
