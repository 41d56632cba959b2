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
#include <cmath>
#include <cstdint>
#include <iterator>
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

// The answer's body: items [users, k] (internal ids, written as the client's)
// and their scores. Written directly rather than through a JSON tree: it is
// the one body every request makes, and the tree's allocations and
// double-precision formatting showed in the service's profile. A score is
// written as the shortest decimal that reads back as the same float; one that
// is not finite as null (as the JSON library writes it).
inline std::string format_recommend_response(const recommend_request& r, std::span<const std::int32_t> top,
                                             std::span<const float> scores, const item_codec& items) {
  std::string out;
  out.reserve(std::size_t(32 + r.users() * r.k * 24));
  const auto rows = [&](auto&& write_one) {
    for (index u = 0; u < r.users(); ++u) {
      if (r.batch) out += u == 0 ? "[" : ",[";
      for (index i = 0; i < r.k; ++i) {
        if (i > 0) out += ',';
        write_one(std::size_t(u * r.k + i));
      }
      if (r.batch) out += ']';
    }
  };
  out += R"({"items":[)";
  rows([&](std::size_t at) { items.append_external(out, top[at]); });
  out += R"(],"scores":[)";  // closes the items' list (of lists), opens the scores'
  rows([&](std::size_t at) {
    if (std::isfinite(scores[at]))
      fmt::format_to(std::back_inserter(out), "{}", scores[at]);
    else
      out += "null";
  });
  out += "]}";
  return out;
}

}  // namespace slmrec::serve
