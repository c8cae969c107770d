// `afinar devices`: what this build can compute on: the CPU threads and every visible CUDA GPU.
#include <omp.h>

#include <cstdio>

#include "afinar/core/allocator.h"
#include "afinar/core/device.h"
#include "command.h"

namespace afinar::cli {

namespace {

class DevicesCommand : public Command {
 public:
  const char* name() const override { return "devices"; }
  const char* description() const override {
    return "List the devices this build can use (cpu threads, CUDA GPUs)";
  }
  void setup(CLI::App&) override {}
  int run() override {
    std::printf("cpu: %d threads\n", omp_get_max_threads());
    if (!cuda_built()) {
      std::printf(
          "cuda: not built (configure with -DAFINAR_CUDA=ON on a machine with nvcc and "
          "cuDNN)\n");
      return 0;
    }
    const int n = cuda_device_count();
    if (n == 0) std::printf("cuda: built, but no GPU is visible on this machine\n");
    for (int i = 0; i < n; ++i) {
      const Device d(DeviceType::CUDA, i);
      std::printf("%s: %s\n", d.str().c_str(), device_description(d).c_str());
    }
    return 0;
  }
};

}  // namespace

AFN_CLI_COMMAND(DevicesCommand);

}  // namespace afinar::cli
