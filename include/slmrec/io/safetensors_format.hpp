#pragma once
// Hugging Face safetensors: an 8-byte little-endian header length N, N bytes
// of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//    "__metadata__": {"key": "value"}}
// then the raw little-endian tensor data, offsets relative to the start of
// that data section. Hugging Face checkpoints and our own ones use it.
//
// Reading trusts nothing: every malformed file gives an slmrec::error that
// names the file, the tensor and what was expected versus found, because the
// files come from other programs and the user has to fix them, not us.
//
// This header: the format's vocabulary (dtypes, the per-tensor checksums,
// tensor_info); safetensors_header.hpp validates a header, safetensors.hpp
// reads a file, safetensors_writer.hpp writes one.
#include "slmrec/core/digest.hpp"
#include "slmrec/core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace slmrec::io {

// ---------------------------------------------------------------- dtypes

// The element types we read and write (safetensors has more: BOOL, U16, F8...).
enum class dtype { f64, f32, f16, bf16, i64, i32, i8, u8 };

constexpr std::size_t dtype_size(dtype t) noexcept {
  switch (t) {
    case dtype::f64:
    case dtype::i64:
      return 8;
    case dtype::f32:
    case dtype::i32:
      return 4;
    case dtype::f16:
    case dtype::bf16:
      return 2;
    case dtype::i8:
    case dtype::u8:
      return 1;
  }
  return 0;
}

// The name the safetensors header uses.
constexpr std::string_view dtype_name(dtype t) noexcept {
  switch (t) {
    case dtype::f64:
      return "F64";
    case dtype::f32:
      return "F32";
    case dtype::f16:
      return "F16";
    case dtype::bf16:
      return "BF16";
    case dtype::i64:
      return "I64";
    case dtype::i32:
      return "I32";
    case dtype::i8:
      return "I8";
    case dtype::u8:
      return "U8";
  }
  return "?";
}

inline constexpr dtype all_dtypes[] = {dtype::f64, dtype::f32, dtype::f16, dtype::bf16,
                                       dtype::i64, dtype::i32, dtype::i8,  dtype::u8};

constexpr std::optional<dtype> dtype_from_name(std::string_view name) noexcept {
  for (dtype t : all_dtypes) {
    if (dtype_name(t) == name) return t;
  }
  return std::nullopt;
}

inline std::string supported_dtype_names() {
  std::vector<std::string_view> names;
  for (dtype t : all_dtypes) names.push_back(dtype_name(t));
  return fmt::format("{}", fmt::join(names, ", "));
}

// Throwing variant for user input (a command-line flag, a config file).
inline dtype parse_dtype(std::string_view name) {
  const std::optional<dtype> t = dtype_from_name(name);
  require(t.has_value(), "unsupported dtype '{}' (slmrec reads {})", name, supported_dtype_names());
  return *t;
}

// ---------------------------------------------------------------- checksums

// Every file slmrec writes records, in its __metadata__, one checksum per
// tensor: key "xxh3_64:<tensor name>", value the XXH3-64 (seed 0) of the
// tensor's bytes as 16 lowercase hex digits. Other readers see ordinary
// string metadata; ours check each tensor on open and name the one that
// does not match. metadata() does not list these keys.
inline constexpr std::string_view checksum_prefix = "xxh3_64:";

// Whether safetensors_file::open checks recorded checksums (default yes); a
// command line's --no-verify turns it off for the whole process.
inline std::atomic<bool> verify_checksums{true};

inline std::string checksum_hex(std::span<const std::byte> bytes) {
  return fmt::format("{:016x}", xxh3_64(bytes.data(), bytes.size()));
}

// ---------------------------------------------------------------- tensors

struct tensor_info {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::int64_t> shape;  // [] is a scalar
  std::size_t begin = 0, end = 0;   // byte range within the data section

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
  }
  std::size_t byte_size() const { return end - begin; }
};

namespace detail {

// Little-endian loads and stores that work on any host and any alignment.
template <class T>
T load_le(const std::byte* p) noexcept {
  using bits_t =
      std::conditional_t<sizeof(T) == 1, std::uint8_t,
                         std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                            std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
  bits_t bits = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&bits, p, sizeof(T));
  } else {
    for (std::size_t i = 0; i < sizeof(T); ++i) bits |= static_cast<bits_t>(static_cast<bits_t>(p[i]) << (8 * i));
  }
  return std::bit_cast<T>(bits);
}

template <class T>
void store_le(T value, std::byte* p) noexcept {
  using bits_t =
      std::conditional_t<sizeof(T) == 1, std::uint8_t,
                         std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                            std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
  const auto bits = std::bit_cast<bits_t>(value);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &bits, sizeof(T));
  } else {
    for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::byte>((bits >> (8 * i)) & 0xffu);
  }
}

// Product of the dimensions, or nullopt if a dimension is negative or the
// product overflows (a hostile header must not wrap around to a small size).
inline std::optional<std::int64_t> checked_numel(std::span<const std::int64_t> shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d) return std::nullopt;
    n *= d;
  }
  return n;
}

}  // namespace detail

}  // namespace slmrec::io
