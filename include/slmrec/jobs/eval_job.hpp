#pragma once
// `slmrec eval` as a function, shared by the command-line tool and the
// Python module (Model.evaluate): the protocol's options with the tool's
// defaults, checked and turned into eval_options, and the result as the
// tool's JSON last line.
#include <cstdint>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <slmrec/data/data.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/eval/popularity.hpp>
#include <slmrec/jobs/report.hpp>

namespace slmrec::jobs {

struct eval_job {
  std::string protocol = "full";    // full (all items) | sampled (target + negatives)
  std::string sampler = "uniform";  // sampled: uniform | popularity
  std::string split = "test";       // valid | test
  index negatives = 99;             // sampled: number of negatives
  index batch = 256;                // users per scoring batch
  index max_users = 0;              // a random subset of this many users, drawn with seed (0 = all)
  std::uint64_t seed = 0;           // the negative sample's and the subset's
  bool keep_history = false;        // full ranking: the user's own items stay candidates

  // The option errors, before any data is read.
  void check() const {
    require(protocol == "full" || protocol == "sampled", "--protocol '{}' is not one of full, sampled", protocol);
    require(sampler == "uniform" || sampler == "popularity", "--sampler '{}' is not one of uniform, popularity",
            sampler);
    require(split == "valid" || split == "test", "--split '{}' is not one of valid, test", split);
  }
};

struct eval_job_result {
  eval::eval_result result;
  nlohmann::json json;  // the metrics, protocol, split, users and the sample (the tool's --json line)
};

// The job's protocol as evaluate()'s options, for a scorer that reads the
// last max_len items of each input.
inline eval::eval_options eval_options_of(const eval_job& job, index max_len) {
  eval::eval_options eo;
  eo.ranking = job.protocol == "full" ? eval::protocol::full : eval::protocol::sampled;
  eo.exclude_history = !job.keep_history;
  eo.num_negatives = job.negatives;
  eo.negatives = job.sampler == "uniform" ? eval::sampling::uniform : eval::sampling::popularity;
  eo.seed = job.seed;
  eo.batch_size = job.batch;
  eo.max_len = max_len;
  eo.max_users = job.max_users;
  return eo;
}

inline eval_job_result job_result(eval::eval_result result, const eval_job& job) {
  eval_job_result r{std::move(result), {}};
  r.json = eval_json(r.result, job.split, job.seed);
  return r;
}

inline eval::split_view view_of(const eval_job& job, const data::dataset& ds, const data::split& split) {
  return job.split == "test" ? eval::test_view(split, ds) : eval::valid_view(split, ds);
}

// Evaluates m on ds (split leave-one-out); `data_name` names ds in errors.
template <class Model, class Comm = dist::none>
eval_job_result run_eval(Model& m, const eval_job& job, const data::dataset& ds, const data::split& split,
                         const std::string& data_name, const Comm& comm = {}) {
  job.check();
  require(m.config().num_items == ds.num_items, "{} has {} items but the checkpoint was trained with {}", data_name,
          ds.num_items, m.config().num_items);
  // Users split over the ranks, if any.
  return job_result(evaluate_model(m, view_of(job, ds, split), eval_options_of(job, m.config().max_len), comm), job);
}

// The popularity baseline (each item's training count, the same list for
// every user) under the job's protocol: the floor a model must clear.
inline eval_job_result run_popularity_eval(const eval_job& job, const data::dataset& ds, const data::split& split) {
  job.check();
  eval::popularity_scorer pop(split.train_item_counts);
  return job_result(eval::evaluate(view_of(job, ds, split), pop, eval_options_of(job, 50)), job);
}

}  // namespace slmrec::jobs
