// `afinar predict --weights W.h5 IMG...`: classify images with a weights file, applying the
// file's own preprocessing (data/preprocessing.h: Resize -> CenterCrop -> Normalize), as
// torchvision's weights.transforms() does. Prints the top-k classes per image, or with --json one
// object per line per image:
//   {"image": path, "label": top-1 name, "topk": [{"index": i, "prob": p, "label": name}, ...],
//    "logits": [...]}
// ("label" only when the file carries class names, "logits" only with --logits). An image that
// cannot be read is reported on stderr and skipped; the exit code is then 1. --amp runs the
// forward in bf16 mixed precision (autograd/autocast.h); the logits are reported in float32.
// --channels-last runs it in NHWC (weights and image); --fold-bn folds each batch norm into the
// convolution before it (nn::fuse_conv_bn).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/grad_mode.h"
#include "afinar/data/decode.h"
#include "afinar/data/transforms.h"
#include "afinar/io/json.h"
#include "afinar/io/model_file.h"
#include "afinar/ops/softmax.h"
#include "afinar/ops/topk.h"
#include "command.h"
#include "inference_flags.h"

namespace afinar::cli {

namespace {

using io::json_number;
using io::json_string;

class PredictCommand : public Command {
 public:
  const char* name() const override { return "predict"; }
  const char* description() const override {
    return "Classify images with a weights file, using its preprocessing";
  }
  void setup(CLI::App& app) override {
    app.add_option("images", images_, "Image files")->required();
    app.add_option("--weights", weights_, "afinar weights file (afinar import / train)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--arch,--model", arch_, "Architecture (default: the weights file's)");
    app.add_option(
        "--topk", topk_,
        "How many classes to show per image (default: 5, or every class when there are fewer)");
    app.add_flag("--logits", logits_, "Also print the raw logits");
    app.add_flag("--json", json_, "One JSON object per line per image");
    flags_.add_to(app);
  }

  int run() override {
    const io::Weights w = io::load_weights(weights_);
    const int64_t classes = w.meta.num_classes;
    if (topk_ == 0) topk_ = std::min<int64_t>(5, classes);
    AFN_CHECK(topk_ >= 1 && topk_ <= classes, "predict: --topk ", topk_, " is out of range for ",
              classes, " classes");
    const Device device(flags_.device);
    nn::ModulePtr model = io::load_model(w, arch_);
    flags_.prepare(*model, device);
    const MemoryFormat fmt = flags_.memory_format();
    const io::Preprocessing& pp = w.meta.preprocessing;
    const data::Compose transform = data::eval_transform(pp);
    NoGradGuard no_grad;
    int status = 0;
    for (const std::string& path : images_) {
      Tensor x;
      try {
        Generator unused(0);  // the eval pipeline draws nothing
        x = transform(data::decode_image(path), unused);
      } catch (const Error& e) {
        // One line per image, like main's errors.
        const std::string_view message = user_message(e.what());
        std::fprintf(stderr, "afinar: error: predict: skipped %s: %.*s\n", path.c_str(),
                     int(message.size()), message.data());
        status = 1;
        continue;
      }
      const AutocastGuard autocast(device.type, flags_.amp, flags_.autocast_dtype());
      const Tensor logits =
          (*model)(x.reshape({1, x.size(0), x.size(1), x.size(2)}).to(device).to(fmt))
              .to(DType::F32);
      report(path, logits.cpu().reshape({classes}), w.meta.class_names);
    }
    return status;
  }

 private:
  void report(const std::string& path, const Tensor& logits,
              const std::vector<std::string>& names) const {
    const TopK top = topk(softmax(logits, 0), topk_);
    const auto probs = top.values.to_vector<double>();
    const auto index = top.indices.to_vector<int64_t>();
    auto label = [&](int64_t i) { return names.empty() ? std::string() : names[size_t(i)]; };
    if (!json_) {
      std::printf("%s\n", path.c_str());
      for (size_t r = 0; r < index.size(); ++r)
        std::printf("  %2zu. %5ld %-24s %8.4f%%\n", r + 1, long(index[r]), label(index[r]).c_str(),
                    100 * probs[r]);
      if (logits_) {
        std::printf("  logits:");
        for (double v : logits.to_vector<double>()) std::printf(" %.6g", v);
        std::printf("\n");
      }
      return;
    }
    std::string line = "{\"image\": " + json_string(path);
    if (!names.empty()) line += ", \"label\": " + json_string(label(index[0]));
    line += ", \"topk\": [";
    for (size_t r = 0; r < index.size(); ++r) {
      line += (r ? ", " : "") + std::string("{\"index\": ") + std::to_string(index[r]) +
              ", \"prob\": " + json_number(probs[r]);
      if (!names.empty()) line += ", \"label\": " + json_string(label(index[r]));
      line += "}";
    }
    line += "]";
    if (logits_) {
      line += ", \"logits\": [";
      const auto values = logits.to_vector<double>();
      for (size_t i = 0; i < values.size(); ++i) line += (i ? ", " : "") + json_number(values[i]);
      line += "]";
    }
    std::printf("%s}\n", line.c_str());
  }

  std::vector<std::string> images_;
  std::string weights_, arch_;
  int64_t topk_ = 0;  // 0: the default, min(5, classes)
  bool logits_ = false, json_ = false;
  InferenceFlags flags_;
};

}  // namespace

AFN_CLI_COMMAND(PredictCommand);

}  // namespace afinar::cli
