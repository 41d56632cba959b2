#pragma once
// Pruning policies: tag types that a recommender takes as its fifth template
// parameter, so that a model's type says whether and how it is pruned:
//   prune::none                  dense (the default)
//   prune::masked<Scope>         unstructured: the smallest decoder weights are
//                                zero and held at zero through training by
//                                masks the model owns (CPU and GPU)
//   prune::structured            whole heads and SwiGLU channels removed: the
//                                shapes shrank (llama only)
// Scope says how magnitude pruning picks the weights: per_matrix (each
// decoder matrix loses the same fraction) or global (one threshold).
#include <type_traits>

namespace slmrec::prune {

enum class scope { per_matrix, global };

struct per_matrix {
  static constexpr const char* name = "layer";  // the command line's --scope
  static constexpr scope where = scope::per_matrix;
};
struct global {
  static constexpr const char* name = "global";
  static constexpr scope where = scope::global;
};

struct none {
  static constexpr const char* name = "none";
};

template <class Scope = per_matrix>
struct masked {
  static_assert(std::is_same_v<Scope, per_matrix> || std::is_same_v<Scope, global>,
                "prune::masked<Scope>: Scope is prune::per_matrix or prune::global");
  using scope_type = Scope;
  static constexpr const char* name = "masked";
};

struct structured {
  static constexpr const char* name = "structured";
};

template <class P>
inline constexpr bool is_masked = false;
template <class Scope>
inline constexpr bool is_masked<masked<Scope>> = true;

template <class P>
concept policy = std::is_same_v<P, none> || is_masked<P> || std::is_same_v<P, structured>;

}  // namespace slmrec::prune
