// HTML text escaping, base64 and PNG data URIs for the run report (train/html.h).
#include "afinar/train/html.h"

// The stb_image_write implementation is compiled once, in src/data/fashion_mnist.cpp.
#include <stb/stb_image_write.h>

#include "afinar/core/check.h"

namespace afinar::train {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64_encode(std::span<const uint8_t> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  const size_t rest = bytes.size() - i;  // 0, 1 or 2 bytes left: 2 or 3 symbols and padding
  if (rest > 0) {
    const uint32_t v = uint32_t(bytes[i]) << 16 | (rest == 2 ? uint32_t(bytes[i + 1]) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::vector<uint8_t> encode_png(const data::Image& image) {
  AFN_CHECK(!image.empty() && (image.channels == 1 || image.channels == 3),
            "encode_png: expected a non-empty 1- or 3-channel image, got ", image.height, "x",
            image.width, "x", image.channels);
  std::vector<uint8_t> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  const int ok =
      stbi_write_png_to_func(append, &png, int(image.width), int(image.height), int(image.channels),
                             image.data.data(), int(image.width * image.channels));
  AFN_CHECK(ok != 0, "encode_png: stb_image_write failed on a ", image.height, "x", image.width,
            " image");
  return png;
}

std::string png_data_uri(const data::Image& image) {
  return "data:image/png;base64," + base64_encode(encode_png(image));
}

}  // namespace afinar::train
