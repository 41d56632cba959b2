#pragma once
// Reading safetensors files (the format: safetensors_format.hpp): a whole
// file in memory, its header validated on open (safetensors_header.hpp), its
// recorded checksums checked, tensors converted on request. Including this
// header also brings the writer (safetensors_writer.hpp), so one include
// serves both directions.
#include "slmrec/core/error.hpp"
#include "slmrec/core/half.hpp"
#include "slmrec/io/atomic_file.hpp"
#include "slmrec/io/safetensors_format.hpp"
#include "slmrec/io/safetensors_header.hpp"
#include "slmrec/io/safetensors_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slmrec::io {

// A whole safetensors file in memory, validated on open.
class safetensors_file {
 public:
  // `verify`: check the recorded per-tensor checksums (safetensors_format.hpp).
  static safetensors_file open(const std::filesystem::path& path, bool verify = verify_checksums.load()) {
    return parse(read_file(path), path, verify);
  }

  // Parses bytes already in memory; `source` names them in error messages.
  static safetensors_file parse(std::string bytes, std::filesystem::path source,
                                bool verify = verify_checksums.load()) {
    safetensors_file f;
    f.bytes_ = std::move(bytes);
    f.path_ = std::move(source);
    f.header_ = detail::read_header(f.bytes_, f.path_.string());
    f.check_checksums(verify);
    return f;
  }

  // True when the file records a checksum per tensor (slmrec writes them).
  bool has_checksums() const noexcept { return header_.checksummed || !header_.checksums.empty(); }

  const std::filesystem::path& path() const noexcept { return path_; }
  const std::vector<tensor_info>& tensors() const noexcept { return header_.tensors; }  // sorted by name
  const std::map<std::string, std::string>& metadata() const noexcept { return header_.metadata; }

  bool contains(std::string_view name) const { return find(name) != nullptr; }

  const tensor_info& at(std::string_view name) const {
    const tensor_info* t = find(name);
    if (t == nullptr)
      fail("{}: no tensor named '{}' (the file has {} tensors)", path_.string(), name, header_.tensors.size());
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
      case dtype::f32:
        return convert<float>(t, [](const std::byte* p) { return load_le<float>(p); });
      case dtype::f64:
        return convert<float>(t, [](const std::byte* p) { return static_cast<float>(load_le<double>(p)); });
      case dtype::f16:
        return convert<float>(t, [](const std::byte* p) { return fp16_to_float(load_le<std::uint16_t>(p)); });
      case dtype::bf16:
        return convert<float>(t, [](const std::byte* p) { return bf16_to_float(load_le<std::uint16_t>(p)); });
      default:
        wrong_dtype(t, "to_float", "F64, F32, F16 or BF16");
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
      case dtype::i32:
        return convert<std::int32_t>(t, [](const std::byte* p) { return load_le<std::int32_t>(p); });
      case dtype::i8:
        return convert<std::int32_t>(t, [](const std::byte* p) { return load_le<std::int8_t>(p); });
      case dtype::u8:
        return convert<std::int32_t>(t, [](const std::byte* p) { return load_le<std::uint8_t>(p); });
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
      default:
        wrong_dtype(t, "to_int32", "I64, I32, I8 or U8");
    }
  }

  std::vector<std::int64_t> to_int64(std::string_view name) const {
    const tensor_info& t = at(name);
    switch (t.type) {
      case dtype::i64:
        return convert<std::int64_t>(t, [](const std::byte* p) { return load_le<std::int64_t>(p); });
      case dtype::i32:
        return convert<std::int64_t>(t, [](const std::byte* p) { return load_le<std::int32_t>(p); });
      case dtype::i8:
        return convert<std::int64_t>(t, [](const std::byte* p) { return load_le<std::int8_t>(p); });
      case dtype::u8:
        return convert<std::int64_t>(t, [](const std::byte* p) { return load_le<std::uint8_t>(p); });
      default:
        wrong_dtype(t, "to_int64", "I64, I32, I8 or U8");
    }
  }

 private:
  template <class T>
  static T load_le(const std::byte* p) noexcept {
    return detail::load_le<T>(p);
  }

  const std::byte* data_begin() const noexcept {
    return reinterpret_cast<const std::byte*>(bytes_.data()) + 8 + header_.size;
  }

  const tensor_info* find(std::string_view name) const {
    auto it = std::lower_bound(header_.tensors.begin(), header_.tensors.end(), name,
                               [](const tensor_info& t, std::string_view n) { return t.name < n; });
    return it != header_.tensors.end() && it->name == name ? &*it : nullptr;
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

  // With checksums recorded: every tensor has one and matches it (a tensor
  // without one is a header edited by hand). Without: a file slmrec wrote
  // before checksums existed loads with a warning; other writers' files
  // (Hugging Face's) have none to check.
  void check_checksums(bool verify) const {
    if (!has_checksums()) {
      const auto format = header_.metadata.find("format");
      if (format != header_.metadata.end() && format->second == "slmrec")
        warn("{}: written without checksums (by an slmrec before they were recorded): loaded unverified",
             path_.string());
      return;
    }
    if (!verify) return;
    for (const tensor_info& t : header_.tensors) {
      const auto it = header_.checksums.find(t.name);
      if (it == header_.checksums.end())
        fail(
            "{}: tensor '{}' has no checksum, while the file records them (a header edited by hand?); "
            "--no-verify loads it anyway",
            path_.string(), printable(t.name));
      const std::string actual = checksum_hex({data_begin() + t.begin, t.byte_size()});
      if (actual != it->second)
        fail(
            "{}: tensor '{}': checksum mismatch (XXH3-64 recorded {}, its bytes give {}): the file is damaged or "
            "was modified; --no-verify loads it anyway",
            path_.string(), printable(t.name), printable(it->second, 20), actual);
    }
    for (const auto& [name, digest] : header_.checksums)
      if (find(name) == nullptr)
        fail("{}: a checksum is recorded for tensor '{}', which the file does not have", path_.string(),
             printable(name));
  }

  safetensors_file() = default;

  std::string bytes_;  // the whole file
  std::filesystem::path path_;
  detail::safetensors_header header_;
};

}  // namespace slmrec::io
