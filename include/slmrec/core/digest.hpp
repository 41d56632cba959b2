#pragma once
// A fast 64-bit digest of a byte string, for recognising files we wrote (is
// this index built from these weights? was it damaged on disk?). Not a
// cryptographic hash: it catches accidents (a retrained checkpoint, flipped
// or missing bytes), not a forger, so readers still validate structure.
// Four independent lanes of 8-byte words, each mixed by splitmix64's
// finaliser, keep it near memory speed on files of hundreds of megabytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <slmrec/core/hash.hpp>

// XXH3 (Debian's libxxhash-dev), compiled inline: slmrec stays header-only
// and links nothing (XXH_INLINE_ALL also renames the symbols, so a program
// that links libxxhash itself sees no clash).
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
// Its AVX-512 path (built with -march=native) trips GCC 12's false
// -Wuninitialized in the AVX-512 intrinsics (GCC bug 105593; cpu_features.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <xxhash.h>
#pragma GCC diagnostic pop
#else
#include <xxhash.h>
#endif

namespace slmrec {

inline std::uint64_t digest64(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::uint64_t lane[4] = {0x736C6D7265633031ull, 0x9E3779B97F4A7C15ull, 0xD1B54A32D192ED03ull, 0x8CB92BA72F3D8DD7ull};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int l = 0; l < 4; ++l) {
      std::uint64_t w;
      std::memcpy(&w, p + i + 8 * std::size_t(l), 8);  // host order: the digest is for files read on this machine type
      lane[l] = mix64(lane[l] ^ w) + 0x9E3779B97F4A7C15ull;
    }
  std::uint64_t h = mix64(n);
  for (; i < n; ++i) h = mix64(h ^ (std::uint64_t(p[i]) + 0x100ull * (i & 0xFF)));
  for (const std::uint64_t l : lane) h = mix64(h ^ l) + 0x632BE59BD9B4E019ull;
  return h;
}

// The digest as 16 hex digits, the form files and messages carry.
inline std::string digest_hex(std::string_view bytes) { return fmt::format("{:016x}", digest64(bytes)); }

// XXH3-64 (seed 0) of a byte string: the per-tensor checksums of the
// checkpoints slmrec writes. Tens of GB/s, so verifying a checkpoint costs a
// small part of reading and converting it.
inline std::uint64_t xxh3_64(const void* data, std::size_t size) noexcept { return XXH3_64bits(data, size); }

}  // namespace slmrec
