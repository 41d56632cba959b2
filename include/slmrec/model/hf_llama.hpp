#pragma once
// Loading a Hugging Face LLaMA checkpoint directory (config.json plus
// model.safetensors, a sharded model.safetensors.index.json, or a named
// weights file) into a llama_decoder, fp32 / bf16 / fp16 alike — optionally
// only its first N layers, which is how SLMRec initialises a student.
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/io/json.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/model/hf_llama_config.hpp>
#include <slmrec/model/llama_decoder.hpp>
#include <slmrec/nn/parameters.hpp>

namespace slmrec::model {

// The weight files of a checkpoint directory: one file, or the shards an
// index names. Looks tensors up by name across shards.
class hf_weights {
 public:
  static hf_weights open(const std::filesystem::path& dir_or_file) {
    hf_weights w;
    namespace fs = std::filesystem;
    if (fs::is_regular_file(dir_or_file)) {
      w.files_.push_back(io::safetensors_file::open(dir_or_file));
    } else if (fs::exists(dir_or_file / "model.safetensors")) {
      w.files_.push_back(io::safetensors_file::open(dir_or_file / "model.safetensors"));
    } else if (fs::exists(dir_or_file / "model.safetensors.index.json")) {
      const auto index_file = dir_or_file / "model.safetensors.index.json";
      const nlohmann::json j = io::read_json_file(index_file);
      const io::json_reader r(j, index_file.string());
      const nlohmann::json& map = r.at("weight_map");
      require(map.is_object(), "{}: expected an object of tensor name to file name, found {}", r.where("weight_map"),
              io::describe_json(map));
      std::set<std::string> shards;
      for (const auto& [name, shard] : map.items()) {
        require(shard.is_string(), "{}: tensor '{}' maps to {}, expected a file name", r.where("weight_map"),
                printable(name), io::describe_json(shard));
        shards.insert(shard.get<std::string>());
      }
      for (const auto& shard : shards) {
        require_plain_file_name(shard, index_file);
        w.files_.push_back(io::safetensors_file::open(dir_or_file / shard));
      }
    } else {
      fail("{}: no model.safetensors or model.safetensors.index.json here", dir_or_file.string());
    }
    return w;
  }

  // The bytes of tensor data across the files.
  [[nodiscard]] std::uint64_t data_bytes() const {
    std::uint64_t n = 0;
    for (const auto& f : files_)
      for (const auto& t : f.tensors()) n += t.byte_size();
    return n;
  }

  [[nodiscard]] const io::safetensors_file* find(const std::string& name) const {
    for (const auto& f : files_)
      if (f.contains(name)) return &f;
    return nullptr;
  }
  // True when every floating tensor is stored in 32 bits or more.
  [[nodiscard]] bool full_precision() const {
    for (const auto& f : files_)
      for (const auto& t : f.tensors())
        if (t.type == io::dtype::bf16 || t.type == io::dtype::f16) return false;
    return true;
  }
  [[nodiscard]] std::string describe() const {
    std::string s;
    for (const auto& f : files_) s += (s.empty() ? "" : ", ") + f.path().string();
    return s;
  }

 private:
  // A shard stays inside the model directory: a plain file name, never a
  // path ("../../etc/passwd", "/dev/zero", "sub/x") that would leave it.
  static void require_plain_file_name(const std::string& shard, const std::filesystem::path& index_file) {
    const bool plain = !shard.empty() && shard != "." && shard != ".." &&
                       shard.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos;
    require(plain, "{}: shard '{}' is not a plain file name in the model directory (no paths, no '..')",
            index_file.string(), printable(shard));
  }

  std::vector<io::safetensors_file> files_;
};

// Copies every parameter the store lists from the checkpoint, by name, with
// shapes checked. Tensors the model does not have (embed_tokens, lm_head,
// layers beyond the ones kept) are ignored; a missing one is an error.
template <backend::backend BE>
void load_parameters(nn::parameter_store<BE>& store, const hf_weights& weights) {
  using T = typename BE::scalar;
  for (const auto& e : store.entries()) {
    const io::safetensors_file* f = weights.find(e.spec.name);
    require(f != nullptr, "checkpoint {} has no tensor '{}'", weights.describe(), e.spec.name);
    const std::vector<std::int64_t> shape(e.spec.shape.begin(), e.spec.shape.end());
    const std::vector<float> values = f->to_float_checked(e.spec.name, shape);
    if constexpr (std::is_same_v<T, float>) {
      BE::upload(values.data(), store.value(e), e.size);
    } else {
      const std::vector<T> converted(values.begin(), values.end());
      BE::upload(converted.data(), store.value(e), e.size);
    }
  }
}

// A decoder with its parameters, loaded from a Hugging Face directory.
template <backend::backend BE>
struct loaded_llama {
  hf_llama_config config;
  std::unique_ptr<llama_decoder<BE>> decoder;
  nn::parameter_store<BE> params;
  bool full_precision = true;
};

// `layers` = 0 keeps every layer; N keeps the first N (the SLMRec student).
template <backend::backend BE>
loaded_llama<BE> load_hf_llama(const std::filesystem::path& dir, index layers = 0, bool with_grads = false,
                               const std::filesystem::path& weights_file = {}) {
  loaded_llama<BE> m;
  m.config = read_hf_llama_config(dir);
  require(layers >= 0 && layers <= m.config.layers, "{}: asked for {} layers, the checkpoint has {}", dir.string(),
          layers, m.config.layers);
  const index depth = layers == 0 ? m.config.layers : layers;
  const hf_weights weights = hf_weights::open(weights_file.empty() ? dir : weights_file);
  // Before building anything: the config's sizes must fit the weights present
  // (2 bytes a parameter at the least, bf16 and fp16).
  const index needed = minimum_parameters(m.config, depth);
  require(double(needed) * 2.0 <= double(weights.data_bytes()),
          "{}: config.json describes {} layers of width {} (at least {} parameters, {:.0f} bytes), but {} hold {} "
          "bytes of tensors",
          dir.string(), depth, m.config.block.dim, needed, double(needed) * 2.0, weights.describe(),
          weights.data_bytes());
  m.decoder = std::make_unique<llama_decoder<BE>>(m.config.block, depth);
  m.params.attach(*m.decoder, with_grads);
  load_parameters(m.params, weights);
  m.full_precision = weights.full_precision();
  return m;
}

}  // namespace slmrec::model
