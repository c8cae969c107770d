// The HTML report of a training run (train/report.h): the run directory's files read back
// (train/run_files.h), a grid of sample images labelled by best.h5, and the page's sections.
#include "afinar/train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/device.h"
#include "afinar/data/dataset.h"
#include "afinar/data/decode.h"
#include "afinar/data/transforms.h"
#include "afinar/io/atomic_file.h"
#include "afinar/io/model_file.h"
#include "afinar/nn/summary.h"
#include "afinar/ops/softmax.h"
#include "afinar/train/html.h"
#include "afinar/train/recipe.h"
#include "afinar/train/run_files.h"
#include "afinar/train/svg_plot.h"

namespace afinar::train {

namespace {

namespace fs = std::filesystem;

// The splits whose confusion matrix the report shows, in order of preference.
constexpr const char* kMatrixSplits[] = {"test", "val", "train"};
const std::map<std::string, std::string> kSplitColors = {
    {"train", "#1f77b4"}, {"val", "#ff7f0e"}, {"val_ema", "#d62728"}, {"test", "#2ca02c"}};

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "&ndash;";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string megabytes(uintmax_t bytes) {
  return fixed(double(bytes) / 1e6, 1) + " MB";
}

std::string general(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  AFN_CHECK(in.good(), "cannot read ", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- the run directory, read back ----------------------------------------------------------

struct Run {
  std::string dir;
  std::vector<MetricRow> metrics;
  EventLog events;
  std::string recipe_text;
  std::optional<TrainConfig> config;
  std::string config_error;  // why recipe.toml did not parse, when it did not
  io::Weights best;
  std::vector<std::string> classes;
  std::string matrix_split;  // "test", "val" or "train"
  ConfusionMatrix matrix{1};

  std::vector<const JsonFields*> events_named(const std::string& name) const {
    std::vector<const JsonFields*> out;
    for (const JsonFields& e : events.events)
      if (auto it = e.find("event"); it != e.end() && it->second == name) out.push_back(&e);
    return out;
  }
};

std::string matrix_split_of(const std::string& dir) {
  for (const char* split : kMatrixSplits)
    if (fs::exists(dir + "/confusion_" + split + ".csv")) return split;
  return "";
}

Run read_run(const std::string& dir) {
  Run r;
  r.dir = dir;
  r.metrics = read_metrics(dir + "/metrics.csv");
  r.events = read_events(dir + "/events.jsonl");
  r.recipe_text = read_file(dir + "/recipe.toml");
  try {
    r.config = parse_recipe(r.recipe_text, dir + "/recipe.toml");
  } catch (const Error& e) {
    r.config_error = error_summary(e);
  }
  r.best = io::load_weights(dir + "/best.h5");
  const io::WeightsMeta& meta = r.best.meta;
  r.classes = meta.class_names;
  for (int64_t c = int64_t(r.classes.size()); c < meta.num_classes; ++c)
    r.classes.push_back("class " + std::to_string(c));
  r.matrix_split = matrix_split_of(dir);
  r.matrix = read_confusion(dir + "/confusion_" + r.matrix_split + ".csv", meta.num_classes);
  return r;
}

// ---- sample predictions --------------------------------------------------------------------

struct SampleView {
  std::string path;
  int64_t truth = 0, predicted = 0;
  double probability = 0;  // of the predicted class
  std::string image;       // data URI of what the model saw, at the thumbnail size
};

struct SampleGrid {
  int64_t split_size = 0;
  std::vector<SampleView> samples;
  std::vector<std::string> notes;  // why images are missing, when some are
};

// `count` samples spread evenly over `all` (class-major, so most classes appear).
std::vector<data::Sample> spread(const std::vector<data::Sample>& all, int64_t count) {
  std::vector<data::Sample> out;
  const int64_t n = int64_t(all.size()), k = std::min(count, n);
  for (int64_t i = 0; i < k; ++i) out.push_back(all[size_t(i * n / k)]);
  return out;
}

// The images of the run's split, or the reason there are none (a note for the report).
std::vector<data::Sample> split_samples(const Run& r, SampleGrid& grid) {
  if (!r.config) {
    grid.notes.push_back("recipe.toml could not be read (" + r.config_error +
                         "), so the run's data is unknown.");
    return {};
  }
  const TrainConfig& c = *r.config;
  data::DatasetSplits splits;
  try {
    splits = data::open_splits(c.data_dir, split_options(c));
  } catch (const Error& e) {
    const bool relative = fs::path(data::expand_user(c.data_dir)).is_relative();
    grid.notes.push_back("The run's data folder '" + c.data_dir +
                         "' cannot be read any more, so there are no sample images (" +
                         error_summary(e) + ")." +
                         (relative ? " The path is relative to the folder afinar train ran in: "
                                     "run afinar report from there."
                                   : ""));
    return {};
  }
  if (splits.classes != r.best.meta.class_names) {
    grid.notes.push_back("The data folder '" + c.data_dir +
                         "' no longer has the run's classes, so there are no sample images.");
    return {};
  }
  const std::vector<data::Sample>& all = r.matrix_split == "test"  ? splits.test
                                         : r.matrix_split == "val" ? splits.val
                                                                   : splits.train;
  grid.split_size = int64_t(all.size());
  return all;
}

data::Image thumbnail(const data::Image& seen, int64_t size) {
  // Small images are enlarged with hard pixel edges rather than blurred.
  const auto interpolation = std::max(seen.height, seen.width) < size
                                 ? data::Interpolation::Nearest
                                 : data::Interpolation::Bilinear;
  return data::resize(seen, data::ImageSize{size, size}, interpolation);
}

// Runs best.h5 on the chosen images with the run's evaluation transform.
void label_samples(const Run& r, const std::vector<data::Sample>& chosen,
                   const ReportOptions& options, SampleGrid& grid) {
  const io::Preprocessing& pp = r.best.meta.preprocessing;
  const data::Compose transform = data::eval_transform(pp);
  std::vector<float> batch;
  for (const data::Sample& s : chosen) {
    try {
      Generator unused(0);  // the evaluation transform draws nothing
      const data::Image image = data::decode_image(s.path);
      const std::vector<float> x = transform(image, unused).to_vector<float>();
      batch.insert(batch.end(), x.begin(), x.end());
      grid.samples.push_back(
          {s.path, s.label, 0, 0,
           png_data_uri(thumbnail(transform.apply_image(image, unused), options.thumbnail))});
    } catch (const Error& e) {
      grid.notes.push_back("Skipped " + s.path + ": " + error_summary(e));
    }
  }
  if (grid.samples.empty()) return;
  const Device device(options.device);
  const int64_t n = int64_t(grid.samples.size()), classes = r.best.meta.num_classes;
  nn::ModulePtr model = io::load_model(r.best);
  model->to(device);
  model->eval();
  NoGradGuard no_grad;
  const Tensor x = from_vector(batch, {n, 3, pp.crop, pp.crop}).to(device);
  const std::vector<float> probs = softmax((*model)(x), 1).cpu().to_vector<float>();
  for (int64_t i = 0; i < n; ++i) {
    const auto row = probs.begin() + i * classes;
    const auto top = std::max_element(row, row + classes);
    grid.samples[size_t(i)].predicted = top - row;
    grid.samples[size_t(i)].probability = *top;
  }
}

SampleGrid sample_grid(const Run& r, const ReportOptions& options) {
  SampleGrid grid;
  if (options.samples <= 0) return grid;
  const std::vector<data::Sample> all = split_samples(r, grid);
  if (!all.empty()) label_samples(r, spread(all, options.samples), options, grid);
  return grid;
}

// ---- sections ------------------------------------------------------------------------------

std::string section(const std::string& id, const std::string& title, const std::string& body) {
  return "<section id=\"" + id + "\"><h2>" + html_escape(title) + "</h2>\n" + body + "</section>\n";
}

std::string row(std::initializer_list<std::string> cells, const char* tag = "td") {
  std::string out = "<tr>";
  for (const std::string& c : cells) out += std::string("<") + tag + ">" + c + "</" + tag + ">";
  return out + "</tr>\n";
}

std::string field(const JsonFields* e, const std::string& key) {
  if (!e) return "&ndash;";
  const auto it = e->find(key);
  return it == e->end() ? "&ndash;" : html_escape(it->second);
}

// The split the trainer judged epochs by: val_ema (the weight average's validation) when the run
// has one, else val when it has one.
std::string best_split(const Run& r) {
  for (const char* split : {"val_ema", "val"})
    if (std::any_of(r.metrics.begin(), r.metrics.end(),
                    [&](const MetricRow& m) { return m.split == split; }))
      return split;
  return "train";
}

// A count from an event ("11,181,642"), or a dash.
std::string count_field(const JsonFields* e, const std::string& key) {
  const double v = e ? json_field_number(*e, key) : NAN;
  return std::isfinite(v) ? nn::with_commas(int64_t(v)) : "&ndash;";
}

// Interruptions, resumptions and early stopping, in the order of their events.
std::string run_history(const Run& r, const JsonFields* end) {
  std::string notes;
  auto epoch_of = [](const JsonFields& e, const char* key) {
    return std::to_string(int64_t(json_field_number(e, key)) + 1);
  };
  bool started = false;
  for (const JsonFields& e : r.events.events) {
    const std::string name = e.count("event") ? e.at("event") : "";
    if (name == "start" && started) notes += "Resumed. ";
    started |= name == "start";
    if (name == "stopped")
      notes += "Stopped at step " + field(&e, "step") + " in epoch " + epoch_of(e, "epoch") + ". ";
    if (name == "early_stop")
      notes += "Early stopping after epoch " + epoch_of(e, "epoch") + " (best epoch " +
               epoch_of(e, "best_epoch") + "). ";
  }
  if (!end) notes += "No end event: the run has not finished (or was killed). ";
  return notes.empty() ? "" : "<p class=\"note\">" + notes + "</p>\n";
}

std::string summary_section(const Run& r) {
  const auto starts = r.events_named("start"), ends = r.events_named("end");
  const JsonFields* start = starts.empty() ? nullptr : starts.back();
  const JsonFields* end = ends.empty() ? nullptr : ends.back();
  double test_acc = NAN, seconds = 0;
  for (const MetricRow& m : r.metrics) {
    if (m.split == "test") test_acc = m.acc;
    seconds += m.seconds;
  }
  const double best_epoch = end ? json_field_number(*end, "best_epoch") : NAN;
  std::string body = "<table class=\"facts\">\n";
  body += row({"model", html_escape(r.best.meta.arch)});
  body += row({"classes", std::to_string(r.best.meta.num_classes)});
  body += row({"data", field(start, "data")});
  body += row({"device", field(start, "device")});
  body += row({"best epoch",
               std::isfinite(best_epoch) ? std::to_string(int64_t(best_epoch) + 1) : "&ndash;"});
  body += row({best_split(r) == "val_ema" ? "best accuracy (val, weight average)"
               : best_split(r) == "val"   ? "best accuracy (val)"
                                          : "best accuracy (train, no val split)",
               end ? fixed(json_field_number(*end, "best_acc"), 4) : "&ndash;"});
  body += row({"test accuracy", fixed(test_acc, 4)});
  body += row({"optimizer steps", field(end, "steps")});
  body += row({"time (train + evaluation)", fixed(seconds, 1) + " s"});
  body += "</table>\n";
  body += run_history(r, end);
  return section("summary", "Summary", body);
}

// One chart of a metric: a line per split over the epochs (1-based), test as a single marker.
std::string metric_chart(const Run& r, double MetricRow::*value, const std::string& title,
                         bool train_only) {
  std::vector<Series> series;
  for (const char* split : {"train", "val", "val_ema", "test"}) {
    if (train_only && std::string(split) != "train") continue;
    std::map<int64_t, double> points;  // a resumed run repeats epochs: the later row wins
    for (const MetricRow& m : r.metrics)
      if (m.split == split) points[m.epoch + 1] = m.*value;
    if (points.empty()) continue;
    Series s{split, {}, {}, kSplitColors.at(split), std::string(split) != "test"};
    for (const auto& [x, y] : points) {
      s.x.push_back(double(x));
      s.y.push_back(y);
    }
    series.push_back(std::move(s));
  }
  return line_chart(series,
                    {.title = title, .x_label = "epoch", .y_label = title, .integer_x = true});
}

std::string curves_section(const Run& r) {
  std::string body = "<div class=\"charts\">\n";
  body += metric_chart(r, &MetricRow::loss, "Loss", false) + "\n";
  body += metric_chart(r, &MetricRow::acc, "Accuracy", false) + "\n";
  body += metric_chart(r, &MetricRow::lr, "Learning rate", true) + "\n";
  body += "</div>\n<p class=\"note\">Test: the best epoch's weights, evaluated once.</p>\n";
  return section("curves", "Curves", body);
}

std::string confusion_section(const Run& r) {
  const ConfusionMatrix& m = r.matrix;
  std::string body =
      "<p class=\"note\">Rows: true class; columns: predicted class. Shade: the "
      "share of the row (recall on the diagonal).</p>\n"
      "<table class=\"heatmap\"><thead><tr><th>true \\ predicted</th>";
  for (const std::string& c : r.classes)
    body += "<th class=\"col\"><span>" + html_escape(c) + "</span></th>";
  body += "<th>total</th></tr></thead><tbody>\n";
  for (int64_t t = 0; t < m.num_classes(); ++t) {
    int64_t total = 0;
    for (int64_t p = 0; p < m.num_classes(); ++p) total += m.at(t, p);
    body += "<tr><th>" + html_escape(r.classes[size_t(t)]) + "</th>";
    for (int64_t p = 0; p < m.num_classes(); ++p) {
      const double share = total ? double(m.at(t, p)) / double(total) : 0.0;
      body += "<td style=\"background:rgba(31,119,180," + fixed(share, 3) +
              ");color:" + (share > 0.55 ? "#fff" : "#222") + "\">" + std::to_string(m.at(t, p)) +
              "</td>";
    }
    body += "<td class=\"total\">" + std::to_string(total) + "</td></tr>\n";
  }
  body += "</tbody></table>\n";
  return section(
      "confusion",
      "Confusion matrix (" + r.matrix_split + ", " + std::to_string(m.total()) + " images)", body);
}

std::string per_class_section(const Run& r) {
  const ConfusionMatrix& m = r.matrix;
  std::string body = "<table id=\"per-class\" class=\"numbers\"><thead>" +
                     row({"class", "precision", "recall", "F1", "support", "predicted"}, "th") +
                     "</thead><tbody>\n";
  const std::vector<ClassScores> scores = m.per_class();
  for (size_t c = 0; c < scores.size(); ++c) {
    const ClassScores& s = scores[c];
    body += row({html_escape(r.classes[c]), fixed(s.precision, 3), fixed(s.recall, 3),
                 fixed(s.f1, 3), std::to_string(s.support), std::to_string(s.predicted)});
  }
  body += "</tbody><tfoot>" +
          row({"macro average", fixed(m.macro_precision(), 3), fixed(m.macro_recall(), 3),
               fixed(m.macro_f1(), 3), std::to_string(m.total()), ""}) +
          row({"accuracy", "", "", fixed(m.accuracy(), 3), "", ""}) + "</tfoot></table>\n";
  return section("per-class-metrics", "Per-class metrics (" + r.matrix_split + ")", body);
}

std::string sample_figure(const Run& r, const SampleView& s, int64_t size) {
  const bool right = s.truth == s.predicted;
  const std::string truth = html_escape(r.classes[size_t(s.truth)]);
  const std::string predicted = html_escape(r.classes[size_t(s.predicted)]);
  const std::string px = std::to_string(size);
  return "<figure class=\"sample " + std::string(right ? "right" : "wrong") + "\" title=\"" +
         html_escape(s.path) + "\" data-true=\"" + truth + "\" data-pred=\"" + predicted +
         "\"><img src=\"" + s.image + "\" width=\"" + px + "\" height=\"" + px + "\" alt=\"" +
         truth + "\"><figcaption><span class=\"mark\">" + (right ? "&#10003;" : "&#10007;") +
         "</span> <b>" + predicted + "</b> " + fixed(100 * s.probability, 0) +
         "%<br><span class=\"truth\">true: " + truth + "</span></figcaption></figure>\n";
}

std::string samples_section(const Run& r, const SampleGrid& grid, const ReportOptions& options) {
  std::string body;
  if (!grid.samples.empty()) {
    const io::Preprocessing& pp = r.best.meta.preprocessing;
    int64_t wrong = 0;
    for (const SampleView& s : grid.samples) wrong += s.truth != s.predicted;
    body += "<p class=\"note\">" + std::to_string(grid.samples.size()) + " of the " +
            std::to_string(grid.split_size) + " " + r.matrix_split +
            " images, labelled by best.h5; " + std::to_string(wrong) +
            " wrong (red). Each shows what the model saw (" +
            html_escape(data::preprocessing_str(pp)) + "), drawn at " +
            std::to_string(options.thumbnail) + " px. Hover for the file.</p>\n";
    body += "<div class=\"grid\">\n";
    for (const SampleView& s : grid.samples) body += sample_figure(r, s, options.thumbnail);
    body += "</div>\n";
  }
  for (const std::string& note : grid.notes)
    body += "<p class=\"note warning\">" + html_escape(note) + "</p>\n";
  if (options.samples <= 0) body += "<p class=\"note\">Not requested.</p>\n";
  return section("samples", "Sample predictions", body);
}

std::string options_text(const std::map<std::string, double>& options) {
  std::string out;
  for (const auto& [key, value] : options)
    out += (out.empty() ? "" : ", ") + key + "=" + general(value);
  return html_escape(out);
}

std::string patterns(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& p : list) out += (out.empty() ? "" : " ") + p;
  return out.empty() ? "&ndash;" : html_escape(out);
}

std::string schedule_text(const SchedulerConfig& s) {
  std::string out = html_escape(s.name);
  if (!s.args.empty()) out += " (" + options_text(s.args) + ")";
  if (!s.milestones.empty()) {
    out += " milestones";
    for (int64_t m : s.milestones) {
      out += ' ';  // not " " + to_string(m): GCC 12 warns falsely (-Wrestrict) on that
      out += std::to_string(m);
    }
  }
  if (s.warmup_epochs > 0) out += ", " + std::to_string(s.warmup_epochs) + " warm-up epochs";
  return out;
}

std::string groups_text(const std::vector<GroupConfig>& groups) {
  std::string out;
  for (const GroupConfig& g : groups)
    out += (out.empty() ? "" : "; ") + patterns(g.params) + ": " + options_text(g.options);
  return out.empty() ? "&ndash;" : out;
}

std::string hyper_parameters(const TrainConfig& c) {
  std::string body = "<table class=\"facts\">\n";
  body += row({"model", html_escape(c.model)});
  body += row({"starting weights",
               c.weights.empty() ? "none (random initialisation)" : html_escape(c.weights)});
  body += row({"data", html_escape(c.data_dir)});
  body += row({"val / test split", general(c.val_split) + " / " + general(c.test_split) +
                                       " (where the split has no folder)"});
  body += row({"image size", std::to_string(c.image_size)});
  body += row({"evaluation transform", html_escape(data::preprocessing_str(preprocessing_of(c)))});
  body +=
      row({"batch size", std::to_string(c.batch_size) +
                             (c.grad_accum_steps > 1 ? " (" + std::to_string(c.grad_accum_steps) +
                                                           " batches per update)"
                                                     : std::string())});
  body +=
      row({"augmentation", c.augment ? html_escape(data::train_transform_str(augmentation_of(c)))
                                     : "off (the evaluation transform)"});
  body += row({"shuffle", c.shuffle ? "on" : "off"});
  body += row({"label smoothing", general(c.smoothing)});
  body += row({"gradient clipping",
               c.clip_grad > 0 ? "global L2 norm &le; " + general(c.clip_grad) : "off"});
  body += row({"batch mixing", c.mixup.enabled() ? html_escape(mixup_str(c.mixup)) : "off"});
  body += row({"weight average (EMA)",
               c.model_ema ? "decay " + general(c.model_ema_options.decay) +
                                 (c.model_ema_options.warmup ? ", warmed up" : "") +
                                 "; validated as val_ema, kept in best.h5 and last.h5"
                           : "off"});
  body += row({"eval metric", html_escape(c.eval_metric)});
  body += row({"early stopping", c.patience > 0
                                     ? "after " + std::to_string(c.patience) +
                                           " epochs without a better " + html_escape(c.eval_metric)
                                     : "off"});
  body += row({"max steps", c.max_steps < 0 ? "&ndash;" : std::to_string(c.max_steps)});
  body += row({"seed", std::to_string(c.seed)});
  body += row({"device", html_escape(c.device)});
  return body + "</table>\n";
}

std::string stages_section(const Run& r) {
  std::string body;
  if (r.config) body += hyper_parameters(*r.config);
  body += "<table class=\"lines\"><thead>" +
          row({"stage", "epochs", "optimizer", "schedule", "freeze", "unfreeze", "groups",
               "trainable", "frozen"},
              "th") +
          "</thead><tbody>\n";
  // Each stage's counts by its number: a resumed run logs the stage it resumes in again.
  std::map<size_t, const JsonFields*> events;
  for (const JsonFields* e : r.events_named("stage"))
    if (const double n = json_field_number(*e, "stage"); n >= 1) events[size_t(n)] = e;
  const size_t stages =
      std::max(r.config ? r.config->stages.size() : 0, events.empty() ? 0 : events.rbegin()->first);
  for (size_t i = 0; i < stages; ++i) {
    const StageConfig* s = r.config && i < r.config->stages.size() ? &r.config->stages[i] : nullptr;
    const JsonFields* e = events.count(i + 1) ? events.at(i + 1) : nullptr;
    const std::string none = "&ndash;";
    body +=
        row({std::to_string(i + 1), s ? std::to_string(s->epochs) : none,
             s ? html_escape(s->optimizer.name) + " (" + options_text(s->optimizer.options) + ")"
               : none,
             s ? schedule_text(s->scheduler) : none, s ? patterns(s->freeze) : none,
             s ? patterns(s->unfreeze) : none, s ? groups_text(s->param_groups) : none,
             count_field(e, "trainable"), count_field(e, "frozen")});
  }
  body += "</tbody></table>\n";
  if (!r.config)
    body +=
        "<p class=\"note warning\">recipe.toml could not be read: " + html_escape(r.config_error) +
        "</p>\n";
  return section("hyper-parameters", "Hyper-parameters and stages", body);
}

// Seconds, images and images per second of each epoch and split (samples from events.jsonl).
std::string timing_section(const Run& r) {
  std::map<std::pair<int64_t, std::string>, double> samples;
  for (const JsonFields* e : r.events_named("epoch"))
    samples[{int64_t(json_field_number(*e, "epoch")), field(e, "split")}] =
        json_field_number(*e, "samples");
  struct Total {
    int64_t epochs = 0;
    double seconds = 0, samples = 0;
  };
  std::map<std::string, Total> totals;
  std::string rows;
  for (const MetricRow& m : r.metrics) {
    const auto it = samples.find({m.epoch, m.split});
    const double n = it == samples.end() ? NAN : it->second;
    rows += row({std::to_string(m.epoch + 1), html_escape(m.split), fixed(m.seconds, 2),
                 fixed(n, 0), fixed(n / m.seconds, 1), fixed(m.loss, 4), fixed(m.acc, 4)});
    Total& t = totals[m.split];
    t.epochs += 1;
    t.seconds += m.seconds;
    t.samples += n;
  }
  std::string body = "<table class=\"numbers\"><thead>" +
                     row({"split", "epochs", "seconds", "seconds / epoch", "images / s"}, "th") +
                     "</thead><tbody>\n";
  for (const char* split : {"train", "val", "test"}) {
    const auto it = totals.find(split);
    if (it == totals.end()) continue;
    const Total& t = it->second;
    body += row({html_escape(split), std::to_string(t.epochs), fixed(t.seconds, 1),
                 fixed(t.seconds / double(t.epochs), 2), fixed(t.samples / t.seconds, 1)});
  }
  body +=
      "</tbody></table>\n<details><summary>Per epoch</summary><table class=\"numbers\"><thead>" +
      row({"epoch", "split", "seconds", "images", "images / s", "loss", "accuracy"}, "th") +
      "</thead><tbody>\n" + rows + "</tbody></table></details>\n";
  return section("timing", "Timing and throughput", body);
}

std::string files_section(const Run& r) {
  std::vector<std::pair<std::string, uintmax_t>> files;
  for (const auto& e : fs::directory_iterator(r.dir))
    if (e.is_regular_file() && e.path().extension() != ".html")
      files.emplace_back(e.path().filename().string(), e.file_size());
  std::sort(files.begin(), files.end());
  std::string body = "<table class=\"numbers\"><tbody>\n";
  for (const auto& [name, size] : files) body += row({html_escape(name), megabytes(size)});
  body += "</tbody></table>\n";
  if (r.events.malformed_lines > 0)
    body += "<p class=\"note warning\">events.jsonl: " + std::to_string(r.events.malformed_lines) +
            " malformed line(s) skipped.</p>\n";
  return section("files", "Files", body);
}

std::string recipe_section(const Run& r) {
  return section("recipe", "Recipe (recipe.toml)",
                 "<pre>" + html_escape(r.recipe_text) + "</pre>\n");
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1240px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}
h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{padding:3px 8px;text-align:left;vertical-align:top}
table.numbers td,table.numbers th,table.lines td,table.lines th{border-bottom:1px solid #eee}
table.numbers td+td{text-align:right}
table.facts td:first-child{color:#666}
tfoot td{font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{border:1px solid #eee}
.heatmap td{width:34px;height:26px;text-align:center;border:1px solid #fff;font-size:12px}
.heatmap th.col{vertical-align:bottom;height:90px}
.heatmap th.col span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
.heatmap td.total{background:#f4f4f4}
.grid{display:flex;flex-wrap:wrap;gap:10px}
figure.sample{margin:0;padding:4px;border:3px solid #4caf50;border-radius:4px;font-size:12px;text-align:center;width:min-content}
figure.sample.wrong{border-color:#e53935;background:#fdecea}
figure.sample img{display:block;image-rendering:pixelated}
figure.sample .mark{font-weight:bold;color:#4caf50}
figure.sample.wrong .mark{color:#e53935}
figure.sample .truth{color:#666}
.note{color:#555;font-size:13px}
.warning{color:#b71c1c}
pre{background:#f6f6f6;padding:10px;font-size:12px;overflow:auto}
)";

}  // namespace

void check_run_dir(const std::string& run_dir) {
  AFN_CHECK(fs::is_directory(run_dir), "report: no run directory '", run_dir,
            "' (give the --output folder of afinar train)");
  std::vector<std::string> missing;
  for (const char* name : {"metrics.csv", "events.jsonl", "recipe.toml", "best.h5"})
    if (!fs::is_regular_file(fs::path(run_dir) / name)) missing.push_back(name);
  if (matrix_split_of(run_dir).empty()) missing.push_back("confusion_<test|val|train>.csv");
  std::string list;
  for (const std::string& name : missing) list += (list.empty() ? "" : ", ") + name;
  AFN_CHECK(missing.empty(), "report: ", run_dir, " is missing ", list,
            " (afinar train writes them; a run stopped before its first epoch ended has none)");
}

std::string run_report_section(const std::string& run_dir, const ReportOptions& options) {
  check_run_dir(run_dir);
  if (options.samples > 0) check_device_available(Device(options.device));
  const Run r = read_run(run_dir);
  const SampleGrid grid = sample_grid(r, options);
  return summary_section(r) + curves_section(r) + confusion_section(r) + per_class_section(r) +
         samples_section(r, grid, options) + stages_section(r) + timing_section(r) +
         recipe_section(r) + files_section(r);
}

std::string html_page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
         html_escape(title) + "</title><style>" + kStyle + "</style></head><body>\n<h1>" +
         html_escape(title) + "</h1>\n" + body + "</body></html>\n";
}

std::string write_report(const std::string& run_dir, const ReportOptions& options) {
  check_run_dir(run_dir);
  const std::string path = options.output.empty() ? run_dir + "/report.html" : options.output;
  fs::path name = fs::path(run_dir).lexically_normal();
  if (name.filename().empty()) name = name.parent_path();  // "runs/x/"
  write_page(path, "afinar report: " + name.filename().string(),
             run_report_section(run_dir, options));
  return path;
}

void write_page(const std::string& path, const std::string& title, const std::string& body) {
  io::AtomicFile out(path);
  {
    std::ofstream file(out.temp_path(), std::ios::binary);
    file << html_page(title, body);
    AFN_CHECK(file.good(), "report: cannot write ", out.temp_path());
  }
  out.commit();
}

}  // namespace afinar::train
