// Recipes with toml++ (Debian's libtomlplusplus-dev). Each table is read by a
// function that takes the keys it knows and then refuses whatever is left.
#include "afinar/train/recipe.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "afinar/core/check.h"
#include "afinar/data/auto_augment.h"
#include "afinar/train/eval_metric.h"

namespace afinar::train {

namespace {

// Arrays read as numbers, integers included ([1, 1, 1] is a std): any length for a vector.
template <typename T>
struct is_number_array : std::false_type {};
template <size_t N>
struct is_number_array<std::array<double, N>> : std::true_type {};
template <>
struct is_number_array<std::vector<double>> : std::true_type {};

// A table being read: every key taken is remembered, finish() refuses the others.
class Reader {
 public:
  Reader(const toml::table& t, std::string where) : t_(t), where_(std::move(where)) {}

  template <typename T>
  void get(const char* key, T& out) {
    const toml::node* n = take(key);
    if (!n) return;
    // value_exact: toml++'s value<> would take 1 for true and 1e12 or 7.9 for an integer.
    if constexpr (std::is_same_v<T, bool>) {
      out = require(n->value_exact<bool>(), key, "true or false");
    } else if constexpr (std::is_integral_v<T>) {
      const int64_t v = require(n->value_exact<int64_t>(), key, "an integer (no decimal point)");
      AFN_CHECK(std::in_range<T>(v), where_, ": '", key, "' = ", v, " is out of range (",
                int64_t(std::numeric_limits<T>::min()), " to ",
                std::min<uint64_t>(std::numeric_limits<T>::max(), INT64_MAX), ")");
      out = T(v);
    } else if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, std::optional<double>>) {
      out = require(n->value<double>(), key, "a number");
    } else if constexpr (std::is_same_v<T, std::string>) {
      out = require(n->value<std::string>(), key, "a string");
    } else if constexpr (is_number_array<T>::value) {
      constexpr bool any_length = std::is_same_v<T, std::vector<double>>;
      const toml::array* a = n->as_array();
      const bool ok = a && (any_length || a->size() == out.size()) &&
                      std::all_of(a->begin(), a->end(), [](const toml::node& e) {
                        return e.value<double>().has_value();
                      });
      AFN_CHECK(ok, where_, ": '", key, "' must be an array of ",
                any_length ? std::string() : std::to_string(out.size()) + " ", "numbers");
      if constexpr (any_length) out.resize(a->size());
      for (size_t i = 0; i < out.size(); ++i) out[i] = *(*a)[i].value<double>();
    } else {  // std::vector<std::string> or std::vector<int64_t>
      const toml::array* a = n->as_array();
      AFN_CHECK(a, where_, ": '", key, "' must be an array");
      out.clear();
      for (const toml::node& e : *a)
        out.push_back(
            require(e.value_exact<typename T::value_type>(), key, "an array of one type"));
    }
  }

  const toml::node* take(const std::string& key) {
    taken_.insert(key);
    return t_.get(key);
  }
  const toml::table& table() const { return t_; }
  const std::string& where() const { return where_; }

  void finish() const {
    for (const auto& [key, node] : t_)
      AFN_CHECK(taken_.count(std::string(key.str())), where_, ": unknown key '", key.str(), "'");
  }

 private:
  template <typename V>
  V require(std::optional<V> v, const char* key, const char* what) const {
    AFN_CHECK(v.has_value(), where_, ": '", key, "' must be ", what);
    return *v;
  }
  const toml::table& t_;
  std::string where_;
  std::set<std::string> taken_;
};

const toml::table* subtable(Reader& r, const char* key) {
  const toml::node* n = r.take(key);
  if (!n) return nullptr;
  const toml::table* t = n->as_table();
  AFN_CHECK(t, r.where(), ": '", key, "' must be a table");
  return t;
}

// Every numeric or boolean key except those in `skip` as an option (betas -> beta1, beta2).
optim::Options options_of(const toml::table& t, const std::string& where,
                          const std::set<std::string>& skip) {
  optim::Options o;
  for (const auto& [k, node] : t) {
    const std::string key(k.str());
    if (skip.count(key)) continue;
    if (key == "betas") {
      const toml::array* a = node.as_array();
      AFN_CHECK(a && a->size() == 2 && (*a)[0].value<double>() && (*a)[1].value<double>(), where,
                ": 'betas' must be two numbers");
      o["beta1"] = *(*a)[0].value<double>();
      o["beta2"] = *(*a)[1].value<double>();
    } else if (auto b = node.value_exact<bool>()) {
      o[key] = *b ? 1.0 : 0.0;
    } else if (auto d = node.value<double>()) {
      o[key] = *d;
    } else {
      AFN_FAIL(where, ": '", key, "' must be a number or true / false");
    }
  }
  return o;
}

// [data] augment = { crop = 256, scale = [0.7, 1.0], rotation = 15, ... } (or true / false).
data::TrainTransformOptions read_augmentation(const toml::table& t, const std::string& where) {
  Reader r(t, where);
  data::TrainTransformOptions a = TrainConfig{}.augmentation;
  r.get("crop", a.crop);
  r.get("scale", a.scale);
  r.get("ratio", a.ratio);
  r.get("hflip", a.hflip);
  r.get("vflip", a.vflip);
  r.get("auto_augment", a.auto_augment);
  r.get("ra_magnitude", a.ra_magnitude);
  r.get("augmix_severity", a.augmix_severity);
  r.get("rotation", a.rotation);
  if (const toml::node* cj = r.take("color_jitter")) {
    std::vector<double> v;
    if (auto single = cj->value<double>()) {
      v = {*single};
    } else if (const toml::array* arr = cj->as_array()) {
      for (const toml::node& e : *arr) {
        const std::optional<double> d = e.value<double>();
        AFN_CHECK(d.has_value(), where, ": 'color_jitter' must be numbers");
        v.push_back(*d);
      }
    }
    a.color_jitter = color_jitter_from(v, where + ": 'color_jitter'");
  }
  if (t.contains("affine_translate")) {
    std::array<double, 2> translate{};
    r.get("affine_translate", translate);
    a.affine_translate = translate;
  }
  r.get("affine_shear", a.affine_shear);
  r.get("erasing", a.erasing);
  r.finish();
  return a;
}

// [model] head = "mlp" or { kind = "mlp", hidden = 512, dropout = [0.5, 0.3] }.
nn::HeadSpec read_head(const toml::node& n, const std::string& where) {
  nn::HeadSpec h;
  if (auto kind = n.value<std::string>()) {
    h.kind = *kind;
  } else {
    const toml::table* t = n.as_table();
    AFN_CHECK(t, where,
              ": 'head' must be a kind (\"default\", \"linear\", \"mlp\") or a table "
              "such as { kind = \"mlp\", hidden = 512, dropout = [0.5, 0.3] }");
    Reader hr(*t, where + " head");
    hr.get("kind", h.kind);
    AFN_CHECK(h.kind == "mlp" || (!t->contains("hidden") && !t->contains("dropout")), hr.where(),
              ": 'hidden' and 'dropout' are settings of the mlp head, not of '", h.kind, "'");
    hr.get("hidden", h.hidden);
    if (const toml::node* d = hr.take("dropout")) {
      const toml::array* a = d->as_array();
      AFN_CHECK(a && a->size() == 2 && (*a)[0].value<double>() && (*a)[1].value<double>(),
                hr.where(),
                ": 'dropout' must be two numbers [before the hidden Linear, before "
                "the output Linear], e.g. [0.5, 0.3]");
      h.dropout = {*(*a)[0].value<double>(), *(*a)[1].value<double>()};
    }
    hr.finish();
  }
  try {
    nn::check_head(h);
  } catch (const Error& e) {
    AFN_FAIL(where, ": ", e.what());
  }
  return h;
}

// unfreeze_schedule = [ { epoch = 2, unfreeze = ["layer4.*"] }, ... ]
std::vector<UnfreezeStep> read_unfreeze_schedule(const toml::node& n, const std::string& where) {
  const toml::array* a = n.as_array();
  AFN_CHECK(a, where,
            ": 'unfreeze_schedule' must be an array of tables such as "
            "{ epoch = 2, unfreeze = [\"layer4.*\"] }");
  std::vector<UnfreezeStep> out;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string w = where + ".unfreeze_schedule[" + std::to_string(i) + "]";
    const toml::table* t = (*a)[i].as_table();
    AFN_CHECK(t, w, ": must be a table such as { epoch = 2, unfreeze = [\"layer4.*\"] }");
    AFN_CHECK(t->contains("epoch") && t->contains("unfreeze"), w,
              ": needs 'epoch' (counted from the stage's start, 0 = its first) and 'unfreeze'");
    Reader r(*t, w);
    UnfreezeStep u;
    r.get("epoch", u.epoch);
    r.get("unfreeze", u.unfreeze);
    AFN_CHECK(!u.unfreeze.empty(), w, ": 'unfreeze' must list at least one pattern");
    r.finish();
    out.push_back(std::move(u));
  }
  return out;
}

const std::set<std::string>& schedule_names() {
  static const std::set<std::string> names = {"none",        "step",    "multistep",
                                              "exponential", "cosine",  "cosine_restarts",
                                              "poly",        "plateau", "onecycle"};
  return names;
}

StageConfig read_stage(const toml::table& t, const std::string& where) {
  Reader r(t, where);
  StageConfig s;
  r.get("epochs", s.epochs);
  r.get("freeze", s.freeze);
  r.get("unfreeze", s.unfreeze);
  if (const toml::node* u = r.take("unfreeze_schedule"))
    s.unfreeze_schedule = read_unfreeze_schedule(*u, where);
  if (r.table().contains("lr_decay")) {
    double decay = 0;
    r.get("lr_decay", decay);
    AFN_CHECK(decay > 0, where,
              ": 'lr_decay' must be > 0 (each layer's lr is the next one's "
              "divided by it; ULMFiT uses 2.6), got ",
              decay);
    s.lr_decay = decay;
  }
  r.get("norm_weight_decay", s.norm_weight_decay);
  r.get("bias_weight_decay", s.bias_weight_decay);
  if (const toml::table* o = subtable(r, "optimizer")) {
    Reader opt(*o, where + ".optimizer");
    opt.get("name", s.optimizer.name);
    s.optimizer.options = options_of(*o, opt.where(), {"name"});
  }
  if (const toml::table* sc = subtable(r, "scheduler")) {
    Reader sr(*sc, where + ".scheduler");
    sr.get("name", s.scheduler.name);
    sr.get("milestones", s.scheduler.milestones);
    sr.get("warmup_epochs", s.scheduler.warmup_epochs);
    sr.get("warmup_method", s.scheduler.warmup_method);
    sr.get("warmup_decay", s.scheduler.warmup_decay);
    sr.get("interval", s.scheduler.interval);
    sr.get("anneal_strategy", s.scheduler.anneal_strategy);
    sr.get("threshold_mode", s.scheduler.threshold_mode);
    s.scheduler.args =
        options_of(*sc, sr.where(),
                   {"name", "milestones", "warmup_epochs", "warmup_method", "warmup_decay",
                    "interval", "anneal_strategy", "threshold_mode"});
  }
  if (const toml::node* g = r.take("param_groups")) {
    const toml::array* a = g->as_array();
    AFN_CHECK(a, where, ": 'param_groups' must be an array of tables");
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::table* gt = (*a)[i].as_table();
      const std::string gw = where + ".param_groups[" + std::to_string(i) + "]";
      AFN_CHECK(gt, gw, ": must be a table such as { params = [\"fc.*\"], lr = 1e-3 }");
      Reader gr(*gt, gw);
      GroupConfig group;
      gr.get("params", group.params);
      AFN_CHECK(!group.params.empty(), gw, ": 'params' must list at least one pattern");
      group.options = options_of(*gt, gw, {"params"});
      s.param_groups.push_back(std::move(group));
    }
  }
  r.finish();
  return s;
}

}  // namespace

namespace {

// A finite number in [lo, hi) (hi_open) or [lo, hi]; `setting` names it as a flag and a key.
void check_range(double v, double lo, double hi, bool hi_open, const std::string& where,
                 const char* setting) {
  const bool ok = std::isfinite(v) && v >= lo && (hi_open ? v < hi : v <= hi);
  AFN_CHECK(ok, where, ": ", setting, " must be in [", lo, ", ", hi, hi_open ? ")" : "]", ", got ",
            v);
}

void check_at_least(int64_t v, int64_t lo, const std::string& where, const char* setting) {
  AFN_CHECK(v >= lo, where, ": ", setting, " must be >= ", lo, ", got ", v);
}

// torchvision's ranges for each augmentation (its constructors' checks), before any image.
void check_augmentation(const data::TrainTransformOptions& a, const std::string& where) {
  const std::string w = where + ": [data] augment";
  AFN_CHECK(a.crop == 0 || (a.crop >= 1 && a.crop <= kMaxImageSize), w,
            " crop (--train-crop) must be 0 (the image size) or in [1, ", kMaxImageSize, "], got ",
            a.crop);
  for (const auto& [name, range] :
       {std::pair{"scale (--scale)", a.scale}, std::pair{"ratio (--ratio)", a.ratio}})
    AFN_CHECK(
        std::isfinite(range[0]) && std::isfinite(range[1]) && range[0] > 0 && range[0] <= range[1],
        w, " ", name, " must be (min, max) with 0 < min <= max, got (", range[0], ", ", range[1],
        ")");
  check_range(a.hflip, 0, 1, false, w, "hflip (--hflip), a probability,");
  check_range(a.vflip, 0, 1, false, w, "vflip (--vflip), a probability,");
  AFN_CHECK(a.auto_augment.empty() || data::is_auto_augment_policy(a.auto_augment), w,
            " auto_augment (--auto-augment) must be ta_wide (TrivialAugmentWide), ra "
            "(RandAugment), imagenet, cifar10 or svhn (AutoAugment's policies), or augmix "
            "(AugMix), got '",
            a.auto_augment, "'");
  AFN_CHECK(a.ra_magnitude >= 0 && a.ra_magnitude < 31, w,
            " ra_magnitude (--ra-magnitude) must be in [0, 30], got ", a.ra_magnitude);
  AFN_CHECK(a.augmix_severity >= 1 && a.augmix_severity <= 10, w,
            " augmix_severity (--augmix-severity) must be in [1, 10], got ", a.augmix_severity);
  check_range(a.rotation, 0, 180, false, w, "rotation (--rotation), in degrees,");
  for (int i = 0; i < 3; ++i)
    check_range(a.color_jitter[size_t(i)], 0, 1e6, false, w,
                "color_jitter (--color-jitter) brightness, contrast and saturation");
  check_range(a.color_jitter[3], 0, 0.5, false, w, "color_jitter (--color-jitter) hue");
  if (a.affine_translate)
    for (double t : *a.affine_translate)
      check_range(t, 0, 1, false, w, "affine_translate (--translate), fractions of the size,");
  check_range(a.affine_shear, 0, 90, true, w, "affine_shear (--shear), in degrees,");
  check_range(a.erasing, 0, 1, false, w, "erasing (--reprob), a probability,");
}

// Optimizer options are rates and coefficients: finite (the optimizer checks their ranges).
void check_finite_options(const optim::Options& o, const std::string& where) {
  for (const auto& [key, v] : o)
    AFN_CHECK(std::isfinite(v), where, ": '", key, "' must be a finite number, got ", v);
}

// The numeric arguments of the schedules (train/schedule.h; PyTorch's names), each with its
// range: [lo, hi] (open ends where lo_open / hi_open), whole numbers where PyTorch takes an int.
// Any other key would be ignored there, so a typo such as 'step' for 'step_size' is refused. An
// argument of another schedule is let through: a run's resolved recipe.toml carries the command
// line's step_size and gamma whatever its schedule, and reading it back must work.
struct ArgRange {
  double lo, hi;
  bool lo_open = false, hi_open = false, whole = false;
  const char* why = "";
};
const std::map<std::string, ArgRange>& schedule_argument_ranges() {
  constexpr double inf = std::numeric_limits<double>::infinity();
  static const std::map<std::string, ArgRange> ranges = {
      // Counts of epochs, or a factor of the cycle length.
      {"step_size", {1, inf, false, true, true, " (epochs)"}},
      {"T_max", {1, inf, false, true, true, " (epochs)"}},
      {"T_0", {1, inf, false, true, true, " (epochs)"}},
      {"T_mult", {1, inf, false, true, true, " (the cycle grows by it)"}},
      {"total_iters", {1, inf, false, true, true, " (epochs)"}},
      {"patience", {0, inf, false, true, true, " (epochs; --patience-epochs)"}},
      {"cooldown", {0, inf, false, true, true, " (epochs; --cooldown-epochs)"}},
      // Factors the lr is multiplied or divided by.
      {"gamma", {0, inf, true, true, false, " (the lr is multiplied by it; --decay-rate)"}},
      {"power", {0, inf, false, true, false, " (the exponent of the decay)"}},
      {"factor", {0, 1, true, true, false, " (the lr is multiplied by it)"}},
      {"div_factor", {0, inf, true, true, false, " (the first lr is max_lr / div_factor)"}},
      {"final_div_factor", {0, inf, true, true, false, ""}},
      {"max_lr", {0, inf, true, true, false, ""}},
      {"pct_start", {0, 1, true, true, false, " (the fraction of the steps spent warming up)"}},
      {"eta_min", {0, inf, false, true, false, " (--min-lr)"}},
      {"min_lr", {0, inf, false, true, false, " (--min-lr)"}},
      {"threshold", {0, inf, false, true, false, ""}},
      {"eps", {0, inf, false, true, false, ""}},
      {"base_momentum", {0, 1, false, false, false, ""}},
      {"max_momentum", {0, 1, false, false, false, ""}},
      {"three_phase", {0, 1, false, false, true, " (true or false)"}},
      {"cycle_momentum", {0, 1, false, false, true, " (true or false)"}},
  };
  return ranges;
}

void check_schedule(const SchedulerConfig& sc, const std::string& where) {
  AFN_CHECK(schedule_names().count(sc.name), where, ": unknown schedule '", sc.name,
            "' (--sched / scheduler name): expected none, step, multistep, exponential, cosine, "
            "cosine_restarts, poly, plateau or onecycle");
  for (const auto& [key, v] : sc.args) {
    const auto known = schedule_argument_ranges().find(key);
    AFN_CHECK(known != schedule_argument_ranges().end(), where, ": '", key,
              "' is not an argument of a schedule (step_size, gamma: step; gamma: multistep, "
              "exponential; T_max, eta_min: cosine; T_0, T_mult, eta_min: cosine_restarts; "
              "total_iters, power: poly; factor, patience, threshold, cooldown, min_lr, eps: "
              "plateau; max_lr, pct_start, "
              "div_factor, final_div_factor, three_phase, cycle_momentum, base_momentum, "
              "max_momentum: onecycle)");
    const ArgRange& r = known->second;
    const bool ok = std::isfinite(v) && (r.lo_open ? v > r.lo : v >= r.lo) &&
                    (r.hi_open ? v < r.hi : v <= r.hi) && (!r.whole || std::floor(v) == v);
    AFN_CHECK(ok, where, ": scheduler '", key, "' must be ",
              r.whole ? "a whole number " : "a number ", "in ", r.lo_open ? "(" : "[", r.lo, ", ",
              r.hi, r.hi_open ? ")" : "]", r.why, ", got ", v);
  }
  AFN_CHECK(sc.interval.empty() || sc.interval == "epoch" || sc.interval == "step", where,
            ": scheduler 'interval' must be \"epoch\" or \"step\" (every optimizer update; "
            "--sched-on-updates), got '",
            sc.interval, "'");
  AFN_CHECK(sc.name != "plateau" || sc.interval != "step", where,
            ": the plateau schedule steps once per epoch, on the validation metric; it has no "
            "interval \"step\" (--sched-on-updates)");
  AFN_CHECK(sc.name != "onecycle" || sc.warmup_epochs == 0, where,
            ": onecycle warms up by itself (pct_start); give it no warmup_epochs "
            "(--warmup-epochs)");
  AFN_CHECK(sc.name != "plateau" || sc.warmup_epochs == 0, where,
            ": plateau takes no warmup_epochs (--warmup-epochs)");
  AFN_CHECK(sc.anneal_strategy == "cos" || sc.anneal_strategy == "linear", where,
            ": scheduler 'anneal_strategy' must be \"cos\" or \"linear\", got '",
            sc.anneal_strategy, "'");
  AFN_CHECK(sc.threshold_mode == "rel" || sc.threshold_mode == "abs", where,
            ": scheduler 'threshold_mode' must be \"rel\" or \"abs\", got '", sc.threshold_mode,
            "'");
  if (sc.name == "onecycle" && sc.args.count("three_phase") && sc.args.at("three_phase") != 0) {
    const double pct = sc.args.count("pct_start") ? sc.args.at("pct_start") : 0.3;
    AFN_CHECK(pct < 0.5, where,
              ": a three_phase onecycle spends pct_start going up and as much "
              "coming down, so pct_start must be < 0.5, got ",
              pct);
  }
  for (size_t i = 0; i < sc.milestones.size(); ++i)
    AFN_CHECK(sc.milestones[i] >= 1 && (i == 0 || sc.milestones[i] > sc.milestones[i - 1]), where,
              ": scheduler 'milestones' must be increasing epochs >= 1, e.g. [30, 60]");
  check_at_least(sc.warmup_epochs, 0, where, "warmup_epochs (--warmup-epochs)");
  AFN_CHECK(sc.warmup_method == "linear" || sc.warmup_method == "constant", where,
            ": scheduler 'warmup_method' (--warmup-method) must be \"linear\" or \"constant\", "
            "got '",
            sc.warmup_method, "'");
  // LinearLR's start_factor and ConstantLR's factor, as PyTorch checks them.
  const bool linear = sc.warmup_method == "linear";
  const double d = sc.warmup_decay;
  AFN_CHECK(std::isfinite(d) && d <= 1 && (linear ? d > 0 : d >= 0), where,
            ": scheduler 'warmup_decay' (--warmup-decay), the warm-up's lr factor, must be in ",
            linear ? "(0, 1]" : "[0, 1]", " for the ", sc.warmup_method, " warm-up, got ", d);
}

// Each value on its own (check_config less the checks that span settings a recipe may leave to
// the command line, such as weights_exclude with --weights).
void check_values(const TrainConfig& c, const std::string& where) {
  check_at_least(c.batch_size, 1, where, "the batch size (--batch-size, [data] batch_size)");
  check_at_least(c.validation_batch_size, 0, where,
                 "the validation batch size (--validation-batch-size, [data] "
                 "validation_batch_size; 0: the batch size)");
  AFN_CHECK(c.image_size >= 1 && c.image_size <= kMaxImageSize, where,
            ": the image size (--image-size, [data] image_size) must be in [1, ", kMaxImageSize,
            "], got ", c.image_size);
  AFN_CHECK(c.resize == 0 || (c.resize >= 1 && c.resize <= kMaxImageSize), where,
            ": resize (--resize, [data] resize) must be 0 (the image size × 256/224) or in [1, ",
            kMaxImageSize, "], got ", c.resize);
  AFN_CHECK(data::is_crop_mode(c.crop_mode), where,
            ": crop_mode (--crop-mode, [data] crop_mode) must be center (Resize of the shorter "
            "side) or squash (Resize to a square), got '",
            c.crop_mode, "'");
  AFN_CHECK(data::is_interpolation(c.interpolation), where,
            ": interpolation (--interpolation, [data] interpolation) must be nearest, bilinear or "
            "bicubic, got '",
            c.interpolation, "'");
  AFN_CHECK(c.augmentation.auto_augment != "augmix" || c.interpolation != "bicubic", where,
            ": auto_augment augmix (--auto-augment) resamples on torchvision's tensor path, which "
            "has no bicubic warp: give interpolation (--interpolation, [data] interpolation) "
            "nearest or bilinear");
  data::check_preprocessing(preprocessing_of(c),
                            where + " (--mean / --std, [data] mean / std; --image-size)");
  AFN_CHECK(c.workers >= 0 && c.workers <= kMaxWorkers, where,
            ": workers (--workers, [data] workers) must be in [0, ", kMaxWorkers, "], got ",
            c.workers);
  check_range(c.val_split, 0, 1, true, where, "val_split (--val-split, [data] val_split)");
  check_range(c.test_split, 0, 1, true, where, "test_split (--test-split, [data] test_split)");
  check_range(c.smoothing, 0, 1, true, where, "label smoothing (--smoothing, smoothing)");
  check_mixup(c.mixup, where);
  if (c.bn_momentum)
    check_range(*c.bn_momentum, 0, 1, false, where,
                "bn_momentum (--bn-momentum, [model] bn_momentum)");
  check_range(c.model_ema_options.decay, 0, 1, false, where,
              "model_ema_decay (--model-ema-decay, model_ema_decay)");
  check_at_least(c.grad_accum_steps, 1, where,
                 "grad_accum_steps (--grad-accum-steps, grad_accum_steps; 1: an update per batch)");
  AFN_CHECK(std::isfinite(c.clip_grad) && c.clip_grad >= 0, where,
            ": clip_grad (--clip-grad, clip_grad) must be >= 0 and finite (0: no clipping), got ",
            c.clip_grad);
  check_augmentation(c.augmentation, where);
  check_at_least(c.patience, 0, where, "patience (--patience, patience; 0: never stop early)");
  check_at_least(c.max_steps, -1, where, "max_steps (--max-steps, max_steps; -1: no limit)");
  check_at_least(c.log_interval, 1, where, "log_interval (--log-interval, log_interval)");
  AFN_CHECK(
      EvalMetric::is_known(c.eval_metric), where,
      ": eval_metric (--eval-metric, eval_metric) must be top1, top5, loss or f1_macro, got '",
      c.eval_metric, "'");
  AFN_CHECK(c.amp_dtype == "bfloat16" || c.amp_dtype == "float16", where,
            ": amp_dtype (--amp-dtype, amp_dtype) must be bfloat16 or float16, got '", c.amp_dtype,
            "'");
  check_at_least(c.num_classes, 0, where,
                 "num_classes (--num-classes, [model] num_classes; 0: the dataset's)");
  for (size_t i = 0; i < c.stages.size(); ++i) {
    const StageConfig& s = c.stages[i];
    const std::string w = where + " stage " + std::to_string(i + 1);
    check_at_least(s.epochs, 1, w, "epochs (--epochs, epochs)");
    check_finite_options(s.optimizer.options, w + " optimizer");
    for (size_t g = 0; g < s.param_groups.size(); ++g)
      check_finite_options(s.param_groups[g].options,
                           w + " param_groups[" + std::to_string(g) + "]");
    check_schedule(s.scheduler, w);
    if (s.lr_decay)
      AFN_CHECK(std::isfinite(*s.lr_decay) && *s.lr_decay > 0, w,
                ": lr_decay must be > 0 and finite (--lr-decay; ULMFiT uses 2.6), got ",
                *s.lr_decay);
    for (const auto& [setting, value] :
         {std::pair{"norm_weight_decay (--norm-weight-decay)", s.norm_weight_decay},
          std::pair{"bias_weight_decay (--bias-weight-decay)", s.bias_weight_decay}})
      if (value)
        AFN_CHECK(std::isfinite(*value) && *value >= 0, w, ": ", setting,
                  " must be >= 0 and finite, got ", *value);
  }
}

}  // namespace

void check_config(const TrainConfig& c, const std::string& where) {
  check_values(c, where);
  AFN_CHECK(c.weights_exclude.empty() || !c.weights.empty(), where,
            ": weights_exclude (--weights-exclude, [model] weights_exclude) is given but there "
            "are no weights to load (--weights, [model] weights)");
}

TrainConfig parse_recipe(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    AFN_FAIL(source, ":", where.line, ":", where.column, ": ", e.description());
  }
  TrainConfig c;
  Reader r(root, source);
  r.get("output", c.output);
  r.get("seed", c.seed);
  r.get("device", c.device);
  r.get("smoothing", c.smoothing);
  r.get("clip_grad", c.clip_grad);
  r.get("grad_accum_steps", c.grad_accum_steps);
  r.get("mixup", c.mixup.mixup_alpha);
  r.get("cutmix", c.mixup.cutmix_alpha);
  r.get("mixup_prob", c.mixup.prob);
  r.get("mixup_switch_prob", c.mixup.switch_prob);
  r.get("mixup_off_epoch", c.mixup.off_epoch);
  r.get("model_ema", c.model_ema);
  r.get("model_ema_decay", c.model_ema_options.decay);
  r.get("model_ema_warmup", c.model_ema_options.warmup);
  r.get("patience", c.patience);
  r.get("eval_metric", c.eval_metric);
  r.get("max_steps", c.max_steps);
  r.get("tta", c.tta);
  r.get("amp", c.amp);
  r.get("amp_dtype", c.amp_dtype);
  r.get("channels_last", c.channels_last);
  r.get("log_interval", c.log_interval);
  if (const toml::table* m = subtable(r, "model")) {
    Reader mr(*m, source + " [model]");
    mr.get("name", c.model);
    mr.get("weights", c.weights);
    mr.get("weights_exclude", c.weights_exclude);
    mr.get("num_classes", c.num_classes);
    mr.get("bn_momentum", c.bn_momentum);
    if (const toml::node* h = mr.take("head")) c.head = read_head(*h, mr.where());
    mr.finish();
  }
  if (const toml::table* d = subtable(r, "data")) {
    Reader dr(*d, source + " [data]");
    dr.get("dir", c.data_dir);
    dr.get("val_split", c.val_split);
    dr.get("test_split", c.test_split);
    dr.get("image_size", c.image_size);
    dr.get("resize", c.resize);
    dr.get("crop_mode", c.crop_mode);
    dr.get("interpolation", c.interpolation);
    dr.get("mean", c.mean);
    dr.get("std", c.std);
    dr.get("batch_size", c.batch_size);
    dr.get("validation_batch_size", c.validation_batch_size);
    dr.get("workers", c.workers);
    if (const toml::node* a = dr.take("augment")) {
      if (const std::optional<bool> on = a->value_exact<bool>()) {
        c.augment = *on;
      } else {
        const toml::table* t = a->as_table();
        AFN_CHECK(t, dr.where(),
                  ": 'augment' must be true, false or a table of the augmentations such as "
                  "{ scale = [0.7, 1.0], rotation = 15 }");
        c.augment = true;
        c.augmentation = read_augmentation(*t, dr.where() + " augment");
      }
    }
    dr.get("shuffle", c.shuffle);
    dr.finish();
  }
  if (const toml::node* st = r.take("stage")) {
    const toml::array* a = st->as_array();
    AFN_CHECK(a && !a->empty(), source, ": 'stage' must be one or more [[stage]] tables");
    c.stages.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      const std::string where = source + " [[stage]] " + std::to_string(i + 1);
      const toml::table* t = (*a)[i].as_table();
      AFN_CHECK(t, where, ": must be a table");
      c.stages.push_back(read_stage(*t, where));
    }
  }
  r.finish();
  check_values(c, source);
  return c;
}

std::array<double, 4> color_jitter_from(const std::vector<double>& v, const std::string& what) {
  AFN_CHECK(v.size() == 1 || v.size() == 3 || v.size() == 4, what,
            " takes 1 value (brightness = contrast = saturation), 3 (brightness, contrast, "
            "saturation) or 4 (and hue), got ",
            v.size());
  if (v.size() == 1) return {v[0], v[0], v[0], 0};
  return {v[0], v[1], v[2], v.size() == 4 ? v[3] : 0};
}

TrainConfig load_recipe(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  AFN_CHECK(fs::is_regular_file(path, ec), "cannot read the recipe ", path, ": ",
            fs::exists(path, ec) ? "not a regular file" : "no such file",
            "; give the path of a TOML file (recipes/ has examples)");
  constexpr uintmax_t kMaxBytes = uintmax_t(1) << 20;  // recipes are a few hundred bytes
  const uintmax_t bytes = fs::file_size(path, ec);
  AFN_CHECK(!ec && bytes <= kMaxBytes, "cannot read the recipe ", path, ": ",
            ec ? ec.message() : detail::concat(bytes, " bytes is not a recipe (at most 1 MiB)"));
  std::ifstream in(path);
  AFN_CHECK(in, "cannot read the recipe ", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_recipe(text.str(), path);
}

namespace {

toml::array strings(const std::vector<std::string>& v) {
  toml::array a;
  for (const auto& s : v) a.push_back(s);
  return a;
}

void put_options(toml::table& t, const optim::Options& o) {
  for (const auto& [k, v] : o) t.insert_or_assign(k, v);
}

toml::table head_table(const nn::HeadSpec& h) {
  toml::table t{{"kind", h.kind}};
  if (h.kind == "mlp") {
    t.insert("hidden", h.hidden);
    t.insert("dropout", toml::array{h.dropout[0], h.dropout[1]});
  }
  return t;
}

toml::array numbers(const auto& values) {
  toml::array a;
  for (double v : values) a.push_back(v);
  return a;
}

// The table read_augmentation reads back.
toml::table augmentation_table(const data::TrainTransformOptions& a) {
  toml::table t{{"crop", a.crop},
                {"scale", numbers(a.scale)},
                {"ratio", numbers(a.ratio)},
                {"hflip", a.hflip},
                {"vflip", a.vflip},
                {"auto_augment", a.auto_augment},
                {"ra_magnitude", a.ra_magnitude},
                {"augmix_severity", a.augmix_severity},
                {"rotation", a.rotation},
                {"color_jitter", numbers(a.color_jitter)},
                {"affine_shear", a.affine_shear},
                {"erasing", a.erasing}};
  if (a.affine_translate) t.insert("affine_translate", numbers(*a.affine_translate));
  return t;
}

}  // namespace

std::string to_toml(const TrainConfig& c) {
  toml::table root;
  root.insert("output", c.output);
  root.insert("seed", int64_t(c.seed));
  root.insert("device", c.device);
  root.insert("smoothing", c.smoothing);
  root.insert("clip_grad", c.clip_grad);
  root.insert("grad_accum_steps", c.grad_accum_steps);
  root.insert("mixup", c.mixup.mixup_alpha);
  root.insert("cutmix", c.mixup.cutmix_alpha);
  root.insert("mixup_prob", c.mixup.prob);
  root.insert("mixup_switch_prob", c.mixup.switch_prob);
  root.insert("mixup_off_epoch", c.mixup.off_epoch);
  root.insert("model_ema", c.model_ema);
  root.insert("model_ema_decay", c.model_ema_options.decay);
  root.insert("model_ema_warmup", c.model_ema_options.warmup);
  root.insert("patience", c.patience);
  root.insert("eval_metric", c.eval_metric);
  root.insert("max_steps", c.max_steps);
  root.insert("tta", c.tta);
  root.insert("amp", c.amp);
  root.insert("amp_dtype", c.amp_dtype);
  root.insert("channels_last", c.channels_last);
  root.insert("log_interval", c.log_interval);
  toml::table model{{"name", c.model},
                    {"weights", c.weights},
                    {"weights_exclude", strings(c.weights_exclude)},
                    {"num_classes", c.num_classes},
                    {"head", head_table(c.head)}};
  if (c.bn_momentum) model.insert("bn_momentum", *c.bn_momentum);
  root.insert("model", std::move(model));
  toml::table data{{"dir", c.data_dir},
                   {"val_split", c.val_split},
                   {"test_split", c.test_split},
                   {"image_size", c.image_size},
                   {"resize", c.resize},
                   {"crop_mode", c.crop_mode},
                   {"interpolation", c.interpolation},
                   {"mean", numbers(c.mean)},
                   {"std", numbers(c.std)},
                   {"batch_size", c.batch_size},
                   {"validation_batch_size", c.validation_batch_size},
                   {"workers", int64_t(c.workers)},
                   {"shuffle", c.shuffle}};
  if (c.augment)
    data.insert("augment", augmentation_table(c.augmentation));
  else
    data.insert("augment", false);
  root.insert("data", data);
  toml::array stages;
  for (const StageConfig& s : c.stages) {
    toml::table opt{{"name", s.optimizer.name}};
    put_options(opt, s.optimizer.options);
    toml::array milestones;
    for (int64_t m : s.scheduler.milestones) milestones.push_back(m);
    toml::table sched{{"name", s.scheduler.name},
                      {"milestones", milestones},
                      {"warmup_epochs", s.scheduler.warmup_epochs},
                      {"warmup_method", s.scheduler.warmup_method},
                      {"warmup_decay", s.scheduler.warmup_decay},
                      {"interval", s.scheduler.interval},
                      {"anneal_strategy", s.scheduler.anneal_strategy},
                      {"threshold_mode", s.scheduler.threshold_mode}};
    put_options(sched, s.scheduler.args);
    toml::array groups;
    for (const GroupConfig& g : s.param_groups) {
      toml::table gt{{"params", strings(g.params)}};
      put_options(gt, g.options);
      groups.push_back(gt);
    }
    toml::array schedule;
    for (const UnfreezeStep& u : s.unfreeze_schedule)
      schedule.push_back(toml::table{{"epoch", u.epoch}, {"unfreeze", strings(u.unfreeze)}});
    toml::table stage{{"epochs", s.epochs},
                      {"freeze", strings(s.freeze)},
                      {"unfreeze", strings(s.unfreeze)},
                      {"unfreeze_schedule", schedule},
                      {"optimizer", opt},
                      {"scheduler", sched},
                      {"param_groups", groups}};
    if (s.lr_decay) stage.insert("lr_decay", *s.lr_decay);
    if (s.norm_weight_decay) stage.insert("norm_weight_decay", *s.norm_weight_decay);
    if (s.bias_weight_decay) stage.insert("bias_weight_decay", *s.bias_weight_decay);
    stages.push_back(std::move(stage));
  }
  root.insert("stage", stages);
  std::ostringstream out;
  out << root << "\n";
  return out.str();
}

}  // namespace afinar::train
