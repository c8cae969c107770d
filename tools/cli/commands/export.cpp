// `afinar export SRC.h5 -o DST.pth`: an afinar weights file to a torch.save zip archive that
// torch.load(DST, weights_only=True) reads and torchvision's model accepts with strict=True
// (an OrderedDict of the state_dict keys, float32 / int64 tensors). Written under a temporary
// name and renamed at the end: on any error nothing is left at DST.
#include <chrono>
#include <cstdio>

#include "afinar/io/torch_file.h"
#include "afinar/io/weights.h"
#include "command.h"

namespace afinar::cli {

namespace {

class ExportCommand : public Command {
 public:
  const char* name() const override { return "export"; }
  const char* description() const override {
    return "Convert an afinar weights file to a PyTorch .pth (torch.save zip format)";
  }
  void setup(CLI::App& app) override {
    app.add_option("source", source_, "afinar weights file (HDF5)")->required();
    app.add_option("-o,--output", output_, "Output .pth file")->required();
  }

  int run() override {
    const auto start = std::chrono::steady_clock::now();
    const io::Weights w = io::load_weights(source_);
    io::save_torch_file(output_, w.state_dict);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("exported %s from %s to %s in %.2f s\n",
                io::weights_summary(w.meta.arch, io::key_shapes(w.state_dict)).c_str(),
                source_.c_str(), output_.c_str(), seconds);
    return 0;
  }

 private:
  std::string source_, output_;
};

}  // namespace

AFN_CLI_COMMAND(ExportCommand);

}  // namespace afinar::cli
