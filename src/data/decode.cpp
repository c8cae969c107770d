// Image decoding (see include/afinar/data/decode.h for the contract): format detection by magic
// bytes, JPEG through TurboJPEG, everything else through stb_image, and the few conversions where
// stb_image's output differs from PIL's convert("RGB") (16-bit gray PNG, PNM maxval, GIF
// transparency, CMYK JPEG).
//
// This file owns stb_image's implementation: STB_IMAGE_IMPLEMENTATION is defined here and
// nowhere else. stb_image reads through callbacks rather than from memory so that we learn when a
// decoder asked for bytes past the end of the file: from memory it silently reads zeros there
// and returns an image whose bottom is black, where PIL raises "image file is truncated".
#include "afinar/core/check.h"

namespace afinar::data {
namespace {
// stb_image's internal assertions, thrown instead of aborting (data-dependent in its JPEG Huffman
// decoder: fuzzing a JPEG through JpegDecoder::Stb fires one) and reported with the file's name.
// The throw leaks what stb had allocated for that file; only corrupt files get there.
struct StbAssertion {
  const char* expression;
};
}  // namespace
}  // namespace afinar::data

#define STBI_ASSERT(x) ((x) ? void(0) : throw ::afinar::data::StbAssertion{#x})
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#define STBI_NO_STDIO         // we read files ourselves
#define STBI_FAILURE_USERMSG  // "Corrupt PNG" rather than "bad png sig"
#include <stb/stb_image.h>

#include <turbojpeg.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "afinar/data/decode.h"

namespace afinar::data {
namespace {

// ---- format detection ---------------------------------------------------------------------------

enum class Format { Jpeg, Png, Gif, Bmp, Pnm };

bool starts_with(std::span<const uint8_t> b, std::string_view magic, size_t at = 0) {
  return b.size() >= at + magic.size() &&
         std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
}

std::string first_bytes_hex(std::span<const uint8_t> b) {
  std::ostringstream os;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 8); ++i)
    os << (i ? " " : "") << std::hex << std::setw(2) << std::setfill('0') << int(b[i]);
  return os.str();
}

// The format from the first bytes. Formats PIL reads but we do not are named in the error, so a
// user knows to convert them rather than suspect a corrupt file.
Format detect_format(std::span<const uint8_t> b, const std::string& name) {
  if (starts_with(b, "\xFF\xD8\xFF")) return Format::Jpeg;
  if (starts_with(b, "\x89PNG\r\n\x1A\n")) return Format::Png;
  if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return Format::Gif;
  if (starts_with(b, "BM")) return Format::Bmp;
  if (starts_with(b, "P5") || starts_with(b, "P6")) return Format::Pnm;
  const char* unsupported = nullptr;
  if (starts_with(b, "RIFF") && starts_with(b, "WEBP", 8)) unsupported = "WebP";
  if (starts_with(b, std::string_view("II*\0", 4)) || starts_with(b, std::string_view("MM\0*", 4)))
    unsupported = "TIFF";
  if (starts_with(b, "ftyp", 4)) unsupported = "HEIF/AVIF (ISO media)";
  if (starts_with(b, "P1") || starts_with(b, "P2") || starts_with(b, "P3"))
    unsupported = "plain (ASCII) PNM";
  if (starts_with(b, "P4")) unsupported = "PBM bitmap (P4)";
  AFN_CHECK(unsupported == nullptr, "decode_image: ", name, ": ", unsupported,
            " images are not supported (supported: JPEG, PNG, GIF, BMP, binary PPM/PGM)");
  AFN_FAIL("decode_image: ", name, ": not an image in a supported format (JPEG, PNG, GIF, BMP, ",
           "binary PPM/PGM); the file starts with bytes ", first_bytes_hex(b));
}

void check_pixel_count(int64_t height, int64_t width, const DecodeOptions& options,
                       const std::string& name) {
  AFN_CHECK(height * width <= options.max_pixels, "decode_image: ", name, ": image of ", height,
            "x", width, " = ", height * width, " pixels exceeds max_pixels = ", options.max_pixels,
            " (a decompression bomb guard, PIL's limit; raise DecodeOptions::max_pixels to allow)");
}

// A decompression bomb guard tighter than max_pixels for the formats whose coding bounds how
// many pixels a file of N bytes can describe: a 40-byte header must not make stb_image allocate
// gigabytes (its GIF decoder allocates 9 bytes per pixel of the logical screen, its PNG decoder
// the whole inflated size up front) before the missing data is noticed.
//   PNG  deflate expands at most 1032:1 (a 258-byte match per 2-bit code) and a pixel takes at
//        least 1 bit of inflated data (1-bit gray or palette): pixels <= 8 · 1032 · N.
//   GIF  an LZW code is at least 3 bits and expands to at most 4096 pixels:
//        pixels <= 8 / 3 · 4096 · N < 10923 · N. Applied to the logical screen, which stb
//        allocates whole: a tiny frame on a larger screen is refused where PIL fills it.
//   BMP  uncompressed (RLE is refused), at least 1 bit per pixel: pixels <= 8 · N.
//   PNM  the sample count is checked against the file by decode_pnm.
// JPEG is left to max_pixels: progressive scans (EOB runs) and arithmetic coding have no useful
// bound, and TurboJPEG allocates in proportion to the pixels.
void check_file_can_hold(Format format, int64_t height, int64_t width, size_t file_bytes,
                         const std::string& name) {
  int64_t per_byte = 0;
  const char* why = "";
  if (format == Format::Png) per_byte = 8 * 1032, why = "deflate expands at most 1032:1";
  if (format == Format::Gif) per_byte = 10923, why = "an LZW code of 3+ bits yields <= 4096 pixels";
  if (format == Format::Bmp) per_byte = 8, why = "BMP data is uncompressed";
  if (per_byte == 0) return;
  AFN_CHECK(height * width <= per_byte * int64_t(file_bytes), "decode_image: ", name,
            ": corrupt or truncated image: its header declares ", height, "x", width, " pixels, ",
            "more than a file of ", file_bytes, " bytes can describe (", why,
            "); refused before allocating");
}

// ---- conversions to RGB -------------------------------------------------------------------------

// An H×W×3 image from `channels` (1 or 3) samples per pixel of type T, each mapped through f to a
// byte; one channel is replicated into R, G and B as PIL's L->RGB does.
template <typename T, typename F>
Image to_rgb(const T* src, int64_t height, int64_t width, int channels, F f) {
  Image out(height, width, 3);
  const int64_t n = height * width;
  uint8_t* dst = out.data.data();
  for (int64_t i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) dst[3 * i + c] = f(src[i * channels + (channels == 3 ? c : 0)]);
  }
  return out;
}

// PIL's CMYK->RGB (Convert.c cmyk2rgb) after its "CMYK;I" unpacking of libjpeg's output, which
// assumes Adobe's inverted CMYK: with C = 255 - c (c as libjpeg outputs it) and nK = 255 - K = k,
//   R = nK - MULDIV255(C, nK),  MULDIV255(a, b) = ((a·b + 128) + ((a·b + 128) >> 8)) >> 8.
Image cmyk_to_rgb(const uint8_t* cmyk, int64_t height, int64_t width) {
  Image out(height, width, 3);
  for (int64_t i = 0; i < height * width; ++i) {
    const int nk = cmyk[4 * i + 3];
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - cmyk[4 * i + c]) * nk + 128;
      out.data[3 * i + c] = uint8_t(std::clamp(nk - (((t >> 8) + t) >> 8), 0, 255));
    }
  }
  return out;
}

// ---- stb_image ----------------------------------------------------------------------------------

// A read position in the file's bytes for stb_image's callbacks. `overrun` records that the
// decoder asked for bytes past the end: the file is truncated.
struct StbStream {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
  bool overrun = false;

  static int read(void* user, char* data, int size) {
    auto* s = static_cast<StbStream*>(user);
    const size_t n = std::min(size_t(size), s->bytes.size() - s->pos);
    if (n == 0 && size > 0) s->overrun = true;
    std::memcpy(data, s->bytes.data() + s->pos, n);
    s->pos += n;
    return int(n);
  }
  static void skip(void* user, int n) {
    auto* s = static_cast<StbStream*>(user);
    if (n < 0) {
      s->pos -= std::min(s->pos, size_t(-int64_t(n)));
      return;
    }
    if (size_t(n) > s->bytes.size() - s->pos) s->overrun = true;
    s->pos = std::min(s->bytes.size(), s->pos + size_t(n));
  }
  static int eof(void* user) {
    auto* s = static_cast<StbStream*>(user);
    return s->pos >= s->bytes.size();
  }
};

// Pixels as stb_image returns them: `channels` interleaved samples of 8 or 16 bits.
struct StbPixels {
  std::unique_ptr<void, void (*)(void*)> data{nullptr, stbi_image_free};
  int height = 0, width = 0, channels = 0;

  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data.get());
  }
};

// Decodes with stb_image into `channels` channels (stb's conversions: gray replicated, alpha
// dropped, palettes expanded; 0 keeps the file's), 16-bit samples when `sixteen_bit`. A read past
// the end is a truncated file unless the caller has checked that the image data is complete.
StbPixels stb_decode(std::span<const uint8_t> bytes, const std::string& name, int channels,
                     bool sixteen_bit, const DecodeOptions& options, bool allow_overrun = false) {
  AFN_CHECK(bytes.size() <= size_t(INT_MAX), "decode_image: ", name, ": file of ", bytes.size(),
            " bytes is too large for stb_image (at most 2 GiB)");
  int width = 0, height = 0, file_channels = 0;
  if (stbi_info_from_memory(bytes.data(), int(bytes.size()), &width, &height, &file_channels)) {
    // stb_image's BMP header reader gives a top-down image (stored with a negative height) a
    // negative height here, where its loader takes the absolute value: so do the guards.
    const int64_t h = std::abs(int64_t(height)), w = std::abs(int64_t(width));
    check_pixel_count(h, w, options, name);
    check_file_can_hold(detect_format(bytes, name), h, w, bytes.size(), name);
  }

  StbStream stream{bytes};
  const stbi_io_callbacks callbacks{&StbStream::read, &StbStream::skip, &StbStream::eof};
  StbPixels out;
  try {
    out.data.reset(sixteen_bit
                       ? static_cast<void*>(stbi_load_16_from_callbacks(
                             &callbacks, &stream, &width, &height, &file_channels, channels))
                       : static_cast<void*>(stbi_load_from_callbacks(
                             &callbacks, &stream, &width, &height, &file_channels, channels)));
  } catch (const StbAssertion& a) {
    AFN_FAIL("decode_image: ", name, ": corrupt image (stb_image's check ", a.expression,
             " failed)");
  }
  AFN_CHECK(allow_overrun || !stream.overrun, "decode_image: ", name,
            ": image file is truncated (the decoder needed bytes past its end, ", bytes.size(),
            " bytes)");
  AFN_CHECK(out.data != nullptr, "decode_image: ", name, ": ", stbi_failure_reason());
  AFN_CHECK(height > 0 && width > 0, "decode_image: ", name, ": corrupt image (size ", height, "x",
            width, ")");
  out.height = height;
  out.width = width;
  out.channels = channels ? channels : file_channels;
  return out;
}

Image stb_decode_rgb(std::span<const uint8_t> bytes, const std::string& name,
                     const DecodeOptions& options) {
  StbPixels p = stb_decode(bytes, name, 3, false, options);
  Image out(p.height, p.width, 3);
  std::memcpy(out.data.data(), p.data.get(), out.data.size());
  return out;
}

// ---- PNG ----------------------------------------------------------------------------------------

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// Walks the chunks and checks what stb_image does not: every chunk's CRC (as libpng does; a CRC
// runs at GB/s, where verifying the zlib stream's Adler-32 as PIL does would mean a second inflate
// and double the decode time), and where the file ends.
// Returns the end of the last IDAT chunk's data when the file lacks a complete IEND chunk: PIL
// decodes a file whose image data is complete whatever follows it, stb_image would fail looking
// for the next chunk, so the caller closes the file there. Throws for a bad CRC and for a file
// that ends inside a chunk's data before the image data is complete (truncated).
std::optional<size_t> check_png_chunks(std::span<const uint8_t> b, const std::string& name) {
  size_t idat_end = 0;  // the end of the last IDAT data seen
  size_t pos = 8;
  while (pos + 8 <= b.size()) {
    const size_t length = be32(&b[pos]);
    const std::string_view type(reinterpret_cast<const char*>(&b[pos + 4]), 4);
    const bool idat = type == "IDAT";
    if (length > b.size() - pos - 8) {  // the data runs past the end of the file
      AFN_CHECK(idat_end != 0 && !idat, "decode_image: ", name, ": image file is truncated (the ",
                type, " chunk needs ", length, " bytes, the file ends after ", b.size() - pos - 8,
                ")");
      break;
    }
    const uint8_t* data = &b[pos + 8];
    if (idat) idat_end = pos + 8 + length;
    if (pos + 12 + length > b.size()) break;  // the CRC is cut off
    AFN_CHECK(crc32(0, data - 4, uInt(length + 4)) == be32(data + length), "decode_image: ", name,
              ": corrupt PNG: bad CRC in the ", type, " chunk at byte ", pos);
    if (type == "IEND") return std::nullopt;
    pos += 12 + length;
  }
  AFN_CHECK(idat_end != 0, "decode_image: ", name,
            ": image file is truncated (it ends before the PNG image data)");
  return idat_end;
}

// stb_image reduces 16-bit samples to their high byte, which is what PIL does for RGB, RGBA and
// LA. 16-bit gray is the exception: PIL opens it as mode "I" and I->RGB clips at 255.
Image decode_png(std::span<const uint8_t> bytes, const std::string& name,
                 const DecodeOptions& options) {
  std::vector<uint8_t> repaired;  // the file up to the end of its image data, then CRC and IEND
  if (const std::optional<size_t> end = check_png_chunks(bytes, name)) {
    static constexpr uint8_t kCrcAndIend[] = {0,   0,   0,   0,   0,    0,    0,    0,
                                              'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    repaired.assign(bytes.begin(), bytes.begin() + *end);
    repaired.insert(repaired.end(), std::begin(kCrcAndIend), std::end(kCrcAndIend));
    bytes = repaired;
  }
  int width = 0, height = 0, channels = 0;
  const bool gray16 =
      stbi_info_from_memory(bytes.data(), int(bytes.size()), &width, &height, &channels) &&
      channels == 1 && stbi_is_16_bit_from_memory(bytes.data(), int(bytes.size()));
  if (!gray16) return stb_decode_rgb(bytes, name, options);
  StbPixels p = stb_decode(bytes, name, 1, true, options);
  return to_rgb(p.as<uint16_t>(), p.height, p.width, 1,
                [](uint16_t v) { return uint8_t(std::min<uint16_t>(v, 255)); });
}

// ---- PPM / PGM ----------------------------------------------------------------------------------

struct PnmHeader {
  int channels = 0;  // 1 (P5, PGM) or 3 (P6, PPM)
  int64_t width = 0, height = 0, maxval = 0;
  size_t data_offset = 0;  // the samples start after the one whitespace that ends maxval
};

// The header's magic, width, height and maxval, with '#' comments, as PIL reads them. stb_image
// parses it too but does not tell us maxval, which decides the rescale, and does not notice when
// the samples are cut short.
PnmHeader parse_pnm_header(std::span<const uint8_t> b, const std::string& name) {
  size_t pos = 2;
  auto token = [&]() -> int64_t {
    while (pos < b.size()) {
      if (b[pos] == '#') {
        while (pos < b.size() && b[pos] != '\n' && b[pos] != '\r') ++pos;
      } else if (std::isspace(b[pos])) {
        ++pos;
      } else {
        break;
      }
    }
    int64_t v = 0;
    size_t digits = 0;
    for (; pos < b.size() && std::isdigit(b[pos]) && digits < 10; ++pos, ++digits)
      v = v * 10 + (b[pos] - '0');
    AFN_CHECK(digits > 0, "decode_image: ", name,
              ": corrupt PNM header (expected a number at byte ", pos, ")");
    return v;
  };
  PnmHeader h;
  h.channels = b[1] == '5' ? 1 : 3;
  h.width = token();
  h.height = token();
  h.maxval = token();
  h.data_offset = pos + 1;
  AFN_CHECK(h.width > 0 && h.height > 0, "decode_image: ", name, ": corrupt PNM header (size ",
            h.width, "x", h.height, ")");
  // stb_image's own limit per side (STBI_MAX_DIMENSIONS); it also keeps width · height ·
  // channels · 2 bytes below 2^51, so decode_pnm's size arithmetic cannot overflow (a 10-digit
  // width and height once did, found by fuzzing).
  constexpr int64_t kMaxSide = int64_t(1) << 24;
  AFN_CHECK(h.width <= kMaxSide && h.height <= kMaxSide, "decode_image: ", name, ": PNM size ",
            h.width, "x", h.height, " exceeds ", kMaxSide,
            " pixels per side; the header is corrupt");
  AFN_CHECK(h.maxval >= 1 && h.maxval <= 65535, "decode_image: ", name,
            ": PNM maxval must be in 1..65535, got ", h.maxval);
  return h;
}

// maxval 255 is stored as is: stb_image decodes it. Otherwise PIL rescales each sample v to
// round(v / maxval · out_max) (Python's round: half to even, which std::nearbyint does in the
// default rounding mode), with out_max = 65535 for 16-bit PGM (mode "I", clipped to 255 by
// I->RGB) and 255 for the rest. Those samples we read ourselves: they are plain bytes (16-bit
// big-endian), and the stb_image of Debian 12 returns 16-bit PNM samples unswapped.
Image decode_pnm(std::span<const uint8_t> bytes, const std::string& name,
                 const DecodeOptions& options) {
  const PnmHeader h = parse_pnm_header(bytes, name);
  const bool sixteen_bit = h.maxval > 255;
  const int64_t count = h.width * h.height * h.channels;
  const int64_t data_bytes = count * (sixteen_bit ? 2 : 1);
  AFN_CHECK(int64_t(bytes.size()) >= int64_t(h.data_offset) + data_bytes, "decode_image: ", name,
            ": image file is truncated (", h.width, "x", h.height, " PNM needs ", data_bytes,
            " bytes of samples, the file has ", int64_t(bytes.size()) - int64_t(h.data_offset),
            ")");
  if (h.maxval == 255) return stb_decode_rgb(bytes, name, options);
  check_pixel_count(h.height, h.width, options, name);
  const double out_max = (sixteen_bit && h.channels == 1) ? 65535.0 : 255.0;
  auto rescale = [&](uint16_t v) {
    return uint8_t(std::min(255.0, std::nearbyint(double(v) / double(h.maxval) * out_max)));
  };
  const uint8_t* data = bytes.data() + h.data_offset;
  std::vector<uint16_t> samples(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    samples[i] = sixteen_bit ? uint16_t(data[2 * i] << 8 | data[2 * i + 1]) : data[i];
  return to_rgb(samples.data(), h.height, h.width, h.channels, rescale);
}

// ---- GIF ----------------------------------------------------------------------------------------

// What PIL needs beyond stb_image's RGBA: the first frame's rectangle, its palette (local, else
// global) and its transparent index from the graphic control extension before it; and whether
// the file ends inside the frame's image data.
struct GifFrame {
  std::array<uint8_t, 3 * 256> palette{};
  int transparent = -1;
  int64_t x0 = 0, y0 = 0, width = 0, height = 0;
  bool cut = false;  // the file ends inside the LZW sub-blocks
};

std::optional<GifFrame> parse_gif_first_frame(std::span<const uint8_t> b) {
  GifFrame f;
  size_t pos = 13;  // signature (6) + logical screen descriptor (7)
  auto read_palette = [&](uint8_t packed) {
    if (!(packed & 0x80)) return true;
    const size_t n = size_t(3) << ((packed & 7) + 1);
    if (pos + n > b.size()) return false;
    std::copy_n(b.begin() + pos, n, f.palette.begin());
    pos += n;
    return true;
  };
  // Skips a chain of sub-blocks (a length byte, then that many bytes; 0 ends the chain). False
  // when the file ends inside a sub-block; a file that ends between two counts as complete.
  auto skip_sub_blocks = [&]() {
    while (pos < b.size() && b[pos] != 0) pos += size_t(b[pos]) + 1;
    const bool complete = pos <= b.size();
    ++pos;
    return complete;
  };
  if (b.size() < pos || !read_palette(b[10])) return std::nullopt;
  auto u16 = [&](size_t at) { return int64_t(b[at]) | int64_t(b[at + 1]) << 8; };
  while (pos < b.size()) {
    const uint8_t block = b[pos++];
    if (block == 0x2C) {  // image descriptor: x, y, w, h, packed; a local palette; LZW data
      if (pos + 9 > b.size()) return std::nullopt;
      f.x0 = u16(pos), f.y0 = u16(pos + 2), f.width = u16(pos + 4), f.height = u16(pos + 6);
      pos += 9;
      if (!read_palette(b[pos - 1])) return std::nullopt;
      ++pos;  // LZW minimum code size
      f.cut = pos >= b.size() || !skip_sub_blocks();
      return f;
    }
    if (block != 0x21 || pos >= b.size()) return std::nullopt;
    const uint8_t label = b[pos++];
    // Graphic control extension: one 4-byte sub-block, packed flags (bit 0: transparency),
    // delay (2 bytes), transparent index.
    if (label == 0xF9 && pos + 5 <= b.size() && b[pos] >= 4)
      f.transparent = (b[pos + 1] & 1) ? b[pos + 4] : -1;
    skip_sub_blocks();
  }
  return std::nullopt;
}

// stb_image leaves the transparent pixels of the first frame at RGBA 0 and fills the canvas
// outside the frame with the background colour (or 0). PIL keeps mode "P" for the first frame:
// its canvas starts filled with the transparent index (index 0 when none) and convert("RGB")
// shows that index's palette colour. We recolour those pixels to match.
// Truncation: PIL decodes a GIF whose file ends after the frame's data even without the block
// terminator and trailer; stb_image would read past the end for them, which we allow once the
// sub-blocks are known to be complete. A file cut exactly between two sub-blocks passes this
// check; its missing pixels come out in the fill colour where PIL raises.
Image decode_gif(std::span<const uint8_t> bytes, const std::string& name,
                 const DecodeOptions& options) {
  const std::optional<GifFrame> frame = parse_gif_first_frame(bytes);
  AFN_CHECK(frame.has_value(), "decode_image: ", name,
            ": corrupt or truncated GIF (no complete image descriptor)");
  AFN_CHECK(!frame->cut, "decode_image: ", name,
            ": image file is truncated (the file ends inside the GIF image data)");
  StbPixels p = stb_decode(bytes, name, 4, false, options, /*allow_overrun=*/true);
  const uint8_t* fill = frame->palette.data() + 3 * std::max(frame->transparent, 0);
  const uint8_t* rgba = p.as<uint8_t>();
  Image out(p.height, p.width, 3);
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      const uint8_t* src = rgba + 4 * (y * out.width + x);
      const bool in_frame = x >= frame->x0 && x < frame->x0 + frame->width && y >= frame->y0 &&
                            y < frame->y0 + frame->height;
      std::copy_n(in_frame && src[3] != 0 ? src : fill, 3, out.pixel(y, x));
    }
  }
  return out;
}

// ---- JPEG ---------------------------------------------------------------------------------------

// Whether an end-of-image marker (FF D9) follows the first start-of-scan; a JPEG without one is
// truncated. PIL raises "image file is truncated" when libjpeg needs bytes past the end of the
// file, which is the case for a missing EOI except in the rare files decode.h lists. libjpeg
// itself only warns ("Premature end of JPEG file") and TurboJPEG reports just the first warning,
// so we check the structure: the header segments are walked by their lengths (an EXIF thumbnail
// in APP1 has its own FF D9); inside the scans 0xFF is always followed by 00, a restart marker or
// a real marker, so an FF D9 after the first SOS is the image's own EOI. Searching from the end
// finds it in the last two bytes of an intact file.
bool jpeg_has_eoi(std::span<const uint8_t> b) {
  size_t pos = 2;  // past SOI
  size_t scan = 0;
  while (scan == 0 && pos + 1 < b.size()) {
    if (b[pos] != 0xFF) {  // garbage between segments: libjpeg skips it with a warning
      ++pos;
      continue;
    }
    const uint8_t marker = b[pos + 1];
    if (marker == 0xFF || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += marker == 0xFF ? 1 : 2;  // fill byte, or a marker without a length
      continue;
    }
    if (pos + 3 >= b.size()) return false;
    const size_t length = size_t(b[pos + 2]) << 8 | b[pos + 3];
    if (marker == 0xDA) scan = pos + 2 + length;
    pos += 2 + length;
  }
  for (size_t i = b.size() - 1; scan != 0 && i > scan; --i) {
    if (b[i] == 0xD9 && b[i - 1] == 0xFF) return true;
  }
  return false;
}

// One TurboJPEG decompressor per thread: creating one allocates libjpeg's state (a few KB), and a
// handle must not be used by two threads at once. After a failure the handle is replaced:
// TurboJPEG 2.1's tjDecompressHeader3 returns from an error without aborting the decompressor,
// and the next header read on that handle would continue the old one ("Bogus marker length").
class TurboJpegHandle {
 public:
  TurboJpegHandle() { reset(); }
  ~TurboJpegHandle() { tjDestroy(handle_); }
  TurboJpegHandle(const TurboJpegHandle&) = delete;
  TurboJpegHandle& operator=(const TurboJpegHandle&) = delete;

  tjhandle get() const { return handle_; }
  // The error of the failed call, then a fresh decompressor for the next one.
  std::string take_error() {
    std::string message = tjGetErrorStr2(handle_);
    reset();
    return message;
  }

 private:
  void reset() {
    if (handle_) tjDestroy(handle_);
    handle_ = tjInitDecompress();
    AFN_CHECK(handle_ != nullptr,
              "decode_image: tjInitDecompress failed: ", tjGetErrorStr2(nullptr));
  }
  tjhandle handle_ = nullptr;
};

// The largest reduction d in {8, 4, 2} with ceil(dim / d) >= the requested minimum in both
// dimensions; 1 (full size) when none fits or no minimum is set.
int jpeg_scale_denominator(int height, int width, const std::array<int64_t, 2>& min_size) {
  if (min_size[0] == 0 && min_size[1] == 0) return 1;
  for (int d : {8, 4, 2}) {
    if ((height + d - 1) / d >= min_size[0] && (width + d - 1) / d >= min_size[1]) return d;
  }
  return 1;
}

// libjpeg-turbo decodes exactly as PIL's decoder does (same library, ISLOW DCT, fancy
// upsampling): the pixels are identical. Warnings are ignored as PIL ignores them; fatal errors
// (corrupt headers or Huffman tables, unsupported precision) throw.
Image decode_jpeg_turbo(std::span<const uint8_t> bytes, const std::string& name,
                        const DecodeOptions& options) {
  thread_local TurboJpegHandle tj;
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), bytes.data(), bytes.size(), &width, &height, &subsampling,
                          &colorspace) != 0) {
    AFN_FAIL("decode_image: ", name, ": invalid JPEG header: ", tj.take_error(),
             jpeg_has_eoi(bytes) ? "" : " (the file is truncated)");
  }
  check_pixel_count(height, width, options, name);
  AFN_CHECK(jpeg_has_eoi(bytes), "decode_image: ", name,
            ": image file is truncated (no JPEG end-of-image marker after the scan data)");

  const int d = jpeg_scale_denominator(height, width, options.min_size);
  const tjscalingfactor scale{1, d};
  const int out_h = TJSCALED(height, scale), out_w = TJSCALED(width, scale);
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  std::vector<uint8_t> cmyk_pixels;
  Image out;
  uint8_t* dst = nullptr;
  if (cmyk) {
    cmyk_pixels.resize(size_t(out_h) * out_w * 4);
    dst = cmyk_pixels.data();
  } else {
    out = Image(out_h, out_w, 3);
    dst = out.data.data();
  }
  if (tjDecompress2(tj.get(), bytes.data(), bytes.size(), dst, out_w, 0, out_h,
                    cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_ACCURATEDCT) != 0) {
    const bool fatal = tjGetErrorCode(tj.get()) == TJERR_FATAL;
    const std::string message = tj.take_error();
    AFN_CHECK(!fatal, "decode_image: ", name, ": corrupt JPEG: ", message);
  }
  return cmyk ? cmyk_to_rgb(cmyk_pixels.data(), out_h, out_w) : out;
}

// Whether every DHT table declares at most 256 codes. libjpeg rejects a table with more ("Bogus
// Huffman table definition"); the stb_image of Debian 12 writes past its arrays on one (found by
// fuzzing under UBSan), so the stb path checks the tables first. DHT segments may sit between
// the scans of a progressive JPEG, so the walk skips entropy-coded data to the next marker.
bool jpeg_huffman_tables_valid(std::span<const uint8_t> b) {
  size_t pos = 2;  // past SOI
  while (pos + 3 < b.size()) {
    const uint8_t marker = b[pos + 1];
    if (b[pos] != 0xFF || marker == 0x00 || marker == 0xFF || marker == 0x01 ||
        (marker >= 0xD0 && marker <= 0xD7)) {
      ++pos;  // entropy-coded data, a stuffed 0xFF, fill bytes, restart markers
      continue;
    }
    if (marker == 0xD9) break;  // EOI
    const size_t end = pos + 2 + (size_t(b[pos + 2]) << 8 | b[pos + 3]);
    if (marker == 0xC4) {
      for (size_t t = pos + 4; t < end && t < b.size();) {  // stb reads a table that starts
        size_t codes = 0;                                   // in the segment, wherever it ends
        for (size_t i = 1; i <= 16 && t + i < b.size(); ++i) codes += b[t + i];
        if (codes > 256) return false;
        t += 17 + codes;
      }
    }
    pos = end;
  }
  return true;
}

Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& name,
                  const DecodeOptions& options) {
  if (options.jpeg_decoder == JpegDecoder::TurboJpeg)
    return decode_jpeg_turbo(bytes, name, options);
  AFN_CHECK(options.min_size[0] == 0 && options.min_size[1] == 0, "decode_image: ", name,
            ": DecodeOptions::min_size (DCT-domain scaling) needs JpegDecoder::TurboJpeg");
  AFN_CHECK(jpeg_has_eoi(bytes), "decode_image: ", name,
            ": image file is truncated (no JPEG end-of-image marker after the scan data)");
  AFN_CHECK(jpeg_huffman_tables_valid(bytes), "decode_image: ", name,
            ": corrupt JPEG: a Huffman table (DHT) declares more than 256 codes");
  return stb_decode_rgb(bytes, name, options);
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::error_code ec;
  AFN_CHECK(std::filesystem::is_regular_file(path, ec), "decode_image: ", path,
            ": not a readable file (",
            std::filesystem::exists(path, ec) ? "not a regular file" : "no such file", ")");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  AFN_CHECK(f, "decode_image: ", path, ": cannot open: ", std::strerror(errno));
  std::vector<uint8_t> bytes(size_t(f.tellg()));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size()));
  AFN_CHECK(f, "decode_image: ", path, ": read failed: ", std::strerror(errno));
  return bytes;
}

}  // namespace

Image decode_image(std::span<const uint8_t> bytes, const std::string& name_for_errors,
                   const DecodeOptions& options) {
  const std::string& name = name_for_errors;
  AFN_CHECK(options.min_size[0] >= 0 && options.min_size[1] >= 0, "decode_image: min_size must ",
            "be >= 0, got {", options.min_size[0], ", ", options.min_size[1], "}");
  AFN_CHECK(options.max_pixels > 0, "decode_image: max_pixels must be > 0, got ",
            options.max_pixels);
  AFN_CHECK(!bytes.empty(), "decode_image: ", name, ": empty file (0 bytes)");
  switch (detect_format(bytes, name)) {
    case Format::Jpeg:
      return decode_jpeg(bytes, name, options);
    case Format::Png:
      return decode_png(bytes, name, options);
    case Format::Gif:
      return decode_gif(bytes, name, options);
    case Format::Pnm:
      return decode_pnm(bytes, name, options);
    case Format::Bmp:
      break;
  }
  return stb_decode_rgb(bytes, name, options);
}

Image decode_image(const std::string& path, const DecodeOptions& options) {
  const std::vector<uint8_t> bytes = read_file(path);
  return decode_image(bytes, path, options);
}

}  // namespace afinar::data
