"""Image decoding fixtures and PIL's decoding of them (tests/data/decode_test.cpp).

Writes small image files in every variant decode_image handles to tests/data/fixtures/decode/
(most with PIL, the variants PIL cannot write by hand: 16-bit PNG, Adam7-interlaced PNG, a GIF
whose first frame covers part of the canvas, top-down / 16-bit / RLE BMP, PNM with unusual
maxval), then decodes each with PIL exactly as torchvision's default loader does,
Image.open(path).convert("RGB"), into tests/data/goldens/decode.h5: one group per fixture, named
as the file, with

    rgb           uint8 [H, W, 3], PIL's pixels; absent for the corrupt files PIL rejects
                  (png_corrupt_*), which decode_image must reject too;
    @cuts         byte counts at which the test truncates the file;
    @pil_accepts  1 where PIL decodes the truncated file (then to the same pixels, asserted here),
                  0 where it raises (mostly "image file is truncated").

Run from anywhere with the system python3 (python3-pil 9.4, python3-h5py, python3-torch):

    /usr/bin/python3 tools/goldens/decode.py
"""
import io
import os
import shutil
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import torch  # noqa: E402

FIXTURES = os.path.join(common.ROOT, "tests", "data", "fixtures", "decode")
RNG = np.random.default_rng(20240611)


def photo(h, w, seed=0):
    """A smooth, photo-like RGB image with some noise and an edge (uint8 [h, w, 3])."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / w * 3.0 + 0.5) * np.cos(y / h * 2.0)
    g = 40 + 180 * (x + y) / (w + h)
    b = 200 - 150 * y / h + 30 * ((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(h, w) / 3) ** 2)
    img = np.stack([r, g, b], -1) + rng.normal(0, 6, (h, w, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---- hand-written files (variants PIL cannot save) -----------------------------------------------

def png_bytes(w, h, bit_depth, color_type, samples, interlace=False, extra_chunks=()):
    """A PNG with filter type 0 rows; samples: array [h, w, channels] of uint8 or >u2."""

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    def rows(a):
        return b"".join(b"\x00" + a[y].tobytes() for y in range(a.shape[0]))

    if interlace:  # Adam7: (x0, y0, dx, dy) of the seven passes
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b"".join(rows(samples[y0::dy, x0::dx]) for x0, y0, dx, dy in passes
                       if samples[y0::dy, x0::dx].size)
    else:
        raw = rows(samples)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, int(interlace))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(chunk(*c) for c in extra_chunks)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def gif_bytes(canvas, frame_rect, palette, indices, background, transparent):
    """A GIF89a with a global palette (2^k colours) and one frame at frame_rect = (x, y, w, h).

    The LZW stream is 'uncompressed': a clear code before every few pixel codes keeps the code
    width at min_code_size + 1 bits, so no dictionary is needed to write it.
    """
    k = int(np.log2(len(palette)))
    cw, ch = canvas
    x0, y0, fw, fh = frame_rect
    out = b"GIF89a" + struct.pack("<HHBBB", cw, ch, 0x80 | (k - 1), background, 0)
    out += bytes(np.asarray(palette, np.uint8).reshape(-1))
    out += b"\x21\xf9\x04" + bytes([1, 0, 0, transparent, 0])  # graphic control extension
    out += b"\x2c" + struct.pack("<HHHHB", x0, y0, fw, fh, 0)
    min_code = max(k, 2)
    clear, eoi, width = 1 << min_code, (1 << min_code) + 1, min_code + 1
    codes = []
    for i, v in enumerate(indices.reshape(-1)):
        if i % ((1 << min_code) - 4) == 0:
            codes.append(clear)
        codes.append(int(v))
    codes.append(eoi)
    bits = "".join(format(c, "0%db" % width)[::-1] for c in codes)  # LSB first
    bits += "0" * (-len(bits) % 8)
    data = bytes(int(bits[i:i + 8][::-1], 2) for i in range(0, len(bits), 8))
    out += bytes([min_code])
    for i in range(0, len(data), 255):
        out += bytes([len(data[i:i + 255])]) + data[i:i + 255]
    return out + b"\x00\x3b"


def bmp_bytes(w, h, bpp, pixel_rows, compression=0, palette=b"", masks=b"", top_down=False):
    """A BMP with a BITMAPINFOHEADER; pixel_rows is the already padded pixel array (bottom-up
    unless top_down)."""
    offset = 14 + 40 + len(masks) + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bpp, compression,
                       len(pixel_rows), 2835, 2835, len(palette) // 4, 0)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixel_rows), 0, 0, offset)
    return header + info + masks + palette + pixel_rows


def bmp_rows(rows_bytes):
    return b"".join(r + b"\x00" * (-len(r) % 4) for r in rows_bytes)


def pnm_bytes(magic, samples, maxval, comment=False):
    h, w = samples.shape[:2]
    dtype = ">u2" if maxval > 255 else "u1"
    header = magic + (b"\n# a comment\n" if comment else b"\n") + b"%d %d\n%d\n" % (w, h, maxval)
    return header + samples.astype(dtype).tobytes()


# ---- the fixtures --------------------------------------------------------------------------------

def pil_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def fixtures():
    """[(file name, bytes)]."""
    rgb = photo(24, 32, 1)
    rgba = np.concatenate([rgb, RNG.integers(0, 256, (24, 32, 1), dtype=np.uint8)], -1)
    rgba[0, :4, 3] = 0  # fully transparent pixels keep their colour in PIL's convert("RGB")
    gray = rgb[..., 1]
    pal = Image.fromarray(rgb).quantize(16)
    jpeg_img = Image.fromarray(photo(29, 37, 2))  # odd sizes: partial MCUs at the edges
    files = [
        # PNG: every colour type PIL writes, then 16-bit and interlaced by hand.
        ("png_rgb.png", pil_bytes(Image.fromarray(rgb), "PNG")),
        ("png_rgba.png", pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG")),
        ("png_gray.png", pil_bytes(Image.fromarray(gray), "PNG")),
        ("png_gray_alpha.png", pil_bytes(Image.fromarray(rgba[..., 1:3], "LA"), "PNG")),
        ("png_palette.png", pil_bytes(pal, "PNG")),
        ("png_palette_trns.png", pil_bytes(pal, "PNG", transparency=bytes(range(0, 256, 16)))),
        ("png_palette_4bit.png", pil_bytes(pal, "PNG", bits=4)),
        ("png_bilevel.png", pil_bytes(Image.fromarray(gray).convert("1"), "PNG")),
        ("png_rgb_trns.png", pil_bytes(Image.fromarray(rgb), "PNG",
                                       transparency=tuple(int(v) for v in rgb[0, 0]))),
    ]
    png = files[0][1]
    idat = png.index(b"IDAT")
    bad_idat = bytearray(png)
    bad_idat[idat + 20] ^= 0x10  # a flipped bit in the zlib data (and so a bad IDAT CRC)
    bad_crc = bytearray(png)
    bad_crc[8 + 8 + 13] ^= 1  # the IHDR chunk's CRC: "broken PNG file"
    files += [("png_corrupt_idat.png", bytes(bad_idat)),
              ("png_corrupt_header_crc.png", bytes(bad_crc))]
    s16 = lambda c: (RNG.integers(0, 65536, (10, 12, c))).astype(">u2")  # noqa: E731
    g16 = s16(1)
    g16[:5] //= 128  # about half of the values at or below 255, which gray 16-bit keeps
    files += [
        ("png_rgb16.png", png_bytes(12, 10, 16, 2, s16(3))),
        ("png_rgba16.png", png_bytes(12, 10, 16, 6, s16(4))),
        ("png_gray16.png", png_bytes(12, 10, 16, 0, g16)),
        ("png_gray_alpha16.png", png_bytes(12, 10, 16, 4, s16(2))),
        ("png_interlaced.png", png_bytes(32, 24, 8, 2, rgb, interlace=True)),
    ]
    # JPEG: the chroma subsamplings, grayscale, progressive, CMYK (Adobe), an EXIF block holding
    # a thumbnail-like FF D8 .. FF D9 (truncation must not take its EOI for the image's), and a
    # larger smooth 4:4:4 image for the DCT-domain scaling test.
    exif = (b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00"  # an empty IFD
            + b"\xff\xd8\xff\xdb" + bytes(40) + b"\xff\xd9")
    jpeg_420 = pil_bytes(jpeg_img, "JPEG", quality=90)
    sos = jpeg_420.index(b"\xff\xda")
    corrupt_scan = bytearray(jpeg_420)
    for i in range(sos + 40, len(corrupt_scan) - 10, 97):  # libjpeg warns, PIL decodes anyway
        corrupt_scan[i] = 0x5A if corrupt_scan[i - 1] != 0xFF else corrupt_scan[i]
    files += [
        ("jpeg_420.jpg", jpeg_420),
        # "Corrupt JPEG data: 3 extraneous bytes before marker 0xd9": a warning PIL ignores.
        ("jpeg_extraneous_bytes.jpg", jpeg_420[:-2] + b"\x00\x00\x00" + jpeg_420[-2:]),
        ("jpeg_corrupt_scan.jpg", bytes(corrupt_scan)),
        ("jpeg_422.jpg", pil_bytes(jpeg_img, "JPEG", quality=90, subsampling=1)),
        ("jpeg_444.jpg", pil_bytes(jpeg_img, "JPEG", quality=90, subsampling=0)),
        ("jpeg_gray.jpg", pil_bytes(jpeg_img.convert("L"), "JPEG", quality=90)),
        ("jpeg_progressive.jpg", pil_bytes(jpeg_img, "JPEG", quality=90, progressive=True)),
        ("jpeg_cmyk.jpg", pil_bytes(jpeg_img.convert("CMYK"), "JPEG", quality=90)),
        ("jpeg_exif.jpg", pil_bytes(jpeg_img, "JPEG", quality=90, exif=exif)),
        ("jpeg_smooth_444.jpg", pil_bytes(Image.fromarray(photo(96, 128, 3)).filter(
            ImageFilter.GaussianBlur(2)), "JPEG", quality=95, subsampling=0)),
    ]
    # GIF: PIL-written (a full frame; with and without a transparent index), and by hand a
    # 6x5 frame at (3, 2) on a 12x10 canvas with background index 2 and transparent index 5.
    gif_pal = RNG.integers(0, 256, (16, 3), dtype=np.uint8)
    idx = RNG.integers(0, 16, (5, 6), dtype=np.uint8)
    files += [
        ("gif_palette.gif", pil_bytes(pal, "GIF")),
        ("gif_transparent.gif", pil_bytes(pal, "GIF", transparency=3)),
        ("gif_partial_frame.gif", gif_bytes((12, 10), (3, 2, 6, 5), gif_pal, idx, 2, 5)),
    ]
    # BMP: PIL writes 24-bit RGB, 8-bit (L as a gray palette), 1-bit and 32-bit; by hand a
    # top-down 24-bit, 16-bit 5-6-5 bit fields, and RLE8 (which stb_image does not decode).
    bgr_rows = [rgb[y, :, ::-1].tobytes() for y in range(24)]
    px565 = ((rgb[..., 0].astype(np.uint16) >> 3) << 11 | (rgb[..., 1].astype(np.uint16) >> 2) << 5
             | rgb[..., 2].astype(np.uint16) >> 3).astype("<u2")
    rle_pal = b"".join(bytes([i, i, i, 0]) for i in range(256))
    rle = b"".join(b"\x05" + bytes([y * 20]) + b"\x03" + bytes([y * 20 + 9]) + b"\x00\x00"
                   for y in range(4)) + b"\x00\x01"
    files += [
        ("bmp_rgb24.bmp", pil_bytes(Image.fromarray(rgb), "BMP")),
        ("bmp_gray8.bmp", pil_bytes(Image.fromarray(gray), "BMP")),
        ("bmp_bilevel.bmp", pil_bytes(Image.fromarray(gray).convert("1"), "BMP")),
        ("bmp_rgba32.bmp", pil_bytes(Image.fromarray(rgba, "RGBA"), "BMP")),
        ("bmp_top_down.bmp", bmp_bytes(32, 24, 24, bmp_rows(bgr_rows), top_down=True)),
        ("bmp_rgb565.bmp", bmp_bytes(32, 24, 16, bmp_rows([r.tobytes() for r in px565[::-1]]),
                                     compression=3,
                                     masks=struct.pack("<III", 0xF800, 0x07E0, 0x001F))),
        ("bmp_rle8.bmp", bmp_bytes(8, 4, 8, rle, compression=1, palette=rle_pal)),
    ]
    # PPM / PGM: maxval 255 (PIL), and by hand maxval 100 (rescaled, with ties), 1000 and 65535
    # (16-bit samples), and a header comment.
    p100 = RNG.integers(0, 101, (6, 7, 3))
    p100[0, :3] = 10, 30, 50  # 25.5, 76.5, 127.5: Python's round goes to even
    p1000 = RNG.integers(0, 1001, (6, 7, 3))
    p1000[0, 0] = 2  # 2/1000 * 65535 = 131.07: below 255 in 16-bit PGM
    p65535 = RNG.integers(0, 65536, (6, 7, 3))
    p65535[0, :3] = 100
    files += [
        ("ppm_rgb.ppm", pil_bytes(Image.fromarray(rgb), "PPM")),
        ("pgm_gray.pgm", pil_bytes(Image.fromarray(gray), "PPM")),
        ("pgm_maxval100.pgm", pnm_bytes(b"P5", p100[..., 0], 100, comment=True)),
        ("ppm_maxval100.ppm", pnm_bytes(b"P6", p100, 100)),
        ("pgm_maxval1000.pgm", pnm_bytes(b"P5", p1000[..., 0], 1000)),
        ("ppm_maxval1000.ppm", pnm_bytes(b"P6", p1000, 1000)),
        ("pgm_16bit.pgm", pnm_bytes(b"P5", p65535[..., 0], 65535)),
        ("ppm_16bit.ppm", pnm_bytes(b"P6", p65535, 65535)),
    ]
    return files


def pil_rgb(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def main():
    # PIL suggests RGBA for palette images with a tRNS chunk; convert("RGB") is what we test.
    warnings.filterwarnings("ignore", "Palette images with Transparency")
    shutil.rmtree(FIXTURES, ignore_errors=True)
    os.makedirs(FIXTURES)
    cases = []
    total = 0
    for name, data in fixtures():
        with open(os.path.join(FIXTURES, name), "wb") as f:
            f.write(data)
        total += len(data)
        try:
            rgb = pil_rgb(data)
        except Exception:  # noqa: BLE001 -- any failure is a rejection
            assert name.startswith("png_corrupt_"), name
            rgb = None
        cuts = [] if rgb is None else sorted(
            {len(data) - 1, len(data) - 2, len(data) * 3 // 4, len(data) // 2, 40})
        accepts = []
        for n in cuts:
            try:
                cut_rgb = pil_rgb(data[:n])
            except Exception:  # noqa: BLE001 -- any failure is a rejection
                accepts.append(0)
                continue
            assert np.array_equal(cut_rgb, rgb), (name, n)
            accepts.append(1)
        tensors = {} if rgb is None else {"rgb": torch.from_numpy(rgb.copy())}
        cases.append((name, tensors, {"cuts": cuts, "pil_accepts": accepts}))
    print("wrote %d fixtures in %s: %.1f KB" % (len(cases), os.path.relpath(FIXTURES, common.ROOT),
                                                total / 1024))
    common.write_cases("decode", cases)


if __name__ == "__main__":
    main()
