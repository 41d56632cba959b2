#pragma once
// Parity of our LLaMA decoder with Hugging Face transformers, on a reference
// file laid out like shared/fixtures/tiny_llama/reference.safetensors:
//   caseN.inputs_embeds [B,T,C]; optional caseN.attention_mask / position_ids [B,T];
//   caseN.layer{k}.output, caseN.last_hidden_state [B,T,C];
//   optional caseN.loss_weight R, caseN.loss = sum(last_hidden_state * R), and
//   caseN.grad.<tensor> = d loss / d tensor (inputs_embeds or any parameter).
// Every tensor present is compared (by ||ours - ref|| / ||ref||, on unmasked
// positions only); a gradient of a parameter we do not have is an error.
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/model/hf_llama.hpp>

namespace slmrec::model {

struct parity_row {
  std::string case_name;
  std::string tensor;
  double error = 0.0;
  double tolerance = 0.0;
  [[nodiscard]] bool ok() const { return std::isfinite(error) && error <= tolerance; }
};

struct parity_report {
  std::string weights;
  bool full_precision = true;
  std::vector<parity_row> rows;
  [[nodiscard]] bool passed() const {
    for (const auto& r : rows)
      if (!r.ok()) return false;
    return !rows.empty();
  }
};

// Tolerances of the fixture's README: float32 weights 1e-5 forward and 1e-4
// for gradients; bf16/fp16 weights 1e-2 against the float32 reference.
struct parity_tolerances {
  double forward = 1e-5, gradient = 1e-4, low_precision = 1e-2;
};

namespace detail {
// ||a - b|| / ||b|| over the rows whose mask is 1 (all rows without a mask).
inline double masked_relative_error(const std::vector<float>& a, const std::vector<float>& b,
                                    const std::vector<std::int32_t>& row_mask, index row_size) {
  double diff = 0.0, ref = 0.0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (!row_mask.empty() && row_mask[i / std::size_t(row_size)] == 0) continue;
    diff += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
    ref += double(b[i]) * double(b[i]);
  }
  return ref > 0.0 ? std::sqrt(diff / ref) : std::sqrt(diff);
}
}  // namespace detail

template <backend::backend BE>
parity_report check_llama_parity(const std::filesystem::path& model_dir, const std::filesystem::path& reference_file,
                                 const std::filesystem::path& weights_file = {}, parity_tolerances tol = {}) {
  using T = typename BE::scalar;
  loaded_llama<BE> m = load_hf_llama<BE>(model_dir, 0, true, weights_file);
  const auto ref = io::safetensors_file::open(reference_file);
  const index dim = m.decoder->dim();
  parity_report report;
  report.weights = weights_file.empty() ? model_dir.string() : weights_file.string();
  report.full_precision = m.full_precision;
  const double fwd_tol = m.full_precision ? tol.forward : tol.low_precision;
  const double grad_tol = m.full_precision ? tol.gradient : tol.low_precision;

  std::set<std::string> cases;
  for (const auto& t : ref.tensors())
    if (t.name.ends_with(".inputs_embeds") && t.name.find(".grad.") == std::string::npos)
      cases.insert(t.name.substr(0, t.name.size() - std::string(".inputs_embeds").size()));
  require(!cases.empty(), "{}: no '<case>.inputs_embeds' tensor found", reference_file.string());

  auto to_backend = [](const std::vector<float>& host) {
    typename BE::template buffer<T> buf(host.size());
    const std::vector<T> converted(host.begin(), host.end());
    BE::upload(converted.data(), buf.data(), index(converted.size()));
    return buf;
  };
  auto to_host = [](const T* dev, index n) {
    std::vector<T> tmp(static_cast<std::size_t>(n));
    BE::download(dev, tmp.data(), n);
    return std::vector<float>(tmp.begin(), tmp.end());
  };

  for (const std::string& c : cases) {
    const auto& info = ref.at(c + ".inputs_embeds");
    require(info.shape.size() == 3 && info.shape[2] == dim, "{}: '{}.inputs_embeds' has shape {}, expected [B, T, {}]",
            reference_file.string(), c, fmt::format("{}", fmt::join(info.shape, ", ")), dim);
    const index batch = info.shape[0], length = info.shape[1], rows = batch * length;
    const std::vector<std::int64_t> bt{batch, length}, btc{batch, length, dim};

    std::vector<std::int32_t> mask, positions(static_cast<std::size_t>(rows));
    if (ref.contains(c + ".attention_mask")) {
      require(ref.at(c + ".attention_mask").shape == bt, "{}: '{}.attention_mask' should be [{}, {}]",
              reference_file.string(), c, batch, length);
      mask = ref.to_int32(c + ".attention_mask");
    }
    if (ref.contains(c + ".position_ids")) {
      require(ref.at(c + ".position_ids").shape == bt, "{}: '{}.position_ids' should be [{}, {}]",
              reference_file.string(), c, batch, length);
      positions = ref.to_int32(c + ".position_ids");
    } else {
      for (index r = 0; r < rows; ++r) positions[std::size_t(r)] = std::int32_t(r % length);
    }
    for (auto p : positions)
      require(p >= 0 && p < m.config.block.max_positions, "{}: position id {} outside [0, {})",
              reference_file.string(), p, m.config.block.max_positions);

    auto x = to_backend(ref.to_float_checked(c + ".inputs_embeds", btc));
    typename BE::template buffer<std::int32_t> pos_dev(positions.size()), mask_dev(mask.size());
    BE::upload(positions.data(), pos_dev.data(), index(positions.size()));
    if (!mask.empty()) BE::upload(mask.data(), mask_dev.data(), index(mask.size()));
    const nn::context ctx{batch, length, pos_dev.data(), mask.empty() ? nullptr : mask_dev.data(), false, 0};

    m.params.zero_grads();
    const T* h = m.decoder->forward(x.data(), ctx);
    auto compare = [&](const std::string& tensor, const std::vector<float>& ours, double tolerance) {
      const auto theirs = ref.to_float_checked(tensor, std::vector<std::int64_t>(ref.at(tensor).shape));
      require(theirs.size() == ours.size(), "{}: '{}' has {} values, ours {}", reference_file.string(), tensor,
              theirs.size(), ours.size());
      const bool rowwise = ref.at(tensor).shape == btc;
      report.rows.push_back({c, tensor.substr(c.size() + 1),
                             detail::masked_relative_error(ours, theirs, rowwise ? mask : std::vector<std::int32_t>{},
                                                           dim),
                             tolerance});
    };
    for (index k = 0; k < m.decoder->depth(); ++k) {
      const std::string name = fmt::format("{}.layer{}.output", c, k);
      if (ref.contains(name)) compare(name, to_host(m.decoder->layers.output(k), rows * dim), fwd_tol);
    }
    const auto hidden = to_host(h, rows * dim);
    if (ref.contains(c + ".last_hidden_state")) compare(c + ".last_hidden_state", hidden, fwd_tol);

    if (!ref.contains(c + ".loss_weight")) continue;
    const auto weight = ref.to_float_checked(c + ".loss_weight", btc);
    if (ref.contains(c + ".loss")) {
      double loss = 0.0;
      for (std::size_t i = 0; i < hidden.size(); ++i) loss += double(hidden[i]) * double(weight[i]);
      compare(c + ".loss", {float(loss)}, fwd_tol);
    }
    auto dy = to_backend(weight);
    typename BE::template buffer<T> dx(std::size_t(rows * dim), T(0));
    m.decoder->backward(dy.data(), dx.data(), ctx);
    const std::string grad_prefix = c + ".grad.";
    for (const auto& t : ref.tensors()) {
      if (!t.name.starts_with(grad_prefix)) continue;
      const std::string target = t.name.substr(grad_prefix.size());
      if (target == "inputs_embeds") {
        compare(t.name, to_host(dx.data(), rows * dim), grad_tol);
        continue;
      }
      const auto* e = m.params.find(target);
      require(e != nullptr, "{}: '{}' is the gradient of '{}', which this decoder does not have",
              reference_file.string(), t.name, target);
      compare(t.name, to_host(m.params.grad(*e), e->size), grad_tol);
    }
  }
  return report;
}

}  // namespace slmrec::model
