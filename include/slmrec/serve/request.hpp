#pragma once
// The body of POST /v1/recommend, parsed and validated before it reaches a
// model, and the answer's body. One user:
//   {"history": [ids, oldest first], "k": 10, "exclude_history": true}
//   -> {"items": [ids], "scores": [floats]}
// A batch of users:
//   {"histories": [[ids], ...], "k": 10, "exclude_history": true}
//   -> {"items": [[ids], ...], "scores": [[floats], ...]}
// k and exclude_history are optional (10, true). Anything else is refused
// with the status to answer and a message naming what was wrong: malformed
// JSON, a field of the wrong type or unknown, an empty history, an id the
// model does not know (by its position), k out of range (400); more users or
// a longer history than the limits allow (413).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/serve/item_codec.hpp>

namespace slmrec::serve {

// A request refused: the HTTP status to answer and why.
class request_error : public error {
 public:
  request_error(int status, std::string what) : error(std::move(what)), status_(status) {}
  [[nodiscard]] int status() const { return status_; }

 private:
  int status_;
};

struct request_limits {
  index max_k = 1000;          // items per answer
  index max_users = 256;       // users per request
  index max_history = 10'000;  // items per history (the model reads its last max_len)
};

struct recommend_request {
  std::vector<std::vector<std::int32_t>> histories;  // internal ids, oldest first
  index k = 10;
  bool exclude_history = true;
  bool batch = false;  // the "histories" form: the answer is a list per user

  [[nodiscard]] index users() const { return index(histories.size()); }
};

namespace detail {

template <class... Args>
[[noreturn]] void refuse(int status, fmt::format_string<Args...> format, Args&&... args) {
  throw request_error(status, fmt::format(format, std::forward<Args>(args)...));
}

inline std::vector<std::int32_t> parse_history(const nlohmann::json& h, const std::string& where,
                                               const request_limits& limits, const item_codec& items) {
  if (!h.is_array()) refuse(400, "'{}' must be a list of item ids, found {}", where, h.type_name());
  if (h.empty()) refuse(400, "'{}' is empty (at least one item id is needed)", where);
  if (index(h.size()) > limits.max_history)
    refuse(413, "'{}' holds {} items, more than the limit of {}", where, h.size(), limits.max_history);
  std::vector<std::int32_t> ids;
  ids.reserve(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    const auto id = items.internal(h[i]);
    if (!id) {
      if (!h[i].is_number_integer() && !h[i].is_string())
        refuse(400, "{}[{}] must be an item id (an integer or a string), found {}", where, i, h[i].type_name());
      if (items.named()) refuse(400, "{}[{}]: unknown item id {} (not in this model's id map)", where, i, h[i].dump());
      refuse(400, "{}[{}]: unknown item id {} (this model knows 1..{})", where, i, h[i].dump(), items.num_items());
    }
    ids.push_back(*id);
  }
  return ids;
}

}  // namespace detail

inline recommend_request parse_recommend_request(std::string_view body, const request_limits& limits,
                                                 const item_codec& items) {
  using detail::refuse;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    refuse(400, "malformed JSON: {}", e.what());
  }
  if (!j.is_object()) refuse(400, "the body must be a JSON object, found {}", j.type_name());
  for (const auto& [key, value] : j.items())
    if (key != "history" && key != "histories" && key != "k" && key != "exclude_history")
      refuse(400, "unknown field '{}' (expected history or histories, k, exclude_history)", key);
  const bool one = j.contains("history"), many = j.contains("histories");
  if (one == many) refuse(400, "give exactly one of 'history' (one user) and 'histories' (a list of users)");

  recommend_request r;
  r.batch = many;
  if (one) {
    r.histories.push_back(detail::parse_history(j["history"], "history", limits, items));
  } else {
    const auto& hs = j["histories"];
    if (!hs.is_array()) refuse(400, "'histories' must be a list of histories, found {}", hs.type_name());
    if (hs.empty()) refuse(400, "'histories' is empty (at least one user is needed)");
    if (index(hs.size()) > limits.max_users)
      refuse(413, "'histories' holds {} users, more than the limit of {} per request", hs.size(), limits.max_users);
    for (std::size_t u = 0; u < hs.size(); ++u)
      r.histories.push_back(detail::parse_history(hs[u], fmt::format("histories[{}]", u), limits, items));
  }
  if (j.contains("k")) {
    const auto& k = j["k"];
    if (!k.is_number_integer()) refuse(400, "'k' must be an integer, found {}", k.dump());
    const auto max_k = std::min<index>(limits.max_k, items.num_items());
    if (k.get<std::int64_t>() < 1 || k.get<std::int64_t>() > max_k)
      refuse(400, "'k' = {} is outside 1..{}", k.dump(), max_k);
    r.k = k.get<index>();
  }
  r.k = std::min<index>(r.k, items.num_items());
  if (j.contains("exclude_history")) {
    const auto& e = j["exclude_history"];
    if (!e.is_boolean()) refuse(400, "'exclude_history' must be true or false, found {}", e.dump());
    r.exclude_history = e.get<bool>();
  }
  return r;
}

// The answer's body: items [users, k] (internal ids) and their scores.
inline std::string format_recommend_response(const recommend_request& r, std::span<const std::int32_t> top,
                                             std::span<const float> scores, const item_codec& items) {
  const auto row = [&](index u) {
    nlohmann::json ids = nlohmann::json::array(), s = nlohmann::json::array();
    for (index i = 0; i < r.k; ++i) {
      ids.push_back(items.external(top[std::size_t(u * r.k + i)]));
      s.push_back(scores[std::size_t(u * r.k + i)]);
    }
    return std::pair{ids, s};
  };
  nlohmann::json out;
  if (!r.batch) {
    auto [ids, s] = row(0);
    out = {{"items", std::move(ids)}, {"scores", std::move(s)}};
  } else {
    nlohmann::json all_ids = nlohmann::json::array(), all_s = nlohmann::json::array();
    for (index u = 0; u < r.users(); ++u) {
      auto [ids, s] = row(u);
      all_ids.push_back(std::move(ids));
      all_s.push_back(std::move(s));
    }
    out = {{"items", std::move(all_ids)}, {"scores", std::move(all_s)}};
  }
  return out.dump();
}

}  // namespace slmrec::serve
