// libFuzzer harness: the JSON files of a checkpoint and of a Hugging Face
// model, all through io::parse_json: a checkpoint's config.json ("model"
// section, and the parameter count a loader checks against the weights),
// its state.json, a Hugging Face config.json (and its parameter count) and a
// shard index's weight_map as hf_weights reads it (names checked, no file opened).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <slmrec/io/json.hpp>
#include <slmrec/model/hf_llama_config.hpp>
#include <slmrec/model/recommender_config.hpp>
#include <slmrec/train/checkpoint.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace io = slmrec::io;
  try {
    const auto j = io::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    try {
      const auto c = slmrec::model::read_recommender_config(io::json_reader(j, "config.json").object("model"));
      (void)c.minimum_parameters();
    } catch (const slmrec::error&) {
    }
    try {
      (void)slmrec::train::train_state_from_json(j, "state.json");
    } catch (const slmrec::error&) {
    }
    try {
      const auto hf = slmrec::model::parse_hf_llama_config(j, "config.json");
      (void)slmrec::model::minimum_parameters(hf, hf.layers);
    } catch (const slmrec::error&) {
    }
    try {
      (void)io::describe_json(io::json_reader(j, "model.safetensors.index.json").at("weight_map"));
    } catch (const slmrec::error&) {
    }
  } catch (const slmrec::error&) {
  }
  return 0;
}
