// slmrec — the command-line tool. Each subcommand lives in its own file
// (cmd_*.cpp) exposing `add_<name>(CLI::App&)`; main only wires them up and
// turns a slmrec::error into a clean message and exit code 1.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <slmrec/core/error.hpp>

#include "commands.hpp"


int main(int argc, char** argv) {
  CLI::App app{"slmrec: sequential recommendation with small language models"};
  app.require_subcommand(1);
  slmrec::cli::add_llama_check(app);
  slmrec::cli::add_data_stats(app);
  slmrec::cli::add_train(app);
  slmrec::cli::add_eval(app);
  slmrec::cli::add_export(app);
  slmrec::cli::add_distill(app);
  slmrec::cli::add_recommend(app);
  slmrec::cli::add_quantize(app);
  slmrec::cli::add_prune(app);
  slmrec::cli::add_synth(app);
#if SLMREC_WITH_HNSW
  slmrec::cli::add_index(app);
#endif
#if SLMREC_WITH_HTTP
  slmrec::cli::add_serve(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const slmrec::error& e) {
    fmt::print(stderr, "slmrec: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
