// decode_image against PIL (Image.open(path).convert("RGB"), the pixels torchvision's loader
// sees) on the fixtures of tools/goldens/decode.py, including what PIL does with truncated
// copies of each; the conversions to RGB against closed forms on PNGs built here; errors;
// detection by content; DCT-domain scaling against a full decode + box downscale.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "afinar/core/check.h"
#include "afinar/data/decode.h"
#include "testing/fixtures.h"

namespace afinar::data {
namespace {

namespace fs = std::filesystem;
using afinar::testing::GoldenCase;

std::string fixture_path(const std::string& name) {
  return afinar::testing::test_data_path("fixtures/decode/" + name);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  AFN_CHECK(f, "cannot open ", path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

Image golden_rgb(const GoldenCase& c) {
  Tensor t = c.tensor("rgb");
  AFN_CHECK(t.dim() == 3 && t.shape()[2] == 3, c.name, ": golden rgb must be [H, W, 3]");
  Image im(t.shape()[0], t.shape()[1], 3);
  std::copy_n(t.data<uint8_t>(), im.data.size(), im.data.begin());
  return im;
}

// Equal sizes and every sample within `tolerance` levels; the message names the worst pixel.
::testing::AssertionResult same_pixels(const Image& actual, const Image& expected,
                                       int tolerance = 0) {
  if (actual.height != expected.height || actual.width != expected.width ||
      actual.channels != expected.channels) {
    return ::testing::AssertionFailure()
           << "size " << actual.height << "x" << actual.width << "x" << actual.channels
           << ", expected " << expected.height << "x" << expected.width << "x" << expected.channels;
  }
  int worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < actual.data.size(); ++i) {
    const int d = std::abs(int(actual.data[i]) - int(expected.data[i]));
    if (d > worst) worst = d, at = i;
  }
  if (worst <= tolerance) return ::testing::AssertionSuccess();
  const int64_t pixel = int64_t(at) / actual.channels;
  return ::testing::AssertionFailure()
         << "max |diff| " << worst << " > " << tolerance << " at (y " << pixel / actual.width
         << ", x " << pixel % actual.width << ", c " << at % 3 << "): " << int(actual.data[at])
         << " vs " << int(expected.data[at]);
}

// The message of the afinar::Error that f throws ("<no error>" when it returns).
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

#define EXPECT_ERROR_HAS(message, text) \
  EXPECT_NE(std::string(message).find(text), std::string::npos) << "message: " << (message)

// Where we knowingly differ from PIL (documented in include/afinar/data/decode.h).
// 16-bit 5-6-5 BMP: stb widens 5/6-bit channels by bit replication, PIL by v·255/31 (v·255/63)
// truncated; the two never differ by more than one level.
const std::map<std::string, int> kTolerance = {{"bmp_rgb565.bmp", 1}};
// RLE-compressed BMP: PIL decodes it, stb_image does not; we reject it with a clear error.
const char* const kUnsupported = "bmp_rle8.bmp";

int tolerance_of(const std::string& name) {
  auto it = kTolerance.find(name);
  return it == kTolerance.end() ? 0 : it->second;
}

TEST(Decode, MatchesPilGolden) {
  std::map<std::string, int> per_format;
  for (const GoldenCase& c : afinar::testing::load_goldens("decode")) {
    if (c.name == kUnsupported || !c.has("rgb")) continue;
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(
        same_pixels(decode_image(fixture_path(c.name)), golden_rgb(c), tolerance_of(c.name)));
    ++per_format[c.name.substr(0, c.name.find('_'))];
  }
  for (const char* format : {"png", "jpeg", "gif", "bmp", "ppm", "pgm"})
    EXPECT_GE(per_format[format], 2) << "too few " << format << " fixtures in decode.h5";
}

TEST(Decode, RejectsWhatPilRejects) {
  int rejected = 0;
  for (const GoldenCase& c : afinar::testing::load_goldens("decode")) {
    if (c.has("rgb")) continue;
    SCOPED_TRACE(c.name);
    const std::string message = error_of([&] { decode_image(fixture_path(c.name)); });
    // PIL's reasons: zlib's "broken data stream", "broken PNG file"; ours: the chunk CRCs.
    EXPECT_ERROR_HAS(message, "corrupt PNG: bad CRC in the ");
    EXPECT_ERROR_HAS(message, c.name);
    ++rejected;
  }
  EXPECT_EQ(rejected, 2);  // a flipped bit in the zlib data, a bad IHDR CRC
}

TEST(Decode, RejectsRleBmpWithClearError) {
  const std::string message = error_of([] { decode_image(fixture_path(kUnsupported)); });
  EXPECT_ERROR_HAS(message, "RLE");
  EXPECT_ERROR_HAS(message, kUnsupported);
}

// Each fixture cut to a few lengths: where PIL raises we throw, where PIL decodes (a PNG without
// its IEND, a GIF without its trailer) we decode the same pixels. One documented exception: we
// reject every JPEG without its end-of-image marker (every cut here removes it); PIL decodes a
// few, when libjpeg finished the scanlines without reading to the end of the file (garbage
// before the EOI, or corrupt data on which the decoder gave up early).
TEST(Decode, TruncationMatchesPil) {
  int throws = 0, decodes = 0;
  std::vector<std::string> stricter;  // PIL decodes, we reject (JPEG without EOI)
  for (const GoldenCase& c : afinar::testing::load_goldens("decode")) {
    if (c.name == kUnsupported || !c.has("rgb")) continue;
    const std::vector<uint8_t> bytes = read_bytes(fixture_path(c.name));
    const std::vector<int64_t> cuts = c.attr_ints("cuts");
    const std::vector<int64_t> accepts = c.attr_ints("pil_accepts");
    ASSERT_EQ(cuts.size(), accepts.size());
    for (size_t i = 0; i < cuts.size(); ++i) {
      SCOPED_TRACE(c.name + " cut to " + std::to_string(cuts[i]) + " of " +
                   std::to_string(bytes.size()) + " bytes");
      const std::span<const uint8_t> cut(bytes.data(), size_t(cuts[i]));
      const bool jpeg = c.name.starts_with("jpeg_");
      if (accepts[i] && !jpeg) {
        EXPECT_TRUE(same_pixels(decode_image(cut, c.name), golden_rgb(c), tolerance_of(c.name)));
        ++decodes;
        continue;
      }
      const std::string message = error_of([&] { decode_image(cut, c.name); });
      EXPECT_ERROR_HAS(message, c.name);
      // Past the header, the error says so; a cut inside the header may read as corrupt.
      if (cuts[i] >= int64_t(bytes.size()) / 2) {
        EXPECT_ERROR_HAS(message, "truncated");
      }
      ++throws;
      if (accepts[i]) stricter.push_back(c.name + " cut to " + std::to_string(cuts[i]));
    }
  }
  EXPECT_GT(throws, 100);
  EXPECT_GT(decodes, 20);
  EXPECT_EQ(stricter,
            (std::vector<std::string>{
                "jpeg_corrupt_scan.jpg cut to 982", "jpeg_corrupt_scan.jpg cut to 983",
                "jpeg_extraneous_bytes.jpg cut to 985", "jpeg_extraneous_bytes.jpg cut to 986"}));
}

TEST(Decode, DetectsFormatByContentNotName) {
  const GoldenCase png = [] {
    for (const GoldenCase& c : afinar::testing::load_goldens("decode"))
      if (c.name == "png_rgb.png") return c;
    AFN_FAIL("png_rgb.png missing from decode.h5");
  }();
  const std::vector<uint8_t> bytes = read_bytes(fixture_path("png_rgb.png"));
  EXPECT_TRUE(same_pixels(decode_image(bytes, "photo.jpg"), golden_rgb(png)));

  const fs::path path =
      fs::temp_directory_path() / ("afinar_decode_" + std::to_string(::getpid()) + "_photo.jpg");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  EXPECT_TRUE(same_pixels(decode_image(path.string()), golden_rgb(png)));
  fs::remove(path);
}

// ---- conversions to RGB, against closed forms ---------------------------------------------------

uint32_t crc32(const std::vector<uint8_t>& bytes, size_t begin) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = begin; i < bytes.size(); ++i) {
    crc ^= bytes[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

void put_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put32(out, uint32_t(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put32(out, crc32(out, start));
}

// A PNG of `rows` (each row's bytes, filter type 0 added here) in one stored (uncompressed)
// deflate block, plus optional PLTE and tRNS chunks.
std::vector<uint8_t> make_png(int width, int height, int bit_depth, int color_type,
                              const std::vector<std::vector<uint8_t>>& rows,
                              const std::vector<uint8_t>& plte = {},
                              const std::vector<uint8_t>& trns = {}) {
  std::vector<uint8_t> raw;
  for (const auto& row : rows) {
    raw.push_back(0);
    raw.insert(raw.end(), row.begin(), row.end());
  }
  AFN_CHECK(raw.size() < 65536, "make_png: one stored block holds at most 65535 bytes");
  uint32_t a = 1, b = 0;  // Adler-32
  for (uint8_t v : raw) a = (a + v) % 65521, b = (b + a) % 65521;
  std::vector<uint8_t> z = {0x78,
                            0x01,
                            0x01,
                            uint8_t(raw.size()),
                            uint8_t(raw.size() >> 8),
                            uint8_t(~raw.size()),
                            uint8_t(~raw.size() >> 8)};
  z.insert(z.end(), raw.begin(), raw.end());
  put32(z, b << 16 | a);

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  put32(ihdr, uint32_t(width));
  put32(ihdr, uint32_t(height));
  ihdr.insert(ihdr.end(), {uint8_t(bit_depth), uint8_t(color_type), 0, 0, 0});
  put_chunk(png, "IHDR", ihdr);
  if (!plte.empty()) put_chunk(png, "PLTE", plte);
  if (!trns.empty()) put_chunk(png, "tRNS", trns);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", {});
  return png;
}

// Expected RGB image from a per-pixel rule.
template <typename F>
Image expected_image(int64_t height, int64_t width, F rgb_of) {
  Image im(height, width, 3);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      const std::array<int, 3> v = rgb_of(y, x);
      for (int c = 0; c < 3; ++c) im.pixel(y, x)[c] = uint8_t(v[c]);
    }
  return im;
}

uint8_t sample(int64_t y, int64_t x, int k) {
  return uint8_t((y * 37 + x * 11 + k * 71) % 256);
}

TEST(Decode, GrayIsReplicated) {
  std::vector<std::vector<uint8_t>> rows(3, std::vector<uint8_t>(5));
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x) rows[y][x] = sample(y, x, 0);
  EXPECT_TRUE(same_pixels(decode_image(make_png(5, 3, 8, 0, rows), "gray.png"),
                          expected_image(3, 5, [](int64_t y, int64_t x) {
                            const int g = sample(y, x, 0);
                            return std::array<int, 3>{g, g, g};
                          })));
}

TEST(Decode, AlphaIsDroppedWithoutCompositing) {
  std::vector<std::vector<uint8_t>> rgba(3), la(3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x) {
      const uint8_t alpha = uint8_t(x * 60);  // 0 (fully transparent) to 240
      rgba[y].insert(rgba[y].end(), {sample(y, x, 0), sample(y, x, 1), sample(y, x, 2), alpha});
      la[y].insert(la[y].end(), {sample(y, x, 0), alpha});
    }
  EXPECT_TRUE(
      same_pixels(decode_image(make_png(5, 3, 8, 6, rgba), "rgba.png"),
                  expected_image(3, 5, [](int64_t y, int64_t x) {
                    return std::array<int, 3>{sample(y, x, 0), sample(y, x, 1), sample(y, x, 2)};
                  })));
  EXPECT_TRUE(same_pixels(decode_image(make_png(5, 3, 8, 4, la), "la.png"),
                          expected_image(3, 5, [](int64_t y, int64_t x) {
                            const int g = sample(y, x, 0);
                            return std::array<int, 3>{g, g, g};
                          })));
}

TEST(Decode, PaletteIsExpandedTransparentIndexKeepsItsColour) {
  std::vector<uint8_t> plte;
  for (int i = 0; i < 16; ++i)
    plte.insert(plte.end(), {sample(i, 0, 0), sample(i, 0, 1), sample(i, 0, 2)});
  const std::vector<uint8_t> trns = {255, 0, 128};  // index 1 fully transparent
  std::vector<std::vector<uint8_t>> rows(2, std::vector<uint8_t>(8));
  auto index = [](int64_t y, int64_t x) { return int((y * 8 + x) % 16); };
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 8; ++x) rows[y][x] = uint8_t(index(y, x));
  EXPECT_TRUE(
      same_pixels(decode_image(make_png(8, 2, 8, 3, rows, plte, trns), "p.png"),
                  expected_image(2, 8, [&](int64_t y, int64_t x) {
                    const int i = index(y, x);
                    return std::array<int, 3>{sample(i, 0, 0), sample(i, 0, 1), sample(i, 0, 2)};
                  })));
}

TEST(Decode, SixteenBitPngAsPil) {
  auto value = [](int64_t y, int64_t x, int k) {
    return int((y * 9001 + x * 257 + k * 4099) % 65536) / (y == 0 ? 256 : 1);
  };
  std::vector<std::vector<uint8_t>> gray(3), rgb(3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) {
      gray[y].insert(gray[y].end(), {uint8_t(value(y, x, 0) >> 8), uint8_t(value(y, x, 0))});
      for (int k = 0; k < 3; ++k)
        rgb[y].insert(rgb[y].end(), {uint8_t(value(y, x, k) >> 8), uint8_t(value(y, x, k))});
    }
  // Gray: PIL's mode "I" clipped by I->RGB (row 0 holds values below 256, kept as they are).
  EXPECT_TRUE(same_pixels(decode_image(make_png(4, 3, 16, 0, gray), "gray16.png"),
                          expected_image(3, 4, [&](int64_t y, int64_t x) {
                            const int g = std::min(value(y, x, 0), 255);
                            return std::array<int, 3>{g, g, g};
                          })));
  // RGB: the high byte.
  EXPECT_TRUE(same_pixels(
      decode_image(make_png(4, 3, 16, 2, rgb), "rgb16.png"),
      expected_image(3, 4, [&](int64_t y, int64_t x) {
        return std::array<int, 3>{value(y, x, 0) >> 8, value(y, x, 1) >> 8, value(y, x, 2) >> 8};
      })));
}

std::vector<uint8_t> make_pnm(const std::string& magic, int width, int height, int maxval,
                              const std::vector<int>& samples) {
  const std::string header = magic + "\n" + std::to_string(width) + " " + std::to_string(height) +
                             "\n" + std::to_string(maxval) + "\n";
  std::vector<uint8_t> out(header.begin(), header.end());
  for (int v : samples) {
    if (maxval > 255) out.push_back(uint8_t(v >> 8));
    out.push_back(uint8_t(v));
  }
  return out;
}

// PIL's round(v / maxval · 255), half to even; 16-bit PGM through mode "I" (· 65535, clipped).
TEST(Decode, PnmRescalesAsPil) {
  const Image p100 = decode_image(make_pnm("P5", 4, 1, 100, {10, 30, 50, 100}), "a.pgm");
  EXPECT_TRUE(
      same_pixels(p100, expected_image(1, 4, [](int64_t, int64_t x) {
                    const int v = std::array<int, 4>{26, 76, 128, 255}[x];  // 25.5 76.5 127.5
                    return std::array<int, 3>{v, v, v};
                  })));
  const Image g16 = decode_image(make_pnm("P5", 3, 1, 1000, {2, 4, 5}), "b.pgm");
  EXPECT_TRUE(same_pixels(g16, expected_image(1, 3, [](int64_t, int64_t x) {
                            const int v = std::array<int, 3>{131, 255, 255}[x];  // 131.07, 262.14
                            return std::array<int, 3>{v, v, v};
                          })));
  // 16-bit PPM: round(v / 257), not the high byte (511 -> 2, where v >> 8 is 1).
  const Image c16 = decode_image(make_pnm("P6", 1, 1, 65535, {511, 32767, 65535}), "c.ppm");
  EXPECT_TRUE(same_pixels(c16, expected_image(1, 1, [](int64_t, int64_t) {
                            return std::array<int, 3>{2, 127, 255};
                          })));
}

// ---- errors -------------------------------------------------------------------------------------

std::vector<uint8_t> as_bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

TEST(Decode, ErrorsNameTheFileAndTheReason) {
  EXPECT_ERROR_HAS(error_of([] { decode_image(std::vector<uint8_t>{}, "empty.jpg"); }),
                   "empty.jpg: empty file");
  const std::string html =
      error_of([] { decode_image(as_bytes("<!DOCTYPE html><html>not found</html>"), "page.jpg"); });
  EXPECT_ERROR_HAS(html, "page.jpg: not an image in a supported format");
  EXPECT_ERROR_HAS(html, "3c 21 44 4f");  // the first bytes, to recognise what it is
  EXPECT_ERROR_HAS(
      error_of(
          [] { decode_image(as_bytes(std::string_view("RIFF\x10\0\0\0WEBPVP8 ", 16)), "a.webp"); }),
      "WebP images are not supported");
  EXPECT_ERROR_HAS(
      error_of([] { decode_image(as_bytes(std::string_view("II*\0\x08\0\0\0", 8)), "a.tif"); }),
      "TIFF images are not supported");
  EXPECT_ERROR_HAS(error_of([] { decode_image(as_bytes("P3\n1 1\n255\n0 0 0\n"), "a.ppm"); }),
                   "plain (ASCII) PNM images are not supported");
  EXPECT_ERROR_HAS(error_of([] {
                     decode_image(make_pnm("P5", 2, 2, 0, {0, 0, 0, 0}), "z.pgm");
                   }),
                   "maxval must be in 1..65535");

  const std::string missing = fixture_path("no_such_file.png");
  EXPECT_ERROR_HAS(error_of([&] { decode_image(missing); }), missing + ": not a readable file");
  EXPECT_ERROR_HAS(error_of([] { decode_image(fixture_path("")); }), "not a regular file");

  // A JPEG header declaring 7 components (SOF0's component count): libjpeg refuses it.
  std::vector<uint8_t> jpeg = read_bytes(fixture_path("jpeg_420.jpg"));
  const uint8_t sof0[] = {0xFF, 0xC0};
  const auto sof = std::search(jpeg.begin(), jpeg.end(), std::begin(sof0), std::end(sof0));
  ASSERT_NE(sof, jpeg.end());
  sof[9] = 7;
  EXPECT_ERROR_HAS(error_of([&] { decode_image(jpeg, "bad.jpg"); }),
                   "bad.jpg: invalid JPEG header");

  // A Huffman table declaring 16·255 codes (at most 256 are valid): libjpeg rejects it, and the
  // stb path must reject it before stb_image's table builder writes past its arrays.
  std::vector<uint8_t> dht = read_bytes(fixture_path("jpeg_420.jpg"));
  const uint8_t dht_marker[] = {0xFF, 0xC4};
  const auto table =
      std::search(dht.begin(), dht.end(), std::begin(dht_marker), std::end(dht_marker));
  ASSERT_NE(table, dht.end());
  std::fill(table + 5, table + 21, uint8_t(255));  // the 16 code counts after Tc/Th
  EXPECT_ERROR_HAS(error_of([&] { decode_image(dht, "dht.jpg"); }), "Bogus Huffman table");
  EXPECT_ERROR_HAS(
      error_of([&] { decode_image(dht, "dht.jpg", {.jpeg_decoder = JpegDecoder::Stb}); }),
      "dht.jpg: corrupt JPEG: a Huffman table (DHT) declares more than 256 codes");
}

// Decompression bombs found by fuzzing (tests/fuzz/decode/): a 29-byte GIF whose logical screen
// is 13000x13000 made stb_image allocate 1.5 GB (out, background and history buffers) before
// decoding its one LZW code; a 68-byte PNG declaring 13000x13000 16-bit RGBA made it allocate the
// 1.35 GB inflate buffer. Both lie under max_pixels (169M < 179M), so the file-size bound of
// decode.cpp (check_file_can_hold) must refuse them, before any allocation.
TEST(Decode, RefusesHeadersDeclaringMorePixelsThanTheFileCanHold) {
  for (const char* name : {"bomb_gif_screen_13000x13000.gif", "bomb_png_13000x13000_rgba16.png"}) {
    const std::string path = afinar::testing::test_data_path(std::string("../fuzz/decode/") + name);
    EXPECT_ERROR_HAS(error_of([&] { decode_image(path); }),
                     "13000x13000 pixels, more than a file of");
  }
  // Found by a later run: a 128-byte BMP stored top-down (negative height), 8233 x -65512 at
  // 16 bits per pixel. stb_image's header reader returns the height negative, so the guards saw
  // a negative pixel count and let its loader allocate 1.6 GB; they now take the absolute value.
  const std::string bmp =
      afinar::testing::test_data_path("../fuzz/decode/bomb_bmp_top_down_8233x65512.bmp");
  EXPECT_ERROR_HAS(error_of([&] { decode_image(bmp); }),
                   "image of 65512x8233 = 539360296 pixels exceeds max_pixels");
  EXPECT_ERROR_HAS(error_of([&] { decode_image(bmp, {.max_pixels = int64_t(1) << 32}); }),
                   "65512x8233 pixels, more than a file of 128 bytes");
  // Real images lie far below the bound: the smallest fixture, a 1-bit 24x32 PNG of 188 bytes,
  // decodes.
  EXPECT_EQ(decode_image(fixture_path("png_bilevel.png")).height, 24);
}

// Found by fuzzing (tests/fuzz/decode/pnm_10_digit_size.ppm): a PPM header of 6666666666 x 1
// ... made decode_pnm compute width · height · channels past int64 (undefined behaviour) before
// its truncation check. Sides are bounded first.
TEST(Decode, PnmSidesAreBoundedBeforeSizeArithmetic) {
  EXPECT_ERROR_HAS(
      error_of([] { decode_image(as_bytes("P6 6666666666 6666666666 255\n"), "a.ppm"); }),
      "a.ppm: PNM size 6666666666x6666666666 exceeds 16777216 pixels per side");
  const std::string path = afinar::testing::test_data_path("../fuzz/decode/pnm_10_digit_size.ppm");
  EXPECT_ERROR_HAS(error_of([&] { decode_image(path); }), "exceeds 16777216 pixels per side");
}

TEST(Decode, OptionsAreChecked) {
  const std::string path = fixture_path("jpeg_420.jpg");  // 29x37
  EXPECT_ERROR_HAS(error_of([&] { decode_image(path, {.max_pixels = 29 * 37 - 1}); }),
                   "exceeds max_pixels");
  EXPECT_EQ(decode_image(path, {.max_pixels = 29 * 37}).height, 29);
  EXPECT_ERROR_HAS(error_of([&] { decode_image(fixture_path("png_rgb.png"), {.max_pixels = 10}); }),
                   "exceeds max_pixels");
  EXPECT_ERROR_HAS(error_of([&] {
                     decode_image(path, {.min_size = {-1, 0}});
                   }),
                   "min_size must be >= 0");
  EXPECT_ERROR_HAS(error_of([&] {
                     decode_image(path, {.min_size = {8, 8}, .jpeg_decoder = JpegDecoder::Stb});
                   }),
                   "needs JpegDecoder::TurboJpeg");
}

// ---- JPEG decoders and DCT-domain scaling -------------------------------------------------------

// stb_image's JPEG decoder is not libjpeg: its IDCT rounds differently and its chroma upsampling
// is not libjpeg's fancy upsampling. It stays selectable for comparison; this characterises how
// far it is from PIL (= TurboJPEG, exact in MatchesPilGolden). Measured on these fixtures: max
// 1-2 levels and mean below 0.11 for 4:2:0, 4:4:4, gray, progressive and CMYK; 4:2:2 max 9 and
// mean 0.24, at sharp chroma edges where the two horizontal upsamplers interpolate differently.
// The bounds say "the same image up to resampling and rounding", not "equal".
TEST(Decode, StbJpegDiffersFromPilByFewLevels) {
  for (const char* name : {"jpeg_420.jpg", "jpeg_422.jpg", "jpeg_444.jpg", "jpeg_gray.jpg",
                           "jpeg_progressive.jpg", "jpeg_cmyk.jpg"}) {
    SCOPED_TRACE(name);
    const Image turbo = decode_image(fixture_path(name));
    const Image stb = decode_image(fixture_path(name), {.jpeg_decoder = JpegDecoder::Stb});
    ASSERT_TRUE(same_pixels(stb, turbo, 12));
    double sum = 0;
    for (size_t i = 0; i < stb.data.size(); ++i)
      sum += std::abs(int(stb.data[i]) - int(turbo.data[i]));
    EXPECT_LT(sum / double(stb.data.size()), 0.5);
  }
}

// The mean of each d×d block, the rest of an edge block averaged over what exists.
Image box_downscale(const Image& im, int d) {
  const int64_t h = (im.height + d - 1) / d, w = (im.width + d - 1) / d;
  Image out(h, w, 3);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        int n = 0;
        for (int64_t yy = y * d; yy < std::min(im.height, (y + 1) * d); ++yy)
          for (int64_t xx = x * d; xx < std::min(im.width, (x + 1) * d); ++xx, ++n)
            sum += im.pixel(yy, xx)[c];
        out.pixel(y, x)[c] = uint8_t(std::lround(sum / n));
      }
  return out;
}

TEST(Decode, DctScalingPicksTheSmallestScaleThatKeepsMinSize) {
  struct Case {
    const char* file;
    std::array<int64_t, 2> min_size;
    int64_t height, width;  // ceil(H/d) x ceil(W/d) for the d the rule picks, worked by hand
  };
  const Case cases[] = {
      {"jpeg_smooth_444.jpg", {0, 0}, 96, 128},     // off
      {"jpeg_smooth_444.jpg", {96, 128}, 96, 128},  // d = 2 would give 48 < 96
      {"jpeg_smooth_444.jpg", {48, 64}, 48, 64},    // d = 2
      {"jpeg_smooth_444.jpg", {24, 33}, 48, 64},    // d = 4 gives width 32 < 33: d = 2
      {"jpeg_smooth_444.jpg", {24, 32}, 24, 32},    // d = 4
      {"jpeg_smooth_444.jpg", {1, 1}, 12, 16},      // d = 8, the smallest scale
      {"jpeg_smooth_444.jpg", {500, 1}, 96, 128},   // larger than the image: full size
      {"jpeg_420.jpg", {8, 10}, 8, 10},             // 29x37, d = 4: ceil 7.25 = 8, ceil 9.25 = 10
      {"jpeg_420.jpg", {8, 11}, 15, 19},            // d = 2
      {"jpeg_cmyk.jpg", {4, 5}, 4, 5},              // d = 8, through the CMYK conversion
      {"png_rgb.png", {1, 1}, 24, 32},              // not a JPEG: the hint is ignored
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.file) + " min_size {" + std::to_string(c.min_size[0]) + ", " +
                 std::to_string(c.min_size[1]) + "}");
    const Image im = decode_image(fixture_path(c.file), {.min_size = c.min_size});
    EXPECT_EQ(im.height, c.height);
    EXPECT_EQ(im.width, c.width);
    EXPECT_EQ(im.channels, 3);
  }
}

// The scaled IDCT keeps the low frequencies of each 8x8 block: at 1/8 it is the block's DC
// coefficient, the block mean; at 1/2 and 1/4 a reduced IDCT, close to a box filter on smooth
// content. Against the box downscale of the full decode the difference is rounding: the full
// decode rounds each Y/Cb/Cr sample before the colour conversion (up to 1.772 · 0.5 in B), the
// conversion rounds each pixel, the box mean rounds again: at most 2 levels, on average about
// half a level. Measured on this blurred 4:4:4 image: max 2, mean 0.42-0.46 at every scale; the
// bounds give one level (max) and a quarter level (mean) of room. (With 4:2:0 chroma the
// scaled decode also upsamples chroma differently: max 6-10 on the small noisy jpeg_420.jpg.)
TEST(Decode, DctScalingIsCloseToBoxDownscale) {
  const std::string path = fixture_path("jpeg_smooth_444.jpg");
  const Image full = decode_image(path);
  for (int d : {2, 4, 8}) {
    SCOPED_TRACE("scale 1/" + std::to_string(d));
    const Image scaled = decode_image(path, {.min_size = {full.height / d, full.width / d}});
    const Image box = box_downscale(full, d);
    ASSERT_TRUE(same_pixels(scaled, box, 3));
    double sum = 0;
    for (size_t i = 0; i < box.data.size(); ++i)
      sum += std::abs(int(scaled.data[i]) - int(box.data[i]));
    EXPECT_LT(sum / double(box.data.size()), 0.75);
  }
}

TEST(Decode, ThreadsDecodeIndependently) {
  std::vector<std::string> names;
  std::vector<Image> serial;
  for (const GoldenCase& c : afinar::testing::load_goldens("decode")) {
    if (c.name == kUnsupported || !c.has("rgb")) continue;
    names.push_back(c.name);
    serial.push_back(decode_image(fixture_path(c.name)));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round)
        for (size_t i = 0; i < names.size(); ++i) {
          // Alternate with failing decodes: an error must not leave a thread's decoder broken.
          try {
            decode_image(std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xC0}, "bad.jpg");
          } catch (const Error&) {
          }
          if (decode_image(fixture_path(names[(i + t) % names.size()])).data !=
              serial[(i + t) % names.size()].data)
            ++mismatches[t];
        }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace afinar::data
