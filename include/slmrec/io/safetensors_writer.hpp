#pragma once
// Writing safetensors files (the format: safetensors_format.hpp): tensors
// collected with their bytes, written atomically with one XXH3-64 checksum per
// tensor in the metadata, so the reader (safetensors.hpp) can verify them.
#include "slmrec/core/error.hpp"
#include "slmrec/core/half.hpp"
#include "slmrec/io/atomic_file.hpp"
#include "slmrec/io/safetensors_format.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace slmrec::io {

// Collects tensors (copying their bytes, or borrowing them: add_borrowed),
// then writes one safetensors file.
class safetensors_writer {
 public:
  safetensors_writer() = default;
  // Not copyable: a copy's tensors would still point into this writer's
  // buffers. Moving keeps them (the map's nodes move whole).
  safetensors_writer(const safetensors_writer&) = delete;
  safetensors_writer& operator=(const safetensors_writer&) = delete;
  safetensors_writer(safetensors_writer&&) noexcept = default;
  safetensors_writer& operator=(safetensors_writer&&) noexcept = default;

  void add(std::string name, dtype type, std::vector<std::int64_t> shape, std::span<const std::byte> data) {
    check(name, type, shape, data.size());
    add_owned(std::move(name), type, std::move(shape), std::vector<std::byte>(data.begin(), data.end()));
  }

  // The same without a copy: `data` must stay alive and unchanged until the
  // file is written. What a checkpoint of a million-item table needs, where
  // a copy of every tensor (and of the file) would triple the memory.
  void add_borrowed(std::string name, dtype type, std::vector<std::int64_t> shape, std::span<const std::byte> data) {
    check(name, type, shape, data.size());
    entries_.emplace(std::move(name), entry{type, std::move(shape), {}, data});
  }
  // Floats borrowed as F32 where the host's float is one (IEEE 754, little-endian); copied otherwise.
  void add_f32_borrowed(std::string name, std::vector<std::int64_t> shape, std::span<const float> values) {
    if constexpr (std::endian::native == std::endian::little && std::numeric_limits<float>::is_iec559) {
      add_borrowed(std::move(name), dtype::f32, std::move(shape), std::as_bytes(values));
    } else {
      add_f32(std::move(name), std::move(shape), values);
    }
  }

  void add_f32(std::string name, std::vector<std::int64_t> shape, std::span<const float> values) {
    add_f32_as(std::move(name), std::move(shape), values, dtype::f32);
  }

  // Stores float values as F32, F64, F16 or BF16 (rounding to nearest even).
  void add_f32_as(std::string name, std::vector<std::int64_t> shape, std::span<const float> values, dtype target) {
    switch (target) {
      case dtype::f32:
        return add_encoded(std::move(name), target, std::move(shape), values, [](float v) { return v; });
      case dtype::f64:
        return add_encoded(std::move(name), target, std::move(shape), values, [](float v) { return double{v}; });
      case dtype::f16:
        return add_encoded(std::move(name), target, std::move(shape), values, float_to_fp16);
      case dtype::bf16:
        return add_encoded(std::move(name), target, std::move(shape), values, float_to_bf16);
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
      for (const auto* e : order) metadata[std::string(checksum_prefix) + e->first] = checksum_hex(e->second.bytes);
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto* e : order) {
      const std::uint64_t size = e->second.bytes.size();
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
      out.write(reinterpret_cast<const char*>(e->second.bytes.data()),
                static_cast<std::streamsize>(e->second.bytes.size()));
    }
  }

 private:
  void check(const std::string& name, dtype type, const std::vector<std::int64_t>& shape, std::size_t bytes) const {
    require(!name.empty(), "safetensors_writer: a tensor needs a non-empty name");
    require(name != "__metadata__", "safetensors_writer: '__metadata__' is reserved and cannot name a tensor");
    require(!entries_.contains(name), "safetensors_writer: tensor '{}' added twice", name);
    const std::optional<std::int64_t> numel = detail::checked_numel(shape);
    require(numel.has_value(),
            "safetensors_writer: tensor '{}': shape [{}] has a negative dimension or too many elements", name,
            fmt::join(shape, ", "));
    const auto expected = static_cast<std::uint64_t>(*numel) * dtype_size(type);
    require(expected == bytes, "safetensors_writer: tensor '{}': shape [{}] of {} needs {} bytes, got {}", name,
            fmt::join(shape, ", "), dtype_name(type), expected, bytes);
  }
  void add_owned(std::string name, dtype type, std::vector<std::int64_t> shape, std::vector<std::byte>&& data) {
    auto& e = entries_.emplace(std::move(name), entry{type, std::move(shape), std::move(data), {}}).first->second;
    e.bytes = e.owned;  // the map's node, and so the vector's buffer, never moves
  }

  struct entry {
    dtype type;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> owned;      // add's copy (empty when borrowed)
    std::span<const std::byte> bytes;  // the tensor's bytes: owned, or the caller's
  };

  template <class T, class Encode>
  void add_encoded(std::string name, dtype type, std::vector<std::int64_t> shape, std::span<const T> values,
                   Encode encode) {
    const std::size_t width = dtype_size(type);
    std::vector<std::byte> data(values.size() * width);
    for (std::size_t i = 0; i < values.size(); ++i) detail::store_le(encode(values[i]), data.data() + i * width);
    check(name, type, shape, data.size());
    add_owned(std::move(name), type, std::move(shape), std::move(data));
  }

  // Larger elements first, then by name (as the reference writer): every
  // tensor then starts at a multiple of its own element size.
  std::vector<const std::pair<const std::string, entry>*> layout() const {
    std::vector<const std::pair<const std::string, entry>*> order;
    for (const auto& e : entries_) order.push_back(&e);
    std::stable_sort(order.begin(), order.end(),
                     [](auto* a, auto* b) { return dtype_size(a->second.type) > dtype_size(b->second.type); });
    return order;
  }

  std::map<std::string, entry> entries_;
  std::map<std::string, std::string> metadata_;
  bool checksums_ = true;
};

}  // namespace slmrec::io