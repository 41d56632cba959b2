#pragma once
// block_map: which teacher layer lines up with which student layer.
// Teacher (M layers) and student (N layers) are each cut into B blocks of
// m = M/B and n = N/B layers; at boundary k = 1..B the student's hidden state
// after k·n layers is pulled toward the teacher's after k·m layers.
// From depth<M>, depth<N> and blocks<B> the map is checked at compile time;
// with depth<dynamic> on either side, at run time.
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::distill {

template <index B>
struct blocks {
  static_assert(B >= 1, "slmrec::distill::blocks<B>: at least one block");
  static constexpr index value = B;
};

struct block_map {
  index teacher_layers = 0, student_layers = 0, blocks = 0;

  // Layers per block on each side.
  [[nodiscard]] constexpr index teacher_block() const { return teacher_layers / blocks; }
  [[nodiscard]] constexpr index student_block() const { return student_layers / blocks; }
  // 0-based index of the layer whose output is boundary k (k = 1..blocks).
  [[nodiscard]] constexpr index teacher_layer(index k) const { return k * teacher_block() - 1; }
  [[nodiscard]] constexpr index student_layer(index k) const { return k * student_block() - 1; }
};

// Run-time construction (depth<dynamic>), with the same checks as the compile-time one.
inline block_map make_block_map(index teacher_layers, index student_layers, index num_blocks) {
  require(num_blocks >= 1, "distillation: {} blocks, expected at least 1", num_blocks);
  require(teacher_layers % num_blocks == 0, "distillation: the teacher's {} layers cannot be cut into {} equal blocks",
          teacher_layers, num_blocks);
  require(student_layers % num_blocks == 0, "distillation: the student's {} layers cannot be cut into {} equal blocks",
          student_layers, num_blocks);
  return {teacher_layers, student_layers, num_blocks};
}

// Compile-time construction from depth<M>, depth<N>, blocks<B>.
template <class TeacherDepth, class StudentDepth, class Blocks>
constexpr block_map make_block_map() {
  static_assert(!TeacherDepth::is_dynamic && !StudentDepth::is_dynamic,
                "make_block_map<...>() needs fixed depths; use make_block_map(M, N, B) for depth<dynamic>");
  static_assert(TeacherDepth::value % Blocks::value == 0,
                "distillation: the teacher's depth is not divisible by the number of blocks");
  static_assert(StudentDepth::value % Blocks::value == 0,
                "distillation: the student's depth is not divisible by the number of blocks");
  static_assert(StudentDepth::value <= TeacherDepth::value, "distillation: the student is deeper than its teacher");
  return {TeacherDepth::value, StudentDepth::value, Blocks::value};
}

}  // namespace slmrec::distill
