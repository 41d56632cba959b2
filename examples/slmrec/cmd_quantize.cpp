
// `slmrec quantize --checkpoint DIR --scheme int8|int4|bf16|fp16 --out DIR`
// A trained float checkpoint -> an inference-only checkpoint whose linear
// layers and item table are stored in the scheme's format. `slmrec eval` and
// `slmrec recommend` read it like any checkpoint.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/dispatch.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/quantize.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>

namespace slmrec::cli {

namespace {

template <class Q, class Model>
void quantize_and_save(Model& m, const std::string& from, const std::string& out) {
  auto q = model::quantize<Q>(m);
  model::save_quantized(out, *q, {{"quantized_from", from}});
  const auto before = model::weight_bytes(m), after = model::weight_bytes(*q);
  fmt::print("{}: {} -> {}: weights {:.3f} MB -> {:.3f} MB ({:.2f}x smaller)\n", Q::name, from, out, before / 1e6,
             after / 1e6, double(before) / double(after));
}

}  // namespace

void add_quantize(CLI::App& app) {
  struct options {
    std::string checkpoint, scheme = "int8", out;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("quantize", "Quantize a trained checkpoint for inference (int8, int4, bf16, fp16)");
  cmd->add_option("--checkpoint", o->checkpoint, "the float checkpoint directory")->required();
  cmd->add_option("--scheme", o->scheme, "int8 (per output channel) | int4 (blocks of 32) | bf16 | fp16")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "the quantized checkpoint directory")->required();
  cmd->callback([o] {
    // The scheme is checked before the checkpoint is read.
    model::with_quantized_scheme(
        o->scheme,
        [&]<class Q>(Q) {
          model::with_checkpoint<backend::eigen_cpu>(
              o->checkpoint, [&](auto& m) { quantize_and_save<Q>(m, o->checkpoint, o->out); });
        },
        "--scheme");
  });
}

}  // namespace slmrec::cli
