// summary(): rows from a forward hook, then torchsummary's layout and size estimates.
#include "afinar/nn/summary.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "afinar/autograd/grad_mode.h"
#include "afinar/nn/freeze.h"

namespace afinar::nn {

namespace {

constexpr double kBytesPerNumber = 4.0;  // torchsummary's assumption (float32)
constexpr double kMiB = 1024.0 * 1024.0;

struct Row {
  std::string layer;  // "Conv2d-1"
  Shape output;       // batch dim already -1
  int64_t params = 0, trainable = 0;
};

// Puts every module in eval mode and gives each its own mode back on destruction.
class EvalModeScope {
 public:
  explicit EvalModeScope(Module& model) {
    model.apply([&](Module& m) { modes_.emplace_back(&m, m.is_training()); });
    model.eval();
  }
  // apply() lists children before their parent; restoring in reverse sets each parent (train()
  // is recursive) before its descendants set their own modes.
  ~EvalModeScope() {
    for (auto it = modes_.rbegin(); it != modes_.rend(); ++it) it->first->train(it->second);
  }

 private:
  std::vector<std::pair<Module*, bool>> modes_;
};

std::string format_row(const std::string& a, const std::string& b, const std::string& c,
                       const std::string& d) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%20s  %25s %15s %11s\n", a.c_str(), b.c_str(), c.c_str(),
                d.c_str());
  return buf;
}

std::string trainable_cell(const Row& r) {
  if (r.params == 0) return "-";
  if (r.trainable == r.params) return "True";
  return r.trainable == 0 ? "False" : "Partial";
}

std::string megabytes_line(const char* label, double mb) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s: %0.2f\n", label, mb);
  return buf;
}

}  // namespace

std::string with_commas(int64_t n) {
  const std::string digits = std::to_string(n);
  const size_t sign = n < 0 ? 1 : 0;
  std::string out = digits.substr(0, sign);
  for (size_t i = sign; i < digits.size(); ++i) {
    if (i > sign && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

namespace {

// One forward of a batch of 2 in eval mode; a row per call of a non-container module.
std::vector<Row> collect_rows(Module& model, const Shape& input_chw, const Device& device) {
  std::vector<Row> rows;
  EvalModeScope eval(model);
  NoGradGuard no_grad;
  ScopedForwardHook hook([&](Module& m, const Tensor&, const Tensor& output) {
    if (&m == &model || m.is_container()) return;
    Row r{m.type_name() + "-" + std::to_string(rows.size() + 1), output.shape()};
    if (!r.output.empty()) r.output[0] = -1;
    for (const auto& [name, p] : m.named_parameters(false)) {
      r.params += p.numel();
      if (p.requires_grad()) r.trainable += p.numel();
    }
    rows.push_back(std::move(r));
  });
  Shape batch_shape = input_chw;
  batch_shape.insert(batch_shape.begin(), 2);  // batch 2, as torchsummary (BatchNorm needs > 1)
  Generator gen(0);
  model(uniform(batch_shape, 0.0, 1.0, DType::F32, device, gen));
  return rows;
}

std::string format_table(const std::vector<Row>& rows, const ParamCounts& counts,
                         const Shape& input_chw) {
  const std::string rule(75, '-'), double_rule(75, '=');
  std::string out =
      rule + "\n" + format_row("Layer (type)", "Output Shape", "Param #", "Trainable");
  out += double_rule + "\n";
  double output_numbers = 0;  // per sample: the batch dimension left out
  for (const Row& r : rows) {
    out += format_row(r.layer, shape_str(r.output), with_commas(r.params), trainable_cell(r));
    if (!r.output.empty())
      output_numbers += double(numel_of(Shape(r.output.begin() + 1, r.output.end())));
  }
  out += double_rule + "\n";
  out += "Total params: " + with_commas(counts.total) + "\n";
  out += "Trainable params: " + with_commas(counts.trainable) + "\n";
  out += "Non-trainable params: " + with_commas(counts.frozen) + "\n";
  out += rule + "\n";
  const double input_mb = double(numel_of(input_chw)) * kBytesPerNumber / kMiB;
  const double activations_mb = 2.0 * output_numbers * kBytesPerNumber / kMiB;  // + gradients
  const double params_mb = double(counts.total) * kBytesPerNumber / kMiB;
  out += megabytes_line("Input size (MB)", input_mb);
  out += megabytes_line("Forward/backward pass size (MB)", activations_mb);
  out += megabytes_line("Params size (MB)", params_mb);
  out += megabytes_line("Estimated Total Size (MB)", input_mb + activations_mb + params_mb);
  return out + rule + "\n";
}

}  // namespace

std::string summary(Module& model, const Shape& input_chw, const Device& device) {
  AFN_CHECK(!input_chw.empty(),
            "summary: the input shape is empty (give one sample's shape, e.g. [3, 224, 224])");
  for (int64_t d : input_chw)
    AFN_CHECK(d > 0, "summary: input sizes must be positive, got ", input_chw);
  const std::vector<Row> rows = collect_rows(model, input_chw, device);
  return format_table(rows, count_params(model), input_chw);
}

}  // namespace afinar::nn
