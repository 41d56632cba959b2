// Layer-wise distillation: the block map, each loss against hand-computed
// values and central differences, gradients through the whole distiller,
// the teacher-state cache, and a short run that lowers the alignment loss.
#include <catch2/catch.hpp>

#include <filesystem>

#include <unistd.h>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/distill/init.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/train/trainer.hpp>

#include "support/gradcheck.hpp"
#include "support/temp_dir.hpp"

namespace slmrec {

namespace {
using be64 = backend::eigen_cpu_f64;
using be = backend::eigen_cpu;

model::recommender_config tiny_llama(index layers, std::vector<index> aux = {}) {
  model::recommender_config c;
  c.arch = "llama";
  c.num_items = 40;
  c.dim = 8;
  c.heads = 2;
  c.layers = layers;
  c.max_len = 10;
  c.dropout = 0.0;
  c.aux_layers = std::move(aux);
  return c;
}

data::dataset toy_data() {
  data::synthetic_options o;
  o.users = 200;
  o.items = 40;
  o.min_len = 4;
  o.max_len = 12;
  o.seed = 9;
  return data::make_synthetic(o);
}
}  // namespace

TEST_CASE("block map: boundaries at k*m and k*n layers; bad cuts are errors", "[distill]") {
  constexpr auto map = distill::make_block_map<depth<8>, depth<2>, distill::blocks<2>>();
  STATIC_REQUIRE(map.teacher_layer(1) == 3);
  STATIC_REQUIRE(map.teacher_layer(2) == 7);
  STATIC_REQUIRE(map.student_layer(1) == 0);
  STATIC_REQUIRE(map.student_layer(2) == 1);
  const auto rt = distill::make_block_map(8, 4, 4);
  CHECK(rt.teacher_layer(3) == 5);
  CHECK(rt.student_layer(3) == 2);
  REQUIRE_THROWS_WITH(distill::make_block_map(8, 3, 2), Catch::Contains("student's 3 layers cannot be cut into 2"));
  REQUIRE_THROWS_WITH(distill::make_block_map(6, 2, 4), Catch::Contains("teacher's 6 layers"));
}

TEST_CASE("alignment losses against hand-computed values", "[distill]") {
  distill::alignment_loss<be64> loss;
  const std::vector<double> t{1, 0, 3, 4}, s{1, 1, 3, 4};  // row 0: 45 degrees apart; row 1: identical
  std::vector<double> ds(4, 0.0);
  auto terms = loss.forward_backward(t.data(), s.data(), ds.data(), 2, 2, 1.0, 1.0, distill::norm_kind::mse, 1.0);
  CHECK(terms.cosine == Approx((1 - 1 / std::sqrt(2.0)) / 2));  // mean over the two rows
  CHECK(terms.norm == Approx(0.5 / 2));                         // row 0: (0^2 + 1^2) / 2
  terms = loss.forward_backward(t.data(), s.data(), ds.data(), 2, 2, 1.0, 1.0, distill::norm_kind::squared, 1.0);
  CHECK(terms.norm == Approx(1.0 / 2));
  terms = loss.forward_backward(t.data(), s.data(), ds.data(), 2, 2, 1.0, 1.0, distill::norm_kind::l2, 1.0);
  CHECK(terms.norm == Approx(1.0 / 2));
  CHECK(distill::parse_norm_kind("squared") == distill::norm_kind::squared);
  REQUIRE_THROWS_WITH(distill::parse_norm_kind("l1"), Catch::Contains("'l1'"));
}

TEST_CASE("alignment losses: gradients by central differences", "[distill][gradcheck]") {
  for (auto kind : {distill::norm_kind::mse, distill::norm_kind::squared, distill::norm_kind::l2}) {
    distill::alignment_loss<be64> loss;
    const index n = 3, d = 5;
    const auto t = test::random_vector(n * d, 1);
    auto s = test::random_vector(n * d, 2);
    auto value = [&] {
      std::vector<double> scratch(s.size(), 0.0);
      const auto a = loss.forward_backward(t.data(), s.data(), scratch.data(), n, d, 0.7, 0.3, kind, 1.0 / double(n));
      return 0.7 * a.cosine + 0.3 * a.norm;
    };
    std::vector<double> ds(s.size(), 0.0);
    loss.forward_backward(t.data(), s.data(), ds.data(), n, d, 0.7, 0.3, kind, 1.0 / double(n));
    std::vector<double> numeric(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      const double saved = s[i];
      s[i] = saved + 1e-6;
      const double plus = value();
      s[i] = saved - 1e-6;
      const double minus = value();
      s[i] = saved;
      numeric[i] = (plus - minus) / 2e-6;
    }
    INFO(distill::norm_kind_name(kind));
    CHECK(test::relative_error(ds, numeric) < 1e-7);
  }
}

TEST_CASE("distiller: gradients of the whole objective (CE + cosine + norm + extra heads)", "[distill][gradcheck]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  model::recommender<be64, arch::llama> teacher(tiny_llama(4), false);
  model::recommender<be64, arch::llama> student(tiny_llama(2, {0}));
  teacher.initialize(1);
  student.initialize(2);
  for (bool all : {false, true}) {
    distill::distill_weights w{0.8, 0.5, 0.6, distill::norm_kind::mse, all};
    distill::distiller kd(teacher, student, distill::make_block_map(4, 2, 2), w, split.train);
    data::batch_options bo;
    bo.batch_size = 6;
    bo.max_len = 10;
    data::batcher batches(split.train, bo);
    data::batch b;
    batches.next(b);
    auto& ps = student.parameters();
    ps.zero_grads();
    kd.train_step(b, 3);
    const std::vector<double> analytic(ps.grads_data(), ps.grads_data() + ps.total_size());
    // several loss terms: h = 1e-6 leaves round-off of ~1e-6 relative on the smallest gradients
    test::check_store_gradients(ps, analytic, [&] { return kd.train_step(b, 3); }, 6, 4, 1e-5, 1e-6,
                                all ? "all positions, " : "last position, ");
    CHECK(kd.last_terms().ms > 0.0);
    CHECK(kd.teacher_forwards() == 1);  // every later call read the cache
  }
}

TEST_CASE("student initialisation: first, interval, random", "[distill]") {
  model::recommender<be, arch::llama> teacher(tiny_llama(4), false);
  teacher.initialize(1);
  auto same = [&](auto& student, const std::string& s_name, const std::string& t_name) {
    const auto& a = student.parameters().at(s_name);
    const auto& b = teacher.parameters().at(t_name);
    return std::equal(student.parameters().value(a), student.parameters().value(a) + a.size,
                      teacher.parameters().value(b));
  };
  model::recommender<be, arch::llama> first(tiny_llama(2)), interval(tiny_llama(2)), random(tiny_llama(2));
  for (auto* s : {&first, &interval, &random}) s->initialize(7);
  const auto& tp = teacher.parameters();
  CHECK(distill::init_student(tp, first.parameters(), distill::student_init::first, 4, 2) > 0);
  distill::init_student(tp, interval.parameters(), distill::student_init::interval, 4, 2);
  CHECK(distill::init_student(tp, random.parameters(), distill::student_init::random, 4, 2) == 0);
  CHECK(same(first, "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight"));
  CHECK(same(interval, "model.layers.1.mlp.up_proj.weight", "model.layers.2.mlp.up_proj.weight"));
  CHECK(same(first, "item_embedding.weight", "item_embedding.weight"));
  CHECK_FALSE(same(random, "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.weight"));
}

TEST_CASE("a short distillation lowers the alignment loss and reuses the teacher's states", "[distill]") {
  const auto ds = toy_data();
  const auto split = data::leave_one_out(ds);
  auto tcfg = tiny_llama(4);
  tcfg.dim = 16;
  auto scfg = tiny_llama(2, {0});
  scfg.dim = 16;
  model::recommender<be, arch::llama> teacher(tcfg);
  model::recommender<be, arch::llama> student(scfg);
  teacher.initialize(1);
  student.initialize(2);
  const test::temp_dir tmp;
  const auto dir = tmp.path();
  train::train_config tc;
  tc.epochs = 4;
  tc.batch_size = 32;
  tc.lr = 5e-3;
  tc.verbosity = 0;
  {  // the teacher learns the task first
    train::next_item_objective obj(teacher, train::loss_kind::cross_entropy);
    train::fit(obj, split, ds, tc, dir / "teacher");
  }
  distill::distiller kd(teacher, student, distill::make_block_map(4, 2, 2), {}, split.train);
  data::batch_options bo;
  bo.batch_size = 200;
  bo.max_len = 10;
  bo.shuffle = false;
  data::batcher all(split.train, bo);
  data::batch b;
  all.next(b);
  auto alignment = [&] {
    student.parameters().zero_grads();
    kd.train_step(b, 1);
    return kd.last_terms().cosine + 0.1 * kd.last_terms().norm;
  };
  const double before = alignment();
  const auto r = train::fit(kd, split, ds, tc, dir / "student");
  const double after = alignment();
  INFO("alignment before " << before << ", after " << after);
  CHECK(after < 0.7 * before);
  CHECK(kd.teacher_forwards() == 1);  // the probe batch held every user: training never ran the teacher again
  CHECK(r.state.epoch == 4);
}

}  // namespace slmrec
