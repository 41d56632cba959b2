// The training loop end to end on small synthetic data: it learns, it
// checkpoints, resuming reproduces an uninterrupted run bit for bit, and a
// diverging loss stops it with the step named and the last good checkpoint kept.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/data/id_map.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/jobs/report.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/train/trainer.hpp>

#include "support/temp_dir.hpp"

namespace slmrec {

namespace {
namespace fs = std::filesystem;
using be = backend::eigen_cpu;

using test::temp_dir;

data::dataset toy_data(index users = 240, std::int32_t items = 40, std::uint64_t seed = 3) {
  data::synthetic_options o;
  o.users = users;
  o.items = items;
  o.min_len = 5;
  o.max_len = 12;
  o.seed = seed;
  return data::make_synthetic(o);
}

model::recommender_config toy_model(const std::string& arch) {
  model::recommender_config c;
  c.arch = arch;
  c.num_items = 40;
  c.dim = 16;
  c.heads = 2;
  c.layers = 1;
  c.max_len = 10;
  c.dropout = 0.1;
  return c;
}

train::train_config toy_train(index epochs) {
  train::train_config t;
  t.epochs = epochs;
  t.batch_size = 32;
  t.lr = 5e-3;
  t.patience = 100;
  t.seed = 7;
  t.verbosity = 0;
  return t;
}

// Wraps an objective and reports a NaN loss at one step.
template <class Inner>
struct poisoned {
  Inner& inner;
  index bad_step;
  index step = 0;
  double train_step(const data::batch& b, std::uint64_t seed) {
    const double l = inner.train_step(b, seed);
    return ++step == bad_step ? std::numeric_limits<double>::quiet_NaN() : l;
  }
  void score(const data::batch& b, std::span<float> s) { inner.score(b, s); }
  auto& parameters() { return inner.parameters(); }
  index max_len() const { return inner.max_len(); }
  nlohmann::json config_json() const { return inner.config_json(); }
};
// Wraps an objective and dies (as a killed process would) at one step.
template <class Inner>
struct interrupted : poisoned<Inner> {
  double train_step(const data::batch& b, std::uint64_t seed) {
    if (++this->step == this->bad_step) throw std::runtime_error("killed");
    return this->inner.train_step(b, seed);
  }
};
}  // namespace

TEST_CASE("lr_schedule: linear warm-up then cosine to the floor", "[train]") {
  train::lr_schedule s{1.0, 10, 110, "cosine", 0.1};
  CHECK(s.at(0) == Approx(0.1));
  CHECK(s.at(9) == Approx(1.0));
  CHECK(s.at(10) == Approx(1.0));
  CHECK(s.at(60) == Approx(0.55));  // half way: 0.1 + 0.9 * 0.5
  CHECK(s.at(110) == Approx(0.1));
  train::lr_schedule c{2.0, 0, 100, "constant", 0.0};
  CHECK(c.at(77) == 2.0);
}

TEST_CASE("fit: both archs learn the synthetic transitions far beyond chance", "[train]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  for (const char* arch : {"sasrec", "llama"}) {
    temp_dir dir;
    model::with_recommender<be>(toy_model(arch), true, [&](auto& m) {
      m.initialize(1);
      train::next_item_objective obj(m, train::loss_kind::cross_entropy);
      const auto r = train::fit(obj, split, ds, toy_train(8), dir.path());
      INFO(arch << " best valid NDCG@10 " << r.state.best_metric);
      // Chance for HR@10 over ~35 candidates is about 0.3 and NDCG@10 about 0.13.
      CHECK(r.state.best_metric > 0.25);
      const auto first_loss = r.state.history.front().at("train_loss").template get<double>();
      const auto last_loss = r.state.history.back().at("train_loss").template get<double>();
      CHECK(last_loss < first_loss - 0.3);
      CHECK(fs::exists(dir.path() / "model.safetensors"));
      CHECK(fs::exists(dir.path() / "metrics.jsonl"));
    });
  }
}

namespace {
// Plain SGD over a store: the optimizer is fit_with's parameter, not a fixed AdamW.
template <class Store>
struct sgd {
  Store& ps;
  index steps = 0;
  void step(double lr) {
    ++steps;
    for (const auto& e : ps.entries())
      if (auto* g = ps.grad(e)) be::axpy(float(-lr), g, ps.value(e), e.size);
  }
  void settle() {}
};
// Counts what an observer is shown.
struct counting_observer {
  index steps = 0, trained = 0, epochs = 0, last_step = 0;
  template <class E>
  void on_step(const E& e) {
    ++steps;
    last_step = e.step;
    CHECK(e.batch >= 1);
    CHECK(e.batch <= e.batches);
  }
  void on_epoch_trained() { ++trained; }
  template <class E>
  void on_epoch(const E& e) {
    ++epochs;
    CHECK(e.record.at("epoch").template get<index>() == e.state.epoch);
    CHECK(e.best != nullptr);
  }
};
}  // namespace

TEST_CASE("fit_with: the optimizer and the observers are parameters; fit is its default composition", "[train]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  model::recommender<be, arch::sasrec> m(toy_model("sasrec"), true);
  m.initialize(1);
  train::next_item_objective obj(m, train::loss_kind::cross_entropy);
  sgd<nn::parameter_store<be>> opt{m.parameters()};
  train::training_run<be> run(m.parameters(), 7);
  counting_observer seen;
  auto cfg = toy_train(3);
  cfg.lr = 0.5;
  const auto r = train::fit_with(obj, opt, run, split, ds, cfg, "in memory", dist::none{}, seen);
  CHECK(seen.epochs == 3);
  CHECK(seen.trained == 3);
  CHECK(seen.steps == opt.steps);
  CHECK(seen.last_step == r.state.step);
  CHECK(r.state.step == opt.steps);
  CHECK(r.state.best_metric > 0.2);  // SGD learns the synthetic transitions too (chance NDCG@10 is about 0.13)
  // With no checkpointer among the observers nothing is written anywhere.
  CHECK(r.state.history.size() == 3);
}

TEST_CASE("fit: a renumbered dataset's id map is written into the checkpoint", "[train]") {
  auto ds = toy_data(120);
  ds.item_names.clear();
  for (std::int32_t i = 1; i <= ds.num_items; ++i) ds.item_names.push_back(fmt::format("sku-{}", 1000 + i));
  const auto split = data::leave_one_out(ds);
  temp_dir dir;
  model::recommender<be, arch::sasrec> m(toy_model("sasrec"), true);
  m.initialize(1);
  train::next_item_objective obj(m, train::loss_kind::cross_entropy);
  train::fit(obj, split, ds, toy_train(2), dir.path());
  REQUIRE(fs::exists(dir.path() / data::id_map_file_name));
  const auto names = data::load_id_map(dir.path() / data::id_map_file_name);
  CHECK(names.num_items == ds.num_items);
  CHECK(names.item(1) == "sku-1001");
  CHECK(names.item(ds.num_items) == fmt::format("sku-{}", 1000 + ds.num_items));
  // The file's own ids (no names) need no map: none is written.
  temp_dir plain;
  const auto ds_plain = toy_data(120);
  train::fit(obj, data::leave_one_out(ds_plain), ds_plain, toy_train(1), plain.path());
  CHECK(!fs::exists(plain.path() / data::id_map_file_name));
}

TEST_CASE("fit: resuming from a checkpoint gives exactly the uninterrupted run", "[train]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  temp_dir a, b;
  auto cfg = toy_model("sasrec");
  std::vector<float> straight, resumed;
  model::with_recommender<be>(cfg, true, [&](auto& m) {
    m.initialize(1);
    train::next_item_objective obj(m, train::loss_kind::cross_entropy);
    train::fit(obj, split, ds, toy_train(3), a.path());
    auto& ps = m.parameters();
    straight.assign(ps.values_data(), ps.values_data() + ps.total_size());
  });
  model::with_recommender<be>(cfg, true, [&](auto& m) {  // the same run, killed early in epoch 2
    m.initialize(1);
    train::next_item_objective inner(m, train::loss_kind::cross_entropy);
    interrupted<decltype(inner)> obj{inner, 10};
    REQUIRE_THROWS_WITH(train::fit(obj, split, ds, toy_train(3), b.path()), "killed");
  });
  model::with_recommender<be>(cfg, true, [&](auto& m) {  // a new process, in effect: fresh model, resume
    m.initialize(999);
    train::next_item_objective obj(m, train::loss_kind::cross_entropy);
    const auto r = train::fit(obj, split, ds, toy_train(3), b.path(), true);
    CHECK(r.state.epoch == 3);
    auto& ps = m.parameters();
    resumed.assign(ps.values_data(), ps.values_data() + ps.total_size());
  });
  REQUIRE(straight.size() == resumed.size());
  CHECK(straight == resumed);
  CHECK(io::read_file(a.path() / "metrics.jsonl").size() > 0);
}

TEST_CASE("fit: a NaN loss stops training, names the step, keeps the last good checkpoint", "[train]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  temp_dir dir;
  model::with_recommender<be>(toy_model("llama"), true, [&](auto& m) {
    m.initialize(1);
    train::next_item_objective inner(m, train::loss_kind::cross_entropy);
    poisoned<decltype(inner)> obj{inner, 10};  // 8 batches per epoch: step 10 is in epoch 2
    REQUIRE_THROWS_WITH(train::fit(obj, split, ds, toy_train(3), dir.path()),
                        Catch::Contains("training diverged at step 10 (epoch 2, batch 2)") &&
                            Catch::Contains("checkpoint (epoch 1)"));
  });
  const auto state = nlohmann::json::parse(io::read_file(dir.path() / "state.json"));
  CHECK(state.at("epoch") == 1);
}

TEST_CASE("fit: eval_users validates on a seeded sample of users, recorded in every epoch", "[train]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  const index everyone = split.valid.size();
  REQUIRE(everyone == 240);
  // Validation metrics of the model as it is now, on the sample that eval_users and seed pick.
  auto validate = [&](auto& obj, index users, std::uint64_t seed) {
    eval::eval_options eo;
    eo.max_len = obj.max_len();
    eo.max_users = users;
    eo.seed = seed;
    auto scorer = [&](const data::batch& in, std::span<float> s) { obj.score(in, s); };
    return eval::evaluate(eval::valid_view(split, ds), scorer, eo);
  };
  for (const index asked : {index(50), index(10000)}) {
    const index expected = std::min(asked, everyone);  // more than there are: everyone
    temp_dir dir;
    model::with_recommender<be>(toy_model("sasrec"), true, [&](auto& m) {
      m.initialize(1);
      train::next_item_objective obj(m, train::loss_kind::cross_entropy);
      auto cfg = toy_train(1);  // one epoch: the final weights are the ones validated
      cfg.eval_users = asked;
      const auto r = train::fit(obj, split, ds, cfg, dir.path());
      REQUIRE(r.state.history.size() == 1);
      const auto& epoch = r.state.history.front();
      CHECK(epoch.at("eval_users").template get<index>() == expected);
      CHECK(epoch.at("eval_seed").template get<std::uint64_t>() == 7);
      CHECK(epoch.at("eval_users_total").template get<index>() == everyone);
      // metrics.jsonl says the same.
      const auto line = io::read_file(dir.path() / "metrics.jsonl");
      const auto logged = nlohmann::json::parse(line.substr(0, line.find('\n')));
      CHECK(logged.at("eval_users").template get<index>() == expected);
      CHECK(logged.at("eval_seed").template get<std::uint64_t>() == 7);
      // The recorded metrics are those of that sample: the same seed draws the same users.
      const auto same = validate(obj, asked, 7);
      CHECK(same.users == expected);
      CHECK(epoch.at("valid") == same.metrics.to_json());
      if (asked < everyone) {
        CHECK(validate(obj, asked, 8).metrics.to_json() != same.metrics.to_json());  // another seed, other users
      } else {
        CHECK(validate(obj, 0, 7).metrics.to_json() == same.metrics.to_json());  // all of them
      }
      // Resuming with another sample would compare metrics of different users: refused.
      auto more = toy_train(2);
      more.eval_users = asked == 50 ? 60 : 0;
      if (asked == 50) {
        CHECK_THROWS_WITH(train::fit(obj, split, ds, more, dir.path(), true),
                          Catch::Contains("validated on 50 users (seed 7), this run would use 60 (seed 7)"));
      } else {
        CHECK_NOTHROW(train::fit(obj, split, ds, more, dir.path(), true));  // 10000 and 0 both mean everyone
      }
    });
  }
}

TEST_CASE("test_report: test_users tests a seeded sample of users and records it", "[train]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  const index everyone = split.test.size();
  temp_dir dir;
  model::with_recommender<be>(toy_model("sasrec"), true, [&](auto& m) {
    m.initialize(1);
    train::next_item_objective obj(m, train::loss_kind::cross_entropy);
    auto cfg = toy_train(1);
    const auto r = train::fit(obj, split, ds, cfg, dir.path());
    auto test_on = [&](index users, std::uint64_t seed) {
      eval::eval_options eo;
      eo.max_len = m.config().max_len;
      eo.max_users = users;
      eo.seed = seed;
      return jobs::evaluate_model(m, eval::test_view(split, ds), eo);
    };
    for (const index asked : {index(0), index(50)}) {
      cfg.test_users = asked;
      const auto rep = jobs::test_report(m, split, ds, r, cfg, dir.path().string());
      const index expected = asked > 0 ? asked : everyone;
      CHECK(rep.json.at("users").template get<index>() == expected);
      CHECK(rep.json.at("eval_users").template get<index>() == expected);
      CHECK(rep.json.at("eval_seed").template get<std::uint64_t>() == 7);
      CHECK(rep.json.at("eval_users_total").template get<index>() == everyone);
      const auto want = test_on(asked, 7).metrics.to_json();
      for (const auto& [name, value] : want.items()) CHECK(rep.json.at(name) == value);
      const auto written = nlohmann::json::parse(io::read_file(dir.path() / "test_metrics.json"));
      CHECK(written.at("eval_users") == rep.json.at("eval_users"));
    }
    CHECK(test_on(50, 7).metrics.to_json() != test_on(0, 7).metrics.to_json());  // a sample, not everyone
  });
}

TEST_CASE("checkpoints: weights round-trip; a different shape is a clear error", "[train]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  temp_dir dir;
  std::vector<float> trained;
  model::with_recommender<be>(toy_model("llama"), true, [&](auto& m) {
    m.initialize(1);
    train::next_item_objective obj(m, train::loss_kind::sampled_bce);
    train::fit(obj, split, ds, toy_train(1), dir.path());
    trained.assign(m.parameters().values_data(), m.parameters().values_data() + m.parameters().total_size());
  });
  model::with_checkpoint<be>(dir.path(), [&](auto& m) {
    CHECK(std::equal(trained.begin(), trained.end(), m.parameters().values_data()));
  });
  auto wider = toy_model("llama");
  wider.dim = 24;
  wider.heads = 2;
  model::with_recommender<be>(wider, false, [&](auto& m) {
    REQUIRE_THROWS_WITH(train::load_model_weights(dir.path(), m.parameters()),
                        Catch::Contains("item_embedding.weight") && Catch::Contains("expected [41, 24]"));
  });
  fs::resize_file(dir.path() / "model.safetensors", 100);  // truncated
  REQUIRE_THROWS_AS(model::with_checkpoint<be>(dir.path(), [](auto&) {}), slmrec::error);
}

TEST_CASE("fit with the sampled softmax: learns, and resuming gives exactly the uninterrupted run", "[train]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  const train::sampled_softmax_options so{.negatives = 8, .sampler = train::proposal::popularity};
  auto sampler = [&] { return train::candidate_sampler(ds.num_items, split.train_item_counts, so); };
  temp_dir a, b;
  auto cfg = toy_model("llama");
  std::vector<float> straight, resumed;
  model::with_recommender<be>(cfg, true, [&](auto& m) {
    m.initialize(1);
    train::next_item_objective obj(m, sampler());
    const auto r = train::fit(obj, split, ds, toy_train(8), a.path());
    CHECK(r.state.best_metric > 0.25);  // chance: about 0.13 (see above)
    CHECK(obj.config_json().at("loss").at("negatives") == 8);
  });
  model::with_recommender<be>(cfg, true, [&](auto& m) {
    m.initialize(1);
    train::next_item_objective obj(m, sampler());
    train::fit(obj, split, ds, toy_train(3), b.path());
    straight.assign(m.parameters().values_data(), m.parameters().values_data() + m.parameters().total_size());
  });
  temp_dir c;
  model::with_recommender<be>(cfg, true, [&](auto& m) {  // killed in epoch 2
    m.initialize(1);
    train::next_item_objective inner(m, sampler());
    interrupted<decltype(inner)> obj{inner, 10};
    REQUIRE_THROWS_WITH(train::fit(obj, split, ds, toy_train(3), c.path()), "killed");
  });
  model::with_recommender<be>(cfg, true, [&](auto& m) {
    m.initialize(999);
    train::next_item_objective obj(m, sampler());
    train::fit(obj, split, ds, toy_train(3), c.path(), true);
    resumed.assign(m.parameters().values_data(), m.parameters().values_data() + m.parameters().total_size());
  });
  CHECK(straight == resumed);  // the per-row AdamW steps and moments came back with the weights
}

TEST_CASE("scale smoke: a 100,000-item catalog trains with the sampled softmax, untouched rows stay put", "[train][scale]") {
  const std::int32_t items = 100000;
  const auto ds = toy_data(600, items, 5);
  const auto split = data::leave_one_out(ds);
  auto cfg = toy_model("llama");
  cfg.num_items = items;
  temp_dir dir;
  model::recommender<be, arch::llama> m(cfg);
  m.initialize(2);
  const auto& table = m.parameters().at("item_embedding.weight");
  const std::vector<float> before(m.parameters().value(table), m.parameters().value(table) + table.size);
  train::next_item_objective obj(m, train::candidate_sampler(ds.num_items, split.train_item_counts,
                                                             {.negatives = 256, .sampler = train::proposal::mixed}));
  auto tc = toy_train(2);
  tc.batch_size = 64;
  const auto r = train::fit(obj, split, ds, tc, dir.path());
  REQUIRE(r.state.step == 20);  // 600 users, 64 a batch: 10 steps an epoch
  const double first = r.state.history.front().at("train_loss"), last = r.state.history.back().at("train_loss");
  CHECK(std::isfinite(last));
  CHECK(last < first);
  // Only rows that occurred in training or were drawn have moved; with 20 x 256 draws and
  // ~4,000 training items that is a small part of the 100,000 rows.
  std::vector<bool> used(std::size_t(items) + 1, false);
  for (const auto& seq : split.train)
    for (const auto i : seq) used[std::size_t(i)] = true;
  const float* after = m.parameters().value(table);
  const index d = cfg.dim;
  index moved = 0, moved_unused_by_data = 0;
  for (index row = 1; row <= items; ++row) {
    const bool same = std::equal(after + row * d, after + (row + 1) * d, before.begin() + row * d);
    if (!same) {
      ++moved;
      if (!used[std::size_t(row)]) ++moved_unused_by_data;
    }
  }
  CHECK(moved > 0);
  CHECK(moved < items / 5);
  CHECK(moved_unused_by_data <= 20 * 256);  // those can only be drawn candidates
}

}  // namespace slmrec
