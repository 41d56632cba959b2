#pragma once
// hnswlib 0.6.2's index file, checked before hnswlib reads it. Its loader
// allocates and reads whatever sizes the file states and its search follows
// neighbour ids without bounds checks, so a damaged or foreign file would
// crash a server or read out of bounds. This walks the whole file once
// (linear in its size) and refuses it unless every size, count, id and
// label is what an index of the expected shape must have.
//
// Layout (host byte order, as hnswlib writes it):
//   header: offset_level0, max_elements, element_count, bytes_per_element,
//           label_offset, data_offset (size_t each), max_level (int32),
//           entry_point (uint32), max_m, max_m0, m (size_t), mult (double),
//           ef_construction (size_t)
//   level 0: element_count x [count (uint16) + flags (uint16), max_m0 uint32 ids,
//            the vector (data bytes), the label (size_t)]
//   upper levels, per element: bytes (uint32), then bytes / (4 + 4 max_m)
//            lists of [count + flags, max_m uint32 ids]
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <slmrec/core/error.hpp>

namespace slmrec::ann::detail {

struct hnsw_shape {
  std::size_t elements = 0;         // items in the graph
  std::size_t data_bytes = 0;       // one stored vector
  std::size_t m = 0;                // hnswlib's M
  std::size_t ef_construction = 0;  // as hnswlib records it: max(ef_construction, M)
};

class hnsw_reader {
 public:
  hnsw_reader(std::string_view bytes, const std::string& source) : b_(bytes), source_(source) {}
  template <class T>
  T at(std::size_t offset, const char* what) const {
    require(offset <= b_.size() && b_.size() - offset >= sizeof(T), "{}: the file ends inside {} (offset {}, {} bytes)",
            source_, what, offset, b_.size());
    T v;
    std::memcpy(&v, b_.data() + offset, sizeof(T));
    return v;
  }
  [[nodiscard]] std::size_t size() const { return b_.size(); }

 private:
  std::string_view b_;
  const std::string& source_;
};

// One adjacency list at `offset`: at most `capacity` ids, each below `elements`, no flags set.
inline void check_links(const hnsw_reader& r, std::size_t offset, std::size_t capacity, std::size_t elements,
                        std::size_t node, int level, const std::string& source) {
  const auto header = r.at<std::uint32_t>(offset, "a neighbour list");
  const std::size_t count = header & 0xFFFFu;
  require(header >> 16 == 0 && count <= capacity,
          "{}: node {} level {}: neighbour list header {:#x} (expected a count of at most {} and no flags)", source,
          node, level, header, capacity);
  for (std::size_t i = 0; i < count; ++i) {
    const auto id = r.at<std::uint32_t>(offset + 4 + 4 * i, "a neighbour list");
    require(id < elements && id != node, "{}: node {} level {}: neighbour {} (expected another node below {})", source,
            node, level, id, elements);
  }
}

inline void validate_hnsw_bytes(std::string_view bytes, const std::string& source, const hnsw_shape& e) {
  const hnsw_reader r(bytes, source);
  const std::size_t links0 = 4 + 4 * 2 * e.m, links = 4 + 4 * e.m;
  const std::size_t per_element = links0 + e.data_bytes + sizeof(std::size_t);
  const auto expect = [&](std::size_t offset, std::size_t want, const char* field) {
    const auto got = r.at<std::size_t>(offset, field);
    require(got == want, "{}: header field {} is {}, expected {}", source, field, got, want);
  };
  expect(0, 0, "offset_level0");
  expect(8, e.elements, "max_elements");
  expect(16, e.elements, "element_count");
  expect(24, per_element, "bytes_per_element");
  expect(32, links0 + e.data_bytes, "label_offset");
  expect(40, links0, "data_offset");
  const auto max_level = r.at<std::int32_t>(48, "max_level");
  const auto entry = r.at<std::uint32_t>(52, "entry_point");
  require(max_level >= 0 && max_level < 64, "{}: header field max_level is {}, expected 0..63", source, max_level);
  require(entry < e.elements, "{}: header field entry_point is {}, expected a node below {}", source, entry, e.elements);
  expect(56, e.m, "max_m");
  expect(64, 2 * e.m, "max_m0");
  expect(72, e.m, "m");
  const auto mult = r.at<double>(80, "mult");
  require(std::isfinite(mult) && mult > 0 && mult < 2, "{}: header field mult is {}, expected 1 / ln(M)", source, mult);
  expect(88, e.ef_construction, "ef_construction");

  constexpr std::size_t level0_start = 96;
  require((bytes.size() - std::min(bytes.size(), level0_start)) / per_element >= e.elements,
          "{}: {} bytes, too short for {} nodes of {} bytes", source, bytes.size(), e.elements, per_element);
  std::vector<bool> seen(e.elements + 1, false);
  for (std::size_t i = 0; i < e.elements; ++i) {
    const std::size_t at = level0_start + i * per_element;
    check_links(r, at, 2 * e.m, e.elements, i, 0, source);
    for (std::size_t j = 0; j < e.data_bytes / sizeof(float); ++j)
      require(std::isfinite(r.at<float>(at + links0 + 4 * j, "a vector")), "{}: node {}: a vector value is not finite",
              source, i);
    const auto label = r.at<std::size_t>(at + links0 + e.data_bytes, "a label");
    require(label >= 1 && label <= e.elements && !seen[label],
            "{}: node {} has item id {} (expected a distinct item id in 1..{})", source, i, label, e.elements);
    seen[label] = true;
  }
  std::size_t at = level0_start + e.elements * per_element;
  for (std::size_t i = 0; i < e.elements; ++i) {
    const auto size = r.at<std::uint32_t>(at, "an upper-level size");
    require(size % links == 0 && size / links <= std::size_t(max_level),
            "{}: node {}: {} bytes of upper levels (expected a multiple of {} up to {} levels)", source, i, size,
            links, max_level);
    require(i != entry || size / links == std::size_t(max_level),
            "{}: the entry point {} has {} upper levels, expected {}", source, i, size / links, max_level);
    at += 4;
    for (std::size_t l = 0; l < size / links; ++l) check_links(r, at + l * links, e.m, e.elements, i, int(l) + 1, source);
    at += size;
  }
  require(at == bytes.size(), "{}: {} bytes, expected {} for this graph (trailing bytes)", source, bytes.size(), at);
}

}  // namespace slmrec::ann::detail
