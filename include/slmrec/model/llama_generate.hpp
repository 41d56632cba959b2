#pragma once
// Greedy decoding with a Hugging Face LLaMA checkpoint: our decoder between
// its token embedding and its LM head (tied to the embedding unless the file
// has `lm_head.weight`). It exists to check the forward pass against a
// pretrained model's reference generation (shared/fixtures/stories260k): an
// error larger than float rounding changes a token within a few dozen steps,
// which the layer-wise parity on random weights could miss.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/model/hf_llama.hpp>

namespace slmrec::model {

template <backend::backend BE>
struct llama_lm {
  loaded_llama<BE> llama;
  index vocab = 0;
  std::vector<float> embed;  // [vocab, dim]: model.embed_tokens.weight
  std::vector<float> head;   // [vocab, dim]: lm_head.weight, or empty when tied to embed
  [[nodiscard]] const std::vector<float>& head_weights() const { return head.empty() ? embed : head; }
};

template <backend::backend BE>
llama_lm<BE> load_llama_lm(const std::filesystem::path& dir, const std::filesystem::path& weights_file = {}) {
  llama_lm<BE> lm{load_hf_llama<BE>(dir, 0, false, weights_file), 0, {}, {}};
  const index dim = lm.llama.decoder->dim();
  const hf_weights w = hf_weights::open(weights_file.empty() ? dir : weights_file);
  const std::string name = "model.embed_tokens.weight";
  const io::safetensors_file* f = w.find(name);
  require(f != nullptr, "{}: no tensor '{}' (a language model's token embedding)", w.describe(), name);
  const auto& shape = f->at(name).shape;
  require(shape.size() == 2 && shape[1] == dim && shape[0] >= 1, "{}: '{}' has shape [{}], expected [vocab, {}]",
          w.describe(), name, fmt::format("{}", fmt::join(shape, ", ")), dim);
  lm.vocab = index(shape[0]);
  require(lm.llama.config.vocab_size == 0 || lm.llama.config.vocab_size == lm.vocab,
          "{}: config.json says vocab_size {}, '{}' has {} rows", dir.string(), lm.llama.config.vocab_size, name,
          lm.vocab);
  lm.embed = f->to_float_checked(name, {lm.vocab, dim});
  if (const auto* h = w.find("lm_head.weight")) lm.head = h->to_float_checked("lm_head.weight", {lm.vocab, dim});
  return lm;
}

// The ids greedy decoding appends to `prompt` in `steps` steps (argmax of the
// last position's logits each step; ties go to the lower id, as torch.argmax).
// Each step runs the whole prefix again: no key/value cache, which at the
// lengths a parity check uses costs milliseconds and keeps the path the one
// training and the parity test run.
template <backend::backend BE>
std::vector<std::int32_t> greedy_generate(llama_lm<BE>& lm, std::span<const std::int32_t> prompt, index steps) {
  using T = typename BE::scalar;
  const index dim = lm.llama.decoder->dim(), max_pos = lm.llama.config.block.max_positions;
  require(!prompt.empty(), "greedy decoding needs a prompt of at least one token (BOS)");
  require(steps >= 0 && index(prompt.size()) + steps <= max_pos,
          "greedy decoding: {} prompt tokens and {} steps exceed the model's {} positions", prompt.size(), steps,
          max_pos);
  for (const auto id : prompt)
    require(id >= 0 && index(id) < lm.vocab, "prompt token {} outside the vocabulary 0..{}", id, lm.vocab - 1);
  std::vector<std::int32_t> tokens(prompt.begin(), prompt.end()), out;
  std::vector<T> x;
  std::vector<T> last(static_cast<std::size_t>(dim));
  const auto& W = lm.head_weights();
  for (index step = 0; step < steps; ++step) {
    const index t = index(tokens.size());
    x.resize(std::size_t(t * dim));
    for (index i = 0; i < t; ++i)
      for (index c = 0; c < dim; ++c) x[std::size_t(i * dim + c)] = T(lm.embed[std::size_t(tokens[i] * dim + c)]);
    std::vector<std::int32_t> pos(static_cast<std::size_t>(t));
    for (index i = 0; i < t; ++i) pos[std::size_t(i)] = std::int32_t(i);
    typename BE::template buffer<T> x_dev(x.size());
    typename BE::template buffer<std::int32_t> pos_dev(pos.size());
    BE::upload(x.data(), x_dev.data(), index(x.size()));
    BE::upload(pos.data(), pos_dev.data(), t);
    const nn::context ctx{1, t, pos_dev.data(), nullptr, false, 0};
    const T* h = lm.llama.decoder->forward(x_dev.data(), ctx);
    BE::download(h + (t - 1) * dim, last.data(), dim);
    std::int32_t best = 0;
    double best_logit = 0.0;
    for (index v = 0; v < lm.vocab; ++v) {
      double logit = 0.0;
      for (index c = 0; c < dim; ++c) logit += double(W[std::size_t(v * dim + c)]) * double(last[std::size_t(c)]);
      if (v == 0 || logit > best_logit) best = std::int32_t(v), best_logit = logit;
    }
    tokens.push_back(best);
    out.push_back(best);
  }
  return out;
}

}  // namespace slmrec::model
