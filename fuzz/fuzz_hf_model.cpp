// libFuzzer harness: a Hugging Face LLaMA directory as model::load_hf_llama
// reads it (`slmrec llama-check`, `--init hf:DIR`): config.json, then either
// one model.safetensors or a model.safetensors.index.json whose weight_map
// names the shards (the names must stay plain file names inside the
// directory). The input is the files one after another, each after a
// separator line "\n--slmrec-fuzz-file--\n": config.json, the index, shard 1,
// shard 2; the first byte's low bit says single file (the third section is
// then model.safetensors) or sharded. fuzz/seed_corpora.sh writes the seeds.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/model/hf_llama.hpp>

namespace {

const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("slmrec_fuzz_hf_model_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  namespace fs = std::filesystem;
  const bool sharded = (data[0] & 1) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::string_view separator = "\n--slmrec-fuzz-file--\n";
  const char* sharded_names[] = {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                 "model-00002-of-00002.safetensors"};
  const char* single_names[] = {"config.json", "unused", "model.safetensors", "unused"};
  const fs::path& dir = scratch_dir();
  for (const char* name : sharded_names) fs::remove(dir / name);
  fs::remove(dir / "model.safetensors");
  for (int i = 0; i < 4; ++i) {
    const auto cut = rest.find(separator);
    const std::string_view bytes = rest.substr(0, cut);
    std::ofstream(dir / (sharded ? sharded_names : single_names)[i], std::ios::binary | std::ios::trunc)
        .write(bytes.data(), std::streamsize(bytes.size()));
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + separator.size());
  }
  fs::remove(dir / "unused");
  try {
    const auto m = slmrec::model::load_hf_llama<slmrec::backend::eigen_cpu>(dir);
    (void)m.params.total_size();
  } catch (const slmrec::error&) {
  }
  return 0;
}
