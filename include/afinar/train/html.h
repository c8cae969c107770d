// Pieces of self-contained HTML for the run report (train/report.h): text escaped for HTML and
// SVG, and images embedded as base64 PNG data URIs, so a page needs no file or network beside it.
//
//   out += "<td>" + html_escape(class_name) + "</td>";
//   out += "<img src=\"" + png_data_uri(thumbnail) + "\">";
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "afinar/data/image.h"

namespace afinar::train {

// & < > " ' as character references: safe in element text and in quoted attribute values.
std::string html_escape(std::string_view text);

// RFC 4648 base64 with '=' padding ("foobar" -> "Zm9vYmFy").
std::string base64_encode(std::span<const uint8_t> bytes);

// The image as a PNG file in memory (stb_image_write; 1 or 3 channels, 8 bits each).
std::vector<uint8_t> encode_png(const data::Image& image);
// "data:image/png;base64,..." for an <img src>.
std::string png_data_uri(const data::Image& image);

}  // namespace afinar::train
