#pragma once
// slmrec::error — the one exception type of the library. It carries *what*
// failed and *where* (a file and line of user input, a tensor name, an
// expected-versus-found shape), so that a user reading the message can fix
// the input without a debugger.
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace slmrec {

class error : public std::runtime_error {
 public:
  explicit error(std::string what) : std::runtime_error(std::move(what)) {}
};

// Formats and throws: `fail("{}:{}: expected an item id, found '{}'", file, line, tok)`.
template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw error(fmt::format(format, std::forward<Args>(args)...));
}

// Checks a precondition on user-controlled data (never `assert` on those).
template <class... Args>
void require(bool ok, fmt::format_string<Args...> format, Args&&... args) {
  if (!ok) fail(format, std::forward<Args>(args)...);
}

}  // namespace slmrec
