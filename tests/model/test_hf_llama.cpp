// Parity with Hugging Face transformers on shared/fixtures/tiny_llama, and
// the config reader on the variants real checkpoints use.
#include <catch2/catch.hpp>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/llama_parity.hpp>

#include "support/temp_dir.hpp"

#include <unistd.h>

namespace slmrec {

namespace {
const std::filesystem::path fixture = std::filesystem::path(SLMREC_SHARED_DIR) / "fixtures" / "tiny_llama";

const model::parity_row& row(const model::parity_report& r, const std::string& c, const std::string& tensor) {
  for (const auto& x : r.rows)
    if (x.case_name == c && x.tensor == tensor) return x;
  FAIL("no parity row " << c << "." << tensor);
  throw;
}
}  // namespace

TEST_CASE("tiny_llama fp32: every layer, the final state, the loss and all gradients match transformers",
          "[model][parity]") {
  REQUIRE(std::filesystem::exists(fixture / "reference.safetensors"));
  const auto report = model::check_llama_parity<backend::eigen_cpu>(fixture, fixture / "reference.safetensors");
  REQUIRE(report.full_precision);
  for (const auto& r : report.rows) {
    INFO(r.case_name << "." << r.tensor << ": " << r.error << " (limit " << r.tolerance << ")");
    CHECK(r.ok());
  }
  for (int k = 0; k < 4; ++k) CHECK(row(report, "case1", "layer" + std::to_string(k) + ".output").error < 1e-5);
  CHECK(row(report, "case1", "last_hidden_state").error < 1e-5);
  CHECK(row(report, "case2", "last_hidden_state").error < 1e-5);  // left padding, unmasked positions
  CHECK(row(report, "case1", "grad.inputs_embeds").error < 1e-4);
  CHECK(row(report, "case1", "grad.model.layers.0.self_attn.k_proj.weight").error < 1e-4);
  CHECK(row(report, "case1", "grad.model.norm.weight").error < 1e-4);
  std::size_t grads = 0;
  for (const auto& r : report.rows) grads += r.tensor.starts_with("grad.") ? 1 : 0;
  CHECK(grads == 10);  // inputs + nine weights
}

TEST_CASE("tiny_llama bf16 checkpoint: within 1e-2 of the fp32 reference", "[model][parity]") {
  const auto report = model::check_llama_parity<backend::eigen_cpu>(fixture, fixture / "reference.safetensors",
                                                                    fixture / "model.bf16.safetensors");
  REQUIRE_FALSE(report.full_precision);
  for (const auto& r : report.rows) {
    INFO(r.case_name << "." << r.tensor << ": " << r.error);
    CHECK(r.error < 1e-2);
  }
  CHECK(row(report, "case1", "last_hidden_state").error > 1e-5);  // bf16 really was used
}

TEST_CASE("parity check fails, and names the tensor, when a reference output is off", "[model][parity]") {
  const auto ref = io::safetensors_file::open(fixture / "reference.safetensors");
  io::safetensors_writer w;
  for (const auto& t : ref.tensors()) {
    if (t.name == "case1.layer2.output") {
      auto v = ref.to_float(t.name);
      for (float& x : v) x *= 1.0f + 1e-4f;  // a 1e-4 relative error: ten times the limit
      w.add_f32(t.name, t.shape, v);
    } else {
      w.add(t.name, t.type, t.shape, ref.bytes(t.name));
    }
  }
  const test::temp_dir tmp;
  const auto& dir = tmp.path();
  w.write(dir / "reference.safetensors");
  const auto report = model::check_llama_parity<backend::eigen_cpu>(fixture, dir / "reference.safetensors");
  CHECK_FALSE(report.passed());
  CHECK_FALSE(row(report, "case1", "layer2.output").ok());
  CHECK(row(report, "case1", "layer2.output").error == Approx(1e-4).epsilon(0.05));
  CHECK(row(report, "case1", "layer1.output").ok());
}

TEST_CASE("loading only the first N layers (the SLMRec student initialisation)", "[model]") {
  auto full = model::load_hf_llama<backend::eigen_cpu>(fixture);
  auto first2 = model::load_hf_llama<backend::eigen_cpu>(fixture, 2);
  CHECK(full.decoder->depth() == 4);
  CHECK(first2.decoder->depth() == 2);
  const auto& a = full.params.at("model.layers.1.mlp.up_proj.weight");
  const auto& b = first2.params.at("model.layers.1.mlp.up_proj.weight");
  CHECK(std::equal(full.params.value(a), full.params.value(a) + a.size, first2.params.value(b)));
  CHECK(first2.params.find("model.layers.2.mlp.up_proj.weight") == nullptr);
  REQUIRE_THROWS_WITH(model::load_hf_llama<backend::eigen_cpu>(fixture, 5), Catch::Contains("asked for 5 layers"));
}

TEST_CASE("config.json variants and errors", "[model]") {
  const std::filesystem::path f = "config.json";
  auto base = nlohmann::json::parse(R"({"model_type":"llama","hidden_size":64,"num_attention_heads":4,
    "num_hidden_layers":2,"intermediate_size":100,"rms_norm_eps":1e-5,"max_position_embeddings":131072})");
  SECTION("defaults: kv heads = heads, theta 10000, table capped") {
    const auto cfg = model::parse_hf_llama_config(base, f);
    CHECK(cfg.block.kv_heads == 4);
    CHECK(cfg.block.rope.theta == 10000.0);
    CHECK(cfg.block.max_positions == 4096);
  }
  SECTION("transformers 4.x top-level rope_theta and llama3 rope_scaling") {
    base["rope_theta"] = 500000.0;
    base["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"original_max_position_embeddings", 8192}};
    const auto cfg = model::parse_hf_llama_config(base, f);
    CHECK(cfg.block.rope.theta == 500000.0);
    CHECK(cfg.block.rope.type == "llama3");
    CHECK(cfg.block.rope.factor == 8.0);
  }
  SECTION("transformers 5.x rope_parameters") {
    base["rope_parameters"] = {{"rope_theta", 1234.5}, {"rope_type", "default"}};
    CHECK(model::parse_hf_llama_config(base, f).block.rope.theta == 1234.5);
  }
  SECTION("errors name the field") {
    base.erase("hidden_size");
    REQUIRE_THROWS_WITH(model::parse_hf_llama_config(base, f), Catch::Contains("missing field 'hidden_size'"));
  }
  SECTION("heads that do not group") {
    base["num_key_value_heads"] = 3;
    REQUIRE_THROWS_WITH(model::parse_hf_llama_config(base, f), Catch::Contains("cannot be grouped"));
  }
}

}  // namespace slmrec
