// libFuzzer harness: a whole checkpoint directory as `slmrec eval`,
// `recommend` and `serve` open it (model::open_any_checkpoint: float and
// every quantized scheme), then one user scored. The input is the
// directory's files one after another, each after a separator line
// "\n--slmrec-fuzz-file--\n": config.json, model.safetensors, state.json
// (fuzz/seed_corpora.sh packs real checkpoints that way). The first byte's
// low bit turns checksum verification off, so that mutated tensor bytes
// reach the loaders behind it instead of stopping at the digest.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>

namespace {

const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("slmrec_fuzz_checkpoint_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

void write(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  namespace fs = std::filesystem;
  slmrec::io::verify_checksums = (data[0] & 1) == 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::string_view separator = "\n--slmrec-fuzz-file--\n";
  const char* names[] = {"config.json", "model.safetensors", "state.json"};
  const fs::path& dir = scratch_dir();
  for (const char* name : names) fs::remove(dir / name);
  for (const char* name : names) {
    const auto cut = rest.find(separator);
    write(dir / name, rest.substr(0, cut));
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + separator.size());
  }
  try {
    slmrec::model::with_any_checkpoint<slmrec::backend::eigen_cpu>(dir, [](auto& m) {
      const std::vector<std::int32_t> history = {1, 1};
      std::vector<float> scores(std::size_t(m.config().num_items + 1));
      m.score_last(history, 1, 2, scores);
    });
  } catch (const slmrec::error&) {
  }
  return 0;
}
