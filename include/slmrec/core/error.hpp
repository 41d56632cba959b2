#pragma once
// slmrec::error — the one exception type of the library. It carries *what*
// failed and *where* (a file and line of user input, a tensor name, an
// expected-versus-found shape), so that a user reading the message can fix
// the input without a debugger.
#include <fmt/format.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
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

// A warning on stderr: something the user should know that does not stop the
// work (a checkpoint written before checksums existed, loaded unverified).
template <class... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(stderr, "slmrec: warning: {}\n", fmt::format(format, std::forward<Args>(args)...));
}

// Bytes from a file as an error message may quote them: printable ASCII and
// well-formed UTF-8 as they are, everything else (NUL, control characters,
// stray bytes of UTF-16 or Latin-1) as \xNN, cut after `limit` bytes of input.
// A message never carries a raw byte that could garble a terminal or a log.
inline std::string printable(std::string_view s, std::size_t limit = 80) {
  std::string out;
  const std::size_t n = s.size() < limit ? s.size() : limit;
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = byte(i);
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len != 0 && i + len <= s.size() && !(len == 2 && c < 0xC2) && !(len == 4 && c > 0xF4);
    for (std::size_t k = 1; ok && k < len; ++k) ok = (byte(i + k) & 0xC0) == 0x80;
    if (ok && len == 1 && (c < 0x20 || c == 0x7F)) ok = false;
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  if (s.size() > limit) out += "...";
  return out;
}

}  // namespace slmrec
