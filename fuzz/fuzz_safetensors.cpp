// libFuzzer harness: a safetensors file (header and data) as a checkpoint
// loader reads it. Any input must end in success or a slmrec::error; the
// sanitizers turn a crash, an overflow or undefined behaviour into a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include <slmrec/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto f = slmrec::io::safetensors_file::parse(std::string(reinterpret_cast<const char*>(data), size),
                                                       "fuzz.safetensors");
    for (const auto& t : f.tensors()) {
      switch (t.type) {
        case slmrec::io::dtype::f32: case slmrec::io::dtype::f64: case slmrec::io::dtype::f16:
        case slmrec::io::dtype::bf16:
          (void)f.to_float_checked(t.name, t.shape);
          break;
        default:
          (void)f.to_int32(t.name);
      }
    }
  } catch (const slmrec::error&) {
  }
  return 0;
}
