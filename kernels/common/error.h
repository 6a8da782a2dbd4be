// The engine's error type and the check macros used at every argument and shape check.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace busi {

// Every error the engine raises: a message naming the op and what was wrong.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace busi

// BUSI_CHECK(cond, parts...): throws busi::Error with the parts streamed together.
#define BUSI_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) throw ::busi::Error(::busi::detail::concat(__VA_ARGS__)); \
  } while (0)
