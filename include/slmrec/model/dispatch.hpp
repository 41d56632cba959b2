#pragma once
// The one place where a run-time name (a command-line option, a checkpoint's
// config) becomes a compile-time tag: each tag carries its own `name`, and
// the lists below are the tags a tool can reach. f is called with a
// default-constructed tag, so one generic lambda serves every type:
//   with_arch(cfg.arch, [&]<class Arch>(Arch) { recommender<BE, Arch> m(cfg); ... });
#include <string>
#include <string_view>
#include <utility>

#include <slmrec/core/error.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/prune/policy.hpp>
#include <slmrec/quant/scheme.hpp>

namespace slmrec::model {

template <class... Tags>
struct tag_list {
  // "a, b or c", for error messages.
  static std::string names() {
    std::string out;
    std::size_t i = 0;
    ((out += (i == 0 ? "" : i + 1 == sizeof...(Tags) ? " or " : ", "), out += Tags::name, ++i), ...);
    return out;
  }
};

using arch_tags = tag_list<arch::sasrec, arch::llama>;
// Every quantized scheme a checkpoint may name (int4 in blocks of 32: the block this build reads).
using quantized_scheme_tags = tag_list<quant::int8_per_channel, quant::int4_block<32>, quant::bf16, quant::fp16>;

using prune_scope_tags = tag_list<prune::per_matrix, prune::global>;

namespace detail {

// where: the file or option the name came from, named in the error; All: the
// whole list, whose names the error gives.
template <class All, class F, class First, class... Rest>
decltype(auto) with_tag(std::string_view name, std::string_view what, std::string_view where, F&& f,
                        tag_list<First, Rest...>) {
  if (name == First::name) return std::forward<F>(f)(First{});
  if constexpr (sizeof...(Rest) == 0)
    fail("{}{}unknown {} '{}' (expected {})", where, where.empty() ? "" : ": ", what, printable(name), All::names());
  else
    return with_tag<All>(name, what, where, std::forward<F>(f), tag_list<Rest...>{});
}

}  // namespace detail

// f(arch::sasrec{}) or f(arch::llama{}).
template <class F>
decltype(auto) with_arch(std::string_view name, F&& f, std::string_view where = {}) {
  return detail::with_tag<arch_tags>(name, "arch", where, std::forward<F>(f), arch_tags{});
}

// f(quant::int8_per_channel{}), f(quant::int4_block<32>{}), f(quant::bf16{}) or f(quant::fp16{}).
template <class F>
decltype(auto) with_quantized_scheme(std::string_view name, F&& f, std::string_view where = {}) {
  return detail::with_tag<quantized_scheme_tags>(name, "quantization scheme", where, std::forward<F>(f),
                                                 quantized_scheme_tags{});
}

// f(prune::per_matrix{}) for "layer" or f(prune::global{}) for "global": a magnitude pruning's scope.
template <class F>
decltype(auto) with_prune_scope(std::string_view name, F&& f, std::string_view where = {}) {
  return detail::with_tag<prune_scope_tags>(name, "pruning scope", where, std::forward<F>(f), prune_scope_tags{});
}

}  // namespace slmrec::model
