// Layer internals for one batch: activation statistics from a forward hook, gradient norms from
// one backward, activation and filter dumps (HDF5 + PNG grids). See include/afinar/train/inspect.h.
#include "afinar/train/inspect.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "afinar/autograd/grad_mode.h"
#include "afinar/data/decode.h"
#include "afinar/data/transforms.h"
#include "afinar/io/atomic_file.h"
#include "afinar/io/hdf5.h"
#include "afinar/nn/freeze.h"
#include "afinar/nn/layers.h"
#include "afinar/ops/loss.h"
#include "afinar/ops/topk.h"
#include "afinar/train/html.h"

namespace afinar::train {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// The grids' separating lines: white, which stays visible between the black of dead ReLU units.
constexpr uint8_t kBorder = 255;

// A CPU tensor with the same values as `t`, contiguous, in float32 or float64 (what the loops
// below read); other floating dtypes (bf16, f16) are widened to float32.
Tensor readable(const Tensor& t) {
  Tensor c = t.detach().cpu();
  if (c.dtype() != DType::F32 && c.dtype() != DType::F64) c = c.to(DType::F32);
  return c.contiguous();
}

template <typename T>
ActivationStats stats_of(const T* v, int64_t n) {
  ActivationStats s;
  if (n == 0) {
    s.mean = s.std = s.min = s.max = s.zero_fraction = kNaN;
    return s;
  }
  // Two passes in double: the mean, then Σ(x − mean)², which stays accurate where the one-pass
  // Σx² − n·mean² cancels (a BatchNorm output with mean ≈ 0 is fine either way; a ReLU's is not).
  double sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = double(v[i]);
    sum += x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    zeros += x == 0.0;
  }
  s.mean = sum / double(n);
  double squares = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(v[i]) - s.mean;
    squares += d * d;
  }
  s.std = n > 1 ? std::sqrt(squares / double(n - 1)) : kNaN;  // torch.std of one element: nan
  s.min = lo;
  s.max = hi;
  s.zero_fraction = double(zeros) / double(n);
  return s;
}

double l2_norm(const Tensor& t) {
  const Tensor c = readable(t);
  double squares = 0;
  auto add = [&](const auto* v) {
    for (int64_t i = 0; i < c.numel(); ++i) squares += double(v[i]) * double(v[i]);
  };
  if (c.dtype() == DType::F64)
    add(c.data<double>());
  else
    add(c.data<float>());
  return std::sqrt(squares);
}

// For the duration of inspect(): grad mode on, every parameter requires_grad with no gradient yet;
// afterwards each parameter gets its requires_grad and gradient back (also when something throws).
class FullGradientScope {
 public:
  explicit FullGradientScope(const nn::Module& model) : grad_mode_(GradMode::is_enabled()) {
    for (Tensor& p : model.parameters()) {
      saved_.push_back({p, p.requires_grad(), p.grad()});
      p.set_grad(Tensor());
      p.set_requires_grad(true);
    }
    GradMode::set_enabled(true);
  }
  ~FullGradientScope() {
    GradMode::set_enabled(grad_mode_);
    for (Saved& s : saved_) {
      s.param.set_grad(s.grad);
      s.param.set_requires_grad(s.requires_grad);
    }
  }
  FullGradientScope(const FullGradientScope&) = delete;
  FullGradientScope& operator=(const FullGradientScope&) = delete;

 private:
  struct Saved {
    Tensor param;
    bool requires_grad;
    Tensor grad;
  };
  bool grad_mode_;
  std::vector<Saved> saved_;
};

// The candidates whose names match one of `patterns`, in the candidates' order. A pattern that
// matches none is an error naming it and showing what names look like.
nn::NamedModules matching_modules(const nn::NamedModules& candidates,
                                  const std::vector<std::string>& patterns, const char* what,
                                  const char* kind, const nn::Module& model) {
  for (const std::string& pattern : patterns) {
    const bool any = std::any_of(candidates.begin(), candidates.end(),
                                 [&](const auto& c) { return nn::glob_match(pattern, c.first); });
    if (any) continue;
    std::string examples;
    for (size_t i = 0; i < candidates.size() && i < 3; ++i)
      examples.append(i ? "', '" : "").append(candidates[i].first);
    AFN_FAIL("inspect: the ", what, " pattern '", pattern, "' matches no ", kind, " of the ",
             model.type_name(), " (names look like '", examples,
             "'; `afinar summary` or the activation table lists them)");
  }
  nn::NamedModules out;
  for (const auto& c : candidates)
    if (std::any_of(patterns.begin(), patterns.end(),
                    [&](const std::string& p) { return nn::glob_match(p, c.first); }))
      out.push_back(c);
  return out;
}

struct Dump {
  std::string name, type;
  Tensor value;  // CPU copy of the output
};

// One forward of `images` with a hook that appends the statistics of every call of a leaf module
// to `activations` and a copy of every call of a `dumped` module's output to `dumps`, each call
// named as the header says ("relu", "relu#2"). `submodules`: named_modules() without the model.
Tensor hooked_forward(nn::Module& model, const Tensor& images, const nn::NamedModules& submodules,
                      const nn::NamedModules& dumped, std::vector<ActivationStats>& activations,
                      std::vector<Dump>& dumps) {
  std::unordered_map<const nn::Module*, std::string> names;  // the first name of each module
  std::unordered_set<const nn::Module*> leaves, to_dump;
  for (const auto& [name, m] : submodules) {
    names.emplace(m.get(), name);
    if (m->named_children().empty()) leaves.insert(m.get());
  }
  for (const auto& d : dumped) to_dump.insert(d.second.get());
  std::unordered_map<const nn::Module*, int64_t> calls;
  nn::ScopedForwardHook hook([&](nn::Module& m, const Tensor&, const Tensor& output) {
    const auto it = names.find(&m);
    if (it == names.end()) return;  // the model itself
    const int64_t call = ++calls[&m];
    const std::string name = call == 1 ? it->second : detail::concat(it->second, "#", call);
    if (leaves.count(&m)) {
      activations.push_back(activation_stats(output));
      activations.back().name = name;
      activations.back().type = m.type_name();
    }
    if (to_dump.count(&m)) dumps.push_back({name, m.type_name(), readable(output).clone()});
  });
  return model(images);
}

// ‖grad‖, ‖w‖ and their ratio for every parameter, after the backward.
std::vector<GradientStats> gradient_stats(const nn::Module& model) {
  std::vector<GradientStats> out;
  for (const auto& [name, p] : model.named_parameters()) {
    GradientStats g{name, p.shape(), kNaN, l2_norm(p), kNaN};
    if (p.grad().defined()) g.grad_norm = l2_norm(p.grad());
    if (g.weight_norm > 0) g.ratio = g.grad_norm / g.weight_norm;
    out.push_back(std::move(g));
  }
  return out;
}

// The PNG picture of a dumped activation: image 0's channels for [B, C, H, W] with H·W > 1;
// otherwise ([B, F], or [B, C, 1, 1]) image 0's F values as one tile of ceil(F / w) rows of
// w = ceil(√F), normalised together (cells past F get the minimum). Other ranks get none.
bool picture_of(const Tensor& value, data::Image& image, int64_t min_tile) {
  if (value.dim() == 4 && value.size(2) * value.size(3) > 1) {
    image = channel_grid(
        value.slice(0, 0, 1).reshape({value.size(1), value.size(2), value.size(3)}), min_tile);
    return true;
  }
  if (value.dim() != 2 && value.dim() != 4) return false;
  std::vector<double> v = value.slice(0, 0, 1).to_vector<double>();
  if (v.empty()) return false;
  int64_t w = 1;
  while (w * w < int64_t(v.size())) ++w;
  const int64_t h = (int64_t(v.size()) + w - 1) / w;
  v.resize(size_t(h * w), *std::min_element(v.begin(), v.end()));
  image = channel_grid(from_vector(v, {1, h, w}), min_tile);
  return true;
}

// One HDF5 file with a dataset per (name, tensor), written through a temporary name.
void write_datasets(const std::string& path, const std::vector<Dump>& items) {
  io::AtomicFile out(path);
  {
    hdf5::File f = hdf5::File::create(out.temp_path());
    for (const Dump& d : items) {
      f.write_tensor("/" + d.name, d.value);
      f.write_attr("/" + d.name, "type", d.type);
    }
  }
  out.commit();
}

std::string prepare_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  AFN_CHECK(!ec && std::filesystem::is_directory(dir), "inspect: cannot create the output folder '",
            dir, "': ", ec.message());
  return dir + "/";
}

void write_dumps(const std::vector<Dump>& dumps, const InspectOptions& o,
                 std::vector<std::string>& files) {
  const std::string dir = prepare_dir(o.output_dir);
  files.push_back(dir + "activations.h5");
  write_datasets(files.back(), dumps);
  for (const Dump& d : dumps) {
    data::Image image;
    if (!picture_of(d.value, image, o.min_tile)) continue;
    files.push_back(dir + "act_" + d.name + ".png");
    write_png(files.back(), image);
  }
}

void write_filters(const nn::NamedModules& convs, const InspectOptions& o,
                   std::vector<std::string>& files) {
  const std::string dir = prepare_dir(o.output_dir);
  std::vector<Dump> weights;
  for (const auto& [name, m] : convs)
    weights.push_back({name, m->type_name(), readable(dynamic_cast<nn::Conv2d&>(*m).weight())});
  files.push_back(dir + "filters.h5");
  write_datasets(files.back(), weights);
  for (const Dump& w : weights) {
    files.push_back(dir + "filters_" + w.name + ".png");
    write_png(files.back(), filter_grid(w.value, o.min_tile));
  }
}

// Tiles n images of c×h×w values each (channel-first, consecutive) into a grid; the rule is in
// the header (channel_grid).
template <typename T>
data::Image tile_grid(const T* v, int64_t n, int64_t c, int64_t h, int64_t w, int64_t min_tile) {
  AFN_CHECK(n >= 1 && h >= 1 && w >= 1, "image grid: nothing to draw (", n, " tiles of ", h, "x", w,
            ")");
  AFN_CHECK(min_tile >= 1, "image grid: min_tile must be at least 1, got ", min_tile);
  int64_t cols = 1;
  while (cols * cols < n) ++cols;
  const int64_t rows = (n + cols - 1) / cols;
  const int64_t s = std::max<int64_t>(1, (min_tile + std::max(h, w) - 1) / std::max(h, w));
  data::Image grid(rows * (s * h + 1) + 1, cols * (s * w + 1) + 1, c, kBorder);
  const int64_t plane = h * w;
  for (int64_t t = 0; t < n; ++t) {
    const T* tile = v + t * c * plane;
    const auto [lo, hi] = std::minmax_element(tile, tile + c * plane);
    const double low = double(*lo), scale = 1.0 / std::max(double(*hi) - low, 1e-5);
    const int64_t y0 = (t / cols) * (s * h + 1) + 1, x0 = (t % cols) * (s * w + 1) + 1;
    for (int64_t y = 0; y < s * h; ++y)
      for (int64_t x = 0; x < s * w; ++x)
        for (int64_t ch = 0; ch < c; ++ch) {
          const double u = (double(tile[ch * plane + (y / s) * w + x / s]) - low) * scale;
          grid.pixel(y0 + y, x0 + x)[ch] = uint8_t(std::clamp(255.0 * u + 0.5, 0.0, 255.0));
        }
  }
  return grid;
}

data::Image tile_grid(const Tensor& t, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t min_tile) {
  const Tensor r = readable(t);
  return r.dtype() == DType::F64 ? tile_grid(r.data<double>(), n, c, h, w, min_tile)
                                 : tile_grid(r.data<float>(), n, c, h, w, min_tile);
}

}  // namespace

ActivationStats activation_stats(const Tensor& t) {
  const Tensor c = readable(t);
  ActivationStats s = c.dtype() == DType::F64 ? stats_of(c.data<double>(), c.numel())
                                              : stats_of(c.data<float>(), c.numel());
  s.shape = t.shape();
  return s;
}

Inspection inspect(nn::Module& model, const Tensor& images, const Tensor& labels,
                   const InspectOptions& options) {
  AFN_CHECK(images.defined() && images.dim() == 4,
            "inspect: expected a batch of images [B, C, H, W], got ",
            images.defined() ? shape_str(images.shape()) : std::string("an undefined tensor"));
  const int64_t batch = images.size(0);
  AFN_CHECK(!labels.defined() || (labels.dtype() == DType::I64 && labels.shape() == Shape{batch}),
            "inspect: labels must be int64 [", batch, "] (one class index per image), got ",
            labels.dtype(), " ", labels.shape());

  // Every pattern is checked before any work.
  nn::NamedModules modules = model.named_modules();
  nn::NamedModules submodules(modules.begin() + 1, modules.end()), convs;
  for (const auto& m : submodules)
    if (dynamic_cast<const nn::Conv2d*>(m.second.get())) convs.push_back(m);
  const nn::NamedModules dumped =
      matching_modules(submodules, options.dump, "dump", "module", model);
  const nn::NamedModules filtered =
      matching_modules(convs, options.filters, "filters", "Conv2d module", model);

  Inspection r;
  std::vector<Dump> dumps;
  FullGradientScope gradients(model);
  const Tensor logits = hooked_forward(model, images, submodules, dumped, r.activations, dumps);
  AFN_CHECK(logits.dim() == 2 && logits.size(0) == batch, "inspect: the ", model.type_name(),
            " returned ", logits.shape(), " for ", batch, " images; expected logits [", batch,
            ", classes]");
  r.predicted_targets = !labels.defined();
  const Tensor targets =
      r.predicted_targets ? argmax(logits.detach(), 1) : labels.to(logits.device());
  const Tensor loss = cross_entropy(logits, targets);
  loss.backward();
  r.loss = loss.detach().cpu().to(DType::F64).item<double>();
  r.logits = logits.detach().cpu();
  r.targets = targets.cpu();
  r.gradients = gradient_stats(model);

  if (!dumps.empty()) write_dumps(dumps, options, r.files);
  if (!filtered.empty()) write_filters(filtered, options, r.files);
  return r;
}

data::Image channel_grid(const Tensor& x, int64_t min_tile) {
  AFN_CHECK(x.dim() == 3, "channel_grid: expected one image's activation [C, H, W], got ",
            x.shape());
  return tile_grid(x, x.size(0), 1, x.size(1), x.size(2), min_tile);
}

data::Image filter_grid(const Tensor& w, int64_t min_tile) {
  AFN_CHECK(w.dim() == 4, "filter_grid: expected a conv weight [O, I, kh, kw], got ", w.shape());
  if (w.size(1) == 3) return tile_grid(w, w.size(0), 3, w.size(2), w.size(3), min_tile);
  return tile_grid(w.slice(1, 0, 1), w.size(0), 1, w.size(2), w.size(3), min_tile);
}

void write_png(const std::string& path, const data::Image& image) {
  const std::vector<uint8_t> png = encode_png(image);
  io::AtomicFile out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    f.write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
    AFN_CHECK(f.good(), "cannot write '", out.temp_path(), "' (is the disk full?)");
  }
  out.commit();
}

Tensor eval_batch(const std::vector<std::string>& paths, const io::Preprocessing& preprocessing) {
  AFN_CHECK(!paths.empty(), "eval_batch: no images given");
  const io::Preprocessing& pp = preprocessing;
  const data::Compose transform = data::eval_transform(pp);
  std::vector<float> values;
  Shape image_shape;
  for (const std::string& path : paths) {
    Generator unused(0);  // the evaluation transform draws nothing
    const Tensor x = transform(data::decode_image(path), unused);
    image_shape = x.shape();
    const std::vector<float> v = x.to_vector<float>();
    values.insert(values.end(), v.begin(), v.end());
  }
  Shape shape = {int64_t(paths.size())};
  shape.insert(shape.end(), image_shape.begin(), image_shape.end());
  return from_vector(values, shape);
}

}  // namespace afinar::train
