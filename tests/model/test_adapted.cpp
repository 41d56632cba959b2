// A recommender on a pretrained, frozen backbone with LoRA adapters (E4SRec):
// the stories260k backbone loads with its own shape, epsilon, RoPE and grouped
// heads and computes what the Hugging Face decoder computes; training leaves
// the backbone bit-identical and moves only the adapters, items and head;
// merging the adapters gives the same scores; bad configs are refused.
#include <catch2/catch.hpp>

#include <cstring>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/model/adapted_llama.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/pretrained_backbone.hpp>
#include <slmrec/train/trainer.hpp>

#include "support/temp_dir.hpp"

namespace slmrec {

namespace {
using be = backend::eigen_cpu;
const std::filesystem::path stories = std::filesystem::path(SLMREC_SHARED_DIR) / "fixtures" / "stories260k";

model::recommender_config adapted_config(index items, index rank, std::vector<std::string> targets) {
  model::recommender_config c;
  c.arch = "llama";
  c.num_items = items;
  c.max_len = 10;
  c.dropout = 0.1;
  c.freeze_backbone = true;
  c.lora_rank = rank;
  c.lora_alpha = 8.0;
  c.lora_targets = std::move(targets);
  return model::with_hf_backbone(c, stories, 2);  // the first two of its five layers
}

std::vector<float> values_of(const nn::parameter_store<be>& ps, const std::string& name) {
  const auto& e = *ps.find(name);
  return std::vector<float>(ps.value(e), ps.value(e) + e.size);
}
}  // namespace

TEST_CASE("pretrained backbone: stories260k's shape and weights, and the Hugging Face decoder's states", "[model]") {
  const auto cfg = adapted_config(30, 4, {"q", "v", "gate", "up", "down"});
  CHECK(cfg.dim == 64);
  CHECK(cfg.heads == 8);
  CHECK(cfg.resolved_kv_heads() == 4);
  CHECK(cfg.resolved_ffn() == 172);
  CHECK(cfg.resolved_norm_eps() == Approx(1e-5));
  CHECK(cfg.layers == 2);
  model::recommender<be, arch::llama_adapted> m(cfg);
  CHECK(model::load_hf_backbone(m.parameters(), stories) == 2 * 9 + 1);  // 9 tensors a block, the final norm
  // Adapters where asked, none elsewhere; nothing of the backbone trains.
  const auto& ps = m.parameters();
  CHECK(ps.find("model.layers.1.self_attn.q_proj.lora_A.weight") != nullptr);
  CHECK(ps.find("model.layers.1.self_attn.k_proj.lora_A.weight") == nullptr);
  for (const auto& e : ps.entries()) {
    INFO(e.spec.name);
    const bool adapter = e.spec.name.find(".lora_") != std::string::npos;
    if (e.spec.name.starts_with("model.")) CHECK(e.spec.trainable == adapter);
  }
  // LoRA's B starts at zero: the model's final states are the pretrained decoder's on the item rows.
  auto hf = model::load_hf_llama<be>(stories, 2);
  std::vector<std::int32_t> items(10);
  for (int t = 0; t < 10; ++t) items[std::size_t(t)] = 3 * t + 1;
  const float* h = m.encode(items, 1, 10, false, 0);
  std::vector<float> x(10 * 64);
  const auto& table = m.item_table();
  for (int t = 0; t < 10; ++t) std::memcpy(&x[std::size_t(t * 64)], table.weight.value + items[std::size_t(t)] * 64, 64 * 4);
  std::vector<std::int32_t> pos(10);
  for (int t = 0; t < 10; ++t) pos[std::size_t(t)] = t;
  const float* ref = hf.decoder->forward(x.data(), nn::context{1, 10, pos.data(), nullptr, false, 0});
  double diff = 0.0, norm = 0.0;
  for (int i = 0; i < 640; ++i) diff += double(h[i] - ref[i]) * (h[i] - ref[i]), norm += double(ref[i]) * ref[i];
  CHECK(std::sqrt(diff / norm) < 1e-6);
}

TEST_CASE("frozen backbone: bit-identical after training, LoRA merged gives the same scores", "[model][train]") {
  data::synthetic_options so;
  so.users = 120;
  so.items = 30;
  so.min_len = 5;
  so.max_len = 10;
  so.seed = 4;
  const auto ds = data::make_synthetic(so);
  const auto split = data::leave_one_out(ds);
  const auto cfg = adapted_config(ds.num_items, 4, {"q", "k", "v", "o", "gate", "up", "down"});
  test::temp_dir dir;
  model::recommender<be, arch::llama_adapted> m(cfg);
  m.initialize(2);
  model::load_hf_backbone(m.parameters(), stories);
  auto& ps = m.parameters();
  const std::vector<float> before(ps.values_data(), ps.values_data() + ps.total_size());
  train::train_config t;
  t.epochs = 2;
  t.batch_size = 32;
  t.lr = 1e-2;
  t.weight_decay = 0.1;  // decoupled decay must not reach a frozen weight either
  t.verbosity = 0;
  train::next_item_objective obj(m, train::loss_kind::cross_entropy);
  train::fit(obj, split, ds, t, dir.path());
  index frozen = 0, moved = 0;
  for (const auto& e : ps.entries()) {
    INFO(e.spec.name);
    const bool same = std::memcmp(ps.value(e), before.data() + e.offset, std::size_t(e.size) * sizeof(float)) == 0;
    if (!e.spec.trainable) {
      CHECK(same);
      ++frozen;
    } else {
      moved += same ? 0 : 1;
    }
  }
  CHECK(frozen == 2 * 9 + 1);
  CHECK(moved == 2 * 7 * 2 + 1);  // every adapter's A and B, the item table
  CHECK(values_of(ps, "model.layers.0.mlp.down_proj.lora_B.weight") !=
        std::vector<float>(values_of(ps, "model.layers.0.mlp.down_proj.lora_B.weight").size(), 0.0f));

  // The checkpoint holds the adapters; read back merged (what merge-lora writes), it scores as the adapted model.
  std::vector<std::int32_t> hist;
  for (index u = 0; u < 8; ++u) {
    const auto& s = ds.sequences[std::size_t(u)];
    for (index c = 0; c < 10; ++c) hist.push_back(c < 10 - index(s.size()) ? 0 : s[std::size_t(c - (10 - index(s.size())))]);
  }
  const index v = ds.num_items + 1;
  std::vector<float> adapted(std::size_t(8 * v)), merged(adapted.size()), reread(adapted.size());
  model::recommender<be, arch::llama_adapted> a(cfg, false);
  train::load_model_weights(dir.path(), a.parameters());
  a.score_last(hist, 8, 10, adapted);
  test::temp_dir out;
  model::with_checkpoint<be>(dir.path(), [&](auto& plain) {
    CHECK(std::is_same_v<typename std::remove_cvref_t<decltype(plain)>::arch_type, arch::llama>);
    CHECK_FALSE(plain.config().freeze_backbone);
    plain.score_last(hist, 8, 10, merged);
    train::save_model<be>(out.path(), {{"model", plain.config()}}, plain.parameters());
  });
  model::with_checkpoint<be>(out.path(), [&](auto& plain) { plain.score_last(hist, 8, 10, reread); });
  double worst = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < adapted.size(); ++i) {
    if (i % std::size_t(v) == 0) continue;  // the padding column
    worst = std::max(worst, double(std::abs(adapted[i] - merged[i])));
    scale = std::max(scale, double(std::abs(adapted[i])));
  }
  INFO("largest score difference " << worst << " of scores up to " << scale);
  CHECK(worst <= 1e-5 * std::max(1.0, scale));
  CHECK(worst > 0.0);  // the merged weights really are different numbers (W + s B A rounded)
  CHECK(std::memcmp(merged.data(), reread.data(), merged.size() * sizeof(float)) == 0);
}

TEST_CASE("frozen backbone and LoRA configs: errors name the field", "[model]") {
  model::recommender_config c;
  c.arch = "llama";
  c.num_items = 5;
  c.lora_rank = 4;
  c.lora_targets = {"q"};
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("adapters need a frozen backbone"));
  c.freeze_backbone = true;
  c.lora_targets = {"q", "wq"};
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("LoRA target 'wq'"));
  c.lora_targets.clear();
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("with no lora_targets"));
  c.arch = "sasrec";
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("frozen backbone is for llama"));
  nlohmann::json j = {{"arch", "llama"}, {"num_items", 5}, {"freeze_backbone", true}, {"lora_rank", 2},
                      {"lora_targets", "q"}};
  CHECK_THROWS_WITH(model::read_recommender_config(io::json_reader(j, "c.json")), Catch::Contains("lora_targets"));
  j["lora_targets"] = {"q", "up"};
  const auto ok = model::read_recommender_config(io::json_reader(j, "c.json"));
  CHECK(ok.lora_targets == std::vector<std::string>{"q", "up"});
  nlohmann::json back = ok;
  CHECK(back.at("lora_rank") == 2);
  auto base = model::recommender_config{};
  base.num_items = 5;
  CHECK_FALSE(nlohmann::json(base).contains("freeze_backbone"));  // plain checkpoints are written as before
  CHECK_THROWS_WITH(model::with_hf_backbone(base, stories, 6), Catch::Contains("6 layers asked for"));
}

}  // namespace slmrec
