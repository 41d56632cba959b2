// A downstream program: composes a two-layer LLaMA stack at compile time, runs
// one forward and backward, and checks the numbers are sane. Built twice by
// ctest, against an installed slmrec (find_package) and a source tree
// (add_subdirectory).
#include <cmath>
#include <cstdio>
#include <vector>

#include <slmrec/slmrec.hpp>

int main() {
  using be = slmrec::backend::eigen_cpu;
  slmrec::nn::llama_block_config cfg;
  cfg.dim = 16;
  cfg.heads = 4;
  cfg.kv_heads = 2;
  cfg.ffn = 32;
  cfg.max_positions = 8;
  slmrec::nn::stack<slmrec::nn::llama_block<be>, slmrec::depth<2>> stack(cfg);
  slmrec::nn::parameter_store<be> params;
  params.attach(stack, true, "model.layers");
  slmrec::rng gen(1);
  params.initialize(gen);

  const slmrec::index batch = 2, length = 8, rows = batch * length;
  std::vector<std::int32_t> positions(rows);
  for (slmrec::index r = 0; r < rows; ++r) positions[std::size_t(r)] = std::int32_t(r % length);
  std::vector<float> x(std::size_t(rows * cfg.dim)), dx(x.size(), 0.0f);
  for (float& v : x) v = float(gen.normal());
  const slmrec::nn::context ctx{batch, length, positions.data(), nullptr, false, 0};
  const float* y = stack.forward(x.data(), ctx);
  double total = 0.0;
  for (slmrec::index i = 0; i < rows * cfg.dim; ++i) total += double(y[i]) * double(y[i]);
  std::vector<float> dy(x.size(), 1.0f);
  stack.backward(dy.data(), dx.data(), ctx);
  double grad = 0.0;
  for (float g : dx) grad += std::abs(double(g));
  std::printf("slmrec consumer: %lld parameters, |y|^2 = %.4f, |dx|_1 = %.4f\n",
              static_cast<long long>(params.count()), total, grad);
  return std::isfinite(total) && total > 0.0 && std::isfinite(grad) && grad > 0.0 ? 0 : 1;
}
