// `slmrec merge-lora --checkpoint DIR --out DIR`: a model trained on a frozen
// backbone with LoRA adapters (train --init hf:DIR --freeze-backbone
// --lora-rank R) as a plain llama checkpoint, each adapter folded into its
// weight (W + alpha/r B A): what serving, quantization and pruning read.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/nn/checkpoint_files.hpp>

namespace slmrec::cli {

void add_merge_lora(CLI::App& app) {
  struct options {
    std::string checkpoint, out;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("merge-lora", "Fold a frozen backbone's LoRA adapters into its weights");
  cmd->add_option("--checkpoint", o->checkpoint, "a checkpoint trained with --freeze-backbone")->required();
  cmd->add_option("--out", o->out, "the merged checkpoint's directory")->required();
  cmd->callback([o] {
    const auto cfg = model::checkpoint_model_config(o->checkpoint);
    require(cfg.freeze_backbone, "{}: not a frozen-backbone checkpoint (no adapters to merge)", o->checkpoint);
    model::with_checkpoint<backend::eigen_cpu>(o->checkpoint, [&](auto& m) {
      nn::save_model<backend::eigen_cpu>(o->out, {{"model", m.config()}, {"merged_from", o->checkpoint}},
                                         m.parameters());
      fmt::print("merged {} adapters of rank {} (alpha {}) into {}: {} parameters, written to {}\n",
                 cfg.lora_targets.size() * std::size_t(cfg.layers), cfg.lora_rank, cfg.lora_alpha, o->checkpoint,
                 m.parameters().count(), o->out);
    });
  });
}

}  // namespace slmrec::cli
