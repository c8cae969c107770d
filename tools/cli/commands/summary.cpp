// `afinar summary --arch NAME [--num-classes N] [--head KIND] [--input C,H,W] [--device cpu]`:
// prints the torchsummary-style table of an architecture (nn/summary.h) with the head a run would
// put on it (nn/head.h): every layer's output shape and parameter count, whether it trains, the
// totals and the memory estimates. The model is built without drawing random weights (its
// parameters are zeros): only shapes matter here.
//
//   afinar summary --arch vgg16 --head linear --num-classes 10    # seed 000: 14,719,818 params
#include <cstdio>
#include <sstream>

#include "afinar/nn/init.h"
#include "afinar/nn/models.h"
#include "afinar/nn/summary.h"
#include "command.h"

namespace afinar::cli {

namespace {

// "3,224,224" -> {3, 224, 224}; every size a positive integer.
Shape parse_input_shape(const std::string& text) {
  Shape shape;
  std::istringstream parts(text);
  for (std::string part; std::getline(parts, part, ',');) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    AFN_CHECK(used == part.size() && used > 0 && v > 0, "summary: --input '", text,
              "' must be positive integers separated by commas (C,H,W), e.g. 3,224,224");
    shape.push_back(v);
  }
  AFN_CHECK(shape.size() == 3, "summary: --input '", text, "' needs 3 sizes C,H,W, got ",
            shape.size());
  return shape;
}

class SummaryCommand : public Command {
 public:
  const char* name() const override { return "summary"; }
  const char* description() const override {
    return "Print a model's layers, output shapes and parameter counts (like torchsummary)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--arch,--model", arch_,
                   "Architecture: vgg11[_bn] ... vgg19[_bn], resnet18 ... 152, resnext50_32x4d, "
                   "resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, wide_resnet101_2")
        ->required();
    app.add_option("--num-classes", num_classes_, "Outputs of the classifier")
        ->capture_default_str();
    app.add_option("--head", head_.kind, "The classifier: default, linear or mlp")
        ->capture_default_str();
    app.add_option("--head-hidden", head_.hidden, "Hidden width of the mlp head")
        ->capture_default_str();
    app.add_option("--head-dropout", dropout_, "Dropout p of the mlp head (two values)")
        ->expected(2)
        ->capture_default_str();
    app.add_option("--input", input_, "One input's shape C,H,W")->capture_default_str();
    app.add_option("--device", device_, "cpu or cuda[:N]")->capture_default_str();
  }

  int run() override {
    const Shape input = parse_input_shape(input_);
    const Device device(device_);
    check_device_available(device);
    nn::ModulePtr model;
    {
      nn::init::SkipInitGuard no_random_weights;
      head_.dropout = {dropout_.at(0), dropout_.at(1)};
      model = nn::create_model(arch_, num_classes_, head_);
    }
    model->to(device);
    std::fputs(nn::summary(*model, input, device).c_str(), stdout);
    return 0;
  }

 private:
  std::string arch_, input_ = "3,224,224", device_ = "cpu";
  int64_t num_classes_ = 1000;
  nn::HeadSpec head_;
  std::vector<double> dropout_ = {0.5, 0.3};
};

}  // namespace

AFN_CLI_COMMAND(SummaryCommand);

}  // namespace afinar::cli
