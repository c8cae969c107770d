// `afinar preprocess IMG -o OUT.h5`: writes what the network sees for one image, so a user can
// compare afinar's preprocessing with torchvision's on the same file:
//   decode -> Resize(resize) -> CenterCrop(crop) -> ToTensor -> Normalize(mean, std)
// into dataset `input` [3, crop, crop] float32. The defaults are the torchvision ImageNet
// weights' (256, 224, ImageNet mean/std); --weights takes resize, crop, mean and std from a
// weights file's attributes instead.
#include <cmath>
#include <cstdio>

#include "afinar/data/decode.h"
#include "afinar/data/transforms.h"
#include "afinar/io/atomic_file.h"
#include "afinar/io/hdf5.h"
#include "afinar/train/recipe.h"
#include "command.h"

namespace afinar::cli {

namespace {

class PreprocessCommand : public Command {
 public:
  const char* name() const override { return "preprocess"; }
  const char* description() const override {
    return "Write the network input for one image (decode, resize, center crop, normalize) to HDF5";
  }
  void setup(CLI::App& app) override {
    app.add_option("image", image_, "Image file (JPEG, PNG, BMP, GIF, PPM/PGM)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("-o,--output", output_, "Output HDF5 file (dataset 'input', [3,crop,crop])")
        ->required();
    app.add_option("--resize", resize_, "Shorter side after resizing")->capture_default_str();
    app.add_option("--crop", crop_, "Center crop size")->capture_default_str();
    app.add_option("--mean", mean_,
                   "Per-channel mean (3 values; default ImageNet's 0.485,0.456,0.406)")
        ->expected(3)
        ->delimiter(',');
    app.add_option("--std", std_,
                   "Per-channel std (3 values; default ImageNet's 0.229,0.224,0.225)")
        ->expected(3)
        ->delimiter(',');
    app.add_option("--weights", weights_,
                   "Weights file whose resize, crop, mean and std attributes to use")
        ->check(CLI::ExistingFile);
  }

  int run() override {
    if (!weights_.empty()) read_weights_preprocessing();
    check_settings();
    const data::Image img = data::decode_image(image_);
    Generator unused(0);  // the eval pipeline draws nothing
    const Tensor input = data::eval_transform(resize_, crop_, mean_, std_)(img, unused);
    // Written under a temporary name and renamed, so a failure leaves no partial file behind.
    io::AtomicFile out(output_);
    {
      auto f = hdf5::File::create(out.temp_path());
      f.write_tensor("/input", input);
      f.write_attr("/", "image", image_);
      f.write_attr("/", "resize", resize_);
      f.write_attr("/", "crop", crop_);
      f.write_attr("/", "mean", mean_);
      f.write_attr("/", "std", std_);
    }
    out.commit();
    std::printf("%s: %s from %s (%ldx%ld), resize %ld, crop %ld\n", output_.c_str(),
                shape_str(input.shape()).c_str(), image_.c_str(), long(img.width), long(img.height),
                long(resize_), long(crop_));
    return 0;
  }

 private:
  // Sizes a resize can allocate and statistics that keep every value finite, before decoding.
  void check_settings() const {
    const std::string from = weights_.empty() ? "" : " (from " + weights_ + ")";
    for (const auto& [flag, v] : {std::pair{"--resize", resize_}, std::pair{"--crop", crop_}})
      AFN_CHECK(v >= 1 && v <= train::kMaxImageSize, "preprocess: ", flag, from, " must be in [1, ",
                train::kMaxImageSize, "], got ", v);
    AFN_CHECK(mean_.size() == 3 && std_.size() == 3, "preprocess: mean and std", from,
              " need 3 values each (R, G, B), got ", mean_.size(), " and ", std_.size());
    for (int c = 0; c < 3; ++c)
      AFN_CHECK(std::isfinite(mean_[c]) && std::isfinite(std_[c]) && std_[c] != 0,
                "preprocess: mean and std", from,
                " must be finite numbers and std non-zero, got mean ", mean_[c], ", std ", std_[c],
                " for channel ", c);
  }

  // The weights file's preprocessing (DESIGN.md "Formats": root attributes resize, crop, mean,
  // std); command-line values given explicitly are replaced by the file's.
  void read_weights_preprocessing() {
    auto f = hdf5::File::open(weights_);
    for (const char* key : {"resize", "crop", "mean", "std"})
      AFN_CHECK(f.has_attr("/", key), "preprocess: weights file ", weights_, " has no '", key,
                "' attribute (was it written by afinar import?)");
    resize_ = f.read_attr_int("/", "resize");
    crop_ = f.read_attr_int("/", "crop");
    mean_ = f.read_attr_doubles("/", "mean");
    std_ = f.read_attr_doubles("/", "std");
  }

  std::string image_, output_, weights_;
  int64_t resize_ = 256, crop_ = 224;
  std::vector<double> mean_ = data::kImageNetMean, std_ = data::kImageNetStd;
};

}  // namespace

AFN_CLI_COMMAND(PreprocessCommand);

}  // namespace afinar::cli
