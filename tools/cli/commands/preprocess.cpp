// `afinar preprocess IMG -o OUT.h5`: writes what the network sees for one image, so a user can
// compare afinar's preprocessing with torchvision's on the same file:
//   decode -> Resize(resize) (or Resize((resize, resize)) with --crop-mode squash) ->
//   CenterCrop(crop) -> ToTensor -> Normalize(mean, std)
// into dataset `input` [3, crop, crop] float32 (data/preprocessing.h). The defaults are the
// torchvision ImageNet weights' (256, 224, ImageNet mean/std); --weights takes the whole
// preprocessing from a weights file instead.
#include <cstdio>

#include "afinar/data/decode.h"
#include "afinar/data/transforms.h"
#include "afinar/io/atomic_file.h"
#include "afinar/io/hdf5.h"
#include "afinar/io/weights.h"
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
    app.add_option("--resize", p_.resize, "Shorter side after resizing (the side, with squash)")
        ->capture_default_str();
    app.add_option("--crop", p_.crop, "Center crop size")->capture_default_str();
    app.add_option("--crop-mode", crop_mode_,
                   "center: Resize the shorter side; squash: Resize to a square")
        ->capture_default_str();
    app.add_option("--interpolation", interpolation_,
                   "The Resize's resampling: nearest, bilinear or bicubic")
        ->capture_default_str();
    app.add_option("--mean", p_.mean,
                   "Per-channel mean (3 values; default ImageNet's 0.485,0.456,0.406)")
        ->expected(3)
        ->delimiter(',');
    app.add_option("--std", p_.std,
                   "Per-channel std (3 values; default ImageNet's 0.229,0.224,0.225)")
        ->expected(3)
        ->delimiter(',');
    app.add_option("--weights", weights_, "Weights file whose preprocessing to use")
        ->check(CLI::ExistingFile);
  }

  int run() override {
    // The file's preprocessing replaces the flags; either is checked before decoding.
    if (weights_.empty()) {
      p_.crop_mode = data::crop_mode_of(crop_mode_);
      p_.interpolation = data::interpolation_of(interpolation_);
      data::check_preprocessing(p_, "preprocess");
    } else {
      p_ = io::load_preprocessing(weights_);
    }
    const data::Image img = data::decode_image(image_);
    Generator unused(0);  // the eval pipeline draws nothing
    const Tensor input = data::eval_transform(p_)(img, unused);
    // Written under a temporary name and renamed, so a failure leaves no partial file behind.
    io::AtomicFile out(output_);
    {
      auto f = hdf5::File::create(out.temp_path());
      f.write_tensor("/input", input);
      f.write_attr("/", "image", image_);
      f.write_attr("/", "resize", p_.resize);
      f.write_attr("/", "crop", p_.crop);
      f.write_attr("/", "crop_mode", std::string(data::crop_mode_name(p_.crop_mode)));
      f.write_attr("/", "interpolation", std::string(data::interpolation_name(p_.interpolation)));
      f.write_attr("/", "mean", p_.mean);
      f.write_attr("/", "std", p_.std);
    }
    out.commit();
    std::printf("%s: %s from %s (%ldx%ld), %s\n", output_.c_str(), shape_str(input.shape()).c_str(),
                image_.c_str(), long(img.width), long(img.height),
                data::preprocessing_str(p_).c_str());
    return 0;
  }

 private:
  std::string image_, output_, weights_;
  data::Preprocessing p_;
  std::string crop_mode_ = "center";
  std::string interpolation_ = "bilinear";
};

}  // namespace

AFN_CLI_COMMAND(PreprocessCommand);

}  // namespace afinar::cli
