#pragma once
// Reads a Hugging Face LLaMA `config.json` into our block configuration.
// Accepts what transformers has written over the years: `rope_theta` at top
// level (<= 4.x) or inside `rope_parameters` (5.x), `rope_scaling` with
// `type` or `rope_type`, an explicit `head_dim` or none.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/io/json.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/nn/llama_block.hpp>

namespace slmrec::model {

struct hf_llama_config {
  nn::llama_block_config block{};
  index layers = 0;
  index vocab_size = 0;
  index max_position_embeddings = 0;
};

// Parses a parsed config.json (`file` names it in messages): every size typed
// and bounded (limits.hpp) before anything is built from it.
// `max_positions_cap` bounds the rotary table we build (a 128k-context model
// needs no 128k table to read a 50-item history).
inline hf_llama_config parse_hf_llama_config(const nlohmann::json& j, const std::filesystem::path& file,
                                             index max_positions_cap = 4096) {
  const io::json_reader r(j, file.string());
  if (r.has("model_type")) {
    const auto type = r.string("model_type");
    require(type == "llama" || type == "mistral", "{}: model_type '{}' is not a LLaMA-style decoder", file.string(),
            printable(type));
  }
  if (r.has("hidden_act")) {
    const auto act = r.string("hidden_act");
    require(act == "silu", "{}: hidden_act '{}' is not supported (LLaMA uses silu)", file.string(), printable(act));
  }
  constexpr std::int64_t int32_max = std::numeric_limits<std::int32_t>::max();
  hf_llama_config cfg;
  auto& b = cfg.block;
  b.dim = index(r.integer("hidden_size", 1, limits::max_dim));
  b.heads = index(r.integer("num_attention_heads", 1, limits::max_heads));
  b.kv_heads = index(r.integer_or("num_key_value_heads", b.heads, 1, limits::max_heads));
  b.head_dim = index(r.integer_or("head_dim", 0, 1, limits::max_head_dim));
  b.ffn = index(r.integer("intermediate_size", 1, limits::max_ffn));
  b.norm_eps = r.positive_real_or("rms_norm_eps", 1e-6, 1.0);
  b.attention_bias = r.boolean_or("attention_bias", false);
  b.mlp_bias = r.boolean_or("mlp_bias", false);
  cfg.layers = index(r.integer("num_hidden_layers", 1, limits::max_layers));
  cfg.vocab_size = index(r.integer_or("vocab_size", 0, 0, int32_max));
  cfg.max_position_embeddings = index(r.integer_or("max_position_embeddings", 2048, 1, int32_max));
  b.max_positions = std::min(cfg.max_position_embeddings, max_positions_cap);

  // RoPE: theta and scaling may sit in rope_parameters, rope_scaling, or top level.
  nlohmann::json rope = nlohmann::json::object();
  if (r.has("rope_scaling") && r.at("rope_scaling").is_object()) rope.update(r.at("rope_scaling"));
  if (r.has("rope_parameters") && r.at("rope_parameters").is_object()) rope.update(r.at("rope_parameters"));
  const io::json_reader rp(rope, file.string(), "rope_parameters");
  constexpr double big = 1e12;
  b.rope.theta = r.positive_real_or("rope_theta", b.rope.theta, big);
  b.rope.theta = rp.positive_real_or("rope_theta", b.rope.theta, big);
  if (rp.has("rope_type")) b.rope.type = rp.string("rope_type");
  else if (rp.has("type")) b.rope.type = rp.string("type");
  b.rope.factor = rp.positive_real_or("factor", 1.0, big);
  b.rope.low_freq_factor = rp.positive_real_or("low_freq_factor", 1.0, big);
  b.rope.high_freq_factor = rp.positive_real_or("high_freq_factor", 4.0, big);
  b.rope.original_max_positions = rp.positive_real_or("original_max_position_embeddings", 8192.0, big);
  require(b.rope.type == "default" || b.rope.type == "linear" || b.rope.type == "llama3",
          "{}: rope type '{}' is not supported (supported: default, linear, llama3)", file.string(),
          printable(b.rope.type));

  try {
    b.attention().validate();
  } catch (const error& e) {
    fail("{}: {}", file.string(), e.what());
  }
  const index head_dim = b.head_dim > 0 ? b.head_dim : b.dim / b.heads;
  require(head_dim % 2 == 0, "{}: head dimension {} must be even for rotary embeddings", file.string(), head_dim);
  return cfg;
}

inline hf_llama_config read_hf_llama_config(const std::filesystem::path& dir, index max_positions_cap = 4096) {
  const auto file = dir / "config.json";
  return parse_hf_llama_config(io::read_json_file(file), file, max_positions_cap);
}

// A lower bound on the parameters of the first `layers` blocks (the
// projections and the MLP), overflow-checked: compared with the bytes the
// weights files hold before the decoder is built.
inline index minimum_parameters(const hf_llama_config& cfg, index layers) {
  const auto& b = cfg.block;
  const char* what = "config.json";
  const index head_dim = b.head_dim > 0 ? b.head_dim : b.dim / b.heads;
  const index q = limits::checked_mul({b.dim, b.heads, head_dim}, what);
  const index kv = limits::checked_mul({b.dim, b.kv_heads, head_dim}, what);
  const index block = limits::checked_add({q, q, kv, kv, limits::checked_mul({3, b.dim, b.ffn}, what)}, what);
  return limits::checked_mul({layers, block}, what);
}

}  // namespace slmrec::model
