#include "afinar/data/preprocessing.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "afinar/core/check.h"

namespace afinar::data {

const char* crop_mode_name(CropMode mode) {
  return mode == CropMode::Squash ? "squash" : "center";
}

bool is_crop_mode(const std::string& name) {
  return name == "center" || name == "squash";
}

CropMode crop_mode_of(const std::string& name) {
  AFN_CHECK(is_crop_mode(name), "unknown crop mode '", name,
            "': center (Resize of the shorter side) or squash (Resize to a square)");
  return name == "squash" ? CropMode::Squash : CropMode::Center;
}

namespace {
constexpr std::array<std::pair<const char*, Interpolation>, 3> kInterpolations = {{
    {"nearest", Interpolation::Nearest},
    {"bilinear", Interpolation::Bilinear},
    {"bicubic", Interpolation::Bicubic},
}};
}  // namespace

const char* interpolation_name(Interpolation interpolation) {
  for (const auto& [name, value] : kInterpolations)
    if (value == interpolation) return name;
  AFN_FAIL("interpolation_name: not an Interpolation (", int(interpolation), ")");
}

bool is_interpolation(const std::string& name) {
  return std::any_of(kInterpolations.begin(), kInterpolations.end(),
                     [&](const auto& entry) { return name == entry.first; });
}

Interpolation interpolation_of(const std::string& name) {
  for (const auto& [known, value] : kInterpolations)
    if (name == known) return value;
  AFN_FAIL("unknown interpolation '", name, "': nearest, bilinear or bicubic");
}

void check_preprocessing(const Preprocessing& p, const std::string& where) {
  for (const auto& [what, v] : {std::pair{"resize", p.resize}, std::pair{"crop", p.crop}})
    AFN_CHECK(v >= 1 && v <= kMaxImageSize, where, ": ", what, " must be in [1, ", kMaxImageSize,
              "], got ", v);
  AFN_CHECK(p.mean.size() == 3 && p.std.size() == 3, where,
            ": mean and std need 3 values each (R, G, B), got ", p.mean.size(), " and ",
            p.std.size());
  for (size_t c = 0; c < 3; ++c)
    AFN_CHECK(std::isfinite(p.mean[c]) && std::isfinite(p.std[c]) && p.std[c] != 0, where,
              ": mean and std must be finite numbers and std non-zero, got mean ", p.mean[c],
              ", std ", p.std[c], " for channel ", c);
}

std::string preprocessing_str(const Preprocessing& p) {
  auto list = [](const std::vector<double>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += afinar::detail::concat(i ? ", " : "", v[i]);
    return s + "]";
  };
  std::string resize = p.crop_mode == CropMode::Squash
                           ? afinar::detail::concat("(", p.resize, ", ", p.resize, ")")
                           : std::to_string(p.resize);
  if (p.interpolation != Interpolation::Bilinear)
    resize += afinar::detail::concat(", interpolation=", interpolation_name(p.interpolation));
  return afinar::detail::concat("Resize(", resize, ") -> CenterCrop(", p.crop,
                                ") -> ToTensor -> Normalize(mean=", list(p.mean),
                                ", std=", list(p.std), ")");
}

}  // namespace afinar::data
