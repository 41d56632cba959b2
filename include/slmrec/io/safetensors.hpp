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
#include "slmrec/core/error.hpp"
#include "slmrec/core/half.hpp"
#include "slmrec/io/atomic_file.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
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

// A JSON value for an error message: compact, never throwing on bad UTF-8, short.
inline std::string show(const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace detail

// ---------------------------------------------------------------- reading

// A whole safetensors file in memory, validated on open.
class safetensors_file {
 public:
  static safetensors_file open(const std::filesystem::path& path) { return parse(read_file(path), path); }

  // Parses bytes already in memory; `source` names them in error messages.
  static safetensors_file parse(std::string bytes, std::filesystem::path source) {
    safetensors_file f;
    f.bytes_ = std::move(bytes);
    f.path_ = std::move(source);
    f.read_header();
    return f;
  }

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

  // As to_float, after checking the shape: the usual way a model loads a weight.
  std::vector<float> to_float_checked(std::string_view name, const std::vector<std::int64_t>& expected_shape) const {
    const tensor_info& t = at(name);
    require(t.shape == expected_shape, "{}: tensor '{}' has shape [{}], expected [{}]", path_.string(), t.name,
            fmt::join(t.shape, ", "), fmt::join(expected_shape, ", "));
    return to_float(name);
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
          require(wide[i] >= std::numeric_limits<std::int32_t>::min() &&
                      wide[i] <= std::numeric_limits<std::int32_t>::max(),
                  "{}: tensor '{}' (I64): element {} = {} does not fit in int32", path_.string(), t.name, i, wide[i]);
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

    nlohmann::json header;
    try {
      header = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + static_cast<std::ptrdiff_t>(header_size_));
    } catch (const nlohmann::json::parse_error& e) {
      fail("{}: the header is not valid JSON: {}", file, e.what());
    }
    require(header.is_object(), "{}: the header must be a JSON object, found {}", file, header.type_name());

    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        read_metadata(entry);
      } else {
        tensors_.push_back(read_entry(name, entry, data_size));
      }
    }
    std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    reject_overlaps();
  }

  void read_metadata(const nlohmann::json& entry) {
    require(entry.is_object(), "{}: '__metadata__' must be an object of strings, found {}", path_.string(),
            entry.type_name());
    for (const auto& [key, value] : entry.items()) {
      require(value.is_string(), "{}: '__metadata__' value of '{}' must be a string, found {}", path_.string(), key,
              detail::show(value));
      metadata_[key] = value.get<std::string>();
    }
  }

  tensor_info read_entry(const std::string& name, const nlohmann::json& entry, std::size_t data_size) const {
    const std::string file = path_.string();
    require(entry.is_object(), "{}: tensor '{}': entry must be an object, found {}", file, name, detail::show(entry));
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      require(entry.contains(key), "{}: tensor '{}': entry has no '{}'", file, name, key);
    }
    tensor_info t;
    t.name = name;

    const nlohmann::json& type = entry["dtype"];
    require(type.is_string(), "{}: tensor '{}': 'dtype' must be a string, found {}", file, name, detail::show(type));
    const std::optional<dtype> parsed = dtype_from_name(type.get<std::string>());
    require(parsed.has_value(), "{}: tensor '{}': unsupported dtype '{}' (slmrec reads {})", file, name,
            type.get<std::string>(), supported_dtype_names());
    t.type = *parsed;

    const nlohmann::json& shape = entry["shape"];
    require(shape.is_array(), "{}: tensor '{}': 'shape' must be an array of integers, found {}", file, name,
            detail::show(shape));
    for (const nlohmann::json& d : shape) {
      require(d.is_number_integer(), "{}: tensor '{}': 'shape' must be an array of integers, found {}", file, name,
              detail::show(shape));
      require(d.is_number_unsigned() || d.get<std::int64_t>() >= 0, "{}: tensor '{}': negative dimension in shape {}",
              file, name, detail::show(shape));
      require(!d.is_number_unsigned() || d.get<std::uint64_t>() <= std::uint64_t{std::numeric_limits<std::int64_t>::max()},
              "{}: tensor '{}': dimension too large in shape {}", file, name, detail::show(shape));
      t.shape.push_back(d.get<std::int64_t>());
    }

    const nlohmann::json& offsets = entry["data_offsets"];
    const bool offsets_ok = offsets.is_array() && offsets.size() == 2 &&
                            std::all_of(offsets.begin(), offsets.end(), [](const auto& o) { return o.is_number_unsigned(); });
    require(offsets_ok, "{}: tensor '{}': 'data_offsets' must be [begin, end], two non-negative integers, found {}", file,
            name, detail::show(offsets));
    const auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
    require(begin <= end, "{}: tensor '{}': data_offsets [{}, {}] have begin after end", file, name, begin, end);
    require(end <= data_size, "{}: tensor '{}': data_offsets [{}, {}] run past the end of the data section ({} bytes)",
            file, name, begin, end, data_size);
    t.begin = static_cast<std::size_t>(begin);
    t.end = static_cast<std::size_t>(end);

    const std::optional<std::int64_t> numel = detail::checked_numel(t.shape);
    require(numel.has_value(), "{}: tensor '{}': shape [{}] has too many elements", file, name, fmt::join(t.shape, ", "));
    const auto expected = static_cast<std::uint64_t>(*numel);
    const bool fits = expected <= std::numeric_limits<std::uint64_t>::max() / dtype_size(t.type);
    require(fits && expected * dtype_size(t.type) == end - begin,
            "{}: tensor '{}': shape [{}] of {} needs {} elements * {} bytes, but data_offsets [{}, {}] hold {} bytes",
            file, name, fmt::join(t.shape, ", "), dtype_name(t.type), expected, dtype_size(t.type), begin, end,
            end - begin);
    return t;
  }

  // The format forbids overlaps and holes; an overlap means corrupt data, a
  // hole only wasted bytes (some writers align), so only overlaps are errors.
  void reject_overlaps() const {
    std::vector<const tensor_info*> by_offset;
    for (const tensor_info& t : tensors_) {
      if (t.byte_size() > 0) by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    const tensor_info* furthest = nullptr;  // of those seen, the one reaching furthest
    for (const tensor_info* t : by_offset) {
      if (furthest != nullptr) {
        require(t->begin >= furthest->end, "{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap in the data section",
                path_.string(), furthest->name, furthest->begin, furthest->end, t->name, t->begin, t->end);
      }
      if (furthest == nullptr || t->end > furthest->end) furthest = t;
    }
  }

  safetensors_file() = default;

  std::string bytes_;  // the whole file
  std::filesystem::path path_;
  std::size_t header_size_ = 0;
  std::vector<tensor_info> tensors_;
  std::map<std::string, std::string> metadata_;
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

  void set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

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
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
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
};

}  // namespace slmrec::io
