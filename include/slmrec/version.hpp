#pragma once
#define SLMREC_VERSION_MAJOR 0
#define SLMREC_VERSION_MINOR 1
#define SLMREC_VERSION_PATCH 0

namespace slmrec {
inline constexpr const char* version = "0.1.0";
}  // namespace slmrec
