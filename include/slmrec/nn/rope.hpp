#pragma once
// Rotary position embedding in the Hugging Face "rotate_half" convention, with
// the rope_type variants Hugging Face LLaMA configs use: "default", "linear"
// (positions divided by a factor) and "llama3" (low frequencies stretched).
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include <slmrec/backend/concept.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/nn/context.hpp>

namespace slmrec::nn {

struct rope_config {
  double theta = 10000.0;
  std::string type = "default";  // "default" | "linear" | "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only
  double original_max_positions = 8192.0;  // llama3 only
};

// inv_freq[i] = theta^(-2i/d), adjusted by the scaling type; computed in double.
inline std::vector<double> rope_inverse_frequencies(index head_dim, const rope_config& cfg) {
  require(head_dim % 2 == 0, "rotary embedding needs an even head dimension, got {}", head_dim);
  std::vector<double> inv(std::size_t(head_dim / 2));
  for (index i = 0; i < head_dim / 2; ++i) inv[std::size_t(i)] = 1.0 / std::pow(cfg.theta, double(2 * i) / double(head_dim));
  if (cfg.type == "default") return inv;
  if (cfg.type == "linear") {
    for (double& f : inv) f /= cfg.factor;
    return inv;
  }
  if (cfg.type == "llama3") {
    const double low_wavelen = cfg.original_max_positions / cfg.low_freq_factor;
    const double high_wavelen = cfg.original_max_positions / cfg.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= cfg.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (cfg.original_max_positions / wavelen - cfg.low_freq_factor) /
                              (cfg.high_freq_factor - cfg.low_freq_factor);
        f = (1.0 - smooth) * f / cfg.factor + smooth * f;
      }
    }
    return inv;
  }
  fail("unsupported rope_type '{}' (supported: default, linear, llama3)", cfg.type);
}

template <backend::backend BE>
class rotary_embedding {
 public:
  using T = typename BE::scalar;

  rotary_embedding() = default;
  rotary_embedding(index head_dim, index max_positions, const rope_config& cfg)
      : head_dim_(head_dim), max_positions_(max_positions) {
    const auto inv = rope_inverse_frequencies(head_dim, cfg);
    const index half = head_dim / 2;
    std::vector<T> c(std::size_t(max_positions * half)), s(c.size());
    for (index p = 0; p < max_positions; ++p)
      for (index i = 0; i < half; ++i) {
        const double angle = double(p) * inv[std::size_t(i)];
        c[std::size_t(p * half + i)] = T(std::cos(angle));
        s[std::size_t(p * half + i)] = T(std::sin(angle));
      }
    cos_.resize(c.size());
    sin_.resize(s.size());
    BE::upload(c.data(), cos_.data(), index(c.size()));
    BE::upload(s.data(), sin_.data(), index(s.size()));
  }

  // x [rows, heads, head_dim], rotated in place by each row's position.
  void forward(T* x, const std::int32_t* positions, index rows, index heads) const {
    BE::rope_forward(x, positions, cos_.data(), sin_.data(), rows, heads, head_dim_);
  }
  void backward(T* dx, const std::int32_t* positions, index rows, index heads) const {
    BE::rope_backward(dx, positions, cos_.data(), sin_.data(), rows, heads, head_dim_);
  }
  [[nodiscard]] index max_positions() const { return max_positions_; }

 private:
  index head_dim_ = 0, max_positions_ = 0;
  typename BE::template buffer<T> cos_, sin_;  // [max_positions, head_dim / 2]
};

}  // namespace slmrec::nn
