// Fuzz target: the image decoders (data/decode.h) on bytes: format detection, TurboJPEG, and
// stb_image's PNG / GIF / BMP / PNM with our guards around them. The first byte of the input
// picks a DCT downscale hint (JPEG only), so the scaled IDCT paths are covered too.
#include "afinar/data/decode.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return afinar::fuzz::expect_error_or_success([&] {
    afinar::data::DecodeOptions options;
    if (size > 0 && data[0] == 0xFF) {  // a JPEG starts FF D8: vary the hint from its 4th byte
      const int64_t side = size > 3 ? int64_t{data[3]} : 0;
      options.min_size = {side, side};
    }
    (void)afinar::data::decode_image(std::span<const uint8_t>(data, size), "fuzz input", options);
  });
}
