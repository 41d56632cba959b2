#pragma once
// An index kept in a checkpoint directory, beside the weights it was built from:
//
//   index.hnsw  the graph (hnswlib's format)
//   index.json  what it is: the checkpoint's identity (size and digest of
//               model.safetensors), the scored vectors (num_items, dim, which
//               tensor), space, M, ef_construction, seed, and the size and
//               digest of index.hnsw
//
// Loading checks in this order, so each failure says what to do: an index
// exists; it was built from these weights (a retrained or re-quantized
// checkpoint makes it stale); index.hnsw has the recorded size and digest
// (damaged); its structure is that of the recorded shape (hnsw_format.hpp).
// Only then does hnswlib read it. Each file is written atomically, the graph
// first, so a crash leaves the old pair or a mismatch that is refused.
#include <filesystem>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <slmrec/core/digest.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/index/hnsw_index.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/io/checkpoint_identity.hpp>
#include <slmrec/io/json.hpp>

namespace slmrec::ann {

inline constexpr const char* index_file_name = "index.hnsw";
inline constexpr const char* index_meta_name = "index.json";
inline constexpr const char* weights_file_name = io::checkpoint_weights_file;

// What an index was built from: the checkpoint's weights file, by size and digest.
using io::checkpoint_identity;

// Writes idx into dir. `identity` is checkpoint_identity(dir) taken before the
// weights were read (so an index never claims weights it was not built from);
// `vectors` names the tensor whose rows were indexed.
inline void save_checkpoint_index(const std::filesystem::path& dir, const hnsw_index& idx,
                                  const nlohmann::json& identity, const std::string& vectors, std::uint64_t seed) {
  const std::string bytes = idx.serialize();
  const nlohmann::json meta{{"format", "slmrec-hnsw-index"},
                            {"version", 1},
                            {"checkpoint", identity},
                            {"vectors", vectors},
                            {"num_items", idx.num_items()},
                            {"dim", idx.dim()},
                            {"space", space_name(idx.space())},
                            {"max_norm", idx.max_norm()},
                            {"m", idx.m()},
                            {"ef_construction", idx.ef_construction()},
                            {"seed", seed},
                            {"index", {{"file", index_file_name}, {"bytes", bytes.size()}, {"digest", digest_hex(bytes)}}}};
  io::write_file_atomically(dir / index_file_name, bytes);
  io::write_file_atomically(dir / index_meta_name, meta.dump(2) + "\n");
}

inline std::string rebuild_hint(const std::filesystem::path& dir) {
  return fmt::format("rebuild it with `slmrec index --checkpoint {}`", dir.string());
}

// The index of dir's current weights, or an error saying why not and how to fix it.
inline hnsw_index load_checkpoint_index(const std::filesystem::path& dir) {
  const auto meta_path = dir / index_meta_name, graph_path = dir / index_file_name;
  require(std::filesystem::exists(meta_path), "{} has no index ({} not found): build it with `slmrec index --checkpoint {}`",
          dir.string(), meta_path.string(), dir.string());
  nlohmann::json meta;
  try {
    meta = io::read_json_file(meta_path);  // depth- and size-limited
  } catch (const error& e) {
    fail("{}; {}", e.what(), rebuild_hint(dir));
  }
  const auto field = [&]<class T>(const char* name, T) {
    const auto bad = [&] {
      fail("{}: no valid field '{}' (expected the metadata `slmrec index` writes); {}", meta_path.string(), name + 1,
           rebuild_hint(dir));
    };
    const nlohmann::json::json_pointer pointer(name);
    if (!meta.contains(pointer)) bad();
    const nlohmann::json& v = meta.at(pointer);
    // A float where an integer belongs (1e300) would convert with undefined behaviour.
    if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) bad();
    }
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception&) {
      bad();
    }
    return T{};
  };
  require(field("/format", std::string()) == "slmrec-hnsw-index" && field("/version", 0) == 1,
          "{}: format '{}' version {} (expected slmrec-hnsw-index version 1); {}", meta_path.string(),
          field("/format", std::string()), field("/version", 0), rebuild_hint(dir));
  const auto built_for = field("/checkpoint", nlohmann::json());
  const auto now = checkpoint_identity(dir);
  require(built_for == now,
          "index in {} was built for a different checkpoint ({} recorded as {} bytes, digest {}; it is now {} bytes, "
          "digest {}); {}",
          dir.string(), weights_file_name,
          io::describe_json(built_for.is_object() ? built_for.value("bytes", nlohmann::json()) : built_for),
          io::describe_json(built_for.is_object() ? built_for.value("digest", nlohmann::json()) : built_for),
          now["bytes"].dump(), now["digest"].dump(), rebuild_hint(dir));
  require(std::filesystem::exists(graph_path), "{}: not found, but {} describes it; {}", graph_path.string(),
          meta_path.string(), rebuild_hint(dir));
  const std::string bytes = io::read_file(graph_path);
  const auto want_bytes = field("/index/bytes", std::size_t(0));
  const auto want_digest = field("/index/digest", std::string());
  require(bytes.size() == want_bytes, "{}: {} bytes, expected {} (recorded in {}): the index is damaged; {}",
          graph_path.string(), bytes.size(), want_bytes, meta_path.string(), rebuild_hint(dir));
  const std::string digest = digest_hex(bytes);
  require(digest == want_digest, "{}: digest {}, expected {} (recorded in {}): the index is damaged; {}",
          graph_path.string(), digest, want_digest, meta_path.string(), rebuild_hint(dir));
  return hnsw_index::deserialize(bytes, graph_path.string(), parse_space(field("/space", std::string())),
                                 field("/num_items", index(0)), field("/dim", index(0)), field("/m", index(0)),
                                 field("/ef_construction", index(0)), field("/max_norm", 0.0f));
}

}  // namespace slmrec::ann
