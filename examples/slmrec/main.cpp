// slmrec — the command-line tool. Each subcommand lives in its own file
// (cmd_*.cpp) exposing `add_<name>(CLI::App&)`; main only wires them up and
// turns any failure (a slmrec::error, std::bad_alloc, any other exception)
// into a clean message and exit code 1: never an abort on hostile input.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <slmrec/core/error.hpp>
#include <slmrec/io/safetensors.hpp>

#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "commands.hpp"
#if SLMREC_WITH_MPI
#include <slmrec/dist/mpi.hpp>
#endif

namespace {
// A failure's message and exit code; with MPI peers, the rank is named and the
// whole job ends (MPI_Abort), since the others may wait in a collective.
int failed(const std::string& message) {
#if SLMREC_WITH_MPI
  if (const slmrec::dist::mpi world; world.size() > 1) world.abort(message);
#endif
  fmt::print(stderr, "slmrec: error: {}\n", message);
  return 1;
}
}  // namespace


int main(int argc, char** argv) {
#if SLMREC_WITH_MPI
  slmrec::dist::mpi_session mpi(argc, argv);
  // Only rank 0 reports: the others' standard output is discarded (errors still reach stderr).
  if (slmrec::dist::mpi().rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) return 1;
#endif
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
    return failed(e.what());
  } catch (const std::bad_alloc&) {
    return failed("out of memory (a size in the input is larger than this machine can hold)");
  } catch (const std::exception& e) {
    return failed(slmrec::printable(e.what(), 400));
  } catch (...) {
    return failed("an unknown exception");
  }
  return 0;
}
