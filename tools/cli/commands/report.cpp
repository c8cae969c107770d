// `afinar report RUN_DIR [-o FILE]`: one self-contained HTML page of a training run (curves,
// confusion matrix, per-class metrics, sample predictions, recipe, timing); train/report.h.
#include <chrono>
#include <cstdio>

#include "afinar/train/report.h"
#include "command.h"

namespace afinar::cli {

namespace {

class ReportCommand : public Command {
 public:
  const char* name() const override { return "report"; }
  const char* description() const override {
    return "Write an HTML report of a training run (one self-contained file)";
  }
  void setup(CLI::App& app) override {
    app.add_option("run_dir", run_dir_, "Output folder of afinar train")->required();
    app.add_option("-o,--output", options_.output, "Report file (default: RUN_DIR/report.html)");
    app.add_option("--samples", options_.samples, "Sample images labelled by best.h5 (0: none)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--thumbnail", options_.thumbnail, "Their size in pixels")
        ->capture_default_str()
        ->check(CLI::Range(8, 1024));
    app.add_option("--device", options_.device, "Where best.h5 labels them: cpu or cuda[:N]")
        ->capture_default_str();
  }

  int run() override {
    const auto start = std::chrono::steady_clock::now();
    const std::string path = train::write_report(run_dir_, options_);
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    std::printf("report: %s (%.1f s)\n", path.c_str(), seconds.count());
    return 0;
  }

 private:
  std::string run_dir_;
  train::ReportOptions options_;
};

}  // namespace

AFN_CLI_COMMAND(ReportCommand);

}  // namespace afinar::cli
