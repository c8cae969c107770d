// Tone operations as Pillow's ImageOps computes them (PIL/ImageOps.py): each builds a 256-entry
// lookup table per channel and maps every byte through it (Image.point / _lut), the formulas of
// include/afinar/data/transforms.h.
#include "data/transforms/internal.h"

#include <algorithm>

namespace afinar::data {
namespace {

using Table = std::array<uint8_t, 256>;

Table identity_table() {
  Table t;
  for (int v = 0; v < 256; ++v) t[size_t(v)] = uint8_t(v);
  return t;
}

// out[p, c] = tables[c][img[p, c]].
Image map_channels(const Image& img, const std::vector<Table>& tables) {
  Image out(img.height, img.width, img.channels);
  const size_t channels = size_t(img.channels);
  for (size_t i = 0; i < img.data.size(); ++i) out.data[i] = tables[i % channels][img.data[i]];
  return out;
}

Image map_all(const Image& img, const Table& table) {
  return map_channels(img, std::vector<Table>(size_t(img.channels), table));
}

// Image.histogram(): 256 counts per channel.
std::vector<std::array<int64_t, 256>> histograms(const Image& img) {
  std::vector<std::array<int64_t, 256>> h(size_t(img.channels));
  for (auto& counts : h) counts.fill(0);
  const size_t channels = size_t(img.channels);
  for (size_t i = 0; i < img.data.size(); ++i) ++h[i % channels][img.data[i]];
  return h;
}

}  // namespace

Image posterize(const Image& img, int64_t bits) {
  detail::check_image(img, "posterize");
  AFN_CHECK(bits >= 0 && bits <= 8, "posterize: bits must be in [0, 8], got ", bits);
  const int mask = ~((1 << (8 - bits)) - 1);
  Table t;
  for (int v = 0; v < 256; ++v) t[size_t(v)] = uint8_t(v & mask);
  return map_all(img, t);
}

Image solarize(const Image& img, double threshold) {
  detail::check_image(img, "solarize");
  AFN_CHECK(!std::isnan(threshold), "solarize: threshold must be a number, got NaN");
  Table t;
  for (int v = 0; v < 256; ++v) t[size_t(v)] = uint8_t(double(v) < threshold ? v : 255 - v);
  return map_all(img, t);
}

Image autocontrast(const Image& img) {
  detail::check_image(img, "autocontrast");
  std::vector<Table> tables;
  for (const auto& h : histograms(img)) {
    int lo = 0, hi = 255;
    while (lo < 255 && h[size_t(lo)] == 0) ++lo;
    while (hi > 0 && h[size_t(hi)] == 0) --hi;
    if (hi <= lo) {
      tables.push_back(identity_table());
      continue;
    }
    // Python's float arithmetic and int() (truncation towards zero).
    const double scale = 255.0 / double(hi - lo), offset = -double(lo) * scale;
    Table t;
    for (int v = 0; v < 256; ++v) {
      const double mapped = std::trunc(double(v) * scale + offset);
      t[size_t(v)] = uint8_t(std::clamp(mapped, 0.0, 255.0));
    }
    tables.push_back(t);
  }
  return map_channels(img, tables);
}

Image equalize(const Image& img) {
  detail::check_image(img, "equalize");
  std::vector<Table> tables;
  for (const auto& h : histograms(img)) {
    int64_t total = 0, last = 0, present = 0;
    for (int64_t count : h) {
      if (count == 0) continue;
      total += count;
      last = count;  // the count of the largest value present
      ++present;
    }
    const int64_t step = present <= 1 ? 0 : (total - last) / 255;
    if (step == 0) {
      tables.push_back(identity_table());
      continue;
    }
    Table t;
    int64_t n = step / 2;
    for (int v = 0; v < 256; ++v) {
      t[size_t(v)] = uint8_t(std::min<int64_t>(n / step, 255));
      n += h[size_t(v)];
    }
    tables.push_back(t);
  }
  return map_channels(img, tables);
}

Image invert(const Image& img) {
  detail::check_image(img, "invert");
  Table t;
  for (int v = 0; v < 256; ++v) t[size_t(v)] = uint8_t(255 - v);
  return map_all(img, t);
}

}  // namespace afinar::data
