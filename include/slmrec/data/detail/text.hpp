#pragma once
// Text scanning shared by the readers: whole-file reads, line iteration that
// tolerates CRLF and a missing final newline, whitespace tokens and strict
// number parsing. Readers parse one string in memory because per-character
// iostream extraction is an order of magnitude slower on multi-MB files.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <string>
#include <string_view>
#include <system_error>

namespace slmrec::data::detail {

inline std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  require(std::filesystem::exists(path, ec), "{}: cannot open: no such file", path.string());
  require(!std::filesystem::is_directory(path, ec), "{}: cannot read: it is a directory, expected a data file",
          path.string());
  // Regular files only (links followed): a FIFO or /dev/zero has no size to check.
  return io::read_file(path);
}

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline bool is_blank(std::string_view line) { return trim(line).empty(); }

// Iterates the lines of a text. Line numbers are 1-based physical lines, so
// an error message points at the line an editor shows, blank lines included.
class line_reader {
 public:
  explicit line_reader(std::string_view text) : text_(text) {
    // A UTF-8 byte order mark (spreadsheet exports) is not part of the data.
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
  }

  // The next line without its terminator ('\n', "\r\n" or a lone '\r', as
  // classic Mac files end lines: read as a line break, never merging lines);
  // false at the end. A final line without one is still a line; a trailing
  // terminator opens none.
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    // The next '\n' is searched once per '\n', not once per line, so a file
    // of lone '\r's stays linear.
    if (newline_ == std::string_view::npos || newline_ < pos_) {
      newline_ = text_.find('\n', pos_);
      if (newline_ == std::string_view::npos) newline_ = text_.size();
    }
    line = text_.substr(pos_, newline_ - pos_);
    const std::size_t cr = line.find('\r');
    if (cr != std::string_view::npos && cr + 1 < line.size()) {  // a lone '\r' ends this line
      line = line.substr(0, cr);
      pos_ += cr + 1;
    } else {
      pos_ = newline_ + 1;
      if (cr != std::string_view::npos) line.remove_suffix(1);  // "\r\n", or a final lone '\r'
    }
    ++number_;
    return true;
  }

  [[nodiscard]] index number() const { return number_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t newline_ = std::string_view::npos;  // the first '\n' at or after pos_ (text_.size() if none), when >= pos_
  index number_ = 0;
};

// Pops the next whitespace-separated token from `rest`; false when none is left.
inline bool next_token(std::string_view& rest, std::string_view& token) {
  std::size_t begin = 0;
  while (begin < rest.size() && is_space(rest[begin])) ++begin;
  if (begin == rest.size()) {
    rest = {};
    return false;
  }
  std::size_t end = begin;
  while (end < rest.size() && !is_space(rest[end])) ++end;
  token = rest.substr(begin, end - begin);
  rest.remove_prefix(end);
  return true;
}

inline index count_tokens(std::string_view line) {
  index n = 0;
  std::string_view token;
  while (next_token(line, token)) ++n;
  return n;
}

// A token as an error message shows it: quoted by the caller, cut when long.
// NUL, control and non-UTF-8 bytes (a UTF-16 file) are escaped as \xNN.
inline std::string shown(std::string_view token) { return printable(token, token.size() <= 40 ? 40 : 37); }

// The whole token must be a decimal integer (no sign '+', no spaces).
inline bool parse_integer(std::string_view s, std::int64_t& value) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}

// The whole token must be a finite decimal number: NaN ratings would defeat
// the threshold and NaN timestamps would break the chronological sort.
inline bool parse_real(std::string_view s, double& value) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(value);
}

// A user or item id of the integer formats: 1..2^31-1 (0 is the padding id).
inline std::int32_t parse_id(std::string_view token, const std::string& file, index line, std::string_view what) {
  std::int64_t value = 0;
  if (!parse_integer(token, value)) {
    // All digits but no int64: out of range, not malformed.
    if (!token.empty() && token.find_first_not_of("0123456789") == std::string_view::npos)
      fail("{}:{}: expected a {} of at most {}, found '{}' (out of range)", file, line, what,
           std::numeric_limits<std::int32_t>::max(), shown(token));
    fail("{}:{}: expected a positive integer {}, found '{}'", file, line, what, shown(token));
  }
  if (value <= 0)
    fail("{}:{}: expected a positive integer {} (0 is reserved for padding), found '{}'", file, line, what,
         shown(token));
  if (value > std::numeric_limits<std::int32_t>::max())
    fail("{}:{}: expected a {} of at most {}, found '{}'", file, line, what, std::numeric_limits<std::int32_t>::max(),
         shown(token));
  return static_cast<std::int32_t>(value);
}

}  // namespace slmrec::data::detail
