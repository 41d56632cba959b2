// slmrec — the command-line tool. Each subcommand lives in its own file
// (cmd_*.cpp) exposing `add_<name>(CLI::App&)`; main only wires them up and
// turns any failure (a slmrec::error, std::bad_alloc, any other exception)
// into a clean message and exit code 1: never an abort on hostile input.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <slmrec/core/error.hpp>
#include <slmrec/io/safetensors.hpp>

#include <exception>
#include <new>

#include "commands.hpp"


int main(int argc, char** argv) {
  CLI::App app{"slmrec: sequential recommendation with small language models"};
  app.require_subcommand(1);
  // Options of the tool itself, accepted after the subcommand too (fallthrough,
  // set before the subcommands are added so they inherit it).
  app.fallthrough();
  app.add_flag_callback(
         "--no-verify", [] { slmrec::io::verify_checksums = false; },
         "load checkpoints without checking their per-tensor checksums (a damaged file loads as it is)")
      ->trigger_on_parse();
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
  slmrec::cli::add_merge_lora(app);
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
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "slmrec: error: out of memory (a size in the input is larger than this machine can hold)\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "slmrec: error: {}\n", slmrec::printable(e.what(), 400));
    return 1;
  } catch (...) {
    fmt::print(stderr, "slmrec: error: an unknown exception\n");
    return 1;
  }
  return 0;
}
