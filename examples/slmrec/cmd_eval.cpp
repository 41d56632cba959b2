
// `slmrec eval --checkpoint DIR --data FILE --protocol full|sampled
//   [--negatives 99|999] [--sampler uniform|popularity] [--split valid|test] --json`
// The last line (with --json) is one JSON object: the metrics ("HR@10",
// "NDCG@10", "MRR", ...) plus "protocol", "split" and "users".
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <slmrec/backend/select.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

void add_eval(CLI::App& app) {
  struct options {
    data_options data;
    std::string checkpoint, protocol = "full", sampler = "uniform", split = "test", device = "cpu";
    index negatives = 99, batch = 256, max_users = 0;
    std::uint64_t seed = 0;
    bool keep_history = false, json = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint under a ranking protocol");
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint directory")->required();
  o->data.add(cmd);
  cmd->add_option("--protocol", o->protocol, "full (all items) | sampled (target + negatives)")->capture_default_str();
  cmd->add_option("--negatives", o->negatives, "sampled: number of negatives")->capture_default_str();
  cmd->add_option("--sampler", o->sampler, "sampled: uniform | popularity")->capture_default_str();
  cmd->add_option("--split", o->split, "valid | test")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the negative sample and of the --eval-users sample")->capture_default_str();
  cmd->add_option("--eval-users,--max-users", o->max_users, "evaluate a random subset of this many users, drawn with "
                  "--seed (0 = all)")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "users per scoring batch")->capture_default_str();
  cmd->add_flag("--keep-history", o->keep_history, "full ranking: keep the user's own items as candidates");
  cmd->add_flag("--json", o->json, "print the result as one JSON object on the last line");
  cmd->add_option("--device", o->device, backend::device_names)->capture_default_str();
  cmd->callback([o] {
    require(o->protocol == "full" || o->protocol == "sampled", "--protocol '{}' is not one of full, sampled",
            o->protocol);
    require(o->sampler == "uniform" || o->sampler == "popularity", "--sampler '{}' is not one of uniform, popularity",
            o->sampler);
    require(o->split == "valid" || o->split == "test", "--split '{}' is not one of valid, test", o->split);
    const auto ds = o->data.load();
    const auto split = data::leave_one_out(ds);
    auto evaluate = [&](auto& m) {
      require(m.config().num_items == ds.num_items, "{} has {} items but the checkpoint was trained with {}",
              o->data.file, ds.num_items, m.config().num_items);
      eval::eval_options eo;
      eo.ranking = o->protocol == "full" ? eval::protocol::full : eval::protocol::sampled;
      eo.exclude_history = !o->keep_history;
      eo.num_negatives = o->negatives;
      eo.negatives = o->sampler == "uniform" ? eval::sampling::uniform : eval::sampling::popularity;
      eo.seed = o->seed;
      eo.batch_size = o->batch;
      eo.max_len = m.config().max_len;
      eo.max_users = o->max_users;
      const auto view = o->split == "test" ? eval::test_view(split, ds) : eval::valid_view(split, ds);
      const auto r = cli::evaluate_model(m, view, eo, communicator{});  // users split over the ranks, if any
      fmt::print("{} split, {} users, {}\n{}\n", o->split, r.users, r.protocol, r.metrics.to_string());
      if (o->json) {
        nlohmann::json j = r.metrics.to_json();
        j["protocol"] = r.protocol;
        j["split"] = o->split;
        j["users"] = r.users;
        j["eval_users"] = r.users;  // the sample (as train's metrics.jsonl records it): size, seed, population
        j["eval_seed"] = o->seed;
        j["eval_users_total"] = view.size();
        fmt::print("{}\n", j.dump());
      }
    };
    // Float checkpoints run on any backend; quantized ones on the CPU kernels of quant/.
    backend::with_device(o->device, [&](auto device) {
      using BE = typename decltype(device)::type;
      if constexpr (BE::is_host) {
        model::with_any_checkpoint<BE>(o->checkpoint, evaluate);
      } else {
        require(model::checkpoint_scheme(o->checkpoint) == "none",
                "{} is a quantized checkpoint: its kernels run on the CPU (--device cpu)", o->checkpoint);
        model::with_checkpoint<BE>(o->checkpoint, evaluate);
      }
    });
  });
}

}  // namespace slmrec::cli
