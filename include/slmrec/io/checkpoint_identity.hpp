#pragma once
// What a checkpoint directory holds, by the size and digest of its weights
// file: an index records it to refuse stale weights (index/checkpoint_index.hpp),
// a service reports it so a client knows which model answered (serve/).
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include <slmrec/core/digest.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/io/atomic_file.hpp>

namespace slmrec::io {

inline constexpr const char* checkpoint_weights_file = "model.safetensors";

inline nlohmann::json checkpoint_identity(const std::filesystem::path& dir) {
  const auto weights = dir / checkpoint_weights_file;
  require(std::filesystem::is_regular_file(weights), "{}: no weights file (is {} a checkpoint directory?)",
          weights.string(), dir.string());
  const std::string bytes = read_file(weights);
  return {{"file", checkpoint_weights_file}, {"bytes", bytes.size()}, {"digest", digest_hex(bytes)}};
}

}  // namespace slmrec::io
