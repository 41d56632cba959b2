#pragma once
// What train::fit_with works on and shows its observers: the run (state and
// best weights), a step's and an epoch's events, and the calls that hand an
// event to each observer that wants it (train/observers.hpp has the
// observers themselves).
#include <cstdint>

#include <nlohmann/json.hpp>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/train/checkpoint.hpp>

namespace slmrec::train {

struct train_config;

// Where a run stands: its state (epochs, steps, early stopping, history) and
// the best weights so far, kept in backend memory beside the live ones (on
// the GPU a copy never leaves it). Made from the model's weights, or from a
// checkpoint by resume_from.
template <backend::backend BE>
struct training_run {
  using T = typename BE::scalar;
  training_run(const nn::parameter_store<BE>& ps, std::uint64_t seed) : best(static_cast<std::size_t>(ps.total_size())) {
    BE::copy(ps.values_data(), best.data(), ps.total_size());
    state.seed = seed;
  }
  train_state state;
  typename BE::template buffer<T> best;
};

// What observers are shown. A step: the steps so far, the epoch's batches so
// far and in all, its mean loss and sequences so far, seconds since it began.
struct step_event {
  index step = 0, epoch = 0, batch = 0, batches = 0, sequences = 0;
  double mean_loss = 0.0, seconds = 0.0;
};
// An epoch, validated and recorded (`record` as metrics.jsonl holds it).
template <class Store, class Best>
struct epoch_event {
  const train_state& state;
  const nlohmann::json& record;
  const train_config& cfg;
  double metric = 0.0, train_loss = 0.0, hr10 = 0.0, train_seconds = 0.0, sequences_per_second = 0.0;
  Store& parameters;
  const Best* best = nullptr;  // the best weights (the store's layout, backend memory)
};

namespace detail {

// Observers are any types with some of on_step(step_event), on_epoch_trained()
// (the epoch's steps are done, validation is next) and on_epoch(epoch_event),
// called on the training thread, outside any parallel region, in the order given.
template <class Event, class Observer>
void step_one(const Event& e, Observer& o) {
  if constexpr (requires { o.on_step(e); }) o.on_step(e);
}
template <class Observer>
void trained_one(Observer& o) {
  if constexpr (requires { o.on_epoch_trained(); }) o.on_epoch_trained();
}
template <class Event, class Observer>
void epoch_one(const Event& e, Observer& o) {
  if constexpr (requires { o.on_epoch(e); }) o.on_epoch(e);
}
template <class Event, class... Observers>
void notify_step(const Event& e, Observers&... obs) {
  (step_one(e, obs), ...);
}
template <class... Observers>
void notify_trained(Observers&... obs) {
  (trained_one(obs), ...);
}
template <class Event, class... Observers>
void notify_epoch(const Event& e, Observers&... obs) {
  (epoch_one(e, obs), ...);
}

}  // namespace detail

}  // namespace slmrec::train
