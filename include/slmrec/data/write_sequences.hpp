#pragma once
// Writes format (a), the one parse_sequences reads: one user per line,
// `user item1 item2 ...`, single spaces, '\n' line ends. Lines are formatted
// with std::to_chars into a buffer flushed in large blocks, because an
// ostream << per number is several times slower and a synthetic file at
// catalog scale has tens of millions of numbers.
#include <charconv>
#include <cstdint>
#include <ostream>
#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/data/dataset.hpp>
#include <span>
#include <string>

namespace slmrec::data {

class sequences_writer {
 public:
  explicit sequences_writer(std::ostream& out, std::size_t block = std::size_t{1} << 20) : out_(out), block_(block) {
    buffer_.reserve(block_ + 64);
  }
  sequences_writer(const sequences_writer&) = delete;
  sequences_writer& operator=(const sequences_writer&) = delete;
  ~sequences_writer() = default;  // call finish(): a destructor cannot report a failed write

  // One line: `user items...`. An empty line cannot be read back (a user
  // needs an item), so none is written.
  void add(std::int64_t user, std::span<const std::int32_t> items) {
    require(!items.empty(), "write sequences: user {} has no items; the format needs at least one a line", user);
    append(user);
    for (const std::int32_t item : items) {
      buffer_.push_back(' ');
      append(item);
      if (buffer_.size() >= block_) flush();
    }
    buffer_.push_back('\n');
    ++lines_;
    if (buffer_.size() >= block_) flush();
  }

  // Writes what is buffered and checks the stream.
  void finish() { flush(); }

  [[nodiscard]] index lines() const { return lines_; }

 private:
  void append(std::int64_t value) {
    char digits[24];
    // 24 digits hold any int64, so to_chars cannot run out of room.
    const std::to_chars_result r = std::to_chars(digits, digits + sizeof digits, value);
    buffer_.append(digits, r.ptr);
  }
  void flush() {
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    require(out_.good(), "write sequences: the output stream failed after {} lines", lines_);
    buffer_.clear();
  }

  std::ostream& out_;
  std::size_t block_;
  std::string buffer_;
  index lines_ = 0;
};

// A whole dataset, user u as id u + 1 (the ids parse_sequences keeps dense).
inline void write_sequences(const dataset& d, std::ostream& out) {
  sequences_writer w(out);
  for (std::size_t u = 0; u < d.sequences.size(); ++u) w.add(static_cast<std::int64_t>(u) + 1, d.sequences[u]);
  w.finish();
}

}  // namespace slmrec::data
