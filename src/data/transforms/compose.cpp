// Compose and the seeds' standard pipelines.
#include "data/transforms/internal.h"

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

Tensor Compose::operator()(const Image& img, Generator& gen) const {
  Tensor out = to_tensor(apply_image(img, gen));
  for (const auto& step : tensor_steps_) out = step(out, gen);
  return out;
}

Compose eval_transform(int64_t resize, int64_t crop, const std::vector<double>& mean,
                       const std::vector<double>& std) {
  AFN_CHECK(resize > 0 && crop > 0, "eval_transform: resize and crop must be positive, got ",
            resize, " and ", crop);
  Compose c;
  // Resize then CenterCrop, fused: only the pixels the crop keeps are resampled (the same bytes).
  c.then(ImageTransform([resize, crop](const Image& img, Generator&) {
    return detail::resize_center_crop(img, resize, {crop, crop}, Interpolation::Bilinear);
  }));
  c.then(Normalize(mean, std));
  return c;
}

Compose train_transform(const TrainTransformOptions& opt) {
  Compose c;
  c.then(RandomResizedCrop(opt.crop, {.scale = opt.scale, .ratio = opt.ratio}));
  if (opt.hflip != 0) c.then(RandomHorizontalFlip(opt.hflip));
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
