#pragma once
// The training loop, generic over an objective: AdamW with warm-up and
// cosine decay, clipping, validation every epoch (full ranking, history
// excluded), early stopping with patience on one metric, best weights kept,
// a checkpoint after every epoch, and resumption that reproduces an
// uninterrupted run exactly. A non-finite loss or gradient stops the run with
// an error naming the step; the checkpoint of the last good epoch stays.
// The communicator (dist/communicator.hpp) makes it data-parallel: each rank
// trains on its share of every global batch (train/data_parallel.hpp),
// validation is split over the ranks, and rank 0 alone prints and writes the
// checkpoint, whose state is global (any number of ranks resumes it).
// fit() is the default composition; fit_with() takes the optimizer and the
// observers (progress, logging, checkpointing: train/observers.hpp) as
// parameters.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <slmrec/core/error.hpp>
#include <slmrec/core/hash.hpp>
#include <slmrec/data/batch.hpp>
#include <slmrec/data/id_map.hpp>
#include <slmrec/data/split.hpp>
#include <slmrec/dist/communicator.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/train/adamw.hpp>
#include <slmrec/train/checkpoint.hpp>
#include <slmrec/train/clip.hpp>
#include <slmrec/train/data_parallel.hpp>
#include <slmrec/train/objective.hpp>
#include <slmrec/train/fit_events.hpp>
#include <slmrec/train/observers.hpp>
#include <slmrec/train/schedule.hpp>

namespace slmrec::train {

struct train_config {
  index epochs = 200;
  index batch_size = 128;
  double lr = 1e-3;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999;
  double clip = 1.0;             // global gradient norm; 0 = off
  index warmup_steps = 0;
  std::string schedule = "cosine";  // cosine | constant
  double min_lr_ratio = 0.0;
  index patience = 10;          // epochs without a better validation metric before stopping
  std::string metric = "NDCG@10";
  std::string targets = "all";  // next-item targets at every position | only the last ("last")
  std::uint64_t seed = 0;
  index eval_batch = 256;
  // > 0: validate every epoch on the same seeded random sample of this many
  // users (sampled with `seed`), because full ranking of every user over a
  // million items costs more than an epoch; 0 or more than there are: all.
  index eval_users = 0;
  // > 0: the test report after training ranks a seeded sample of this many
  // test users (drawn with `seed`, as `slmrec eval --eval-users N --seed S`
  // draws them); 0 or more than there are: all.
  index test_users = 0;
  bool exclude_history = true;  // validation ranking excludes the input's items
  int verbosity = 1;            // 0 quiet, 1 a line per epoch (+ a progress bar on a terminal)
  // Hooks on the training thread, outside any parallel region: after every
  // optimizer step (the steps so far) and after every epoch's checkpoint (the
  // epoch's record, as metrics.jsonl holds it). An exception thrown by either
  // stops the run and leaves the last epoch's checkpoint as it was (the
  // Python module raises KeyboardInterrupt from on_step).
  std::function<void(index step)> on_step;
  std::function<void(const nlohmann::json& epoch)> on_epoch;
};

inline nlohmann::json to_json(const train_config& c) {
  return {{"epochs", c.epochs},         {"batch_size", c.batch_size}, {"lr", c.lr},
          {"weight_decay", c.weight_decay}, {"beta1", c.beta1},       {"beta2", c.beta2},
          {"clip", c.clip},             {"warmup_steps", c.warmup_steps}, {"schedule", c.schedule},
          {"min_lr_ratio", c.min_lr_ratio}, {"patience", c.patience}, {"metric", c.metric},
          {"targets", c.targets},       {"seed", c.seed},             {"exclude_history", c.exclude_history},
          {"eval_users", c.eval_users}};
}

struct fit_result {
  train_state state;
  double seconds = 0.0;          // wall time of this call
  double seconds_to_best = 0.0;  // from the start of training to the end of the best epoch (across resumes)
};

namespace detail {

inline void check_config(const train_config& cfg) {
  require(cfg.metric == "MRR" || cfg.metric.starts_with("HR@") || cfg.metric.starts_with("NDCG@"),
          "unknown validation metric '{}'", cfg.metric);
  require(cfg.targets == "all" || cfg.targets == "last", "targets '{}' is not one of all, last", cfg.targets);
  require(cfg.eval_users >= 0, "eval_users = {}, expected >= 0 (0 = every validation user)", cfg.eval_users);
  require(cfg.test_users >= 0, "test_users = {}, expected >= 0 (0 = every test user)", cfg.test_users);
}

inline data::batch_options batching(const train_config& cfg, index max_len) {
  data::batch_options bo;
  bo.batch_size = cfg.batch_size;
  bo.max_len = max_len;
  bo.targets = cfg.targets == "all" ? data::target_mode::every_position : data::target_mode::last_position;
  bo.seed = cfg.seed;
  return bo;
}

}  // namespace detail

// The training loop itself: `opt` (anything with step(lr) and settle()) over
// `obj`'s parameters, from `run` (fresh or resumed) until early stopping or
// cfg.epochs, with validation after every epoch; `observers` see every step
// and every epoch (progress, logging, checkpointing: train/observers.hpp).
// `where` names the run in errors. The model ends with its best weights.
template <objective Objective, class Optimizer, dist::communicator Comm, class BE, class... Observers>
fit_result fit_with(Objective& obj, Optimizer& opt, training_run<BE>& run, const data::split& split,
                    const data::dataset& ds, const train_config& cfg, const std::string& where, const Comm& comm,
                    Observers&... observers) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  detail::check_config(cfg);
  auto& ps = obj.parameters();
  auto& state = run.state;
  data::batcher batches(split.train, detail::batching(cfg, obj.max_len()));
  data_parallel<Comm, BE> dp(comm, ps, batches, split.shard);
  require(dp.num_batches(batches) > 0, "no user has two training items: nothing to train on");
  lr_schedule sched{cfg.lr, cfg.warmup_steps, cfg.epochs * dp.num_batches(batches), cfg.schedule, cfg.min_lr_ratio};

  double elapsed_before = state.history.empty() ? 0.0 : state.history.back().value("elapsed_seconds", 0.0);
  double seconds_to_best = 0.0;
  for (const auto& h : state.history)
    if (h.value("epoch", index(0)) == state.best_epoch) seconds_to_best = h.value("elapsed_seconds", 0.0);

  const auto valid = eval::valid_view(split, ds);
  eval::eval_options eo;
  eo.exclude_history = cfg.exclude_history;
  eo.batch_size = cfg.eval_batch;
  eo.max_len = obj.max_len();
  eo.max_users = cfg.eval_users;
  eo.seed = cfg.seed;  // picks the validation sample; full ranking draws nothing else from it
  // Early stopping compares this run's metrics with the checkpoint's best: on
  // another sample of users they would not be comparable.
  index valid_users = valid.size();  // sharded data: over every rank's shard
  if (!split.shard.whole()) {
    double all = double(valid_users);
    comm.allreduce_sum(&all, 1);
    valid_users = index(all);
  }
  const index eval_users = cfg.eval_users > 0 ? std::min(cfg.eval_users, valid_users) : valid_users;
  if (!state.history.empty() && !state.finished) {
    const auto& last = state.history.back();
    require(last.value("eval_users", valid_users) == eval_users && last.value("eval_seed", cfg.seed) == cfg.seed,
            "{}: the checkpoint validated on {} users (seed {}), this run would use {} (seed {}): resume with the "
            "same --eval-users",
            where, last.value("eval_users", valid_users), last.value("eval_seed", cfg.seed), eval_users, cfg.seed);
  }
  data::batch b;
  while (!state.finished && state.epoch < cfg.epochs) {
    const auto epoch_start = clock::now();
    dp.start_epoch(batches, std::uint64_t(state.epoch));
    double loss_sum = 0.0;
    index steps = 0, sequences = 0;
    double lr = 0.0;
    while (dp.next(batches, b)) {
      ps.zero_grads();
      const double loss =
          dp.train_step(obj, b, mix64(cfg.seed ^ (0x9E3779B97F4A7C15ull * std::uint64_t(state.step + 1))));
      const double norm = clip_grad_norm(ps, cfg.clip);
      require(std::isfinite(loss) && std::isfinite(norm),
              "training diverged at step {} (epoch {}, batch {}): loss {}, gradient norm {}; the last good "
              "checkpoint (epoch {}) is in {}",
              state.step + 1, state.epoch + 1, steps + 1, loss, norm, state.epoch, where);
      lr = sched.at(state.step);
      opt.step(lr);
      ++state.step;
      ++steps;
      sequences += b.size;
      loss_sum += loss;
      detail::notify_step(
          step_event{state.step, state.epoch + 1, steps, dp.num_batches(batches), sequences, loss_sum / double(steps),
                     std::chrono::duration<double>(clock::now() - epoch_start).count()},
          observers...);
    }
    detail::notify_trained(observers...);
    double all_sequences = double(sequences);  // the global batch's rows, summed over the ranks
    comm.allreduce_sum(&all_sequences, 1);
    opt.settle();  // rows of a row-tracked table behind the current step catch up before they are read
    const double train_secs = std::chrono::duration<double>(clock::now() - epoch_start).count();

    const auto res = [&] {
      if constexpr (requires { obj.block_scorer(); }) {
        return eval::evaluate(valid, obj.block_scorer(), eo, comm);
      } else {
        auto scorer = [&](const data::batch& in, std::span<float> scores) { obj.score(in, scores); };
        return eval::evaluate(valid, scorer, eo, comm);
      }
    }();
    const double metric = res.metrics.mean(cfg.metric);
    ++state.epoch;
    dp.check_replicas(state.epoch);
    const double elapsed = elapsed_before + std::chrono::duration<double>(clock::now() - start).count();
    if (metric > state.best_metric) {
      state.best_metric = metric;
      state.best_epoch = state.epoch;
      state.bad_epochs = 0;
      BE::copy(ps.values_data(), run.best.data(), ps.total_size());
      seconds_to_best = elapsed;
    } else {
      ++state.bad_epochs;
    }
    const double train_loss = steps > 0 ? loss_sum / double(steps) : 0.0;
    state.history.push_back({{"epoch", state.epoch},
                             {"step", state.step},
                             {"train_loss", train_loss},
                             {"lr", lr},
                             {"train_seconds", train_secs},
                             {"sequences_per_second", all_sequences / train_secs},
                             {"elapsed_seconds", elapsed},
                             {"valid", res.metrics.to_json()},
                             {"eval_users", res.users},  // the validation sample: its size, seed and population
                             {"eval_seed", cfg.seed},
                             {"eval_users_total", valid_users}});
    if (state.bad_epochs >= cfg.patience || state.epoch >= cfg.epochs) state.finished = true;
    using store_type = std::remove_cvref_t<decltype(ps)>;
    detail::notify_epoch(epoch_event<store_type, typename BE::scalar>{state, state.history.back(), cfg, metric,
                                                                      train_loss, res.metrics.mean("HR@10"),
                                                                      train_secs, all_sequences / train_secs, ps,
                                                                      run.best.data()},
                         observers...);
  }
  BE::copy(run.best.data(), ps.values_data(), ps.total_size());  // the model ends with its best weights
  fit_result r;
  r.state = state;
  r.seconds = std::chrono::duration<double>(clock::now() - start).count();
  r.seconds_to_best = seconds_to_best;
  return r;
}

namespace detail {
template <objective Objective, dist::communicator Comm>
fit_result fit(Objective& obj, const data::split& split, const data::dataset& ds, const train_config& cfg,
               const std::filesystem::path& out, bool resume, const Comm& comm) {
  detail::check_config(cfg);
  auto& ps = obj.parameters();
  using BE = typename std::remove_cvref_t<decltype(ps)>::backend_type;
  adamw<BE> opt(ps, adamw_config{cfg.lr, cfg.beta1, cfg.beta2, 1e-8, cfg.weight_decay});
  training_run<BE> run(ps, cfg.seed);
  if (resume) resume_from(out, ps, run, opt, cfg);
  nlohmann::json config = obj.config_json();
  config["train"] = to_json(cfg);
  // A renumbered dataset's id map goes with the model (serving answers in the file's ids).
  std::vector<std::pair<std::string, std::string>> extra;
  if (data::renumbered(ds)) extra.emplace_back(data::id_map_file_name, data::id_map_json(ds));
  checkpointer<adamw<BE>> save(out, std::move(config), opt, comm.root(), std::move(extra));
  const int verbosity = comm.root() ? cfg.verbosity : 0;
  epoch_log log(verbosity > 0);
  progress_bar bar(verbosity > 0 && ::isatty(2));
  user_hooks hooks{cfg.on_step, cfg.on_epoch};
  // Checkpoint, then the epoch's line, then the caller's hook (which may stop the run).
  return fit_with(obj, opt, run, split, ds, cfg, out.string(), comm, save, log, hooks, bar);
}
}  // namespace detail

template <objective Objective, dist::communicator Comm = dist::none>
fit_result fit(Objective& obj, const data::split& split, const data::dataset& ds, const train_config& cfg,
               const std::filesystem::path& out, bool resume = false, const Comm& comm = {}) {
  // With peers, an exception on one rank ends them all (MPI_Abort naming the
  // rank) rather than leaving them in a collective it will never join.
  return comm.guarded([&] { return detail::fit(obj, split, ds, cfg, out, resume, comm); });
}

}  // namespace slmrec::train
