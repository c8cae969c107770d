// Image decoding: file bytes -> Image (uint8 H×W×3, RGB), pixel for pixel what torchvision's
// default loader produces, PIL's `Image.open(path).convert("RGB")` (PIL 9.4).
//
//   Image im = decode_image("train/cat/001.jpg");
//   Image small = decode_image(path, {.min_size = {256, 256}});   // JPEG: DCT-domain downscale
//
// The format comes from the content (magic bytes), never from the file name:
//   JPEG   FF D8 FF          libjpeg-turbo's TurboJPEG (the library PIL itself decodes with),
//                            ISLOW DCT and fancy upsampling as PIL: identical pixels.
//   PNG    89 'PNG' 0D 0A..  stb_image; every colour type and bit depth, Adam7 interlacing.
//   GIF    'GIF87a'/'GIF89a' stb_image, first frame only.
//   BMP    'BM'              stb_image; 1/4/8/16/24/32 bits, uncompressed or bit fields.
//   PPM/PGM 'P6' / 'P5'      stb_image, binary only, any maxval.
// WebP, TIFF, HEIF/AVIF, RLE-compressed BMP and plain (ASCII) PNM / PBM are recognised and
// rejected with an error that names the format.
//
// Conversion to RGB, as PIL's convert("RGB") does it:
//   grayscale            replicated into R, G and B;
//   alpha (RGBA, LA)     dropped, no compositing over a background;
//   palette (P)          expanded through the palette; a transparent index keeps its colour;
//   16-bit PNG RGB(A)/LA the high byte (v >> 8);
//   16-bit PNG gray      min(v, 255): PIL opens it as mode "I" (32-bit integer) and its I->RGB
//                        conversion clips, so anything above 255 comes out white. We reproduce
//                        this for parity; such images are rare in classification datasets;
//   PNM maxval != 255    PIL's rescale, round(v / maxval · 255), and for 16-bit PGM
//                        min(255, round(v / maxval · 65535)) (mode "I", clipped as above);
//   CMYK / YCCK JPEG     PIL assumes Adobe's inverted CMYK (libjpeg's output c is PIL's 255 - c)
//                        and converts with R = (255-K) - (C·(255-K))/255 (rounded as PIL's
//                        MULDIV255), likewise G from M and B from Y;
//   GIF first frame      as PIL: pixels of the transparent index and the canvas the frame does
//                        not cover take the colour of the transparent index (index 0 when none).
// EXIF orientation is not applied (neither PIL's open nor torchvision's loader applies it).
//
// Errors: every failure throws afinar::Error naming the file and the reason: an empty file,
// content that is no supported image, a corrupt stream, a truncated file. Truncation is judged as
// PIL judges it, "the decoder needed bytes past the end of the file" (PIL: "image file is
// truncated"): a PNG may lack its IEND and a GIF its trailer, as PIL allows. Like PIL we accept
// JPEGs on which libjpeg only warns (extraneous bytes before a marker, corrupt entropy data).
// Decoding never reads outside `bytes` and never aborts the process.
//
// Known differences from PIL, all in rare files:
//   - a JPEG without its end-of-image marker is rejected as truncated. PIL decodes some of them:
//     when garbage follows the scan data or libjpeg gave up early on corrupt data, its decoder
//     finishes without reading to the end of the file.
//   - PNG: we check every chunk's CRC (as libpng does); PIL skips the CRCs from IDAT on but
//     inflates with zlib, whose Adler-32 check rejects corrupt image data. So a PNG with a bad
//     IDAT CRC but intact data is rejected here and decoded by PIL, and a PNG whose image data
//     was corrupted before its CRCs were computed (a faulty writer) may decode to garbage here
//     where PIL raises. A second inflate to check the Adler-32 would double PNG decode time.
//   - a PNG or GIF cut exactly between two chunks / sub-blocks of its image data may decode
//     (stb_image reads the missing data as zeros and cannot tell us); PIL raises.
//   - RLE-compressed BMP (PIL decodes it) is rejected: stb_image does not decode it.
//   - 16-bit (5-5-5 / 5-6-5) BMP: stb widens a 5-bit channel by bit replication (v·33 >> 2), PIL
//     by v·255/31 truncated; they differ by at most 1 level on some values.
//   - a GIF frame that extends past the logical screen: PIL grows the canvas, stb (and so we)
//     reject the file as corrupt.
//   - PIL only warns between 89M and 179M pixels; we accept those silently and reject above
//     `max_pixels` (default 179M) as PIL's DecompressionBombError does.
//
// Thread safety: decode_image may run on any number of threads at once (the TurboJPEG handle is
// per thread, stb_image keeps its error string per thread).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "afinar/data/image.h"

namespace afinar::data {

// Which decoder reads JPEG files. TurboJpeg is the default and what the loader uses: it matches
// PIL exactly, is the faster one (bench/decode_bench.cpp: DecodeJpeg/full vs DecodeJpeg/full_stb,
// about 1.4x) and can scale. Stb stays as a variant for comparison: its IDCT and upsampling
// differ from libjpeg's by a few levels (Decode.StbJpegDiffersFromPilByFewLevels), and the
// Debian 12 stb_image needs guarding on corrupt JPEGs (its Huffman table builder writes out of
// bounds on a table of more than 256 codes, which we reject first; an internal assertion can
// fire, which we turn into an error, leaking that decode's buffers).
enum class JpegDecoder { TurboJpeg, Stb };

struct DecodeOptions {
  // DCT-domain downscaling, a hint for callers that resize to a much smaller size right after
  // decoding: a JPEG is decoded at the smallest TurboJPEG scale 1/8, 1/4 or 1/2 (else 1/1) whose
  // output, ceil(H·s) × ceil(W·s), is still at least min_size = {h, w} in each dimension. {0, 0}
  // (the default) decodes at full size. Other formats ignore the hint and decode at full size.
  // The scaled IDCT is not a full decode followed by a resize, so the pixels differ from the
  // torchvision pipeline: parity tests against torchvision must decode at full size. A caller
  // that crops (RandomResizedCrop) must pass the size the crop needs, not the output size.
  std::array<int64_t, 2> min_size = {0, 0};
  JpegDecoder jpeg_decoder = JpegDecoder::TurboJpeg;
  // Images with more pixels are rejected before their pixels are decoded (a decompression bomb
  // guard): PIL's DecompressionBombError threshold, 2 · 89478485.
  int64_t max_pixels = 178956970;
};

// Decodes the file at `path`. Throws afinar::Error when the file cannot be read or decoded.
Image decode_image(const std::string& path, const DecodeOptions& options = {});
// Decodes an image held in memory; `name_for_errors` (a path, a URL, an archive member) is what
// the error messages call it.
Image decode_image(std::span<const uint8_t> bytes, const std::string& name_for_errors,
                   const DecodeOptions& options = {});

}  // namespace afinar::data
