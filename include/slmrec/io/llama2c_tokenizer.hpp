#pragma once
// The tokenizer file of llama2.c (`tokenizer.bin`, `tok512.bin`), read for
// decoding token ids into text:
//   int32 max_token_length, then per token: float32 score, int32 length, length bytes.
// The vocabulary size is not in the file; the model's config gives it, and
// the file must hold exactly that many entries. Every size is checked before
// it is used, so a truncated or hostile file ends in an error naming the file,
// the token and the field, never in a read past the end or a huge allocation.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::io {

class llama2c_tokenizer {
 public:
  // A token longer than this is not a llama2.c vocabulary (its own files use
  // 7 to 27 bytes); the bound keeps a hostile length from sizing a buffer.
  static constexpr std::int32_t max_piece_bytes = 4096;
  static constexpr std::int32_t bos_id = 1;

  static llama2c_tokenizer read(const std::filesystem::path& file, index vocab_size) {
    require(vocab_size >= 1 && vocab_size <= (index(1) << 24), "{}: vocabulary size {} outside 1..2^24",
            file.string(), vocab_size);
    std::ifstream in(file, std::ios::binary);
    require(bool(in), "{}: cannot open the tokenizer file", file.string());
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return parse(bytes.data(), bytes.size(), vocab_size, file.string());
  }

  // Parses the bytes of a tokenizer file; `source` names it in messages.
  static llama2c_tokenizer parse(const char* data, std::size_t size, index vocab_size, const std::string& source) {
    llama2c_tokenizer t;
    std::size_t at = 0;
    auto take = [&](void* dst, std::size_t n, const std::string& what) {
      require(size - at >= n, "{}: truncated at byte {}: {} needs {} bytes, {} left", source, at, what, n, size - at);
      std::memcpy(dst, data + at, n);
      at += n;
    };
    std::int32_t max_len = 0;
    take(&max_len, 4, "max_token_length");
    require(max_len >= 1 && max_len <= max_piece_bytes, "{}: max_token_length {} outside 1..{}", source, max_len,
            max_piece_bytes);
    t.pieces_.reserve(std::size_t(vocab_size));
    for (index id = 0; id < vocab_size; ++id) {
      float score = 0.0f;
      std::int32_t length = 0;
      take(&score, 4, fmt::format("token {}'s score", id));
      take(&length, 4, fmt::format("token {}'s length", id));
      require(length >= 0 && length <= max_len, "{}: token {} has length {}, expected 0..{} (max_token_length)",
              source, id, length, max_len);
      std::string piece(std::size_t(length), '\0');
      if (length > 0) take(piece.data(), std::size_t(length), fmt::format("token {}'s {} bytes", id, length));
      t.pieces_.push_back(std::move(piece));
    }
    require(at == size, "{}: {} bytes after the {} tokens the model's vocabulary has (a tokenizer of another model?)",
            source, size - at, vocab_size);
    return t;
  }

  [[nodiscard]] index size() const { return index(pieces_.size()); }
  [[nodiscard]] const std::string& piece(index id) const {
    require(id >= 0 && id < size(), "token id {} outside the vocabulary (0..{})", id, size() - 1);
    return pieces_[std::size_t(id)];
  }

  // llama2.c's decode(): after BOS a piece's leading space is dropped (the
  // SentencePiece word boundary), and a raw-byte piece "<0xHH>" is that byte.
  [[nodiscard]] std::string decode_piece(std::int32_t previous, std::int32_t id) const {
    std::string p = piece(id);
    if (previous == bos_id && !p.empty() && p.front() == ' ') p.erase(0, 1);
    if (p.size() == 6 && p.starts_with("<0x") && p.back() == '>') {
      const int hi = hex(p[3]), lo = hex(p[4]);
      if (hi >= 0 && lo >= 0) return std::string(1, char(hi * 16 + lo));
    }
    return p;
  }

  // The text of `ids` following `previous` (BOS for a generation from the start).
  [[nodiscard]] std::string decode(const std::vector<std::int32_t>& ids, std::int32_t previous = bos_id) const {
    std::string text;
    for (const auto id : ids) {
      text += decode_piece(previous, id);
      previous = id;
    }
    return text;
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }

  std::vector<std::string> pieces_;
};

}  // namespace slmrec::io
