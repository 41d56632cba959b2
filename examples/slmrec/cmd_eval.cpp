
// `slmrec eval --checkpoint DIR --data FILE --protocol full|sampled
//   [--negatives 99|999] [--sampler uniform|popularity] [--split valid|test] --json`
// `slmrec eval --baseline popularity --data FILE ...` ranks the training
// counts instead of a model's scores, under the same protocol.
// The last line (with --json) is one JSON object: the metrics ("HR@10",
// "NDCG@10", "MRR", ...) plus "protocol", "split" and "users".
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <slmrec/backend/select.hpp>
#include <slmrec/jobs/eval_job.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/train/split.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

void add_eval(CLI::App& app) {
  struct options {
    data_options data;
    jobs::eval_job job;
    std::string checkpoint, baseline, device = "cpu";
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint under a ranking protocol");
  auto* checkpoint = cmd->add_option("--checkpoint", o->checkpoint, "checkpoint directory");
  cmd->add_option("--baseline", o->baseline, "instead of a checkpoint: popularity (each item's training count)")
      ->check(CLI::IsMember({"popularity"}))
      ->excludes(checkpoint);
  o->data.add(cmd);
  o->data.add_shard(cmd);
  cmd->add_option("--protocol", o->job.protocol, "full (all items) | sampled (target + negatives)")->capture_default_str();
  cmd->add_option("--negatives", o->job.negatives, "sampled: number of negatives")->capture_default_str();
  cmd->add_option("--sampler", o->job.sampler, "sampled: uniform | popularity")->capture_default_str();
  cmd->add_option("--split", o->job.split, "valid | test")->capture_default_str();
  cmd->add_option("--seed", o->job.seed, "seed of the negative sample and of the --eval-users sample")->capture_default_str();
  cmd->add_option("--eval-users,--max-users", o->job.max_users, "evaluate a random subset of this many users, drawn with "
                  "--seed (0 = all)")
      ->capture_default_str();
  cmd->add_option("--batch", o->job.batch, "users per scoring batch")->capture_default_str();
  cmd->add_flag("--keep-history", o->job.keep_history, "full ranking: keep the user's own items as candidates");
  cmd->add_flag("--json", o->json, "print the result as one JSON object on the last line");
  cmd->add_option("--device", o->device, backend::device_names)->capture_default_str();
  cmd->callback([o] {
    o->job.check();
    if (o->checkpoint.empty() && o->baseline.empty())
      throw CLI::RequiredError("eval: --checkpoint DIR (or --baseline popularity)");
    const auto ds = o->data.load();
    const auto split = train::leave_one_out(ds, communicator{});
    const auto print = [&](const jobs::eval_job_result& r) {
      fmt::print("{} split, {} users, {}\n{}\n", o->job.split, r.result.users, r.result.protocol,
                 r.result.metrics.to_string());
      if (o->json) fmt::print("{}\n", r.json.dump());
    };
    if (!o->baseline.empty()) return print(jobs::run_popularity_eval(o->job, ds, split));
    auto evaluate = [&](auto& m) { print(jobs::run_eval(m, o->job, ds, split, o->data.file, communicator{})); };
    // Float checkpoints run on any backend; quantized ones on the CPU, and int8 ones on a GPU too.
    backend::with_device(o->device, [&](auto device) {
      using BE = typename decltype(device)::type;
      model::with_any_checkpoint<BE>(o->checkpoint, evaluate);
    });
  });
}

}  // namespace slmrec::cli
