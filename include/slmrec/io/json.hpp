#pragma once
// The one way slmrec reads JSON files (configs, training state, shard
// indexes, safetensors headers): parsing that refuses deep nesting before
// the JSON library sees it, and a field reader that names the file and the
// field and checks each value's type and range. A JSON library exception
// (a wrong type, a number out of range) never escapes: every failure is a
// slmrec::error such as
//   runs/x/config.json: field 'model.dim': expected an integer in [1, 65536], found 32.9
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/io/atomic_file.hpp>

namespace slmrec::io {

// A JSON value as an error message shows it, never recursively: a scalar as
// JSON (cut to 60 bytes, bad UTF-8 replaced), a container by its kind and size.
inline std::string describe_json(const nlohmann::json& v) {
  if (v.is_array()) return fmt::format("an array of {} values", v.size());
  if (v.is_object()) return fmt::format("an object of {} fields", v.size());
  return printable(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 60);
}

namespace detail {

// The deepest nesting of arrays and objects in a JSON text, found by one
// linear scan (strings skipped) that stops at `limit` + 1: the JSON
// library's serialisation and comparison recurse, so a hostile file nested
// 100,000 deep must be refused before it becomes a value.
inline int json_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace detail

// Parses JSON text; `source` names it in messages ("a.json", or
// "x.safetensors: the header").
inline nlohmann::json parse_json(std::string_view text, const std::string& source) {
  require(detail::json_depth(text, limits::max_json_depth) <= limits::max_json_depth,
          "{} is not valid here: JSON nested more than {} levels deep", source, limits::max_json_depth);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // 1e999 is an out_of_range error, not a parse_error: every kind is caught.
    fail("{} is not valid JSON: {}", source, printable(e.what(), 200));
  }
}

// Reads and parses a JSON file (a regular file of at most limits::max_json_bytes).
inline nlohmann::json read_json_file(const std::filesystem::path& file) {
  return parse_json(read_file(file, limits::max_json_bytes), file.string());
}

// Typed, range-checked access to the fields of one JSON object.
class json_reader {
 public:
  // `source` names the file; `prefix` the object's own path in it ("model").
  json_reader(const nlohmann::json& object, std::string source, std::string prefix = {})
      : j_(object), source_(std::move(source)), prefix_(std::move(prefix)) {
    if (!j_.is_object())
      fail("{}: {}: expected an object, found {}", source_, prefix_.empty() ? "the document" : "field '" + prefix_ + "'",
           describe_json(j_));
  }

  const std::string& source() const noexcept { return source_; }
  const nlohmann::json& json() const noexcept { return j_; }

  // Present and not null.
  bool has(std::string_view key) const {
    const auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }

  // "file: field 'prefix.key'", the start of every message about a field.
  std::string where(std::string_view key) const { return fmt::format("{}: field '{}'", source_, path(key)); }

  const nlohmann::json& at(std::string_view key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) fail("{}: missing field '{}'", source_, path(key));
    return *it;
  }

  json_reader object(std::string_view key) const { return json_reader(at(key), source_, path(key)); }

  // An integer in [lo, hi]: a JSON integer, or a float with an integral value
  // (64.0); never 32.9, 1e300 or a string.
  std::int64_t integer(std::string_view key, std::int64_t lo, std::int64_t hi) const {
    return integer_value(at(key), key, lo, hi);
  }
  std::int64_t integer_or(std::string_view key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) const {
    return has(key) ? integer(key, lo, hi) : fallback;
  }

  std::uint64_t unsigned_integer(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return std::uint64_t(v.get<std::int64_t>());
    fail("{}: expected an integer in [0, {}], found {}", where(key), std::numeric_limits<std::uint64_t>::max(),
         describe_json(v));
  }

  // A finite number in [lo, hi].
  double real(std::string_view key, double lo, double hi) const {
    const nlohmann::json& v = at(key);
    if (v.is_number()) {
      const double x = v.get<double>();
      if (std::isfinite(x) && x >= lo && x <= hi) return x;
    }
    fail("{}: expected a number in [{}, {}], found {}", where(key), lo, hi, describe_json(v));
  }
  double real_or(std::string_view key, double fallback, double lo, double hi) const {
    return has(key) ? real(key, lo, hi) : fallback;
  }
  // A finite number > 0 and <= hi (a rotary base, a norm epsilon).
  double positive_real(std::string_view key, double hi) const {
    const nlohmann::json& v = at(key);
    if (v.is_number()) {
      const double x = v.get<double>();
      if (std::isfinite(x) && x > 0 && x <= hi) return x;
    }
    fail("{}: expected a number in (0, {}], found {}", where(key), hi, describe_json(v));
  }
  double positive_real_or(std::string_view key, double fallback, double hi) const {
    return has(key) ? positive_real(key, hi) : fallback;
  }

  std::string string(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (!v.is_string()) fail("{}: expected a string, found {}", where(key), describe_json(v));
    return v.get<std::string>();
  }
  std::string string_or(std::string_view key, std::string fallback) const {
    return has(key) ? string(key) : std::move(fallback);
  }

  bool boolean_or(std::string_view key, bool fallback) const {
    if (!has(key)) return fallback;
    const nlohmann::json& v = at(key);
    if (!v.is_boolean()) fail("{}: expected true or false, found {}", where(key), describe_json(v));
    return v.get<bool>();
  }

  std::vector<index> integers_or(std::string_view key, std::vector<index> fallback, std::int64_t lo, std::int64_t hi,
                                 std::size_t max_count) const {
    if (!has(key)) return fallback;
    const nlohmann::json& v = at(key);
    if (!v.is_array() || v.size() > max_count)
      fail("{}: expected an array of at most {} integers, found {}", where(key), max_count, describe_json(v));
    std::vector<index> out;
    for (const nlohmann::json& x : v) out.push_back(index(integer_value(x, key, lo, hi)));
    return out;
  }

 private:
  std::int64_t integer_value(const nlohmann::json& v, std::string_view key, std::int64_t lo, std::int64_t hi) const {
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (hi >= 0 && u <= std::uint64_t(hi) && std::int64_t(u) >= lo) return std::int64_t(u);
    } else if (v.is_number_integer()) {
      const auto x = v.get<std::int64_t>();
      if (x >= lo && x <= hi) return x;
    } else if (v.is_number_float()) {
      // Compared as doubles first: converting 1e300 to an integer is undefined.
      const double x = v.get<double>();
      if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 0x1p63 && x >= double(lo) && x <= double(hi))
        return std::int64_t(x);
    }
    fail("{}: expected an integer in [{}, {}], found {}", where(key), lo, hi, describe_json(v));
  }

  std::string path(std::string_view key) const {
    return prefix_.empty() ? printable(key) : prefix_ + "." + printable(key);
  }

  const nlohmann::json& j_;
  std::string source_;
  std::string prefix_;
};

}  // namespace slmrec::io
