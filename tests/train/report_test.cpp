// The run report (train/report.h, `afinar report`): its pieces (HTML escaping, base64, PNG data
// URIs, chart ticks and point placement, reading a run's files back), and the whole page made
// from a real `afinar train` run on a small Fashion-MNIST export (Debian's dataset-fashion-mnist):
// one self-contained file with well-formed markup, figures that agree with the run's files and
// sample labels that agree with `afinar predict`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "afinar/core/rng.h"
#include "afinar/data/decode.h"
#include "afinar/data/fashion_mnist.h"
#include "afinar/io/weights.h"
#include "afinar/train/html.h"
#include "afinar/train/run_files.h"
#include "afinar/train/svg_plot.h"
#include "testing/cli.h"
#include "testing/fashion_mnist.h"
#include "testing/html_check.h"
#include "testing/temp_dir.h"
#include "testing/text_file.h"

namespace afinar {
namespace {

namespace fs = std::filesystem;

using testing::lines_of;
using testing::read_text;
using testing::run_cli;
using testing::tag_problem;
using testing::TempDir;
using train::base64_encode;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + what.size()))
    ++n;
  return n;
}

// The value of attribute `name` in the first tag of `element`.
std::string attribute(const std::string& element, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t at = element.find(key);
  if (at == std::string::npos || at > element.find('>')) return "";
  const size_t start = at + key.size();
  return element.substr(start, element.find('"', start) - start);
}

// The elements `<tag class="cls...` ... `</tag>` of a page, in order.
std::vector<std::string> elements(const std::string& html, const std::string& opening,
                                  const std::string& closing) {
  std::vector<std::string> out;
  for (size_t i = html.find(opening); i != std::string::npos; i = html.find(opening, i + 1))
    out.push_back(html.substr(i, html.find(closing, i) + closing.size() - i));
  return out;
}

// RFC 4648 decoding, written apart from the encoder under test.
std::vector<uint8_t> base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<uint8_t> out;
  uint32_t bits = 0;
  int held = 0;
  for (char c : text) {
    if (c == '=') break;
    bits = bits << 6 | uint32_t(alphabet.find(c));
    held += 6;
    if (held >= 8) {
      held -= 8;
      out.push_back(uint8_t(bits >> held));
    }
  }
  return out;
}

// ---- pieces -------------------------------------------------------------------------------------

TEST(ReportHtml, Base64MatchesRfc4648Vectors) {
  auto encode = [](std::string s) {
    return base64_encode({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  };
  EXPECT_EQ(encode(""), "");
  EXPECT_EQ(encode("f"), "Zg==");
  EXPECT_EQ(encode("fo"), "Zm8=");
  EXPECT_EQ(encode("foo"), "Zm9v");
  EXPECT_EQ(encode("foob"), "Zm9vYg==");
  EXPECT_EQ(encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encode("foobar"), "Zm9vYmFy");
  const std::vector<uint8_t> all_bytes = [] {
    std::vector<uint8_t> v(256);
    for (int i = 0; i < 256; ++i) v[size_t(i)] = uint8_t(255 - i);
    return v;
  }();
  EXPECT_EQ(base64_decode(base64_encode(all_bytes)), all_bytes);
}

TEST(ReportHtml, EscapesMarkupCharacters) {
  EXPECT_EQ(train::html_escape("<a title='x'>\"R&D\"</a>"),
            "&lt;a title=&#39;x&#39;&gt;&quot;R&amp;D&quot;&lt;/a&gt;");
  EXPECT_EQ(train::html_escape("Ankle boot é"), "Ankle boot é");  // UTF-8 passes through
}

TEST(ReportHtml, PngDataUriDecodesToTheSamePixels) {
  const Generator gen(7);
  for (int64_t channels : {1, 3}) {
    data::Image image(5, 7, channels);  // odd sizes: rows are not padded
    for (size_t i = 0; i < image.data.size(); ++i) image.data[i] = uint8_t(gen.block(i)[0]);
    const std::string uri = train::png_data_uri(image);
    const std::string prefix = "data:image/png;base64,";
    ASSERT_EQ(uri.rfind(prefix, 0), 0u);
    const std::vector<uint8_t> png = base64_decode(uri.substr(prefix.size()));
    const data::Image back = data::decode_image(png, "uri");  // decoding gives RGB
    ASSERT_EQ(back.height, 5);
    ASSERT_EQ(back.width, 7);
    for (int64_t p = 0; p < 5 * 7; ++p)
      for (int64_t c = 0; c < 3; ++c)
        ASSERT_EQ(back.data[size_t(p * 3 + c)],
                  image.data[size_t(p * channels + (channels == 3 ? c : 0))])
            << "pixel " << p << " channel " << c << " of a " << channels << "-channel image";
  }
}

TEST(ReportSvg, NiceTicksCoverTheRangeInRoundSteps) {
  EXPECT_EQ(train::nice_ticks(0, 1),
            (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(train::nice_ticks(0.13, 2.7), (std::vector<double>{0, 1, 2, 3}));  // step 0.514 -> 1
  EXPECT_EQ(train::nice_ticks(-3, 7, 6), (std::vector<double>{-4, -2, 0, 2, 4, 6, 8}));
  EXPECT_EQ(train::nice_ticks(0, 0.0045, 6),  // step 0.0009 -> 0.001
            (std::vector<double>{0, 0.001, 0.002, 0.003, 0.004, 0.005}));
  EXPECT_EQ(train::nice_ticks(0, 10, 5), (std::vector<double>{0, 2.5, 5, 7.5, 10}));
  // Epochs: whole steps only (2.5 skipped, at least 1).
  EXPECT_EQ(train::nice_ticks(1, 3, 8, true), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(train::nice_ticks(1, 11, 5, true), (std::vector<double>{0, 5, 10, 15}));
  // A single value gets a range around it.
  EXPECT_EQ(train::nice_ticks(1, 1, 8, true), (std::vector<double>{0, 1, 2}));
  const std::vector<double> around = train::nice_ticks(0.5, 0.5);
  EXPECT_LT(around.front(), 0.5);
  EXPECT_GT(around.back(), 0.5);
}

TEST(ReportSvg, ChartPlacesPointsLinearlyAndSkipsNaN) {
  const double nan = std::nan("");
  const std::string svg =
      train::line_chart({{"train", {1, 2, 3}, {0, 0.5, 1}, "#111"},
                         {"val", {1, 2, 3}, {0.2, 0.4, nan}, "#222"},
                         {"test", {3}, {0.7}, "#333", /*line=*/false}},
                        {.title = "Accuracy <top-1>", .x_label = "epoch", .integer_x = true});
  EXPECT_EQ(tag_problem(svg), "");
  EXPECT_EQ(count(svg, "<svg"), 1u);
  EXPECT_EQ(count(svg, "<circle"), 3u + 2 + 1);  // the NaN point is left out
  EXPECT_EQ(count(svg, "<polyline"), 2u);        // train, and val's first two points
  EXPECT_NE(svg.find("Accuracy &lt;top-1&gt;"), std::string::npos);
  for (const char* name : {">train<", ">val<", ">test<", ">epoch<"})
    EXPECT_NE(svg.find(name), std::string::npos) << name;
  // The train points (1,0), (2,0.5), (3,1): the middle one halfway between the others on both
  // axes, and y up the page.
  std::vector<std::string> circles = elements(svg, "<circle", "/>");
  auto at = [&](size_t i, const char* axis) { return std::stod(attribute(circles[i], axis)); };
  EXPECT_NEAR(at(1, "cx"), (at(0, "cx") + at(2, "cx")) / 2, 0.1);  // 0.1: %.1f pixel coordinates
  EXPECT_NEAR(at(1, "cy"), (at(0, "cy") + at(2, "cy")) / 2, 0.1);
  EXPECT_LT(at(2, "cy"), at(0, "cy"));
  EXPECT_GT(at(2, "cx"), at(0, "cx"));
}

TEST(ReportSvg, EmptyChartSaysSo) {
  const std::string svg = train::line_chart({}, {.title = "Loss"});
  EXPECT_EQ(tag_problem(svg), "");
  EXPECT_NE(svg.find("no data"), std::string::npos);
}

TEST(ReportRunFiles, ParsesJsonObjectLines) {
  const auto e = train::parse_json_object(
      R"({"event": "epoch", "split": "val", "loss": 0.25, "top5": null, "path": "a\"b\\c\u0009d",)"
      R"( "nested": {"x": [1, "}", 2]}, "ok": true})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->at("event"), "epoch");
  EXPECT_EQ(e->at("path"), "a\"b\\c\td");
  EXPECT_EQ(e->at("nested"), R"({"x": [1, "}", 2]})");
  EXPECT_EQ(e->at("ok"), "true");
  EXPECT_EQ(train::json_field_number(*e, "loss"), 0.25);
  EXPECT_TRUE(std::isnan(train::json_field_number(*e, "top5")));
  EXPECT_TRUE(std::isnan(train::json_field_number(*e, "absent")));
  EXPECT_TRUE(train::parse_json_object("{}").has_value());
  for (const char* bad : {"", "{", R"({"a": 1)", R"({"a" 1})", R"({"a": 1,})", R"({"a": "x)",
                          R"({"a": 1} tail)", "[1, 2]"})
    EXPECT_FALSE(train::parse_json_object(bad).has_value()) << bad;
}

TEST(ReportRunFiles, ReadsMetricsByColumnName) {
  TempDir dir;
  std::ofstream(dir / "m.csv") << "split,epoch,extra,loss,acc,top5,precision_macro,recall_macro,"
                                  "f1_macro,lr,seconds\n"
                                  "train,0,x,1.5,0.25,,0.1,0.2,0.3,0.01,2.5\n"
                                  "val,0,y,1.25,0.5,0.75,0.4,0.5,0.6,0.01,0.5\n";
  const auto rows = train::read_metrics(dir / "m.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].split, "train");
  EXPECT_EQ(rows[0].epoch, 0);
  EXPECT_EQ(rows[0].loss, 1.5);
  EXPECT_TRUE(std::isnan(rows[0].top5));  // empty with 5 classes or fewer
  EXPECT_EQ(rows[1].top5, 0.75);
  EXPECT_EQ(rows[1].f1, 0.6);
  EXPECT_EQ(rows[1].seconds, 0.5);
  std::ofstream(dir / "bad.csv") << "epoch,split,loss\n0,train,1\n";
  EXPECT_THROW(train::read_metrics(dir / "bad.csv"), Error);  // no acc column
}

TEST(ReportRunFiles, ReadsConfusionCountsFromTheRight) {
  TempDir dir;
  // A class name with a comma: the counts are the last fields of each row.
  std::ofstream(dir / "c.csv") << "true\\predicted,a,b,c\na,3,0,1\nb,c,0,2,0\nc,1,1,5\n";
  const train::ConfusionMatrix m = train::read_confusion(dir / "c.csv", 3);
  EXPECT_EQ(m.at(0, 0), 3);
  EXPECT_EQ(m.at(0, 2), 1);
  EXPECT_EQ(m.at(1, 1), 2);
  EXPECT_EQ(m.at(2, 2), 5);
  EXPECT_EQ(m.total(), 13);
  EXPECT_THROW(train::read_confusion(dir / "c.csv", 4), Error);  // 3 rows for 4 classes
  std::ofstream(dir / "d.csv") << "h\na,1,x\nb,0,1\n";
  EXPECT_THROW(train::read_confusion(dir / "d.csv", 2), Error);  // 'x' is no count
}

// ---- the whole report from a real run -----------------------------------------------------------

// One small training run shared by the tests of a process (ctest runs each test alone, so each
// trains once): 10 classes x 6 images in train/ (a quarter held out for validation) and in test/.
class ReportCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::have_fashion_mnist()) return;
    dir_ = new TempDir;
    data::export_mnist(data::kFashionMnistDir, data::fashion_mnist_classes(), *dir_ / "data",
                       {.limit_per_class = 6});
    trained_ = run_cli("train --data-dir " + (*dir_ / "data") +
                           " --model resnet18 --epochs 2 -b 8 --image-size 32 --val-split 0.25"
                           " --opt adam --lr 0.002 --workers 2 --seed 3 --output " +
                           run_dir(),
                       *dir_ / "train.log") == 0;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!dir_) GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed (tools/setup.sh)";
    ASSERT_TRUE(trained_) << "afinar train failed: " << read_text(*dir_ / "train.log");
  }
  static std::string run_dir() { return *dir_ / "run"; }
  static std::vector<std::string> class_names() {
    return io::load_weights(run_dir() + "/best.h5").meta.class_names;
  }
  // A run directory whose files link to the trained run's, except those in `leave_out`.
  static std::string linked_run(const std::string& name, const std::set<std::string>& leave_out) {
    const std::string dir = *dir_ / name;
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(run_dir()))
      // The run's own report.html (afinar train writes one) is never carried over.
      if (!leave_out.count(e.path().filename().string()) && e.path().filename() != "report.html")
        fs::create_symlink(e.path(), dir + "/" + e.path().filename().string());
    return dir;
  }

  static inline TempDir* dir_ = nullptr;
  static inline bool trained_ = false;
};

TEST_F(ReportCli, WritesOneSelfContainedWellFormedFile) {
  const std::string out = *dir_ / "out";
  fs::create_directories(out);
  size_t run_files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(run_dir())) ++run_files;
  ASSERT_EQ(run_cli("report " + run_dir() + " -o " + out + "/r.html", *dir_ / "log"), 0)
      << read_text(*dir_ / "log");
  // One file, and nothing else anywhere: no temporary left, no asset folder, the run untouched.
  std::vector<std::string> written;
  for (const auto& e : fs::directory_iterator(out)) written.push_back(e.path().filename());
  EXPECT_EQ(written, std::vector<std::string>{"r.html"});
  size_t after = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(run_dir())) ++after;
  EXPECT_EQ(after, run_files);

  const std::string html = read_text(out + "/r.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(tag_problem(html), "");
  EXPECT_EQ(count(html, "http://") + count(html, "https://"), 0u);
  EXPECT_EQ(count(html, "<script"), 0u);
  EXPECT_EQ(count(html, "<link"), 0u);
  EXPECT_EQ(count(html, "url("), 0u);  // no CSS resource either
  for (const std::string& img : elements(html, "<img ", ">"))
    EXPECT_EQ(attribute(img, "src").rfind("data:image/png;base64,", 0), 0u) << img;
  // Loss, accuracy and learning rate: one <svg> each.
  EXPECT_EQ(count(html, "<svg"), 3u);
  EXPECT_EQ(count(html, "</svg>"), 3u);
  for (const char* title :
       {"aria-label=\"Loss\"", "aria-label=\"Accuracy\"", "aria-label=\"Learning rate\""})
    EXPECT_NE(html.find(title), std::string::npos) << title;
  // 16 sample images out of the 60 test images, and every class name in the heatmap.
  EXPECT_EQ(count(html, "data:image/png;base64,"), 16u);
  EXPECT_NE(html.find("Confusion matrix (test, 60 images)"), std::string::npos);
  const std::vector<std::string> names = class_names();
  ASSERT_EQ(names.size(), 10u);
  for (const std::string& name : names)
    EXPECT_NE(html.find("<tr><th>" + train::html_escape(name) + "</th>"), std::string::npos)
        << name;
  // The recipe verbatim (escaped) and the stage's counts from events.jsonl.
  EXPECT_NE(html.find(train::html_escape(read_text(run_dir() + "/recipe.toml"))),
            std::string::npos);
  EXPECT_NE(html.find("<td>11,181,642</td><td>0</td>"), std::string::npos)  // resnet18, 10 classes
      << "trainable / frozen of the one stage";
}

// Per-class figures computed here from confusion_test.csv (rows: true class), independently of
// train::ConfusionMatrix, appear in the report's table as printed with 3 decimals.
TEST_F(ReportCli, PerClassFiguresFollowTheConfusionCsv) {
  ASSERT_EQ(run_cli("report " + run_dir() + " -o " + (*dir_ / "p.html")), 0);
  const std::string html = read_text(*dir_ / "p.html");
  const std::vector<std::string> csv = lines_of(run_dir() + "/confusion_test.csv");
  const std::vector<std::string> names = class_names();
  ASSERT_EQ(csv.size(), names.size() + 1);
  std::vector<std::vector<double>> m;
  for (size_t r = 1; r < csv.size(); ++r) {
    std::istringstream fields(csv[r].substr(csv[r].find(',') + 1));
    m.emplace_back();
    for (std::string f; std::getline(fields, f, ',');) m.back().push_back(std::stod(f));
    ASSERT_EQ(m.back().size(), names.size());
  }
  auto three = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return std::string(buf);
  };
  for (size_t c = 0; c < names.size(); ++c) {
    double row = 0, column = 0;
    for (size_t k = 0; k < names.size(); ++k) row += m[c][k], column += m[k][c];
    const double tp = m[c][c];
    const double precision = column > 0 ? tp / column : 0, recall = row > 0 ? tp / row : 0;
    const double f1 = row + column > 0 ? 2 * tp / (row + column) : 0;
    const std::string expected = "<tr><td>" + train::html_escape(names[c]) + "</td><td>" +
                                 three(precision) + "</td><td>" + three(recall) + "</td><td>" +
                                 three(f1) + "</td><td>" + std::to_string(int64_t(row)) + "</td>";
    EXPECT_NE(html.find(expected), std::string::npos) << expected;
  }
}

// The grid's labels are best.h5's predictions: the same as `afinar predict` gives for those
// files, the true label is the file's class folder, and exactly the mismatches are marked wrong.
TEST_F(ReportCli, SampleLabelsAgreeWithPredict) {
  ASSERT_EQ(run_cli("report " + run_dir() + " -o " + (*dir_ / "s.html")), 0);
  const std::string html = read_text(*dir_ / "s.html");
  const std::vector<std::string> figures = elements(html, "<figure class=\"sample", "</figure>");
  ASSERT_EQ(figures.size(), 16u);
  std::string paths;
  std::set<std::string> classes_shown;
  for (const std::string& f : figures) {
    const std::string path = attribute(f, "title"), truth = attribute(f, "data-true");
    const std::string predicted = attribute(f, "data-pred");
    EXPECT_EQ(fs::path(path).parent_path().filename().string(), truth) << path;
    EXPECT_NE(path.find("/data/test/"), std::string::npos) << path << " is not a test image";
    EXPECT_EQ(attribute(f, "class"), truth == predicted ? "sample right" : "sample wrong") << f;
    classes_shown.insert(truth);
    paths += " '" + path + "'";  // "Ankle boot"
  }
  EXPECT_EQ(classes_shown.size(), 10u);  // spread over the class-major split
  ASSERT_EQ(run_cli("predict --json --topk 1 --weights " + run_dir() + "/best.h5" + paths,
                    *dir_ / "predict.jsonl"),
            0);
  const std::vector<std::string> predicted = lines_of(*dir_ / "predict.jsonl");
  ASSERT_EQ(predicted.size(), figures.size());
  for (size_t i = 0; i < figures.size(); ++i)
    EXPECT_NE(predicted[i].find("\"label\": \"" + attribute(figures[i], "data-pred") + "\""),
              std::string::npos)
        << predicted[i];
  // Each image is a PNG of the thumbnail size.
  const std::string src = attribute(figures[0].substr(figures[0].find("<img")), "src");
  const std::vector<uint8_t> png = base64_decode(src.substr(src.find(',') + 1));
  const data::Image thumb = data::decode_image(png, "thumbnail");
  EXPECT_EQ(thumb.height, 96);
  EXPECT_EQ(thumb.width, 96);
}

TEST_F(ReportCli, MissingFilesAreNamed) {
  const std::string partial = linked_run("partial", {"metrics.csv", "best.h5"});
  ASSERT_EQ(run_cli("report " + partial, *dir_ / "log"), 1);
  const std::string log = read_text(*dir_ / "log");
  EXPECT_NE(log.find("metrics.csv"), std::string::npos) << log;
  EXPECT_NE(log.find("best.h5"), std::string::npos) << log;
  EXPECT_EQ(log.find("recipe.toml"), std::string::npos) << log;  // present: not named
  EXPECT_FALSE(fs::exists(partial + "/report.html"));
  EXPECT_EQ(run_cli("report " + (*dir_ / "no_such_run"), *dir_ / "log2"), 1);
  EXPECT_NE(read_text(*dir_ / "log2").find("no run directory"), std::string::npos);
}

// A run whose data folder is gone still gets its report, which says why it has no images.
TEST_F(ReportCli, DataFolderGoneIsReportedNotFatal) {
  const std::string moved = linked_run("moved", {"recipe.toml"});
  std::string recipe = read_text(run_dir() + "/recipe.toml");
  const std::string data_dir = *dir_ / "data";
  const size_t at = recipe.find(data_dir);
  ASSERT_NE(at, std::string::npos) << recipe;
  recipe.replace(at, data_dir.size(), *dir_ / "gone");
  std::ofstream(moved + "/recipe.toml") << recipe;
  ASSERT_EQ(run_cli("report " + moved, *dir_ / "log"), 0) << read_text(*dir_ / "log");
  const std::string html = read_text(moved + "/report.html");  // the default place
  EXPECT_EQ(count(html, "data:image/png;base64,"), 0u);
  EXPECT_NE(html.find("cannot be read any more"), std::string::npos);
  EXPECT_EQ(count(html, "<svg"), 3u);  // the rest is there
  EXPECT_EQ(tag_problem(html), "");
}

}  // namespace
}  // namespace afinar
