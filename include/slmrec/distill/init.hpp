#pragma once
// Student initialisation for SLMRec: the teacher's first N layers (the
// paper's choice), every (M/N)-th teacher layer (layer dropping, as in the
// released code), or nothing copied (random). Everything outside the stack
// (item table, positions, final norm, head) is copied by name when the
// teacher has it with the same shape.
#include <string>

#include <fmt/format.h>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::distill {

enum class student_init { first, interval, random };

inline student_init parse_student_init(const std::string& s) {
  if (s == "first") return student_init::first;
  if (s == "interval") return student_init::interval;
  if (s == "random") return student_init::random;
  fail("student initialisation '{}' is not one of first, interval, random, hf:DIR", s);
}

// The teacher parameter a student parameter starts from ("" = none).
inline std::string teacher_source(const std::string& name, student_init how, index teacher_layers,
                                  index student_layers) {
  const std::string layers = "model.layers.";
  if (!name.starts_with(layers)) return name;
  const auto dot = name.find('.', layers.size());
  const index i = std::stoll(name.substr(layers.size(), dot - layers.size()));
  const index src = how == student_init::first ? i : i * (teacher_layers / student_layers);
  return fmt::format("{}{}{}", layers, src, name.substr(dot));
}

template <backend::backend BE>
index init_student(const nn::parameter_store<BE>& teacher, nn::parameter_store<BE>& student, student_init how,
                   index teacher_layers, index student_layers) {
  if (how == student_init::random) return 0;
  require(student_layers <= teacher_layers, "the student ({} layers) is deeper than the teacher ({})", student_layers,
          teacher_layers);
  index copied = 0;
  for (const auto& e : student.entries()) {
    const std::string src = teacher_source(e.spec.name, how, teacher_layers, student_layers);
    const auto* t = teacher.find(src);
    if (t == nullptr || t->spec.shape != e.spec.shape) continue;
    BE::copy(teacher.value(*t), student.value(e), e.size);
    ++copied;
  }
  return copied;
}

}  // namespace slmrec::distill
