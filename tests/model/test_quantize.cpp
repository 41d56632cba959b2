// Quantized models: each scheme scores close to the float model it came from
// (and, without activation quantization, exactly as the float model with the
// dequantized weights), checkpoints round-trip bit for bit, sizes shrink as
// the formats say, and bad checkpoints are refused by name.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/quantize.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/serving.hpp>

#include "support/compare.hpp"
#include "support/histories.hpp"
#include "support/temp_dir.hpp"

namespace slmrec {

namespace {
using cpu = backend::eigen_cpu;

model::recommender_config small(const std::string& arch, const std::string& head = "tied") {
  model::recommender_config c;
  c.arch = arch;
  c.num_items = 300;
  c.dim = 32;
  c.heads = 2;
  c.layers = 2;
  c.max_len = 12;
  c.dropout = 0.0;
  c.init_std = 0.1;  // scores with some spread, as a trained model has
  c.head = head;
  if (head == "projected") c.item_dim = 48;
  return c;
}

// Six users, ten columns, left-padded.
std::vector<std::int32_t> histories() {
  std::vector<std::int32_t> h(60, 0);
  rng gen(7);
  for (index r = 0; r < 6; ++r)
    for (index c = r; c < 10; ++c) h[std::size_t(r * 10 + c)] = std::int32_t(1 + gen.below(300));
  return h;
}

template <class Model>
std::vector<float> scores(Model& m) {
  const auto h = histories();
  std::vector<float> s(std::size_t(6 * 301));
  m.score_last(h, 6, 10, s);
  return s;
}

// The float model with every packed matrix of q replaced by its dequantized values.
template <class Float, class Quant>
void load_dequantized(Float& f, Quant& q) {
  q.visit(
      [&](const nn::param_spec& spec, auto& slot) {
        const auto& e = f.parameters().at(spec.name);
        if constexpr (nn::is_param_slot<decltype(slot), float>) {
          std::copy(slot.value, slot.value + slot.size, f.parameters().value(e));
        } else {
          slot.dequantize(f.parameters().value(e));
        }
      },
      "");
}

template <class Q, class Arch>
void check_scheme(const std::string& head, double max_error) {
  const auto cfg = small(Arch::name, head);
  model::recommender<cpu, Arch> fp(cfg, false);
  fp.initialize(3);
  auto q = model::quantize<Q>(fp);
  const auto ref = scores(fp);
  const auto got = scores(*q);
  const double err = test::relative_error(got, ref);
  INFO(Q::name << " " << Arch::name << " head " << head << ": relative score error " << err);
  CHECK(err < max_error);
  CHECK(err > 0.0);  // the formats do lose something: the test sees the quantized path

  // Against the float model holding the dequantized weights, the only
  // difference left is the activations' int8 rounding (none for 16-bit).
  model::recommender<cpu, Arch> deq(cfg, false);
  load_dequantized(deq, *q);
  const double act_err = test::relative_error(got, scores(deq));
  INFO("against the dequantized float model: " << act_err);
  constexpr bool sixteen_bit = std::is_same_v<Q, quant::bf16> || std::is_same_v<Q, quant::fp16>;
  CHECK(act_err < (sixteen_bit ? 1e-6 : 4e-2));
}

template <class Q>
void check_all_archs(double max_error) {
  check_scheme<Q, arch::llama>("tied", max_error);
  check_scheme<Q, arch::llama>("classifier", max_error);
  check_scheme<Q, arch::llama>("projected", max_error);
  check_scheme<Q, arch::sasrec>("tied", max_error);
}

// small("llama") with random weights (seed), quantized to int8.
auto small_int8(std::uint64_t seed) {
  model::recommender<cpu, arch::llama> fp(small("llama"), false);
  fp.initialize(seed);
  return model::quantize<quant::int8_per_channel>(fp);
}

}  // namespace

TEST_CASE("each scheme scores close to the float model, and exactly as its dequantized twin", "[quant]") {
  // Random models of std 0.1 at width 32 amplify weight noise more than a
  // trained one does (measured here: int8 1.3-3.0%, int4 13-34%, bf16 0.4-0.7%,
  // fp16 0.05-0.07%); the bounds leave room for other CPUs' rounding.
  check_all_archs<quant::int8_per_channel>(0.05);
  check_all_archs<quant::int4_block<32>>(0.5);
  check_all_archs<quant::bf16>(0.012);
  check_all_archs<quant::fp16>(0.0015);
}

TEST_CASE("int8 keeps the float model's recommendations", "[quant]") {
  model::recommender<cpu, arch::llama> fp(small("llama"), false);
  fp.initialize(5);
  auto q = model::quantize<quant::int8_per_channel>(fp);
  model::server a(fp);
  model::server b(*q);
  const std::vector<std::int32_t> history{4, 8, 15, 16, 23, 42};
  const auto x = a.recommend(history, 10);
  const auto y = b.recommend(history, 10);
  const std::set<std::int32_t> sx(x.begin(), x.end());
  index common = 0;
  for (auto id : y) common += index(sx.count(id));
  CHECK(common >= 8);
}

TEST_CASE("an int8 batch of mixed lengths, run in buckets, scores each user as alone", "[quant]") {
  // The integer products are exact and scaled per row, so a user's scores do
  // not depend on the users batched with it, bucketed or not.
  auto q = small_int8(6);
  const index rows = 48, columns = 12, v = 301;
  const auto batch = test::mixed_histories(rows, columns, 7, 4, 300, 9);
  std::vector<float> all(static_cast<std::size_t>(rows * v)), one(static_cast<std::size_t>(v));
  q->score_last(batch, rows, columns, all);
  CHECK(q->input().batch < rows);  // bucketed
  for (index r = 0; r < rows; ++r) {
    q->score_last(std::span(batch).subspan(std::size_t(r * columns), std::size_t(columns)), 1, columns, one);
    for (index i = 0; i < v; ++i) REQUIRE(all[std::size_t(r * v + i)] == Approx(one[std::size_t(i)]).margin(1e-5));
  }
}

TEST_CASE("an int8 batch split over workers gives each user's own recommendations", "[quant]") {
  auto q = small_int8(8);
  const index rows = 90, columns = 12, k = 10;
  const auto batch = test::mixed_histories(rows, columns, 5, 6, 300, 10);
  model::server split(*q, 2), single(*q, 1);
  std::vector<std::int32_t> a(std::size_t(rows * k)), b(std::size_t(rows * k));
  split.recommend(batch, rows, columns, k, true, a);
  single.recommend(batch, rows, columns, k, true, b);  // the same buckets, on one model
  CHECK(a == b);
  // Each row's answer went back to its own row: none of that user's items comes back.
  for (index r = 0; r < rows; ++r) {
    const auto row = std::span(batch).subspan(std::size_t(r * columns), std::size_t(columns));
    for (index j = 0; j < k; ++j) CHECK(std::find(row.begin(), row.end(), a[std::size_t(r * k + j)]) == row.end());
  }
}

TEST_CASE("weights shrink as each format says", "[quant]") {
  model::recommender<cpu, arch::llama> fp(small("llama"), false);
  const double before = double(model::weight_bytes(fp));
  CHECK(before == double(fp.parameters().count()) * 4.0);
  const double int8 = double(model::weight_bytes(*model::quantize<quant::int8_per_channel>(fp)));
  const double int4 = double(model::weight_bytes(*model::quantize<quant::int4_block<32>>(fp)));
  const double bf16 = double(model::weight_bytes(*model::quantize<quant::bf16>(fp)));
  // dim 32: an int8 row of 32 codes + a float scale is 36 bytes against 128;
  // an int4 block of 32 is 16 bytes + a 2-byte scale against 128.
  CHECK(before / int8 > 3.4);
  CHECK(before / int8 < 128.0 / 36.0);
  CHECK(before / int4 > 6.0);
  CHECK(before / int4 < 128.0 / 18.0);
  CHECK(before / bf16 > 1.95);
  CHECK(before / bf16 < 2.0);
}

TEST_CASE("a quantized checkpoint round-trips bit for bit", "[quant]") {
  test::temp_dir dir;
  model::recommender<cpu, arch::llama> fp(small("llama", "projected"), false);
  fp.initialize(9);
  const auto round_trip = [&]<class Q>(Q) {
    auto q = model::quantize<Q>(fp);
    const auto path = dir.path() / Q::name;
    model::save_quantized(path, *q);
    CHECK(model::checkpoint_scheme(path) == Q::name);
    const auto expected = scores(*q);
    model::with_any_checkpoint<cpu>(path, [&](auto& m) {
      CHECK(std::is_same_v<typename std::remove_cvref_t<decltype(m)>::quant_scheme, Q>);
      CHECK(scores(m) == expected);
    });
  };
  round_trip(quant::int8_per_channel{});
  round_trip(quant::int4_block<32>{});
  round_trip(quant::bf16{});
  round_trip(quant::fp16{});
}

TEST_CASE("bad quantized checkpoints are refused with the file and tensor named", "[quant]") {
  test::temp_dir dir;
  model::recommender<cpu, arch::llama> fp(small("llama"), false);
  auto q = model::quantize<quant::int8_per_channel>(fp);
  const auto path = dir.path() / "int8";
  model::save_quantized(path, *q);
  const auto noop = [](auto&) {};

  // Training tools need the float checkpoint.
  REQUIRE_THROWS_WITH(model::with_checkpoint<cpu>(path, noop), Catch::Contains("is a quantized checkpoint"));

  // A config that claims another scheme than the tensors hold.
  {
    auto j = nn::read_checkpoint_config(path);
    j["quant"]["scheme"] = "int4";
    std::ofstream(path / "config.json") << j.dump();
    REQUIRE_THROWS_WITH(model::with_any_checkpoint<cpu>(path, noop), Catch::Contains("'item_embedding.weight' is I8"));
    j["quant"]["scheme"] = "int3";
    std::ofstream(path / "config.json") << j.dump();
    REQUIRE_THROWS_WITH(model::with_any_checkpoint<cpu>(path, noop),
                        Catch::Contains("unknown quantization scheme 'int3'"));
  }

  // A truncated weights file.
  model::save_quantized(path, *q);
  const auto file = path / "model.safetensors";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  REQUIRE_THROWS_WITH(model::with_any_checkpoint<cpu>(path, noop), Catch::Contains("model.safetensors"));
}

}  // namespace slmrec

namespace slmrec {

TEST_CASE("a prepared input is shared by layers and a stale one is refused", "[quant]") {
  using cpu = backend::eigen_cpu;
  std::vector<float> w(4 * 8), x(2 * 8), x2(2 * 8);
  rng gen(1);
  for (auto& v : w) v = float(gen.normal());
  for (auto& v : x) v = float(gen.normal());
  for (auto& v : x2) v = float(gen.normal());
  quant::linear<cpu, quant::int8_per_channel> a(8, 4), b(8, 4);
  a.weight = quant::int8_matrix::quantize(w.data(), 4, 8);
  b.weight = a.weight;
  std::vector<float> direct(8), shared(8), other(8);
  a.forward(x.data(), direct.data(), 2);
  const auto in = a.prepare(x.data(), 2);
  b.forward(in, shared.data());  // b reads a's codes
  CHECK(shared == direct);
  const auto newer = b.prepare(x2.data(), 2);
  REQUIRE_THROWS_WITH(a.forward(in, other.data()), Catch::Contains("replaced before its use"));
  a.forward(newer, other.data());
  CHECK(other != direct);
}

}  // namespace slmrec
