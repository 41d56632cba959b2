// POST /v1/recommend bodies (serve/request.hpp, serve/item_codec.hpp): every
// kind of malformed request refused with its status and a message naming
// what was wrong; good ones parsed; ids through an id map both ways.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/serve/request.hpp>

namespace slmrec {
namespace {

using Catch::Contains;
using serve::item_codec;
using serve::parse_recommend_request;
using serve::request_error;
using serve::request_limits;

// The status and message a body is refused with.
std::pair<int, std::string> refusal(const std::string& body, const item_codec& items,
                                    const request_limits& limits = {.max_k = 50, .max_users = 4, .max_history = 8}) {
  try {
    parse_recommend_request(body, limits, items);
  } catch (const request_error& e) {
    return {e.status(), e.what()};
  }
  return {200, ""};
}

TEST_CASE("request: good bodies, one user and a batch, with defaults", "[serve]") {
  const item_codec items(100);
  const auto one = parse_recommend_request(R"({"history": [3, 7, 100]})", {}, items);
  CHECK_FALSE(one.batch);
  CHECK(one.histories == std::vector<std::vector<std::int32_t>>{{3, 7, 100}});
  CHECK(one.k == 10);
  CHECK(one.exclude_history);
  const auto many =
      parse_recommend_request(R"({"histories": [[1], ["2", 3]], "k": 5, "exclude_history": false})", {}, items);
  CHECK(many.batch);
  CHECK(many.histories == std::vector<std::vector<std::int32_t>>{{1}, {2, 3}});
  CHECK(many.k == 5);
  CHECK_FALSE(many.exclude_history);
}

TEST_CASE("request: each kind of malformed body is refused with 400 or 413, naming the problem", "[serve]") {
  const item_codec items(100);
  struct bad_case {
    std::string body;
    int status;
    std::string says;
  };
  const std::vector<bad_case> cases = {
      {R"({"history": [1, 2)", 400, "malformed JSON"},
      {"", 400, "malformed JSON"},
      {R"([1, 2, 3])", 400, "must be a JSON object, found array"},
      {R"({"k": 3})", 400, "exactly one of 'history'"},
      {R"({"history": [1], "histories": [[1]]})", 400, "exactly one of 'history'"},
      {R"({"history": [1], "exclude": true})", 400, "unknown field 'exclude'"},
      {R"({"history": 5})", 400, "'history' must be a list of item ids, found number"},
      {R"({"history": []})", 400, "'history' is empty"},
      {R"({"history": [1, 101]})", 400, "history[1]: unknown item id 101 (this model knows 1..100)"},
      {R"({"history": [0]})", 400, "history[0]: unknown item id 0"},
      {R"({"history": [-4]})", 400, "history[0]: unknown item id -4"},
      {R"({"history": ["x7"]})", 400, "history[0]: unknown item id \"x7\""},
      {R"({"history": [1.5]})", 400, "history[0] must be an item id (an integer or a string), found number"},
      {R"({"history": [null]})", 400, "history[0] must be an item id (an integer or a string), found null"},
      {R"({"histories": [[1], [2, 300]]})", 400, "histories[1][1]: unknown item id 300"},
      {R"({"histories": [[1], []]})", 400, "'histories[1]' is empty"},
      {R"({"histories": []})", 400, "'histories' is empty"},
      {R"({"histories": {"a": 1}})", 400, "'histories' must be a list of histories, found object"},
      {R"({"history": [1], "k": 0})", 400, "'k' = 0 is outside 1..50"},
      {R"({"history": [1], "k": 51})", 400, "'k' = 51 is outside 1..50"},
      {R"({"history": [1], "k": "10"})", 400, "'k' must be an integer, found \"10\""},
      {R"({"history": [1], "k": 2.5})", 400, "'k' must be an integer, found 2.5"},
      {R"({"history": [1], "exclude_history": "yes"})", 400, "'exclude_history' must be true or false"},
      {R"({"histories": [[1], [2], [3], [4], [5]]})", 413, "holds 5 users, more than the limit of 4"},
      {R"({"history": [1, 2, 3, 4, 5, 6, 7, 8, 9]})", 413, "holds 9 items, more than the limit of 8"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    const auto [status, message] = refusal(c.body, items);
    CHECK(status == c.status);
    CHECK_THAT(message, Contains(c.says));
  }
}

TEST_CASE("request: k is capped by the catalog as well as by the limit", "[serve]") {
  const item_codec items(6);
  CHECK_THAT(refusal(R"({"history": [1], "k": 7})", items).second, Contains("'k' = 7 is outside 1..6"));
  CHECK(parse_recommend_request(R"({"history": [1]})", {}, items).k == 6);  // the default 10, capped
}

TEST_CASE("request: an id map's names are the ids, in requests and in answers", "[serve]") {
  data::id_map names;
  names.num_items = 3;
  names.item_names = {"B001", "B002", "7"};
  const item_codec items(3, &names);
  const auto r = parse_recommend_request(R"({"history": ["B002", 7], "k": 2})", {}, items);
  CHECK(r.histories == std::vector<std::vector<std::int32_t>>{{2, 3}});  // 7 is the name of item 3
  CHECK_THAT(refusal(R"({"history": ["B009"]})", items).second,
             Contains("history[0]: unknown item id \"B009\" (not in this model's id map)"));
  CHECK_THAT(refusal(R"({"history": [1]})", items).second, Contains("unknown item id 1"));  // internal ids are not ids
  const std::vector<std::int32_t> top = {1, 3};
  const std::vector<float> scores = {2.5f, -1.0f};
  const auto answer = nlohmann::json::parse(serve::format_recommend_response(r, top, scores, items));
  CHECK(answer["items"] == nlohmann::json::array({"B001", "7"}));
  CHECK(answer["scores"] == nlohmann::json::array({2.5, -1.0}));
}

TEST_CASE("request: a batch's answer is a list per user", "[serve]") {
  const item_codec items(10);
  const auto r = parse_recommend_request(R"({"histories": [[1], [2]], "k": 2})", {}, items);
  const std::vector<std::int32_t> top = {4, 5, 6, 7};
  const std::vector<float> scores = {0.5f, 0.25f, 1.0f, 0.75f};
  const auto answer = nlohmann::json::parse(serve::format_recommend_response(r, top, scores, items));
  CHECK(answer["items"] == nlohmann::json::parse("[[4, 5], [6, 7]]"));
  CHECK(answer["scores"] == nlohmann::json::parse("[[0.5, 0.25], [1.0, 0.75]]"));
}

TEST_CASE("request: an answer's scores read back as the same floats, names are escaped", "[serve]") {
  data::id_map names;
  names.item_names = {"a\"b", "back\\slash", "tab\tand \u00e9"};
  const item_codec items(3, &names);
  const auto r = parse_recommend_request(R"({"history": ["a\"b"], "k": 3})", {}, items);
  const std::vector<std::int32_t> top = {3, 2, 1};
  const std::vector<float> scores = {0.1f, -3.4028235e38f, std::numeric_limits<float>::quiet_NaN()};
  const auto answer = nlohmann::json::parse(serve::format_recommend_response(r, top, scores, items));
  CHECK(answer["items"] == nlohmann::json::array({"tab\tand \u00e9", "back\\slash", "a\"b"}));
  CHECK(answer["scores"][0].get<float>() == 0.1f);  // the shortest form of the float, not of its double
  CHECK(answer["scores"][1].get<float>() == -3.4028235e38f);
  CHECK(answer["scores"][2].is_null());  // not finite: null, as the JSON library writes it
}

}  // namespace
}  // namespace slmrec
