// `slmrec llama-check --model DIR --reference FILE [--weights FILE]`:
// loads any Hugging Face LLaMA checkpoint and compares our decoder with the
// transformers outputs and gradients in FILE; exits 1 if any is off.
// `slmrec llama-check --model DIR --generate N [--tokenizer tok512.bin]`:
// greedy decoding of N tokens from BOS with our forward pass and the model's
// LM head; prints the ids on one line and, with a llama2.c tokenizer, the text.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <string>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/io/llama2c_tokenizer.hpp>
#include <slmrec/model/llama_generate.hpp>
#include <slmrec/model/llama_parity.hpp>

namespace slmrec::cli {

void add_llama_check(CLI::App& app) {
  struct options {
    std::string model, reference, weights, tokenizer;
    index generate = 0;
  };
  auto opt = std::make_shared<options>();
  auto* cmd = app.add_subcommand("llama-check", "Check our LLaMA decoder against Hugging Face reference outputs");
  cmd->add_option("--model", opt->model, "Hugging Face checkpoint directory (config.json + safetensors)")->required();
  auto* reference =
      cmd->add_option("--reference", opt->reference, "reference.safetensors with caseN.* inputs, outputs and gradients");
  auto* generate = cmd->add_option("--generate", opt->generate,
                                   "instead: greedy-decode N tokens from BOS; prints the ids, then the text");
  reference->excludes(generate);
  cmd->add_option("--tokenizer", opt->tokenizer, "--generate: a llama2.c tokenizer (tok512.bin) to decode the ids")
      ->needs(generate);
  cmd->add_option("--weights", opt->weights,
                  "a weights file to use instead of the directory's model.safetensors (e.g. a bf16 copy); "
                  "a bare file name is looked up in --model");
  cmd->callback([opt] {
    std::filesystem::path weights = opt->weights;
    if (!weights.empty() && !std::filesystem::exists(weights) && std::filesystem::exists(opt->model / weights))
      weights = std::filesystem::path(opt->model) / weights;
    require(!opt->reference.empty() || opt->generate > 0, "llama-check: give --reference FILE or --generate N (N >= 1)");
    if (opt->generate > 0) {
      auto lm = model::load_llama_lm<backend::eigen_cpu>(opt->model, weights);
      const std::int32_t bos = io::llama2c_tokenizer::bos_id;
      const auto ids = model::greedy_generate(lm, std::span<const std::int32_t>(&bos, 1), opt->generate);
      fmt::print("{}\n", fmt::join(ids, " "));
      if (!opt->tokenizer.empty()) fmt::print("{}\n", io::llama2c_tokenizer::read(opt->tokenizer, lm.vocab).decode(ids));
      return;
    }
    const auto report = model::check_llama_parity<backend::eigen_cpu>(opt->model, opt->reference, weights);
    fmt::print("llama-check: {} against {} ({} weights)\n", report.weights, opt->reference,
               report.full_precision ? "float32" : "16-bit");
    fmt::print("{:<8} {:<52} {:>12} {:>10}  {}\n", "case", "tensor", "rel. error", "limit", "");
    int failures = 0;
    for (const auto& r : report.rows) {
      fmt::print("{:<8} {:<52} {:>12.3e} {:>10.0e}  {}\n", r.case_name, r.tensor, r.error, r.tolerance,
                 r.ok() ? "ok" : "FAIL");
      failures += r.ok() ? 0 : 1;
    }
    fmt::print("{} compared, {} failed\n", report.rows.size(), failures);
    if (!report.passed()) throw CLI::RuntimeError(1);
  });
}

}  // namespace slmrec::cli
