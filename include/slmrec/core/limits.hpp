#pragma once
// Limits on sizes read from files and command lines, and overflow-checked
// size arithmetic. Every size a reader takes from a file (a config's width,
// a header's shape) is checked here *before* anything is allocated for it:
// a hostile or damaged file must end in a slmrec::error naming it, never in
// std::bad_alloc, a wrapped-around product or a read past a buffer.
//
// The maxima are far above any model this library trains (the largest
// preset is 8 layers of width 128) and far below what would overflow the
// products below in 64 bits, so the checks cost nothing for real files.
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string_view>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::limits {

// Item ids are int32 everywhere (batches, top-k, datasets); row 0 of an item
// table is padding, so a table has num_items + 1 rows.
inline constexpr index max_items = std::numeric_limits<std::int32_t>::max() - 1;
inline constexpr index max_dim = index{1} << 16;         // model width, item width, head width
inline constexpr index max_head_dim = index{1} << 10;   // an explicit head width (rotary tables are positions x it)
inline constexpr index max_ffn = index{1} << 20;         // feed-forward width
inline constexpr index max_heads = index{1} << 12;
inline constexpr index max_layers = index{1} << 12;
inline constexpr index max_len = index{1} << 20;         // history positions (the rotary and position tables)
inline constexpr index max_epochs = index{1} << 40;      // a training state's epoch and step counters
inline constexpr int max_tensor_rank = 64;
inline constexpr index max_tensor_dim = std::numeric_limits<std::int32_t>::max();  // one dimension of a tensor               // dimensions of one tensor (PyTorch's own limit)
inline constexpr int max_json_depth = 64;                // nesting of any JSON file we read
inline constexpr std::uint64_t max_json_bytes = std::uint64_t{100'000'000};  // a config, state or index file

// a * b, or nullopt if it overflows index (or an operand is negative).
constexpr std::optional<index> mul(index a, index b) noexcept {
  index r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// a + b, or nullopt if it overflows index (or an operand is negative).
constexpr std::optional<index> add(index a, index b) noexcept {
  index r = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

namespace detail {
template <class Op>
index checked_fold(std::initializer_list<index> xs, index start, Op op, std::string_view what, const char* kind) {
  index r = start;
  for (index x : xs) {
    const std::optional<index> next = op(r, x);
    if (!next) fail("{}: a size is negative or a {} of sizes overflows 64 bits", what, kind);
    r = *next;
  }
  return r;
}
}  // namespace detail

// The checked product of sizes; `what` names it in the error ("model.safetensors: tensor 'x'").
inline index checked_mul(std::initializer_list<index> factors, std::string_view what) {
  return detail::checked_fold(factors, 1, mul, what, "product");
}

// The checked sum of sizes.
inline index checked_add(std::initializer_list<index> terms, std::string_view what) {
  return detail::checked_fold(terms, 0, add, what, "sum");
}

}  // namespace slmrec::limits
