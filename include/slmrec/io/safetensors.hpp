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
#include "slmrec/core/digest.hpp"
#include "slmrec/core/error.hpp"
#include "slmrec/core/half.hpp"
#include "slmrec/io/atomic_file.hpp"
#include "slmrec/io/json.hpp"
#include "slmrec/core/limits.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace slmrec::io {

// ---------------------------------------------------------------- dtypes

// The element types we read and write (safetensors has more: BOOL, U16, F8...).
enum class dtype { f64, f32, f16, bf16, i64, i32, i8, u8 };

constexpr std::size_t dtype_size(dtype t) noexcept {
  switch (t) {
    case dtype::f64: case dtype::i64: return 8;
    case dtype::f32: case dtype::i32: return 4;
    case dtype::f16: case dtype::bf16: return 2;
    case dtype::i8: case dtype::u8: return 1;
  }
  return 0;
}

// The name the safetensors header uses.
constexpr std::string_view dtype_name(dtype t) noexcept {
  switch (t) {
    case dtype::f64: return "F64";
    case dtype::f32: return "F32";
    case dtype::f16: return "F16";
    case dtype::bf16: return "BF16";
    case dtype::i64: return "I64";
    case dtype::i32: return "I32";
    case dtype::i8: return "I8";
    case dtype::u8: return "U8";
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
  using bits_t = std::conditional_t<sizeof(T) == 1, std::uint8_t,
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
  using bits_t = std::conditional_t<sizeof(T) == 1, std::uint8_t,
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

// ---------------------------------------------------------------- reading

// A whole safetensors file in memory, validated on open.
class safetensors_file {
 public:
  // `verify`: check the recorded per-tensor checksums (see above).
  static safetensors_file open(const std::filesystem::path& path, bool verify = verify_checksums.load()) {
    return parse(read_file(path), path, verify);
  }

  // Parses bytes already in memory; `source` names them in error messages.
  static safetensors_file parse(std::string bytes, std::filesystem::path source,
                                bool verify = verify_checksums.load()) {
    safetensors_file f;
    f.bytes_ = std::move(bytes);
    f.path_ = std::move(source);
    f.read_header();
    f.check_checksums(verify);
    return f;
  }

  // True when the file records a checksum per tensor (slmrec writes them).
  bool has_checksums() const noexcept { return checksummed_ || !checksums_.empty(); }

  const std::filesystem::path& path() const noexcept { return path_; }
  const std::vector<tensor_info>& tensors() const noexcept { return tensors_; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  bool contains(std::string_view name) const { return find(name) != nullptr; }

  const tensor_info& at(std::string_view name) const {
    const tensor_info* t = find(name);
    if (t == nullptr) fail("{}: no tensor named '{}' (the file has {} tensors)", path_.string(), name, tensors_.size());
    return *t;
  }

  // The raw little-endian bytes of a tensor.
  std::span<const std::byte> bytes(std::string_view name) const {
    const tensor_info& t = at(name);
    return {data_begin() + t.begin, t.byte_size()};
  }

  // F64, F32, F16 or BF16, widened or narrowed to float.
  std::vector<float> to_float(std::string_view name) const {
    const tensor_info& t = at(name);
    switch (t.type) {
      case dtype::f32: return convert<float>(t, [](const std::byte* p) { return load_le<float>(p); });
      case dtype::f64:
        return convert<float>(t, [](const std::byte* p) { return static_cast<float>(load_le<double>(p)); });
      case dtype::f16:
        return convert<float>(t, [](const std::byte* p) { return fp16_to_float(load_le<std::uint16_t>(p)); });
      case dtype::bf16:
        return convert<float>(t, [](const std::byte* p) { return bf16_to_float(load_le<std::uint16_t>(p)); });
      default: wrong_dtype(t, "to_float", "F64, F32, F16 or BF16");
    }
  }

  // As to_float, after checking the shape, and refusing NaN and infinity:
  // the usual way a model loads a weight (a non-finite weight would turn
  // every score it touches into garbage without a word).
  std::vector<float> to_float_checked(std::string_view name, const std::vector<std::int64_t>& expected_shape) const {
    const tensor_info& t = at(name);
    if (t.shape != expected_shape)
      fail("{}: tensor '{}' has shape [{}], expected [{}]", path_.string(), printable(t.name), fmt::join(t.shape, ", "),
           fmt::join(expected_shape, ", "));
    std::vector<float> values = to_float(name);
    const auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
    if (bad != values.end()) {
      const auto i = static_cast<std::int64_t>(bad - values.begin());
      const std::int64_t cols = t.shape.size() >= 2 ? t.shape.back() : 0;
      fail("{}: tensor '{}' ({}) element {}{} is {}: weights must be finite", path_.string(), printable(t.name),
           dtype_name(t.type), i, cols > 0 ? fmt::format(" (row {}, col {})", i / cols, i % cols) : std::string(),
           *bad);
    }
    return values;
  }

  // I32 as is; I64 if every value fits; I8 and U8 widened.
  std::vector<std::int32_t> to_int32(std::string_view name) const {
    const tensor_info& t = at(name);
    switch (t.type) {
      case dtype::i32: return convert<std::int32_t>(t, [](const std::byte* p) { return load_le<std::int32_t>(p); });
      case dtype::i8: return convert<std::int32_t>(t, [](const std::byte* p) { return load_le<std::int8_t>(p); });
      case dtype::u8: return convert<std::int32_t>(t, [](const std::byte* p) { return load_le<std::uint8_t>(p); });
      case dtype::i64: {
        const std::vector<std::int64_t> wide = to_int64(name);
        std::vector<std::int32_t> out(wide.size());
        for (std::size_t i = 0; i < wide.size(); ++i) {
          if (wide[i] < std::numeric_limits<std::int32_t>::min() || wide[i] > std::numeric_limits<std::int32_t>::max())
            fail("{}: tensor '{}' (I64): element {} = {} does not fit in int32", path_.string(), printable(t.name), i,
                 wide[i]);
          out[i] = static_cast<std::int32_t>(wide[i]);
        }
        return out;
      }
      default: wrong_dtype(t, "to_int32", "I64, I32, I8 or U8");
    }
  }

  std::vector<std::int64_t> to_int64(std::string_view name) const {
    const tensor_info& t = at(name);
    switch (t.type) {
      case dtype::i64: return convert<std::int64_t>(t, [](const std::byte* p) { return load_le<std::int64_t>(p); });
      case dtype::i32: return convert<std::int64_t>(t, [](const std::byte* p) { return load_le<std::int32_t>(p); });
      case dtype::i8: return convert<std::int64_t>(t, [](const std::byte* p) { return load_le<std::int8_t>(p); });
      case dtype::u8: return convert<std::int64_t>(t, [](const std::byte* p) { return load_le<std::uint8_t>(p); });
      default: wrong_dtype(t, "to_int64", "I64, I32, I8 or U8");
    }
  }

 private:
  // Real headers are kilobytes; the reference implementation refuses more
  // than 100 MB, and so do we, before allocating anything for it.
  static constexpr std::uint64_t max_header_size = 100'000'000;

  template <class T>
  static T load_le(const std::byte* p) noexcept { return detail::load_le<T>(p); }

  const std::byte* data_begin() const noexcept {
    return reinterpret_cast<const std::byte*>(bytes_.data()) + 8 + header_size_;
  }

  const tensor_info* find(std::string_view name) const {
    auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                               [](const tensor_info& t, std::string_view n) { return t.name < n; });
    return it != tensors_.end() && it->name == name ? &*it : nullptr;
  }

  template <class Out, class Load>
  std::vector<Out> convert(const tensor_info& t, Load load) const {
    const std::size_t width = dtype_size(t.type);
    const std::byte* p = data_begin() + t.begin;
    std::vector<Out> out(t.byte_size() / width);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<Out>(load(p + i * width));
    return out;
  }

  [[noreturn]] void wrong_dtype(const tensor_info& t, std::string_view accessor, std::string_view accepted) const {
    fail("{}: tensor '{}' has dtype {}, {} needs {}", path_.string(), t.name, dtype_name(t.type), accessor, accepted);
  }

  void read_header() {
    const std::string file = path_.string();
    require(bytes_.size() >= 8, "{}: not a safetensors file: {} bytes, shorter than the 8-byte header length",
            file, bytes_.size());
    const auto length = detail::load_le<std::uint64_t>(reinterpret_cast<const std::byte*>(bytes_.data()));
    require(length <= max_header_size, "{}: header length {} is absurdly large (limit {} bytes); not a safetensors file?",
            file, length, max_header_size);
    require(length <= bytes_.size() - 8, "{}: header length {} runs past the end of the file ({} bytes after the length)",
            file, length, bytes_.size() - 8);
    header_size_ = static_cast<std::size_t>(length);
    const std::size_t data_size = bytes_.size() - 8 - header_size_;

    const nlohmann::json header = parse_json(std::string_view(bytes_).substr(8, header_size_), file + ": the header");
    if (!header.is_object()) fail("{}: the header must be a JSON object, found {}", file, header.type_name());

    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        read_metadata(entry);
      } else {
        tensors_.push_back(read_entry(name, entry, data_size));
      }
    }
    std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    require_exact_cover(data_size);
  }

  void read_metadata(const nlohmann::json& entry) {
    if (!entry.is_object())
      fail("{}: '__metadata__' must be an object of strings, found {}", path_.string(), describe_json(entry));
    for (const auto& [key, value] : entry.items()) {
      if (!value.is_string())
        fail("{}: '__metadata__' value of '{}' must be a string, found {}", path_.string(), printable(key),
             describe_json(value));
      if (std::string_view(key).starts_with(checksum_prefix)) {
        checksums_[key.substr(checksum_prefix.size())] = value.get<std::string>();
      } else if (key == "checksums") {
        checksummed_ = true;
      } else {
        metadata_[key] = value.get<std::string>();
      }
    }
  }

  // With checksums recorded: every tensor has one and matches it (a tensor
  // without one is a header edited by hand). Without: a file slmrec wrote
  // before checksums existed loads with a warning; other writers' files
  // (Hugging Face's) have none to check.
  void check_checksums(bool verify) const {
    if (!has_checksums()) {
      const auto format = metadata_.find("format");
      if (format != metadata_.end() && format->second == "slmrec")
        warn("{}: written without checksums (by an slmrec before they were recorded): loaded unverified",
             path_.string());
      return;
    }
    if (!verify) return;
    for (const tensor_info& t : tensors_) {
      const auto it = checksums_.find(t.name);
      if (it == checksums_.end())
        fail("{}: tensor '{}' has no checksum, while the file records them (a header edited by hand?); "
             "--no-verify loads it anyway",
             path_.string(), printable(t.name));
      const std::string actual = checksum_hex({data_begin() + t.begin, t.byte_size()});
      if (actual != it->second)
        fail("{}: tensor '{}': checksum mismatch (XXH3-64 recorded {}, its bytes give {}): the file is damaged or "
             "was modified; --no-verify loads it anyway",
             path_.string(), printable(t.name), printable(it->second, 20), actual);
    }
    for (const auto& [name, digest] : checksums_)
      if (find(name) == nullptr)
        fail("{}: a checksum is recorded for tensor '{}', which the file does not have", path_.string(),
             printable(name));
  }

  // Linear in the header's size: a message is formatted only when its check
  // fails (a shape of 100,000 dimensions must not be printed 100,000 times).
  tensor_info read_entry(const std::string& name, const nlohmann::json& entry, std::size_t data_size) const {
    const std::string file = path_.string();
    const std::string shown = printable(name);
    if (!entry.is_object()) fail("{}: tensor '{}': entry must be an object, found {}", file, shown, describe_json(entry));
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(key)) fail("{}: tensor '{}': entry has no '{}'", file, shown, key);
    }
    tensor_info t;
    t.name = name;

    const nlohmann::json& type = entry["dtype"];
    if (!type.is_string())
      fail("{}: tensor '{}': 'dtype' must be a string, found {}", file, shown, describe_json(type));
    const std::optional<dtype> parsed = dtype_from_name(type.get<std::string>());
    if (!parsed)
      fail("{}: tensor '{}': unsupported dtype '{}' (slmrec reads {})", file, shown, printable(type.get<std::string>()),
           supported_dtype_names());
    t.type = *parsed;

    const nlohmann::json& shape = entry["shape"];
    if (!shape.is_array())
      fail("{}: tensor '{}': 'shape' must be an array of integers, found {}", file, shown, describe_json(shape));
    if (shape.size() > std::size_t(limits::max_tensor_rank))
      fail("{}: tensor '{}': 'shape' has {} dimensions, at most {} are read", file, shown, shape.size(),
           limits::max_tensor_rank);
    for (std::size_t k = 0; k < shape.size(); ++k) {
      const nlohmann::json& d = shape[k];
      const bool ok = d.is_number_unsigned() ? d.get<std::uint64_t>() <= std::uint64_t(limits::max_tensor_dim)
                                             : d.is_number_integer() && d.get<std::int64_t>() >= 0 &&
                                                   d.get<std::int64_t>() <= limits::max_tensor_dim;
      if (!ok)
        fail("{}: tensor '{}': dimension {} of 'shape' is {}, expected an integer in [0, {}]", file, shown, k,
             describe_json(d), limits::max_tensor_dim);
      t.shape.push_back(d.get<std::int64_t>());
    }

    const nlohmann::json& offsets = entry["data_offsets"];
    const bool offsets_ok = offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                            offsets[1].is_number_unsigned();
    if (!offsets_ok)
      fail("{}: tensor '{}': 'data_offsets' must be [begin, end], two non-negative integers, found {}", file, shown,
           offsets.is_array() && offsets.size() <= 2 ? describe_json(offsets[0]) + ", " +
                                                           (offsets.size() == 2 ? describe_json(offsets[1]) : "")
                                                     : describe_json(offsets));
    const auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
    if (begin > end) fail("{}: tensor '{}': data_offsets [{}, {}] have begin after end", file, shown, begin, end);
    if (end > data_size)
      fail("{}: tensor '{}': data_offsets [{}, {}] run past the end of the data section ({} bytes)", file, shown, begin,
           end, data_size);
    t.begin = static_cast<std::size_t>(begin);
    t.end = static_cast<std::size_t>(end);

    const std::optional<std::int64_t> numel = detail::checked_numel(t.shape);
    if (!numel) fail("{}: tensor '{}': shape [{}] has too many elements", file, shown, fmt::join(t.shape, ", "));
    const auto expected = static_cast<std::uint64_t>(*numel);
    const bool fits = expected <= std::numeric_limits<std::uint64_t>::max() / dtype_size(t.type);
    if (!fits || expected * dtype_size(t.type) != end - begin)
      fail("{}: tensor '{}': shape [{}] of {} needs {} elements * {} bytes, but data_offsets [{}, {}] hold {} bytes",
           file, shown, fmt::join(t.shape, ", "), dtype_name(t.type), expected, dtype_size(t.type), begin, end,
           end - begin);
    return t;
  }

  // As the reference implementation: the tensors, in offset order, cover the
  // data section exactly. An overlap would alias two tensors; a gap or bytes
  // after the last tensor hold data no tensor describes (a damaged or
  // hand-made file), so both are refused too.
  void require_exact_cover(std::size_t data_size) const {
    std::vector<const tensor_info*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const tensor_info& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
    std::size_t covered = 0;
    const tensor_info* previous = nullptr;
    for (const tensor_info* t : by_offset) {
      if (t->begin < covered)
        fail("{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap in the data section", path_.string(),
             printable(previous->name), previous->begin, previous->end, printable(t->name), t->begin, t->end);
      if (t->begin > covered)
        fail("{}: bytes [{}, {}) of the data section belong to no tensor (a gap before '{}'); safetensors tensors "
             "cover the data exactly",
             path_.string(), covered, t->begin, printable(t->name));
      covered = t->end;
      previous = t;
    }
    if (covered != data_size)
      fail("{}: {} bytes after the last tensor belong to no tensor (the data section has {} bytes, the tensors "
           "cover {})",
           path_.string(), data_size - covered, data_size, covered);
  }

  safetensors_file() = default;

  std::string bytes_;  // the whole file
  std::filesystem::path path_;
  std::size_t header_size_ = 0;
  std::vector<tensor_info> tensors_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, std::string> checksums_;  // tensor name -> hex digest
  bool checksummed_ = false;                        // "checksums": "xxh3_64" in the metadata
};

// ---------------------------------------------------------------- writing

// Collects tensors (copying their bytes), then writes one safetensors file.
class safetensors_writer {
 public:
  void add(std::string name, dtype type, std::vector<std::int64_t> shape, std::span<const std::byte> data) {
    require(!name.empty(), "safetensors_writer: a tensor needs a non-empty name");
    require(name != "__metadata__", "safetensors_writer: '__metadata__' is reserved and cannot name a tensor");
    require(!entries_.contains(name), "safetensors_writer: tensor '{}' added twice", name);
    const std::optional<std::int64_t> numel = detail::checked_numel(shape);
    require(numel.has_value(), "safetensors_writer: tensor '{}': shape [{}] has a negative dimension or too many elements",
            name, fmt::join(shape, ", "));
    const auto expected = static_cast<std::uint64_t>(*numel) * dtype_size(type);
    require(expected == data.size(), "safetensors_writer: tensor '{}': shape [{}] of {} needs {} bytes, got {}", name,
            fmt::join(shape, ", "), dtype_name(type), expected, data.size());
    entries_.emplace(std::move(name), entry{type, std::move(shape), std::vector<std::byte>(data.begin(), data.end())});
  }

  void add_f32(std::string name, std::vector<std::int64_t> shape, std::span<const float> values) {
    add_f32_as(std::move(name), std::move(shape), values, dtype::f32);
  }

  // Stores float values as F32, F64, F16 or BF16 (rounding to nearest even).
  void add_f32_as(std::string name, std::vector<std::int64_t> shape, std::span<const float> values, dtype target) {
    switch (target) {
      case dtype::f32: return add_encoded(std::move(name), target, std::move(shape), values, [](float v) { return v; });
      case dtype::f64:
        return add_encoded(std::move(name), target, std::move(shape), values, [](float v) { return double{v}; });
      case dtype::f16: return add_encoded(std::move(name), target, std::move(shape), values, float_to_fp16);
      case dtype::bf16: return add_encoded(std::move(name), target, std::move(shape), values, float_to_bf16);
      default:
        fail("safetensors_writer: tensor '{}': cannot store floats as {} (use F32, F64, F16 or BF16)", name,
             dtype_name(target));
    }
  }

  void add_i32(std::string name, std::vector<std::int64_t> shape, std::span<const std::int32_t> values) {
    add_encoded(std::move(name), dtype::i32, std::move(shape), values, [](std::int32_t v) { return v; });
  }

  void add_i64(std::string name, std::vector<std::int64_t> shape, std::span<const std::int64_t> values) {
    add_encoded(std::move(name), dtype::i64, std::move(shape), values, [](std::int64_t v) { return v; });
  }

  void set_metadata(std::string key, std::string value) {
    require(!key.starts_with(checksum_prefix) && key != "checksums",
            "safetensors_writer: metadata key '{}' is reserved for checksums", key);
    metadata_[std::move(key)] = std::move(value);
  }

  // Record a checksum per tensor (the default; see the top of this file).
  void set_checksums(bool on) noexcept { checksums_ = on; }

  // The complete file as bytes.
  std::string serialize() const {
    std::ostringstream out(std::ios::binary);
    write_to(out);
    return std::move(out).str();
  }

  // Writes the file atomically: a crash never leaves a half-written checkpoint.
  void write(const std::filesystem::path& path) const {
    write_file_atomically(path, [this](std::ostream& out) { write_to(out); });
  }

  void write_to(std::ostream& out) const {
    const std::vector<const std::pair<const std::string, entry>*> order = layout();
    nlohmann::json header = nlohmann::json::object();
    std::map<std::string, std::string> metadata = metadata_;
    if (checksums_) {
      metadata["checksums"] = "xxh3_64";
      for (const auto* e : order) metadata[std::string(checksum_prefix) + e->first] = checksum_hex(e->second.data);
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto* e : order) {
      const std::uint64_t size = e->second.data.size();
      header[e->first] = {{"dtype", std::string(dtype_name(e->second.type))},
                          {"shape", e->second.shape},
                          {"data_offsets", {offset, offset + size}}};
      offset += size;
    }
    // Padding the header to 8 bytes (as the reference writer does) keeps the
    // data section 8-aligned when the file is memory-mapped.
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::byte length[8];
    detail::store_le<std::uint64_t>(text.size(), length);
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto* e : order) {
      out.write(reinterpret_cast<const char*>(e->second.data.data()), static_cast<std::streamsize>(e->second.data.size()));
    }
  }

 private:
  struct entry {
    dtype type;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> data;
  };

  template <class T, class Encode>
  void add_encoded(std::string name, dtype type, std::vector<std::int64_t> shape, std::span<const T> values,
                   Encode encode) {
    const std::size_t width = dtype_size(type);
    std::vector<std::byte> data(values.size() * width);
    for (std::size_t i = 0; i < values.size(); ++i) detail::store_le(encode(values[i]), data.data() + i * width);
    add(std::move(name), type, std::move(shape), data);
  }

  // Larger elements first, then by name (as the reference writer): every
  // tensor then starts at a multiple of its own element size.
  std::vector<const std::pair<const std::string, entry>*> layout() const {
    std::vector<const std::pair<const std::string, entry>*> order;
    for (const auto& e : entries_) order.push_back(&e);
    std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
      return dtype_size(a->second.type) > dtype_size(b->second.type);
    });
    return order;
  }

  std::map<std::string, entry> entries_;
  std::map<std::string, std::string> metadata_;
  bool checksums_ = true;
};

}  // namespace slmrec::io
