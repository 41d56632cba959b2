// The recommender: gradients of the whole model (embeddings, stack, head,
// loss) by central differences, for each arch and head, and the trimming of
// all-padding columns.
#include <catch2/catch.hpp>

#include <algorithm>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/adapted_llama.hpp>
#include <slmrec/model/length_buckets.hpp>
#include <slmrec/model/recommender.hpp>

#include "support/gradcheck.hpp"
#include "support/histories.hpp"

namespace slmrec {

namespace {
using be64 = backend::eigen_cpu_f64;

// Three users over 9 items, left-padded to 6 columns; the first column is
// padding everywhere, so the model trims it.
const std::vector<std::int32_t> items{0, 0, 0, 3, 5, 2,  //
                                      0, 1, 4, 4, 7, 9,  //
                                      0, 0, 0, 0, 6, 8};
const std::vector<std::int32_t> targets{0, 0, 0, 5, 2, 7,  //
                                        0, 4, 4, 7, 9, 1,  //
                                        0, 0, 0, 0, 8, 3};

std::vector<std::int32_t> trimmed(const std::vector<std::int32_t>& full, index first) {
  std::vector<std::int32_t> out;
  for (index r = 0; r < 3; ++r)
    for (index c = first; c < 6; ++c) out.push_back(full[std::size_t(r * 6 + c)]);
  return out;
}

enum class loss_mode { ce, bce, sampled };
const std::vector<std::int32_t> sampled_candidates{2, 4, 5, 9};  // hits with the targets 2, 4, 5, 9
const std::vector<float> sampled_offsets{-1.5f, -0.5f, -2.0f, -1.0f};

template <class Model>
void check_model_gradients(Model& m, loss_mode mode) {
  auto& ps = m.parameters();
  rng gen(5);
  for (const auto& e : ps.entries()) {
    double* v = ps.value(e);
    const bool is_norm = e.spec.name.find("norm") != std::string::npos && e.spec.name.ends_with("weight");
    for (index i = 0; i < e.size; ++i) v[i] = (is_norm ? 1.0 : 0.0) + 0.3 * gen.normal();
  }
  const std::vector<std::int32_t> negatives(items.size(), 6);
  // L(params) = the model's own mean loss; a numerical derivative of it per parameter.
  auto loss = [&] {
    m.encode(items, 3, 6, true, 11);
    const auto t = trimmed(targets, m.input().first_column);
    if (mode == loss_mode::sampled)
      return m.train_sampled_softmax(t, sampled_candidates, sampled_offsets);
    return mode == loss_mode::bce ? m.train_sampled_bce(t, trimmed(negatives, m.input().first_column))
                                  : m.train_cross_entropy(t);
  };
  ps.zero_grads();
  loss();
  REQUIRE(m.input().length == 5);
  std::vector<double> analytic(ps.grads_data(), ps.grads_data() + ps.total_size());
  test::check_store_gradients(ps, analytic, loss, 12, 3);
}

model::recommender_config small(const std::string& arch, const std::string& head) {
  model::recommender_config c;
  c.arch = arch;
  c.num_items = 9;
  c.dim = 8;
  c.heads = 2;
  c.layers = 2;
  c.max_len = 6;
  c.dropout = 0.2;
  c.head = head;
  if (head == "projected") c.item_dim = 6;
  return c;
}
}  // namespace

TEST_CASE("recommender sasrec: gradients of the whole model with cross-entropy and BCE", "[model][gradcheck]") {
  model::recommender<be64, arch::sasrec> m(small("sasrec", "tied"));
  check_model_gradients(m, loss_mode::ce);
  check_model_gradients(m, loss_mode::bce);
  check_model_gradients(m, loss_mode::sampled);
}

TEST_CASE("recommender llama: gradients for every head", "[model][gradcheck]") {
  for (const char* head : {"tied", "classifier", "projected"}) {
    INFO(head);
    model::recommender<be64, arch::llama, depth<2>> m(small("llama", head));
    check_model_gradients(m, loss_mode::ce);
    check_model_gradients(m, loss_mode::sampled);
  }
}

TEST_CASE("recommender on a frozen backbone with LoRA: gradients of the adapters, projections, items and head",
          "[model][gradcheck]") {
  for (const char* head : {"tied", "projected", "classifier"}) {  // projected: items narrower than the backbone
    INFO(head);
    auto c = small("llama", head);
    c.freeze_backbone = true;
    c.lora_rank = 2;
    c.lora_alpha = 3.0;
    c.lora_targets = {"q", "k", "v", "o", "gate", "up", "down"};
    model::recommender<be64, arch::llama_adapted, depth<2>> m(c);
    index frozen = 0, adapters = 0;
    for (const auto& e : m.parameters().entries()) {
      frozen += e.spec.trainable ? 0 : 1;
      adapters += e.spec.name.find(".lora_") != std::string::npos ? 1 : 0;
    }
    CHECK(frozen == 2 * 9 + 1);  // two norms and seven projections a block, the final norm
    CHECK(adapters == 2 * 7 * 2);
    check_model_gradients(m, loss_mode::ce);
    check_model_gradients(m, loss_mode::sampled);
  }
}

TEST_CASE("recommender: the sampled softmax over every item is the full cross-entropy, for every head", "[model]") {
  for (const char* head : {"tied", "classifier", "projected"}) {
    INFO(head);
    model::recommender<be64, arch::llama, depth<2>> m(small("llama", head));
    m.initialize(4);
    auto& ps = m.parameters();
    auto gradients = [&](bool sampled) {
      ps.zero_grads();
      m.encode(items, 3, 6, true, 11);
      const auto t = trimmed(targets, m.input().first_column);
      const std::vector<std::int32_t> every_item{1, 2, 3, 4, 5, 6, 7, 8, 9};
      const double loss =
          sampled ? m.train_sampled_softmax(t, every_item, std::vector<float>(9, 0.0f)) : m.train_cross_entropy(t);
      std::vector<double> g(ps.grads_data(), ps.grads_data() + ps.total_size());
      g.push_back(loss);
      return g;
    };
    const auto full = gradients(false), sampled = gradients(true);
    CHECK(sampled.back() == Approx(full.back()).epsilon(1e-12));
    CHECK(test::relative_error(sampled, full) < 1e-12);
  }
}

TEST_CASE("recommender: with sparse item gradients only the used rows are touched and zeroed", "[model]") {
  auto cfg = small("llama", "tied");
  cfg.num_items = 40;
  model::recommender<be64, arch::llama, depth<2>> m(cfg);
  m.enable_sparse_item_gradients();
  auto& ps = m.parameters();
  const auto& table = ps.at("item_embedding.weight");
  ps.zero_grads();  // the first zeroing clears the whole table (its state is unknown before)
  m.encode(items, 3, 6, true, 11);
  const auto t = trimmed(targets, m.input().first_column);
  const std::vector<std::int32_t> candidates{12, 30};
  m.train_sampled_softmax(t, candidates, std::vector<float>{-3.0f, -3.0f});
  SECTION("the classifier head's weights are tracked too: its targets' and candidates' rows") {
    auto ccfg = cfg;
    ccfg.head = "classifier";
    model::recommender<be64, arch::llama, depth<2>> mc(ccfg);
    mc.enable_sparse_item_gradients();
    mc.parameters().zero_grads();
    mc.encode(items, 3, 6, true, 11);
    mc.train_sampled_softmax(t, candidates, std::vector<float>{-3.0f, -3.0f});
    const auto rows = mc.parameters().touched_rows(mc.parameters().at("classifier.weight")).rows;
    CHECK(std::vector<std::int32_t>(rows.begin(), rows.end()) == std::vector<std::int32_t>{1, 2, 3, 4, 5, 7, 8, 9, 12, 30});
  }
  const auto touched = ps.touched_rows(table);
  REQUIRE_FALSE(touched.all);
  // Inputs {1..9 as in `items`} and targets {1..9}, and the candidates 12 and 30; row 0 is padding.
  const std::vector<std::int32_t> expected{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 30};
  CHECK(std::vector<std::int32_t>(touched.rows.begin(), touched.rows.end()) == expected);
  const double* g = ps.grad(table);
  for (index r = 0; r <= 40; ++r) {
    double norm = 0.0;
    for (index c = 0; c < 8; ++c) norm += std::abs(g[r * 8 + c]);
    INFO("row " << r);
    if (std::find(expected.begin(), expected.end(), std::int32_t(r)) == expected.end()) CHECK(norm == 0.0);
    if (r == 12 || r == 30 || r == 7) CHECK(norm > 0.0);
  }
  ps.zero_grads();  // zeroes only the touched rows, and forgets them
  for (index i = 0; i < 41 * 8; ++i) REQUIRE(g[i] == 0.0);
  CHECK(ps.touched_rows(table).rows.empty());
}

TEST_CASE("recommender: a frozen item table gets no gradient, and configs are checked", "[model]") {
  auto cfg = small("llama", "projected");
  cfg.freeze_items = true;
  model::recommender<be64, arch::llama> m(cfg);
  CHECK(m.parameters().grad(m.parameters().at("item_embedding.weight")) == nullptr);
  check_model_gradients(m, loss_mode::ce);
  REQUIRE_THROWS_WITH((model::recommender<be64, arch::llama, depth<4>>(small("llama", "tied"))),
                      Catch::Contains("this model type has 4"));
  REQUIRE_THROWS_WITH((model::recommender<be64, arch::sasrec>(small("llama", "tied"))),
                      Catch::Contains("this model type is 'sasrec'"));
  auto bad = small("llama", "tied");
  bad.item_dim = 4;
  REQUIRE_THROWS_WITH((model::recommender<be64, arch::llama>(bad)), Catch::Contains("use the projected head"));
}

TEST_CASE("recommender: trimming padding columns changes nothing", "[model]") {
  auto cfg = small("sasrec", "tied");
  cfg.max_len = 8;
  model::recommender<be64, arch::sasrec> m(cfg);
  m.initialize(1);
  std::vector<std::int32_t> padded;  // the same rows with two more padding columns
  for (index r = 0; r < 3; ++r) {
    padded.push_back(0);
    padded.push_back(0);
    for (index c = 0; c < 6; ++c) padded.push_back(items[std::size_t(r * 6 + c)]);
  }
  std::vector<float> a(3 * 10), b(3 * 10);
  m.score_last(items, 3, 6, a);
  m.score_last(padded, 3, 8, b);
  CHECK(m.input().length == 5);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).margin(1e-12));
  REQUIRE_THROWS_WITH(m.score_last(std::vector<std::int32_t>(3 * 6, 10), 3, 6, a), Catch::Contains("item id 10"));
}

TEST_CASE("inference of the last position only equals the full forward's last rows", "[model]") {
  // encode_last runs the last block for one row per sequence (GQA, padding,
  // the three heads); the full encode() is the reference.
  const auto check = [](auto& m) {
    m.initialize(2);
    const index d = m.config().dim, v = m.config().num_items + 1;
    const double* full = m.encode(items, 3, 6, false, 0);
    const index L = m.input().length;
    std::vector<double> expected;
    for (index r = 0; r < 3; ++r)
      for (index c = 0; c < d; ++c) expected.push_back(full[(r * L + L - 1) * d + c]);
    const double* last = m.encode_last(items, 3, 6);
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(last[i] == Approx(expected[i]).margin(1e-12));
    std::vector<float> scores(std::size_t(3 * v));
    m.score_last(items, 3, 6, scores);  // through encode_last
    for (float x : scores) CHECK(std::isfinite(x));
  };
  model::recommender<be64, arch::sasrec> sasrec(small("sasrec", "tied"));
  check(sasrec);
  for (const char* head : {"tied", "classifier", "projected"}) {
    INFO(head);
    auto cfg = small("llama", head);
    cfg.heads = 4;
    cfg.kv_heads = 2;
    cfg.layers = 3;
    model::recommender<be64, arch::llama> llama(cfg);
    check(llama);
  }
}

TEST_CASE("length buckets: users sorted by history length, each bucket trimmed to its longest", "[model]") {
  // Five users, 4 columns; lengths 2, 4, 1 (all padding counts as 1), 1, 3.
  const std::vector<std::int32_t> ids{0, 0, 5, 6,  //
                                      1, 2, 3, 4,  //
                                      0, 0, 0, 0,  //
                                      0, 0, 0, 9,  //
                                      0, 7, 8, 9};
  model::length_buckets b;
  b.assign(ids, 5, 4, 2);
  CHECK(b.order == std::vector<std::int32_t>{2, 3, 0, 4, 1});
  CHECK(b.starts == std::vector<index>{0, 2, 4, 5});
  CHECK(b.lengths == std::vector<index>{1, 3, 4});
  CHECK(b.positions() == 2 * 1 + 2 * 3 + 1 * 4);
  const auto middle = b.bucket_items(ids, 4, 1);  // users 0 and 4, their last 3 columns
  CHECK(std::vector<std::int32_t>(middle.begin(), middle.end()) == std::vector<std::int32_t>{0, 5, 6, 7, 8, 9});
}

TEST_CASE("length buckets cut by cost: the cuts that minimise positions plus a fixed cost per bucket", "[model]") {
  // Six users of lengths 8, 1, 1, 8, 1, 1 (sorted rows 1 2 4 5 | 0 3).
  const index columns = 8;
  const std::vector<index> lengths{8, 1, 1, 8, 1, 1};
  std::vector<std::int32_t> ids(lengths.size() * std::size_t(columns), 0);
  for (std::size_t r = 0; r < lengths.size(); ++r)
    for (index c = columns - lengths[r]; c < columns; ++c) ids[r * std::size_t(columns) + std::size_t(c)] = 1;
  model::length_buckets b;
  // Overhead 4: one bucket costs 6 x 8 + 4 = 52, the short four and the long two 4 + 4 + 16 + 4 = 28, a third
  // bucket only adds 4.
  b.assign_by_cost(ids, 6, columns, 4, 64);
  CHECK(b.order == std::vector<std::int32_t>{1, 2, 4, 5, 0, 3});
  CHECK(b.starts == std::vector<index>{0, 4, 6});
  CHECK(b.lengths == std::vector<index>{1, 8});
  // Overhead 100: 148 against 220, one bucket.
  b.assign_by_cost(ids, 6, columns, 100, 64);
  CHECK(b.starts == std::vector<index>{0, 6});
  CHECK(b.lengths == std::vector<index>{8});
  // At most two users a bucket: three.
  b.assign_by_cost(ids, 6, columns, 4, 2);
  CHECK(b.starts == std::vector<index>{0, 2, 4, 6});
  CHECK(b.lengths == std::vector<index>{1, 1, 8});
  CHECK(b.positions() == 2 + 2 + 16);
}

TEST_CASE("length buckets dealt to workers: the costliest first, each to the least loaded", "[model]") {
  // Seven users of lengths 1, 5, 2, 8, 3, 1, 6 in buckets of 2: sorted rows 0 5 | 2 4 | 1 6 | 3, bucket
  // lengths 1, 3, 6, 8. With position cost 1 and row cost 0.5 the buckets cost 3, 7, 13, 8.5:
  // 13 -> worker 0, 8.5 -> worker 1, 7 -> worker 1 (15.5 against 13), 3 -> worker 0.
  const index columns = 8;
  const std::vector<index> lengths{1, 5, 2, 8, 3, 1, 6};
  std::vector<std::int32_t> ids(lengths.size() * std::size_t(columns), 0);
  for (std::size_t r = 0; r < lengths.size(); ++r)
    for (index c = columns - lengths[r]; c < columns; ++c) ids[r * std::size_t(columns) + std::size_t(c)] = 1;
  model::length_buckets b;
  b.assign(ids, index(lengths.size()), columns, 2);
  REQUIRE(b.lengths == std::vector<index>{1, 3, 6, 8});
  std::vector<std::vector<std::int32_t>> rows_of;
  b.deal(2, 1.0, 0.5, rows_of);
  REQUIRE(rows_of.size() == 2);
  CHECK(rows_of[0] ==
        std::vector<std::int32_t>{0, 5, 1, 6});  // sorted by length: bucketing them again gives the same buckets
  CHECK(rows_of[1] == std::vector<std::int32_t>{2, 4, 3});
  // More workers than buckets: the extra ones get nothing, every row is still dealt once.
  b.deal(6, 1.0, 0.5, rows_of);
  std::vector<std::int32_t> all;
  index empty = 0;
  for (const auto& r : rows_of) {
    all.insert(all.end(), r.begin(), r.end());
    empty += r.empty() ? 1 : 0;
  }
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(empty == 2);
}

TEST_CASE("a batch of histories of mixed lengths runs in buckets and gives each user's own states", "[model]") {
  auto cfg = small("llama", "tied");
  cfg.max_len = 12;
  model::recommender<be64, arch::llama> m(cfg, false);
  m.initialize(3);
  // 40 users, mostly short, a few of the full 12: bucketing saves most of the padded positions.
  const index rows = 40, columns = 12, d = cfg.dim;
  const auto batch = test::mixed_histories(rows, columns, 9, 4, 9, 3);
  const double* all = m.encode_last(batch, rows, columns);
  CHECK(m.input().batch < rows);  // the model saw buckets, not the whole batch
  const std::vector<double> bucketed(all, all + rows * d);
  // A bad id is reported with its row in the batch as given, not in a bucket.
  auto bad = batch;
  bad[std::size_t(37 * columns + columns - 1)] = 10;
  REQUIRE_THROWS_WITH(m.encode_last(bad, rows, columns), Catch::Contains("row 37 holds item id 10"));
  for (index r = 0; r < rows; ++r) {
    const double* one =
        m.encode_last(std::span(batch).subspan(std::size_t(r * columns), std::size_t(columns)), 1, columns);
    for (index c = 0; c < d; ++c) REQUIRE(bucketed[std::size_t(r * d + c)] == Approx(one[c]).margin(1e-12));
  }
}

}  // namespace slmrec
