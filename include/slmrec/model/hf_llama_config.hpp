#pragma once
// Reads a Hugging Face LLaMA `config.json` into our block configuration.
// Accepts what transformers has written over the years: `rope_theta` at top
// level (<= 4.x) or inside `rope_parameters` (5.x), `rope_scaling` with
// `type` or `rope_type`, an explicit `head_dim` or none.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/nn/llama_block.hpp>

namespace slmrec::model {

struct hf_llama_config {
  nn::llama_block_config block{};
  index layers = 0;
  index vocab_size = 0;
  index max_position_embeddings = 0;
};

namespace detail {
inline const nlohmann::json& field(const nlohmann::json& j, const char* key, const std::filesystem::path& file) {
  require(j.contains(key), "{}: missing field '{}'", file.string(), key);
  return j.at(key);
}
template <class Number>
Number positive(const nlohmann::json& j, const char* key, const std::filesystem::path& file) {
  const auto& v = field(j, key, file);
  require(v.is_number(), "{}: field '{}' should be a number, found {}", file.string(), key, v.dump());
  const auto x = v.get<Number>();
  require(x > 0, "{}: field '{}' should be positive, found {}", file.string(), key, v.dump());
  return x;
}
}  // namespace detail

// `max_positions_cap` bounds the rotary table we build (a 128k-context model
// needs no 128k table to read a 50-item history).
inline hf_llama_config parse_hf_llama_config(const nlohmann::json& j, const std::filesystem::path& file,
                                             index max_positions_cap = 4096) {
  using detail::positive;
  require(j.is_object(), "{}: expected a JSON object", file.string());
  if (j.contains("model_type")) {
    const auto type = j.at("model_type").get<std::string>();
    require(type == "llama" || type == "mistral", "{}: model_type '{}' is not a LLaMA-style decoder", file.string(), type);
  }
  if (j.contains("hidden_act")) {
    const auto act = j.at("hidden_act").get<std::string>();
    require(act == "silu", "{}: hidden_act '{}' is not supported (LLaMA uses silu)", file.string(), act);
  }
  hf_llama_config cfg;
  auto& b = cfg.block;
  b.dim = positive<index>(j, "hidden_size", file);
  b.heads = positive<index>(j, "num_attention_heads", file);
  b.kv_heads = j.contains("num_key_value_heads") && !j.at("num_key_value_heads").is_null()
                   ? positive<index>(j, "num_key_value_heads", file)
                   : b.heads;
  b.head_dim = j.contains("head_dim") && !j.at("head_dim").is_null() ? positive<index>(j, "head_dim", file) : 0;
  b.ffn = positive<index>(j, "intermediate_size", file);
  b.norm_eps = j.contains("rms_norm_eps") ? positive<double>(j, "rms_norm_eps", file) : 1e-6;
  b.attention_bias = j.value("attention_bias", false);
  b.mlp_bias = j.value("mlp_bias", false);
  cfg.layers = positive<index>(j, "num_hidden_layers", file);
  cfg.vocab_size = j.contains("vocab_size") ? j.at("vocab_size").get<index>() : 0;
  cfg.max_position_embeddings =
      j.contains("max_position_embeddings") ? positive<index>(j, "max_position_embeddings", file) : 2048;
  b.max_positions = std::min(cfg.max_position_embeddings, max_positions_cap);

  // RoPE: theta and scaling may sit in rope_parameters, rope_scaling, or top level.
  nlohmann::json rope = nlohmann::json::object();
  if (j.contains("rope_scaling") && j.at("rope_scaling").is_object()) rope.update(j.at("rope_scaling"));
  if (j.contains("rope_parameters") && j.at("rope_parameters").is_object()) rope.update(j.at("rope_parameters"));
  if (j.contains("rope_theta")) b.rope.theta = positive<double>(j, "rope_theta", file);
  if (rope.contains("rope_theta")) b.rope.theta = positive<double>(rope, "rope_theta", file);
  if (rope.contains("rope_type")) b.rope.type = rope.at("rope_type").get<std::string>();
  else if (rope.contains("type")) b.rope.type = rope.at("type").get<std::string>();
  b.rope.factor = rope.value("factor", 1.0);
  b.rope.low_freq_factor = rope.value("low_freq_factor", 1.0);
  b.rope.high_freq_factor = rope.value("high_freq_factor", 4.0);
  b.rope.original_max_positions = rope.value("original_max_position_embeddings", 8192.0);
  require(b.rope.type == "default" || b.rope.type == "linear" || b.rope.type == "llama3",
          "{}: rope type '{}' is not supported (supported: default, linear, llama3)", file.string(), b.rope.type);

  b.attention().validate();
  const index head_dim = b.head_dim > 0 ? b.head_dim : b.dim / b.heads;
  require(head_dim % 2 == 0, "{}: head dimension {} must be even for rotary embeddings", file.string(), head_dim);
  return cfg;
}

inline hf_llama_config read_hf_llama_config(const std::filesystem::path& dir, index max_positions_cap = 4096) {
  const auto file = dir / "config.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(io::read_file(file));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", file.string(), e.what());
  }
  try {
    return parse_hf_llama_config(j, file, max_positions_cap);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: unexpected value type: {}", file.string(), e.what());
  }
}

}  // namespace slmrec::model
