#pragma once
// Item ids at a service's boundary: clients speak the ids of the dataset the
// model was trained on, never our dense internal ones. A checkpoint that
// keeps an id map (data/id_map.hpp, saved as id_map.json beside the weights)
// names its items, and those names are the ids; without one (or with a map
// that kept the file's own integer ids) item k is the integer k.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include <slmrec/core/types.hpp>
#include <slmrec/data/id_map.hpp>

namespace slmrec::serve {

class item_codec {
 public:
  // num_items: the model's; names: the checkpoint's id map, if it keeps one.
  explicit item_codec(index num_items, const data::id_map* names = nullptr) : num_items_(num_items) {
    if (names && !names->item_names.empty()) {
      const auto& item_names = names->item_names;
      lookup_.reserve(item_names.size());
      encoded_.reserve(item_names.size());
      for (std::size_t i = 0; i < item_names.size(); ++i) {
        lookup_.emplace(item_names[i], std::int32_t(i + 1));
        encoded_.push_back(nlohmann::json(item_names[i]).dump());
      }
    }
  }

  // The internal id of a client's id (a JSON integer, or a string: a name,
  // or the decimal form of an integer id); nothing when it names no item.
  [[nodiscard]] std::optional<std::int32_t> internal(const nlohmann::json& id) const {
    if (named()) {
      const auto it = lookup_.find(id.is_string() ? id.get<std::string>() : id.is_number_integer() ? id.dump() : "");
      if (it == lookup_.end()) return std::nullopt;
      return it->second;
    }
    std::int64_t v = 0;
    if (id.is_number_integer()) {
      v = id.get<std::int64_t>();
    } else if (id.is_string()) {
      const auto& s = id.get_ref<const std::string&>();
      if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
      v = std::stoll(s);
    } else {
      return std::nullopt;
    }
    if (v < 1 || v > num_items_) return std::nullopt;
    return std::int32_t(v);
  }

  // A client's id of an internal one, appended to a JSON text: its name
  // (JSON-encoded once at load time: every answer writes k of them), or the
  // integer's digits.
  void append_external(std::string& out, std::int32_t id) const {
    if (named()) {
      out += encoded_[std::size_t(id - 1)];
    } else {
      char digits[12];
      const auto end = std::to_chars(digits, digits + sizeof digits, id).ptr;
      out.append(digits, end);
    }
  }

  [[nodiscard]] bool named() const { return !encoded_.empty(); }
  [[nodiscard]] index num_items() const { return num_items_; }

 private:
  index num_items_;
  std::vector<std::string> encoded_;  // each item's name as a JSON string, by internal id - 1
  std::unordered_map<std::string, std::int32_t> lookup_;
};

}  // namespace slmrec::serve
