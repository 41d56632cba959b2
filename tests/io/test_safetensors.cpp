// safetensors reading and writing: round trips of every dtype, the layout the
// reference writer produces, every malformed-file error, the atomic write,
// and the tiny_llama fixture written by Hugging Face transformers.
#include "slmrec/io/safetensors.hpp"

#include "slmrec/core/half.hpp"
#include "slmrec/io/atomic_file.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

#include <unistd.h>

namespace fs = std::filesystem;
using Catch::Contains;
using slmrec::io::dtype;
using slmrec::io::safetensors_file;
using slmrec::io::safetensors_writer;

namespace {

using slmrec::test::temp_dir;

// A safetensors file by hand: the 8-byte little-endian length, the header, the data.
std::string raw_file(const std::string& header, const std::string& data, std::uint64_t length) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xffu);
  return out + header + data;
}
std::string raw_file(const std::string& header, const std::string& data) {
  return raw_file(header, data, header.size());
}

std::string zeros(std::size_t n) { return std::string(n, '\0'); }

std::uint64_t header_length(const std::string& file) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(file[static_cast<std::size_t>(i)]);
  return n;
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace

TEST_CASE("dtype names, sizes and parsing", "[io][safetensors]") {
  using slmrec::io::dtype_name;
  using slmrec::io::dtype_size;
  CHECK(dtype_name(dtype::f32) == "F32");
  CHECK(dtype_name(dtype::bf16) == "BF16");
  CHECK(dtype_name(dtype::u8) == "U8");
  CHECK(dtype_size(dtype::f64) == 8);
  CHECK(dtype_size(dtype::f16) == 2);
  CHECK(dtype_size(dtype::i8) == 1);
  for (dtype t : slmrec::io::all_dtypes) CHECK(slmrec::io::parse_dtype(dtype_name(t)) == t);
  CHECK_FALSE(slmrec::io::dtype_from_name("f32").has_value());  // case matters, as in the format
  REQUIRE_THROWS_WITH(slmrec::io::parse_dtype("Q7"), Contains("unsupported dtype 'Q7'") && Contains("BF16"));
}

TEST_CASE("every dtype round-trips through a file", "[io][safetensors]") {
  temp_dir dir;
  const std::vector<float> f32 = {1.0f, -2.5f, 3.14159274f, 1e-30f, -0.0f, 65504.0f};
  const std::vector<float> exact_half = {1.0f, -2.5f, 0.375f, 1024.0f, -0.0f, 0.0009765625f};
  const std::vector<float> rounded = {0.1f, -1.0f / 3.0f, 123.456f, 1e-6f};
  const std::vector<std::int32_t> i32 = {0, -1, 2147483647, -2147483647 - 1, 42};
  const std::vector<std::int64_t> i64 = {0, -1, std::numeric_limits<std::int64_t>::max(),
                                         std::numeric_limits<std::int64_t>::min(), 1234567890123LL, 7};
  const std::string i8 = {'\x80', '\xff', '\x00', '\x7f'};   // -128, -1, 0, 127
  const std::string u8 = {'\x80', '\xff', '\x00', '\x07'};   // 128, 255, 0, 7

  safetensors_writer w;
  w.add_f32("a.f32", {2, 3}, f32);
  w.add_f32_as("b.f64", {6}, f32, dtype::f64);
  w.add_f32_as("c.f16", {3, 2}, exact_half, dtype::f16);
  w.add_f32_as("d.bf16", {1, 6}, exact_half, dtype::bf16);
  w.add_f32_as("e.f16.rounded", {4}, rounded, dtype::f16);
  w.add_f32_as("f.bf16.rounded", {2, 2}, rounded, dtype::bf16);
  w.add_i32("g.i32", {5}, i32);
  w.add_i64("h.i64", {3, 2}, i64);
  w.add("i.i8", dtype::i8, {2, 2}, as_bytes(i8));
  w.add("j.u8", dtype::u8, {4}, as_bytes(u8));
  w.add_f32("k.scalar", {}, std::vector<float>{7.5f});
  w.add_f32("l.empty", {0, 3}, std::vector<float>{});
  w.set_metadata("format", "pt");
  w.set_metadata("slmrec.note", "überprüft \"quoted\"");
  w.set_metadata("format", "slmrec");  // later values replace earlier ones

  const fs::path file = dir / "all.safetensors";
  w.write(file);
  CHECK(dir.file_count() == 1);  // no temporary left behind
  const safetensors_file r = safetensors_file::open(file);

  SECTION("names, shapes and dtypes") {
    std::vector<std::string> names;
    for (const auto& t : r.tensors()) names.push_back(t.name);
    CHECK(names == std::vector<std::string>{"a.f32", "b.f64", "c.f16", "d.bf16", "e.f16.rounded", "f.bf16.rounded",
                                            "g.i32", "h.i64", "i.i8", "j.u8", "k.scalar", "l.empty"});
    CHECK(r.at("a.f32").shape == std::vector<std::int64_t>{2, 3});
    CHECK(r.at("a.f32").type == dtype::f32);
    CHECK(r.at("b.f64").type == dtype::f64);
    CHECK(r.at("c.f16").type == dtype::f16);
    CHECK(r.at("c.f16").shape == std::vector<std::int64_t>{3, 2});
    CHECK(r.at("d.bf16").type == dtype::bf16);
    CHECK(r.at("h.i64").shape == std::vector<std::int64_t>{3, 2});
    CHECK(r.at("i.i8").type == dtype::i8);
    CHECK(r.at("k.scalar").shape.empty());
    CHECK(r.at("k.scalar").numel() == 1);
    CHECK(r.at("l.empty").numel() == 0);
    CHECK(r.bytes("l.empty").empty());
    CHECK(r.bytes("c.f16").size() == 12);
    CHECK(r.contains("g.i32"));
    CHECK_FALSE(r.contains("g"));
    CHECK(r.path() == file);
  }

  SECTION("values") {
    CHECK(r.to_float("a.f32") == f32);
    CHECK(r.to_float("b.f64") == f32);  // float -> double -> float is exact
    CHECK(r.to_float("c.f16") == exact_half);
    CHECK(r.to_float("d.bf16") == exact_half);
    CHECK(std::signbit(r.to_float("c.f16")[4]));  // -0 survives
    const std::vector<float> f16_back = r.to_float("e.f16.rounded");
    const std::vector<float> bf16_back = r.to_float("f.bf16.rounded");
    for (std::size_t i = 0; i < rounded.size(); ++i) {
      CHECK(f16_back[i] == slmrec::fp16_to_float(slmrec::float_to_fp16(rounded[i])));
      CHECK(bf16_back[i] == slmrec::bf16_to_float(slmrec::float_to_bf16(rounded[i])));
      CHECK(f16_back[i] != rounded[i]);  // really stored in 16 bits
    }
    CHECK(r.to_int32("g.i32") == i32);
    CHECK(r.to_int64("g.i32") == std::vector<std::int64_t>(i32.begin(), i32.end()));
    CHECK(r.to_int64("h.i64") == i64);
    CHECK(r.to_int64("i.i8") == std::vector<std::int64_t>{-128, -1, 0, 127});
    CHECK(r.to_int32("j.u8") == std::vector<std::int32_t>{128, 255, 0, 7});
    CHECK(r.to_float("k.scalar") == std::vector<float>{7.5f});
    CHECK(r.to_float("l.empty").empty());
    CHECK(r.metadata() == std::map<std::string, std::string>{{"format", "slmrec"},
                                                              {"slmrec.note", "überprüft \"quoted\""}});
  }

  SECTION("conversions refuse the wrong kind of dtype") {
    REQUIRE_THROWS_WITH(r.to_float("g.i32"), Contains("all.safetensors: tensor 'g.i32' has dtype I32") &&
                                                 Contains("to_float needs"));
    REQUIRE_THROWS_WITH(r.to_int64("a.f32"), Contains("tensor 'a.f32' has dtype F32"));
    REQUIRE_THROWS_WITH(r.to_int32("h.i64"), Contains("'h.i64'") && Contains("does not fit in int32"));
  }
}

TEST_CASE("the writer lays out data as the reference implementation", "[io][safetensors]") {
  safetensors_writer w;
  w.add_f32_as("half", {3}, std::vector<float>{1, 2, 3}, dtype::f16);        // 6 bytes
  w.add("byte", dtype::u8, {1}, as_bytes(std::string(1, '\x01')));         // 1 byte
  w.add_f32_as("double", {1}, std::vector<float>{1}, dtype::f64);           // 8 bytes
  w.add_f32("single", {1}, std::vector<float>{1});                          // 4 bytes
  const std::string bytes = w.serialize();
  const std::uint64_t n = header_length(bytes);
  CHECK(n % 8 == 0);                                        // header padded with spaces
  CHECK(bytes.size() == 8 + n + 6 + 1 + 8 + 4);             // no holes
  CHECK(bytes.substr(8, 1) == "{");
  const std::string header = bytes.substr(8, n);
  const std::size_t last = header.find_last_not_of(' ');
  CHECK(header[last] == '}');
  CHECK(n - 1 - last < 8);  // at most 7 spaces of padding
  const safetensors_file r = safetensors_file::parse(bytes, "in-memory");
  // Larger elements first, so each tensor is aligned to its element size.
  CHECK(r.at("double").begin == 0);
  CHECK(r.at("single").begin == 8);
  CHECK(r.at("half").begin == 12);
  CHECK(r.at("byte").begin == 18);
  CHECK(r.metadata().empty());  // the checksums are not listed as metadata
  CHECK(r.has_checksums());
  w.set_checksums(false);
  CHECK(w.serialize().find("__metadata__") == std::string::npos);  // omitted when empty
}

TEST_CASE("borrowed tensors write the same bytes as copied ones, read when written", "[io][safetensors]") {
  std::vector<float> big(1000), small{1.5f, -2.0f, 3.25f};
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = float(i) * 0.5f - 7.0f;
  const std::vector<std::int32_t> ids{4, -1, 9};
  safetensors_writer copied, borrowed;
  copied.add_f32("big", {10, 100}, big);
  copied.add_f32("small", {3}, small);
  copied.add("ids", dtype::i32, {3}, std::as_bytes(std::span(ids)));
  borrowed.add_f32_borrowed("big", {10, 100}, big);
  borrowed.add_f32_borrowed("small", {3}, small);
  borrowed.add_borrowed("ids", dtype::i32, {3}, std::as_bytes(std::span(ids)));
  CHECK(borrowed.serialize() == copied.serialize());
  // Borrowed means read at writing time: a change before then is what the file holds.
  big[7] = 1234.0f;
  const safetensors_file r = safetensors_file::parse(borrowed.serialize(), "in-memory");
  CHECK(r.to_float("big")[7] == 1234.0f);
  CHECK(r.to_float("small") == small);
  // A borrowed tensor is checked as a copied one.
  REQUIRE_THROWS_WITH(borrowed.add_f32_borrowed("big", {1000}, big), Contains("tensor 'big' added twice"));
  REQUIRE_THROWS_WITH(borrowed.add_f32_borrowed("odd", {2, 2}, small), Contains("needs 16 bytes, got 12"));
}

TEST_CASE("the writer rejects bad input", "[io][safetensors]") {
  safetensors_writer w;
  w.add_f32("x", {2}, std::vector<float>{1, 2});
  REQUIRE_THROWS_WITH(w.add_f32("x", {2}, std::vector<float>{1, 2}), Contains("tensor 'x' added twice"));
  REQUIRE_THROWS_WITH(w.add_f32("y", {2, 2}, std::vector<float>{1, 2}),
                      Contains("'y'") && Contains("shape [2, 2]") && Contains("needs 16 bytes, got 8"));
  REQUIRE_THROWS_WITH(w.add_f32("z", {-1}, std::vector<float>{}), Contains("negative dimension"));
  REQUIRE_THROWS_WITH(w.add_f32("__metadata__", {1}, std::vector<float>{1}), Contains("reserved"));
  REQUIRE_THROWS_WITH(w.add_f32_as("q", {1}, std::vector<float>{1}, dtype::i32), Contains("cannot store floats as I32"));
}

TEST_CASE("malformed files give errors that say what is wrong", "[io][safetensors]") {
  temp_dir dir;
  auto open_bytes = [&](const std::string& bytes) {
    const fs::path p = dir / "bad.safetensors";
    slmrec::io::write_file_atomically(p, bytes);
    return safetensors_file::open(p);
  };
  const std::string f32_4 = R"("dtype": "F32", "shape": [4])";

  SECTION("shorter than the length field") {
    REQUIRE_THROWS_WITH(open_bytes(std::string("\x05\x00\x00", 3)),
                        Contains("bad.safetensors: not a safetensors file: 3 bytes, shorter than the 8-byte"));
    REQUIRE_THROWS_WITH(open_bytes(""), Contains("0 bytes"));
  }
  SECTION("header length past the end of the file") {
    REQUIRE_THROWS_WITH(open_bytes(raw_file("{}", "", 1000)),
                        Contains("bad.safetensors: header length 1000 runs past the end of the file (2 bytes"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file("{}", "", std::uint64_t{1} << 60)), Contains("absurdly large"));
  }
  SECTION("header not JSON, or not the expected JSON") {
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": {"dtype": )", "")),
                        Contains("bad.safetensors: the header is not valid JSON"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file("[1, 2]", "")), Contains("must be a JSON object, found array"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": 3})", "")), Contains("tensor 'w': entry must be an object"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": {"dtype": "F32", "data_offsets": [0, 0]}})", "")),
                        Contains("tensor 'w': entry has no 'shape'"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": {"shape": [], "data_offsets": [0, 4]}})", zeros(4))),
                        Contains("entry has no 'dtype'"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": {"dtype": 1, "shape": [], "data_offsets": [0, 4]}})", zeros(4))),
                        Contains("'dtype' must be a string, found 1"));
    REQUIRE_THROWS_WITH(
        open_bytes(raw_file(R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 4]}})", zeros(4))),
        Contains("tensor 'w': dimension 0 of 'shape' is 2.5, expected an integer in [0, 2147483647]"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": {)" + f32_4 + R"(, "data_offsets": "0-16"}})", zeros(16))),
                        Contains("'data_offsets' must be [begin, end]") && Contains("\"0-16\""));
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": {)" + f32_4 + R"(, "data_offsets": [0, 8, 16]}})", zeros(16))),
                        Contains("'data_offsets' must be [begin, end]"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"__metadata__": {"epoch": 3}})", "")),
                        Contains("'__metadata__' value of 'epoch' must be a string, found 3"));
  }
  SECTION("unknown dtype") {
    REQUIRE_THROWS_WITH(
        open_bytes(raw_file(R"({"w": {"dtype": "Q7", "shape": [4], "data_offsets": [0, 4]}})", zeros(4))),
        Contains("bad.safetensors: tensor 'w': unsupported dtype 'Q7'"));
  }
  SECTION("negative dimension") {
    REQUIRE_THROWS_WITH(
        open_bytes(raw_file(R"({"w": {"dtype": "F32", "shape": [2, -2], "data_offsets": [0, 0]}})", "")),
        Contains("tensor 'w': dimension 1 of 'shape' is -2, expected an integer in [0, 2147483647]"));
  }
  SECTION("offsets outside the data section") {
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": {)" + f32_4 + R"(, "data_offsets": [16, 32]}})", zeros(16))),
                        Contains("tensor 'w': data_offsets [16, 32] run past the end of the data section (16 bytes)"));
    REQUIRE_THROWS_WITH(open_bytes(raw_file(R"({"w": {)" + f32_4 + R"(, "data_offsets": [16, 0]}})", zeros(16))),
                        Contains("data_offsets [16, 0] have begin after end"));
  }
  SECTION("shape and byte count disagree") {
    REQUIRE_THROWS_WITH(
        open_bytes(raw_file(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}})", zeros(16))),
        Contains("tensor 'w': shape [2, 3] of F32 needs 6 elements * 4 bytes, but data_offsets [0, 16] hold 16 bytes"));
    // A product that would overflow 64 bits must not wrap around to a small size.
    REQUIRE_THROWS_WITH(
        open_bytes(raw_file(
            R"({"w": {"dtype": "F32", "shape": [2147483647, 2147483647, 2147483647], "data_offsets": [0, 0]}})", "")),
        Contains("too many elements"));
    REQUIRE_THROWS_WITH(
        open_bytes(raw_file(R"({"w": {"dtype": "F64", "shape": [2147483647, 2147483647], "data_offsets": [0, 0]}})",
                            "")),
        Contains("needs 4611686014132420609 elements * 8 bytes"));
    // One dimension beyond int32 is refused before any product.
    REQUIRE_THROWS_WITH(
        open_bytes(raw_file(R"({"w": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", "")),
        Contains("dimension 0 of 'shape' is 4611686018427387904"));
  }
  SECTION("overlapping tensors, gaps and trailing bytes are rejected") {
    const std::string overlap = R"({"a": {)" + f32_4 + R"(, "data_offsets": [0, 16]}, "b": {)" + f32_4 +
                                R"(, "data_offsets": [8, 24]}})";
    REQUIRE_THROWS_WITH(open_bytes(raw_file(overlap, zeros(24))),
                        Contains("tensors 'a' [0, 16] and 'b' [8, 24] overlap"));
    // 'middle' lies wholly inside 'outer': caught too.
    const std::string nested = R"({"outer": {"dtype": "U8", "shape": [32], "data_offsets": [0, 32]},)"
                               R"( "middle": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}})";
    REQUIRE_THROWS_WITH(open_bytes(raw_file(nested, zeros(32))), Contains("'outer'") && Contains("overlap"));
    const std::string hole = R"({"a": {)" + f32_4 + R"(, "data_offsets": [0, 16]}, "b": {)" + f32_4 +
                             R"(, "data_offsets": [24, 40]}})";
    REQUIRE_THROWS_WITH(open_bytes(raw_file(hole, zeros(40))),
                        Contains("bad.safetensors: bytes [16, 24) of the data section belong to no tensor (a gap "
                                 "before 'b')"));
    const std::string one = R"({"a": {)" + f32_4 + R"(, "data_offsets": [0, 16]}})";
    REQUIRE_THROWS_WITH(open_bytes(raw_file(one, zeros(20))),
                        Contains("bad.safetensors: 4 bytes after the last tensor belong to no tensor"));
    CHECK(open_bytes(raw_file(one, zeros(16))).tensors().size() == 1);
  }
  SECTION("looking up what is not there") {
    const safetensors_file r = open_bytes(raw_file(R"({"w": {)" + f32_4 + R"(, "data_offsets": [0, 16]}})", zeros(16)));
    REQUIRE_THROWS_WITH(r.at("v"), Contains("bad.safetensors: no tensor named 'v'"));
    REQUIRE_THROWS_WITH(r.to_float("v"), Contains("no tensor named 'v'"));
    REQUIRE_THROWS_WITH(r.to_float_checked("w", {2, 2}),
                        Contains("bad.safetensors: tensor 'w' has shape [4], expected [2, 2]"));
    CHECK(r.to_float_checked("w", {4}) == std::vector<float>(4, 0.0f));
  }
  SECTION("a missing file") {
    REQUIRE_THROWS_WITH(safetensors_file::open(dir / "absent.safetensors"),
                        Contains("absent.safetensors: cannot open for reading"));
  }
}

TEST_CASE("atomic writes replace the target or leave it alone", "[io][atomic_file]") {
  temp_dir dir;
  const fs::path target = dir / "out.bin";
  slmrec::io::write_file_atomically(target, std::string("old contents"));
  CHECK(slmrec::io::read_file(target) == "old contents");

  const std::string binary = std::string("a\0b\xff", 4) + std::string(100000, 'x');
  slmrec::io::write_file_atomically(target, binary);
  CHECK(slmrec::io::read_file(target) == binary);
  CHECK(dir.file_count() == 1);

  slmrec::io::write_file_atomically(target, [](std::ostream& out) { out << "streamed " << 42; });
  CHECK(slmrec::io::read_file(target) == "streamed 42");

  // A writer that fails halfway: the old file stays, the temporary goes.
  REQUIRE_THROWS_WITH(slmrec::io::write_file_atomically(target,
                                                        [](std::ostream& out) {
                                                          out << "partial";
                                                          throw std::runtime_error("disk on fire");
                                                        }),
                      "disk on fire");
  CHECK(slmrec::io::read_file(target) == "streamed 42");
  CHECK(dir.file_count() == 1);

  // Into a directory that does not exist: the error names the target and the reason.
  REQUIRE_THROWS_WITH(slmrec::io::write_file_atomically(dir / "missing" / "x.bin", std::string("x")),
                      Contains("x.bin: cannot create the temporary file") && Contains("No such file or directory"));
  REQUIRE_THROWS_WITH(slmrec::io::write_file_atomically(dir / "missing" / "y.bin", [](std::ostream&) {}),
                      Contains("y.bin: cannot create the temporary file"));
  REQUIRE_THROWS_WITH(slmrec::io::read_file(dir / "nope.txt"),
                      Contains("nope.txt: cannot open for reading: No such file or directory"));
  REQUIRE_THROWS_WITH(slmrec::io::read_file(dir.path()), Contains("it is a directory"));
}

TEST_CASE("a directory written atomically: streamed files, and a failure leaves the old one", "[io][atomic_file]") {
  using slmrec::io::directory_file;
  temp_dir dir;
  const fs::path target = dir / "ckpt";
  slmrec::io::write_directory_atomically(
      target, {directory_file::bytes("a.txt", "first"), {"b.bin", [](std::ostream& out) { out << "streamed " << 1; }}});
  CHECK(slmrec::io::read_file(target / "a.txt") == "first");
  CHECK(slmrec::io::read_file(target / "b.bin") == "streamed 1");
  // A file that cannot be written: DIR keeps the previous files, and no sibling is left behind.
  REQUIRE_THROWS_WITH(slmrec::io::write_directory_atomically(target, {directory_file::bytes("a.txt", "second"),
                                                                      {"b.bin",
                                                                       [](std::ostream& out) {
                                                                         out << "partial";
                                                                         throw std::runtime_error("disk on fire");
                                                                       }}}),
                      "disk on fire");
  CHECK(slmrec::io::read_file(target / "a.txt") == "first");
  CHECK(slmrec::io::read_file(target / "b.bin") == "streamed 1");
  CHECK(dir.file_count() == 1);  // ckpt alone
  // The next write replaces the directory whole.
  slmrec::io::write_directory_atomically(target, {directory_file::bytes("c.txt", "third")});
  CHECK(!fs::exists(target / "a.txt"));
  CHECK(slmrec::io::read_file(target / "c.txt") == "third");
  CHECK(dir.file_count() == 1);
}

TEST_CASE("reads the tiny_llama fixture written by transformers", "[io][safetensors][fixture]") {
  const fs::path fp32_path = SLMREC_SHARED_DIR "/fixtures/tiny_llama/model.safetensors";
  const fs::path bf16_path = SLMREC_SHARED_DIR "/fixtures/tiny_llama/model.bf16.safetensors";
  const std::string name = "model.layers.0.self_attn.k_proj.weight";
  const safetensors_file fp32 = safetensors_file::open(fp32_path);
  const safetensors_file bf16 = safetensors_file::open(bf16_path);

  const slmrec::io::tensor_info& info = fp32.at(name);
  CHECK(info.type == dtype::f32);
  CHECK(info.shape == std::vector<std::int64_t>{32, 64});
  CHECK(bf16.at(name).type == dtype::bf16);
  CHECK(fp32.metadata().at("format") == "pt");
  CHECK(fp32.tensors().size() == bf16.tensors().size());

  const std::vector<float> a = fp32.to_float_checked(name, {32, 64});
  const std::vector<float> b = bf16.to_float_checked(name, {32, 64});
  REQUIRE(a.size() == 32 * 64);
  REQUIRE(b.size() == a.size());
  double largest = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(std::isfinite(a[i]));
    // bf16 keeps 8 significant bits: rounding moves a value by at most 2^-8 relative.
    REQUIRE(std::abs(double{a[i]} - double{b[i]}) <= std::ldexp(std::abs(double{a[i]}), -8));
    largest = std::max(largest, double{std::abs(a[i])});
  }
  CHECK(largest > 0);  // not an all-zero tensor
  REQUIRE_THROWS_WITH(fp32.to_float_checked(name, {64, 64}),
                      Contains("model.safetensors: tensor '" + name + "' has shape [32, 64], expected [64, 64]"));
  // Every tensor of the fixture converts, and both files agree on every shape.
  for (const auto& t : fp32.tensors()) {
    CHECK(bf16.at(t.name).shape == t.shape);
    CHECK(fp32.to_float(t.name).size() == static_cast<std::size_t>(t.numel()));
  }
}
