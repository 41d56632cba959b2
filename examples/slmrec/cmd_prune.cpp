
// `slmrec prune --checkpoint DIR --method magnitude|structured --sparsity S
//   [--scope layer|global] [--heads F] [--data FILE [--teacher DIR ...] training options] --out DIR`
// magnitude: the smallest decoder weights set to zero (per matrix or one
// global threshold), kept at zero through any fine-tuning by the masks of a
// recommender<..., prune::masked<Scope>>.
// structured: S of each layer's feed-forward channels (and --heads F of its
// attention heads) physically removed: a recommender<..., prune::structured>
// (llama). With --data the pruned model is
// fine-tuned (cross-entropy, or distillation against --teacher); without it
// the pruned model is saved as it is. The result is an ordinary checkpoint.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/model/dispatch.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/prune/magnitude.hpp>
#include <slmrec/prune/structured.hpp>
#include <slmrec/train/objective.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

namespace {

using cpu = backend::eigen_cpu;

struct prune_options {
  std::string data_file;
  train::train_config train;
  std::string checkpoint, method = "magnitude", scope = "layer", teacher, out;
  double sparsity = 0.5, heads = 0.0;
  index blocks = 0;
  distill::distill_weights weights{1.0, 0.1, 0.0};
};

// Fine-tunes `m` (a masked model holds its masks through every step) by
// cross-entropy or by distillation from the teacher, then reports the test
// metrics; or saves it.
template <class Model>
void finish(Model& m, const prune_options& o) {
  if (o.data_file.empty()) {
    nlohmann::json config = {{"model", m.config()}, {"pruned_from", o.checkpoint}};
    prune::record_pruning(m, config);
    train::save_model<cpu>(o.out, config, m.parameters());
    fmt::print("saved the pruned model (no fine-tuning: no --data) to {}\n", o.out);
    return;
  }
  data_options d;
  d.file = o.data_file;
  const auto ds = d.load();
  const auto split = data::leave_one_out(ds);
  const auto fit = [&](auto& objective) { return train::fit(objective, split, ds, o.train, o.out, false); };
  if (o.teacher.empty()) {
    train::next_item_objective obj(m, train::loss_kind::cross_entropy);
    report_test(m, split, ds, fit(obj), o.train, o.out);
    return;
  }
  model::with_checkpoint<cpu>(o.teacher, [&](auto& teacher) {
    if constexpr (std::is_same_v<typename std::remove_cvref_t<decltype(teacher)>::arch_type,
                                 typename Model::arch_type>) {
      const index blocks = o.blocks > 0 ? o.blocks : m.depth();
      const auto map = distill::make_block_map(teacher.depth(), m.depth(), blocks);
      distill::distiller kd(teacher, m, map, o.weights, split.train);
      fmt::print("fine-tuning by distillation from {} ({} -> {} layers, {} blocks)\n", o.teacher, teacher.depth(),
                 m.depth(), map.blocks);
      report_test(m, split, ds, fit(kd), o.train, o.out);
    } else {
      fail("teacher and student must have the same arch");
    }
  });
}

}  // namespace

void add_prune(CLI::App& app) {
  auto o = std::make_shared<prune_options>();
  auto* cmd = app.add_subcommand("prune", "Prune a trained model (magnitude or structured), optionally fine-tune it");
  cmd->add_option("--checkpoint", o->checkpoint, "the float checkpoint to prune")->required();
  cmd->add_option("--method", o->method, "magnitude (unstructured) | structured (FFN channels, heads)")
      ->capture_default_str();
  cmd->add_option("--sparsity", o->sparsity, "magnitude: fraction of decoder weights; structured: of FFN channels")
      ->capture_default_str();
  cmd->add_option("--scope", o->scope, "magnitude: layer (each matrix) | global (one threshold)")->capture_default_str();
  cmd->add_option("--heads", o->heads, "structured: fraction of attention heads removed")->capture_default_str();
  cmd->add_option("--data", o->data_file, "fine-tune on this dataset after pruning");
  cmd->add_option("--teacher", o->teacher, "fine-tune by distillation from this teacher checkpoint");
  cmd->add_option("--blocks", o->blocks, "distillation blocks (0 = one per student layer)")->capture_default_str();
  cmd->add_option("--lambda-cos", o->weights.cos, "distillation: weight of 1 - cos")->capture_default_str();
  cmd->add_option("--lambda-norm", o->weights.norm, "distillation: weight of the norm term")->capture_default_str();
  cmd->add_option("--lambda-ms", o->weights.ms, "distillation: extra heads (the checkpoint must have them)")
      ->capture_default_str();
  add_train_options(cmd, o->train);
  cmd->add_option("--out", o->out, "the pruned model's checkpoint directory")->required();
  cmd->callback([o] {
    require(o->method == "magnitude" || o->method == "structured", "--method '{}' is not one of magnitude, structured",
            o->method);
    require(o->teacher.empty() || !o->data_file.empty(), "--teacher needs --data (the data to distill on)");
    const auto cfg = model::checkpoint_model_config(o->checkpoint);
    if (o->method == "magnitude") {
      model::with_prune_scope(o->scope, [&]<class Scope>(Scope) {
        model::with_recommender<cpu, prune::masked<Scope>>(cfg, true, [&](auto& m) {
          train::load_model_weights(o->checkpoint, m.parameters());
          const auto& masks = m.prune_magnitude(o->sparsity);
          fmt::print("magnitude pruning ({}): {} of {} decoder weights set to zero ({:.1f}%)\n", o->scope,
                     masks.pruned(), masks.total(), 100.0 * masks.sparsity());
          finish(m, *o);
        });
      }, "--scope");
      return;
    }
    model::with_recommender<cpu>(cfg, false, [&](auto& m) {
      using dense = std::remove_cvref_t<decltype(m)>;
      if constexpr (std::is_same_v<typename dense::arch_type, arch::llama>) {
        train::load_model_weights(o->checkpoint, m.parameters());
        const auto plan = prune::plan_structured(m, {o->sparsity, o->heads});
        const auto small_cfg = prune::pruned_config(cfg, plan);
        fmt::print("structured pruning: FFN {} -> {} channels, heads {} -> {} per layer\n", cfg.resolved_ffn(),
                   small_cfg.ffn, cfg.heads, small_cfg.heads);
        model::recommender<cpu, arch::llama, depth<dynamic>, quant::none, prune::structured> small(small_cfg, true);
        prune::copy_structured(m, small, plan);
        finish(small, *o);
      } else {
        fail("structured pruning removes llama heads and SwiGLU channels; this model is '{}'", cfg.arch);
      }
    });
  });
}

}  // namespace slmrec::cli
