// libFuzzer harness: a dataset file in one format (SLMREC_FUZZ_FORMAT, one
// binary per format), parsed as `slmrec train --data` parses it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <slmrec/data/read_dataset.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  slmrec::data::load_options o;
  o.input_format = slmrec::data::format::SLMREC_FUZZ_FORMAT;
  try {
    (void)slmrec::data::parse_dataset(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.txt", o);
  } catch (const slmrec::error&) {
  }
  return 0;
}
