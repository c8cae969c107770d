// `afinar import SRC.pth -o DST.h5 [--arch NAME] [--no-verify]`: a torch.save file (zip, legacy
// or tar container) to an afinar weights file (DESIGN.md "Formats"), without Python
// (io::import_torch_weights, include/afinar/io/import.h):
//   - the architecture comes from the keys and shapes (vgg*, resnet*), or from --arch, which must
//     then match them;
//   - torchvision's file-name hash (resnet18-f37072fd.pth: the SHA-256 starts with f37072fd) is
//     checked unless --no-verify; a name without a hash has nothing to check;
//   - preprocessing attributes from torchvision's published transforms.
// Output is written under a temporary name and renamed at the end: on any error (exit code 1)
// nothing is left at DST. Prints one summary line.
#include <cstdio>

#include "afinar/io/import.h"
#include "command.h"

namespace afinar::cli {

namespace {

class ImportCommand : public Command {
 public:
  const char* name() const override { return "import"; }
  const char* description() const override {
    return "Convert a PyTorch .pth (torchvision VGG / ResNet weights) to an afinar weights file";
  }
  void setup(CLI::App& app) override {
    app.add_option("source", options_.source, "torch.save file (zip, legacy or tar container)")
        ->required();
    app.add_option("-o,--output", options_.output, "Output weights file (HDF5)")->required();
    app.add_option("--arch,--model", options_.arch,
                   "Architecture (vgg11..vgg19[_bn], resnet18..resnet152, resnext50_32x4d, "
                   "resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, wide_resnet101_2); "
                   "detected from the keys when omitted, checked against them when given");
    app.add_flag("--no-verify", no_verify_,
                 "Skip the check of the file-name hash (torchvision's -<sha256 prefix>.pth)");
  }

  int run() override {
    options_.verify_hash = !no_verify_;
    const io::ImportReport r = io::import_torch_weights(options_);
    std::printf("imported %s, %lld classes, from %s (%s) to %s in %.2f s; %s\n",
                io::weights_summary(r.arch.arch, r.keys).c_str(),
                static_cast<long long>(r.arch.num_classes), options_.source.c_str(),
                r.container.c_str(), options_.output.c_str(), r.seconds, r.hash_note.c_str());
    return 0;
  }

 private:
  io::ImportOptions options_;
  bool no_verify_ = false;
};

}  // namespace

AFN_CLI_COMMAND(ImportCommand);

}  // namespace afinar::cli
