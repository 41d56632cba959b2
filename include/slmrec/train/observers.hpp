#pragma once
// What train::fit_with reports to, besides the model: observers of its steps
// and epochs. Each is a plain type with some of on_step(step_event),
// on_epoch_trained() and on_epoch(epoch_event) (train/trainer.hpp); fit()
// composes the four below, and a caller of fit_with picks its own.
//   checkpointer  the checkpoint directory after every epoch (rank 0), and resume_from() to continue one
//   epoch_log     one line per epoch on stdout
//   progress_bar  a bar on stderr while an epoch trains (a terminal only)
//   user_hooks    train_config's on_step / on_epoch callbacks (the Python module's)
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/train/checkpoint.hpp>

namespace slmrec::train {

// Writes the checkpoint after every epoch: config.json (`config`, the
// objective's and the training options), the best and the latest weights,
// the optimizer's moments, the run's state and `extra_files` (name, bytes).
// Only where `writes` (rank 0).
template <class Optimizer>
class checkpointer {
 public:
  checkpointer(std::filesystem::path dir, nlohmann::json config, Optimizer& opt, bool writes,
               std::vector<std::pair<std::string, std::string>> extra_files = {})
      : dir_(std::move(dir)),
        config_(std::move(config)),
        opt_(opt),
        writes_(writes),
        extra_files_(std::move(extra_files)) {
    config_["format"] = "slmrec-checkpoint";
    config_["version"] = 1;
  }
  template <class Event>
  void on_epoch(const Event& e) {
    if (writes_) save_checkpoint(dir_, config_, e.parameters, e.best, opt_, e.state, extra_files_);
  }

 private:
  std::filesystem::path dir_;
  nlohmann::json config_;
  Optimizer& opt_;
  bool writes_;
  std::vector<std::pair<std::string, std::string>> extra_files_;
};

// Continues the run saved in `dir` (when it holds one): its weights, best
// weights, optimizer moments and state, the same seed required. More epochs
// or more patience than the first run had may extend it.
template <class Store, class Run, class Optimizer, class Config>
void resume_from(const std::filesystem::path& dir, Store& ps, Run& run, Optimizer& opt, const Config& cfg) {
  if (!std::filesystem::exists(dir / "state.json")) return;
  run.state = load_training_state(dir, ps, run.best.data(), opt);
  require(run.state.seed == cfg.seed, "{}: the checkpoint was trained with seed {}, not {}", dir.string(),
          run.state.seed, cfg.seed);
  run.state.finished = run.state.bad_epochs >= cfg.patience || run.state.epoch >= cfg.epochs;
}

// "epoch   3  loss 5.1234  valid NDCG@10 0.0512 (best 0.0512 @ 3)  HR@10 0.0871  9.1s  2460 seq/s"
class epoch_log {
 public:
  explicit epoch_log(bool prints) : prints_(prints) {}
  template <class Event>
  void on_epoch(const Event& e) {
    if (prints_)
      fmt::print("epoch {:>3}  loss {:.4f}  valid {} {:.4f} (best {:.4f} @ {})  HR@10 {:.4f}  {:.1f}s  {:.0f} seq/s\n",
                 e.state.epoch, e.train_loss, e.cfg.metric, e.metric, e.state.best_metric, e.state.best_epoch, e.hr10,
                 e.train_seconds, e.sequences_per_second);
    std::fflush(stdout);
  }

 private:
  bool prints_;
};

// "epoch   3 [=========           ] 120/350 loss 5.1234 2460 seq/s ETA 21s", redrawn on stderr.
class progress_bar {
 public:
  explicit progress_bar(bool draws) : draws_(draws) {}
  template <class Event>
  void on_step(const Event& e) {
    if (!draws_) return;
    const int width = 30, done = int(width * e.batch / e.batches);
    fmt::print(stderr, "\repoch {:>3} [{}{}] {}/{} loss {:.4f} {:.0f} seq/s ETA {:.0f}s   ", e.epoch,
               std::string(std::size_t(done), '='), std::string(std::size_t(width - done), ' '), e.batch, e.batches,
               e.mean_loss, double(e.sequences) / e.seconds, e.seconds / double(e.batch) * double(e.batches - e.batch));
  }
  void on_epoch_trained() {
    if (draws_) fmt::print(stderr, "\r{:100}\r", "");
  }

 private:
  bool draws_;
};

// The callbacks of train_config (either may be empty). An exception thrown by
// one stops the run, leaving the last epoch's checkpoint as it was.
struct user_hooks {
  std::function<void(index step)> on_step_hook;
  std::function<void(const nlohmann::json& epoch)> on_epoch_hook;
  template <class Event>
  void on_step(const Event& e) {
    if (on_step_hook) on_step_hook(e.step);
  }
  template <class Event>
  void on_epoch(const Event& e) {
    if (on_epoch_hook) on_epoch_hook(e.record);
  }
};

}  // namespace slmrec::train
