#pragma once
// The subcommands of the slmrec tool, one translation unit each (so the tool
// builds in parallel and a change to one command recompiles only that one).
#include <CLI/CLI.hpp>

namespace slmrec::cli {
void add_llama_check(CLI::App& app);
void add_data_stats(CLI::App& app);
void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_export(CLI::App& app);
void add_distill(CLI::App& app);
void add_recommend(CLI::App& app);
void add_quantize(CLI::App& app);
void add_prune(CLI::App& app);
void add_synth(CLI::App& app);
void add_merge_lora(CLI::App& app);
#if SLMREC_WITH_HNSW
void add_index(CLI::App& app);  // needs hnswlib
#endif
#if SLMREC_WITH_HTTP
void add_serve(CLI::App& app);  // needs cpp-httplib
#endif
}  // namespace slmrec::cli
