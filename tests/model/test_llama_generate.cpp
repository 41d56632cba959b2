// A pretrained LLaMA (shared/fixtures/stories260k, TinyStories) through our
// forward pass: greedy decoding must reproduce the reference ids exactly, and
// the llama2.c tokenizer must decode them into the reference text.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/io/llama2c_tokenizer.hpp>
#include <slmrec/model/llama_generate.hpp>

namespace slmrec {

namespace {
const std::filesystem::path stories = std::filesystem::path(SLMREC_SHARED_DIR) / "fixtures" / "stories260k";

std::vector<std::int32_t> read_ids(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::int32_t> ids;
  for (std::int32_t id = 0; in >> id;) ids.push_back(id);
  return ids;
}

// A tokenizer file of the given pieces (llama2.c layout).
std::string tokenizer_bytes(std::int32_t max_len, const std::vector<std::string>& pieces) {
  std::string s(reinterpret_cast<const char*>(&max_len), 4);
  for (const auto& p : pieces) {
    const float score = 0.0f;
    const auto len = std::int32_t(p.size());
    s.append(reinterpret_cast<const char*>(&score), 4).append(reinterpret_cast<const char*>(&len), 4).append(p);
  }
  return s;
}
}  // namespace

TEST_CASE("stories260k: greedy decoding from BOS reproduces the reference ids", "[model][parity]") {
  const auto reference = read_ids(stories / "greedy_ids_200.txt");
  REQUIRE(reference.size() == 200);
  auto lm = model::load_llama_lm<backend::eigen_cpu>(stories);
  CHECK(lm.vocab == 512);
  CHECK(lm.head.empty());  // tied: the head is the embedding
  CHECK(lm.llama.config.block.kv_heads == 4);
  CHECK(lm.llama.config.block.norm_eps == Approx(1e-5));
  const std::int32_t bos = 1;
  const auto ids = model::greedy_generate(lm, std::span<const std::int32_t>(&bos, 1), 200);
  REQUIRE(ids.size() == reference.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO("first differing token at position " << i + 1 << " (0 = BOS): ours " << ids[i] << ", reference "
                                              << reference[i]);
    REQUIRE(ids[i] == reference[i]);
  }
}

TEST_CASE("stories260k: the llama2.c tokenizer decodes the reference ids into the reference text", "[model]") {
  const auto tok = io::llama2c_tokenizer::read(stories / "tok512.bin", 512);
  const auto text = tok.decode(read_ids(stories / "greedy_ids_200.txt"));
  std::ifstream in(stories / "greedy_text_200.txt");
  std::stringstream ref;
  ref << in.rdbuf();
  CHECK(text.starts_with("Once upon a time, there was a little girl named Lily."));
  // llama2.c's run printed one step fewer or more: the texts agree up to the shorter one, less its last piece.
  const std::string expected = ref.str();
  const std::size_t common = std::min(text.size(), expected.size()) - 8;
  CHECK(text.substr(0, common) == expected.substr(0, common));
  CHECK(tok.decode_piece(1, 13) == "\n");  // the raw byte <0x0A>
}

TEST_CASE("llama2c tokenizer: hostile files end in errors naming the field", "[model][hostile]") {
  const auto ok = tokenizer_bytes(4, {"<unk>", "a", " b"});
  CHECK_THROWS_WITH(io::llama2c_tokenizer::parse(ok.data(), ok.size(), 3, "t.bin"),
                    Catch::Contains("token 0 has length 5, expected 0..4"));
  const auto good = tokenizer_bytes(8, {"<unk>", "a", " b"});
  const auto t = io::llama2c_tokenizer::parse(good.data(), good.size(), 3, "t.bin");
  CHECK(t.decode({2, 1, 2}, 1) == "bab");  // after BOS (id 1) a leading space is dropped
  CHECK(t.decode({2}, 0) == " b");
  CHECK_THROWS_WITH(io::llama2c_tokenizer::parse(good.data(), good.size() - 1, 3, "t.bin"),
                    Catch::Contains("truncated") && Catch::Contains("token 2's 2 bytes"));
  CHECK_THROWS_WITH(io::llama2c_tokenizer::parse(good.data(), good.size(), 2, "t.bin"),
                    Catch::Contains("bytes after the 2 tokens"));
  CHECK_THROWS_WITH(io::llama2c_tokenizer::parse(good.data(), good.size(), 4, "t.bin"),
                    Catch::Contains("token 3's score"));
  auto huge = good;
  const std::int32_t big = 1 << 30;
  std::memcpy(huge.data(), &big, 4);
  CHECK_THROWS_WITH(io::llama2c_tokenizer::parse(huge.data(), huge.size(), 3, "t.bin"),
                    Catch::Contains("max_token_length 1073741824 outside"));
  auto negative = good;
  const std::int32_t minus = -7;
  std::memcpy(negative.data() + 4 + 4, &minus, 4);  // token 0's length
  CHECK_THROWS_WITH(io::llama2c_tokenizer::parse(negative.data(), negative.size(), 3, "t.bin"),
                    Catch::Contains("token 0 has length -7"));
  CHECK_THROWS_WITH(io::llama2c_tokenizer::parse(good.data(), 2, 3, "t.bin"), Catch::Contains("max_token_length"));
  CHECK_THROWS_WITH(t.piece(3), Catch::Contains("outside the vocabulary"));
}

}  // namespace slmrec
