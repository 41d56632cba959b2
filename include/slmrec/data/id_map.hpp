#pragma once
// The mapping between our dense ids and the ids of the input file, saved
// next to a model so that recommendations can be printed with original ids.
// Stored as a small JSON file:
//   {"slmrec_id_map": 1, "source": "...", "num_users": U, "num_items": I,
//    "users": ["A39HTATAQ9V7YF", ...] | null, "items": [...] | null}
// where null means the file's own ids were kept (id k is "k").
#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <slmrec/core/error.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/detail/text.hpp>
#include <slmrec/io/json.hpp>
#include <string>
#include <vector>

namespace slmrec::data {

struct id_map {
  std::string source;
  index num_users = 0;
  std::int32_t num_items = 0;
  std::vector<std::string> user_names;  // empty: ids were kept
  std::vector<std::string> item_names;  // empty: ids were kept

  // The original id of user index u (0-based) and of item id i (1-based).
  [[nodiscard]] std::string user(index u) const {
    require(u >= 0 && u < num_users, "id map {}: user index {} out of range [0, {})", source, u, num_users);
    return user_names.empty() ? std::to_string(u + 1) : user_names[static_cast<std::size_t>(u)];
  }
  [[nodiscard]] std::string item(std::int32_t i) const {
    require(i >= 1 && i <= num_items, "id map {}: item id {} out of range [1, {}]", source, i, num_items);
    return item_names.empty() ? std::to_string(i) : item_names[static_cast<std::size_t>(i - 1)];
  }
};

// Its name in a checkpoint directory, where the trainer writes it when the
// reader renumbered the file's ids (and serving reads it).
inline constexpr const char* id_map_file_name = "id_map.json";

// Whether the reader renumbered the file's ids (so a model's ids need the map).
[[nodiscard]] inline bool renumbered(const dataset& d) { return !d.user_names.empty() || !d.item_names.empty(); }

[[nodiscard]] inline id_map make_id_map(const dataset& d) {
  return {d.source, d.num_users(), d.num_items, d.user_names, d.item_names};
}

// Writes to a temporary file in the same folder, then renames it over the
// target: a crash mid-write never leaves a truncated map behind.
// The file's text (what save_id_map writes).
[[nodiscard]] inline std::string id_map_json(const dataset& d) {
  validate(d);
  nlohmann::json j;
  j["slmrec_id_map"] = 1;
  j["source"] = d.source;
  j["num_users"] = d.num_users();
  j["num_items"] = d.num_items;
  j["users"] = d.user_names.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.user_names);
  j["items"] = d.item_names.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.item_names);
  return j.dump(1) + "\n";
}

inline void save_id_map(const dataset& d, const std::filesystem::path& path) {
  const std::string text = id_map_json(d);

  std::filesystem::path temp = path;
  temp += ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    require(static_cast<bool>(out), "{}: cannot open for writing the id map", temp.string());
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    require(static_cast<bool>(out), "{}: write failed (disk full?)", temp.string());
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    fail("{}: cannot move the id map into place: {}", path.string(), ec.message());
  }
}

[[nodiscard]] inline id_map load_id_map(const std::filesystem::path& path) {
  const std::string file = path.string();
  // Depth-limited, every JSON library exception turned into a slmrec::error.
  const nlohmann::json j = io::parse_json(detail::read_file(path), file + " (an slmrec id map)");
  require(j.is_object() && j.contains("slmrec_id_map"), "{}: expected an slmrec id map, found other JSON", file);
  require(j["slmrec_id_map"] == 1, "{}: expected id map version 1, found {}", file,
          io::describe_json(j["slmrec_id_map"]));
  const auto names = [&](const char* key, std::size_t expected) {
    std::vector<std::string> out;
    const auto& v = j.value(key, nlohmann::json(nullptr));
    if (v.is_null()) return out;
    require(v.is_array() && v.size() == expected, "{}: expected '{}' to be null or a list of {} names, found {}", file,
            key, expected, v.is_array() ? fmt::format("a list of {}", v.size()) : std::string(v.type_name()));
    out.reserve(expected);
    for (const auto& name : v) {
      if (!name.is_string()) fail("{}: expected string names in '{}', found {}", file, key, io::describe_json(name));
      out.push_back(name.get<std::string>());
    }
    return out;
  };
  id_map m;
  require(j.contains("num_users") && j["num_users"].is_number_integer() && j["num_users"].get<index>() >= 0,
          "{}: expected a non-negative integer 'num_users'", file);
  require(j.contains("num_items") && j["num_items"].is_number_integer() && j["num_items"].get<std::int64_t>() >= 0 &&
              j["num_items"].get<std::int64_t>() <= std::numeric_limits<std::int32_t>::max(),
          "{}: expected a non-negative 32-bit integer 'num_items'", file);
  require(!j.contains("source") || j["source"].is_string(), "{}: expected a string 'source', found {}", file,
          io::describe_json(j.value("source", nlohmann::json())));
  m.source = j.value("source", std::string{});
  m.num_users = j["num_users"].get<index>();
  m.num_items = j["num_items"].get<std::int32_t>();
  m.user_names = names("users", static_cast<std::size_t>(m.num_users));
  m.item_names = names("items", static_cast<std::size_t>(m.num_items));
  return m;
}

}  // namespace slmrec::data
