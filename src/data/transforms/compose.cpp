// Compose and the seeds' standard pipelines.
#include "data/transforms/internal.h"

#include <algorithm>

#include "afinar/data/auto_augment.h"

namespace afinar::data {

Compose& Compose::then(ImageTransform step) {
  AFN_CHECK(step != nullptr, "Compose: empty image transform");
  AFN_CHECK(tensor_steps_.empty(),
            "Compose: an image transform cannot follow a tensor transform (ToTensor runs between "
            "the image steps and the tensor steps)");
  image_steps_.push_back(std::move(step));
  return *this;
}

Compose& Compose::then(TensorTransform step) {
  AFN_CHECK(step != nullptr, "Compose: empty tensor transform");
  tensor_steps_.push_back(std::move(step));
  return *this;
}

Image Compose::apply_image(const Image& img, Generator& gen) const {
  if (image_steps_.empty()) return img;
  Image out = image_steps_.front()(img, gen);
  for (size_t i = 1; i < image_steps_.size(); ++i) out = image_steps_[i](out, gen);
  return out;
}

namespace {

// Whether a RandomHorizontalFlip flips this time: it draws once from `gen` whatever the image, so
// running it on a 1×2 probe consumes the same draw and shows the outcome.
bool draws_flip(const RandomHorizontalFlip& flip, Generator& gen) {
  Image probe(1, 2, 1);
  probe.data = {0, 1};
  return flip(probe, gen).data[0] == 1;
}

}  // namespace

// The usual tail "[RandomHorizontalFlip,] ToTensor, Normalize" runs as one pass over the image:
// the flip reads the rows mirrored instead of copying the image, and Normalize, elementwise per
// channel, is applied once to the 256 values to_tensor can produce per channel (a C×1×256 probe)
// and then looked up: the same floats, from the same arithmetic, without the intermediate tensor.
Tensor Compose::operator()(const Image& img, Generator& gen) const {
  const auto* flip =
      image_steps_.empty() ? nullptr : image_steps_.back().target<RandomHorizontalFlip>();
  const size_t unfused = image_steps_.size() - (flip != nullptr ? 1 : 0);
  std::optional<Image> stepped;
  const Image* cur = &img;
  for (size_t i = 0; i < unfused; ++i) {
    stepped = image_steps_[i](*cur, gen);
    cur = &*stepped;
  }
  bool mirrored = false;
  if (flip != nullptr) {
    detail::check_image(*cur, "RandomHorizontalFlip");
    mirrored = draws_flip(*flip, gen);
  }
  detail::check_image(*cur, "to_tensor");
  const auto* norm = tensor_steps_.empty() ? nullptr : tensor_steps_.front().target<Normalize>();
  const std::vector<float> table = detail::to_tensor_table(cur->channels);
  const float* lookup = table.data();
  Tensor normalized_table;
  if (norm != nullptr) {
    Tensor probe = empty({cur->channels, 1, 256}, DType::F32);
    std::copy(table.begin(), table.end(), probe.data<float>());
    normalized_table = (*norm)(probe);
    lookup = normalized_table.data<float>();
  }
  Tensor out = detail::image_to_tensor(*cur, lookup, mirrored);
  for (size_t i = norm != nullptr ? 1 : 0; i < tensor_steps_.size(); ++i) {
    out = tensor_steps_[i](out, gen);
  }
  return out;
}

Compose eval_transform(const Preprocessing& p) {
  check_preprocessing(p, "eval_transform");
  Compose c;
  // Resize then CenterCrop, fused: only the pixels the crop keeps are resampled (the same bytes).
  c.then(ImageTransform([p](const Image& img, Generator&) {
    const ImageSize out = p.crop_mode == CropMode::Squash
                              ? ImageSize{p.resize, p.resize}
                              : resize_output_size({img.height, img.width}, p.resize);
    return detail::resize_center_crop(img, out, {p.crop, p.crop}, p.interpolation);
  }));
  c.then(Normalize(p.mean, p.std));
  return c;
}

Compose train_transform(const TrainTransformOptions& opt) {
  Compose c;
  c.then(RandomResizedCrop(
      opt.crop, {.scale = opt.scale, .ratio = opt.ratio, .interpolation = opt.interpolation}));
  if (opt.hflip != 0) c.then(RandomHorizontalFlip(opt.hflip));
  if (opt.vflip != 0) c.then(RandomVerticalFlip(opt.vflip));
  if (!opt.auto_augment.empty())
    c.then(auto_augment_transform(opt.auto_augment, opt.ra_magnitude, opt.interpolation,
                                  opt.augmix_severity));
  if (opt.rotation != 0) c.then(RandomRotation(opt.rotation));
  const auto& cj = opt.color_jitter;
  if (cj[0] != 0 || cj[1] != 0 || cj[2] != 0 || cj[3] != 0) {
    c.then(ColorJitter(cj[0], cj[1], cj[2], cj[3]));
  }
  if (opt.affine_translate || opt.affine_shear != 0) {
    RandomAffine::Options affine{.translate = opt.affine_translate};
    if (opt.affine_shear != 0) affine.shear = {opt.affine_shear};
    c.then(RandomAffine(0.0, affine));
  }
  c.then(Normalize(opt.mean, opt.std));
  if (opt.erasing != 0) c.then(RandomErasing({.p = opt.erasing}));
  return c;
}

std::string train_transform_str(const TrainTransformOptions& opt) {
  auto pair = [](const std::array<double, 2>& v) {
    return afinar::detail::concat("(", v[0], ", ", v[1], ")");
  };
  std::string s = afinar::detail::concat("RandomResizedCrop(", opt.crop,
                                         ", scale=", pair(opt.scale), ", ratio=", pair(opt.ratio));
  if (opt.interpolation != Interpolation::Bilinear)
    s += afinar::detail::concat(", interpolation=", interpolation_name(opt.interpolation));
  s += ")";
  if (opt.hflip != 0) s += afinar::detail::concat(" -> RandomHorizontalFlip(p=", opt.hflip, ")");
  if (opt.vflip != 0) s += afinar::detail::concat(" -> RandomVerticalFlip(p=", opt.vflip, ")");
  if (!opt.auto_augment.empty())
    s += " -> " + auto_augment_str(opt.auto_augment, opt.ra_magnitude, opt.interpolation,
                                   opt.augmix_severity);
  if (opt.rotation != 0) s += afinar::detail::concat(" -> RandomRotation(", opt.rotation, ")");
  const auto& cj = opt.color_jitter;
  if (cj[0] != 0 || cj[1] != 0 || cj[2] != 0 || cj[3] != 0)
    s += afinar::detail::concat(" -> ColorJitter(", cj[0], ", ", cj[1], ", ", cj[2], ", ", cj[3],
                                ")");
  if (opt.affine_translate || opt.affine_shear != 0) {
    s += " -> RandomAffine(0";
    if (opt.affine_translate) s += ", translate=" + pair(*opt.affine_translate);
    if (opt.affine_shear != 0) s += afinar::detail::concat(", shear=", opt.affine_shear);
    s += ")";
  }
  s += " -> ToTensor -> Normalize";
  if (opt.erasing != 0) s += afinar::detail::concat(" -> RandomErasing(p=", opt.erasing, ")");
  return s;
}

TrainTransformOptions heavy_augmentation() {
  return {.crop = 224,
          .scale = {0.7, 1.0},
          .rotation = 15,
          .color_jitter = {0.3, 0.3, 0.3, 0.1},
          .affine_translate = std::array<double, 2>{0.1, 0.1},
          .affine_shear = 10,
          .erasing = 0.2};
}

}  // namespace afinar::data
