// A model's evaluation preprocessing: what a weights file records (io/weights.h), `afinar train`
// sets ([data] resize, crop_mode, interpolation, mean, std) and data::eval_transform applies:
//   Resize -> CenterCrop(crop) -> ToTensor -> Normalize(mean, std)
// where Resize is, by crop_mode (timm's name for the choice):
//   center  Resize(resize): the shorter side becomes `resize`, the aspect ratio kept — the
//           torchvision ImageNet weights' transform (resize 256 or 232, crop 224; seeds 000, 004);
//   squash  Resize((resize, resize)): the whole image scaled to a square, the aspect ratio not
//           kept — seeds 001/002's Resize((224, 224)) is squash with resize = crop = 224.
// Resize resamples with `interpolation`, Pillow's filter of torchvision's InterpolationMode of the
// same name: bilinear for the torchvision weights (and torchvision's default), bicubic for many
// timm weights.
// ToTensor scales pixels to [0, 1]; mean [0, 0, 0] with std [1, 1, 1] keeps them there (the
// seeds' `img / 255.`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace afinar::data {

// ImageNet statistics, the torchvision weights' preprocessing.
inline const std::vector<double> kImageNetMean = {0.485, 0.456, 0.406};
inline const std::vector<double> kImageNetStd = {0.229, 0.224, 0.225};

enum class CropMode : uint8_t { Center, Squash };

// PIL's resampling filters as torchvision's InterpolationMode names them.
enum class Interpolation : uint8_t { Nearest, Bilinear, Bicubic };

struct Preprocessing {
  int64_t resize = 256;
  int64_t crop = 224;
  CropMode crop_mode = CropMode::Center;
  Interpolation interpolation = Interpolation::Bilinear;
  std::vector<double> mean = kImageNetMean;
  std::vector<double> std = kImageNetStd;
};

// "center" / "squash"; crop_mode_of refuses any other name with an error listing both.
const char* crop_mode_name(CropMode mode);
CropMode crop_mode_of(const std::string& name);
bool is_crop_mode(const std::string& name);
// "nearest" / "bilinear" / "bicubic" (InterpolationMode's values); interpolation_of refuses any
// other name with an error listing the three.
const char* interpolation_name(Interpolation interpolation);
Interpolation interpolation_of(const std::string& name);
bool is_interpolation(const std::string& name);

// The largest resize or crop a preprocessing may ask for: a 4096x4096 RGB float image is 200 MB
// per image of a batch; larger is a typo or a hostile file, not a model's input.
inline constexpr int64_t kMaxImageSize = 4096;

// resize and crop in [1, kMaxImageSize], three finite means and three finite non-zero stds;
// otherwise an error that starts with `where` (a command, or a file) and names the value.
void check_preprocessing(const Preprocessing& p, const std::string& where);

// torchvision's spelling of the pipeline, for logs and reports, e.g. "Resize(256) ->
// CenterCrop(224) -> ToTensor -> Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224,
// 0.225])" or "Resize((224, 224), interpolation=bicubic) -> CenterCrop(224) -> ToTensor ->
// Normalize(mean=[0, 0, 0], std=[1, 1, 1])" (the interpolation named when not bilinear).
std::string preprocessing_str(const Preprocessing& p);

}  // namespace afinar::data
