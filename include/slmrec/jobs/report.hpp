#pragma once
// What every training job ends with, shared by the command-line tool and the
// Python module: a model evaluated on a split view (streamed over the catalog
// where item_scorer applies), and the test report a training run writes.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include <slmrec/data/data.hpp>
#include <slmrec/dist/communicator.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/item_scorer.hpp>
#include <slmrec/train/trainer.hpp>

namespace slmrec::jobs {

// evaluate() with the model's scores: streamed over the catalog (never a
// [batch, items] matrix) where item_scorer applies, whole rows otherwise.
// Under a distributed communicator each rank ranks its share of the users.
template <class Model, class Comm = dist::none>
eval::eval_result evaluate_model(Model& m, const eval::split_view& view, const eval::eval_options& eo,
                                 const Comm& comm = {}) {
  if constexpr (model::scores_item_ranges<Model>) {
    model::item_scorer<Model> scorer(m);
    return eval::evaluate(view, scorer, eo, comm);
  } else {
    auto scorer = [&](const data::batch& in, std::span<float> s) { m.score_last(in.items, in.size, in.length, s); };
    return eval::evaluate(view, scorer, eo, comm);
  }
}

// The users an evaluation ranked, as every report of one records them
// (`slmrec eval --json`, test_metrics.json; train's metrics.jsonl uses the
// same keys): how many, the seed that drew them, and of how many.
inline void record_sample(nlohmann::json& j, const eval::eval_result& r, std::uint64_t seed) {
  j["users"] = r.users;
  j["eval_users"] = r.users;
  j["eval_seed"] = seed;
  j["eval_users_total"] = r.population;
}

// An evaluation as every report writes it: the metrics, the protocol, the
// split's name and the sample (record_sample).
[[nodiscard]] inline nlohmann::json eval_json(const eval::eval_result& r, const std::string& split,
                                              std::uint64_t seed) {
  nlohmann::json j = r.metrics.to_json();
  j["protocol"] = r.protocol;
  j["split"] = split;
  record_sample(j, r, seed);
  return j;
}

struct test_report_t {
  nlohmann::json json;  // what DIR/test_metrics.json holds
  std::string summary;  // the metrics in one line, as the tool prints them
};

// Evaluates a trained model on the test split (full ranking, history
// excluded; every test user, or t.test_users of them drawn with t.seed) and
// writes DIR/test_metrics.json (rank 0 alone under a distributed
// communicator; every rank gets the same report).
template <class Model, class Comm = dist::none>
test_report_t test_report(Model& m, const data::split& split, const data::dataset& ds, const train::fit_result& r,
                           const train::train_config& t, const std::string& out, const Comm& comm = {}) {
  eval::eval_options eo;
  eo.max_len = m.config().max_len;
  eo.batch_size = 256;
  eo.max_users = t.test_users;
  eo.seed = t.seed;  // picks the sample; full ranking draws nothing else from it
  const auto test = evaluate_model(m, eval::test_view(split, ds), eo, comm);
  nlohmann::json j = eval_json(test, "test", t.seed);
  j["best_epoch"] = r.state.best_epoch;
  j["epochs"] = r.state.epoch;
  j["seconds"] = r.seconds;
  j["seconds_to_best"] = r.seconds_to_best;
  j["valid_" + t.metric] = r.state.best_metric;
  j["parameters"] = m.parameters().count();
  if (comm.root()) io::write_file_atomically(std::filesystem::path(out) / "test_metrics.json", j.dump(2) + "\n");
  return {j, test.metrics.to_string()};
}

}  // namespace slmrec::jobs
