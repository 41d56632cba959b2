#pragma once
// A safetensors header read and validated against the bytes it describes:
// the 8-byte length, the JSON, each tensor's entry (dtype, shape, offsets,
// the shape's size against the offsets), the metadata and its checksums, and
// the tensors covering the data section exactly. Every check names the file,
// the tensor and what was expected versus found (docs/reliability.md).
#include "slmrec/core/error.hpp"
#include "slmrec/core/limits.hpp"
#include "slmrec/io/json.hpp"
#include "slmrec/io/safetensors_format.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slmrec::io::detail {

// What a header says, once validated.
struct safetensors_header {
  std::size_t size = 0;                          // bytes of JSON after the 8-byte length
  std::size_t data_size = 0;                     // bytes of tensor data after the JSON
  std::vector<tensor_info> tensors;              // sorted by name
  std::map<std::string, std::string> metadata;   // without the checksum keys
  std::map<std::string, std::string> checksums;  // tensor name -> hex digest
  bool checksummed = false;                      // "checksums": "xxh3_64" in the metadata
};

// Real headers are kilobytes; the reference implementation refuses more than
// 100 MB, and so do we, before allocating anything for it.
inline constexpr std::uint64_t max_header_size = 100'000'000;

inline void read_metadata(const std::string& file, const nlohmann::json& entry, safetensors_header& h) {
  if (!entry.is_object()) fail("{}: '__metadata__' must be an object of strings, found {}", file, describe_json(entry));
  for (const auto& [key, value] : entry.items()) {
    if (!value.is_string())
      fail("{}: '__metadata__' value of '{}' must be a string, found {}", file, printable(key), describe_json(value));
    if (std::string_view(key).starts_with(checksum_prefix)) {
      h.checksums[key.substr(checksum_prefix.size())] = value.get<std::string>();
    } else if (key == "checksums") {
      h.checksummed = true;
    } else {
      h.metadata[key] = value.get<std::string>();
    }
  }
}

// Linear in the header's size: a message is formatted only when its check
// fails (a shape of 100,000 dimensions must not be printed 100,000 times).
inline tensor_info read_entry(const std::string& file, const std::string& name, const nlohmann::json& entry,
                              std::size_t data_size) {
  const std::string shown = printable(name);
  if (!entry.is_object()) fail("{}: tensor '{}': entry must be an object, found {}", file, shown, describe_json(entry));
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(key)) fail("{}: tensor '{}': entry has no '{}'", file, shown, key);
  }
  tensor_info t;
  t.name = name;

  const nlohmann::json& type = entry["dtype"];
  if (!type.is_string()) fail("{}: tensor '{}': 'dtype' must be a string, found {}", file, shown, describe_json(type));
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
  const bool offsets_ok =
      offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned();
  if (!offsets_ok)
    fail("{}: tensor '{}': 'data_offsets' must be [begin, end], two non-negative integers, found {}", file, shown,
         offsets.is_array() && offsets.size() <= 2
             ? describe_json(offsets[0]) + ", " + (offsets.size() == 2 ? describe_json(offsets[1]) : "")
             : describe_json(offsets));
  const auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
  if (begin > end) fail("{}: tensor '{}': data_offsets [{}, {}] have begin after end", file, shown, begin, end);
  if (end > data_size)
    fail("{}: tensor '{}': data_offsets [{}, {}] run past the end of the data section ({} bytes)", file, shown, begin,
         end, data_size);
  t.begin = static_cast<std::size_t>(begin);
  t.end = static_cast<std::size_t>(end);

  const std::optional<std::int64_t> numel = checked_numel(t.shape);
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
// after the last tensor hold data no tensor describes (a damaged or hand-made
// file), so both are refused too.
inline void require_exact_cover(const std::string& file, const std::vector<tensor_info>& tensors,
                                std::size_t data_size) {
  std::vector<const tensor_info*> by_offset;
  by_offset.reserve(tensors.size());
  for (const tensor_info& t : tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  std::size_t covered = 0;
  const tensor_info* previous = nullptr;
  for (const tensor_info* t : by_offset) {
    if (t->begin < covered)
      fail("{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap in the data section", file, printable(previous->name),
           previous->begin, previous->end, printable(t->name), t->begin, t->end);
    if (t->begin > covered)
      fail(
          "{}: bytes [{}, {}) of the data section belong to no tensor (a gap before '{}'); safetensors tensors "
          "cover the data exactly",
          file, covered, t->begin, printable(t->name));
    covered = t->end;
    previous = t;
  }
  if (covered != data_size)
    fail(
        "{}: {} bytes after the last tensor belong to no tensor (the data section has {} bytes, the tensors "
        "cover {})",
        file, data_size - covered, data_size, covered);
}

// The header of a whole file's bytes; `file` names them in every message.
inline safetensors_header read_header(std::string_view bytes, const std::string& file) {
  require(bytes.size() >= 8, "{}: not a safetensors file: {} bytes, shorter than the 8-byte header length", file,
          bytes.size());
  const auto length = load_le<std::uint64_t>(reinterpret_cast<const std::byte*>(bytes.data()));
  require(length <= max_header_size, "{}: header length {} is absurdly large (limit {} bytes); not a safetensors file?",
          file, length, max_header_size);
  require(length <= bytes.size() - 8, "{}: header length {} runs past the end of the file ({} bytes after the length)",
          file, length, bytes.size() - 8);
  safetensors_header h;
  h.size = static_cast<std::size_t>(length);
  h.data_size = bytes.size() - 8 - h.size;

  const nlohmann::json header = parse_json(bytes.substr(8, h.size), file + ": the header");
  if (!header.is_object()) fail("{}: the header must be a JSON object, found {}", file, header.type_name());

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      read_metadata(file, entry, h);
    } else {
      h.tensors.push_back(read_entry(file, name, entry, h.data_size));
    }
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  require_exact_cover(file, h.tensors, h.data_size);
  return h;
}

}  // namespace slmrec::io::detail
