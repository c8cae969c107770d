// The built-in demo (train/demo.h, `afinar demo`) at a tiny size on Debian's Fashion-MNIST: the
// export's splits and classes, what each strategy trains (a frozen backbone stays bit for bit the
// pre-trained one, the new head is not the source's), the table, results.csv and the page.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "afinar/data/dataset.h"
#include "afinar/data/fashion_mnist.h"
#include "afinar/io/weights.h"
#include "afinar/train/demo.h"
#include "testing/cli.h"
#include "testing/compare.h"
#include "testing/fashion_mnist.h"
#include "testing/html_check.h"
#include "testing/temp_dir.h"
#include "testing/text_file.h"

namespace afinar {
namespace {

namespace fs = std::filesystem;

class Demo : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_WITHOUT_FASHION_MNIST(); }
  // Small enough for a test: 16x16 crops, a few images, two epochs per strategy.
  train::DemoOptions tiny() const {
    return {.output = dir_.path(),
            .device = "cpu",
            .image_size = 16,
            .batch_size = 8,
            .workers = 1,
            .source_train_per_class = 16,
            .source_val_per_class = 4,
            .source_epochs = 1,
            .target_train_per_class = 8,
            .target_val_per_class = 4,
            .target_test_per_class = 6,
            .epochs = 2};
  }
  testing::TempDir dir_;
};

TEST_F(Demo, TrainsEveryStrategyOnDisjointTasks) {
  std::ostringstream log;
  const train::DemoResult r = train::run_demo(tiny(), log);

  // The two tasks: classes 0-4 and 5-9 of Fashion-MNIST, as ImageFolder sorts their names.
  const data::DatasetSplits source = data::open_splits(dir_.path() + "/data/source", {});
  const data::DatasetSplits target = data::open_splits(dir_.path() + "/data/target", {});
  EXPECT_EQ(source.classes,
            (std::vector<std::string>{"Coat", "Dress", "Pullover", "T-shirt-top", "Trouser"}));
  EXPECT_EQ(target.classes,
            (std::vector<std::string>{"Ankle boot", "Bag", "Sandal", "Shirt", "Sneaker"}));
  EXPECT_EQ(source.train.size(), 5u * 16);
  EXPECT_EQ(source.val.size(), 5u * 4);
  EXPECT_EQ(target.train.size(), 5u * 8);
  EXPECT_EQ(target.val.size(), 5u * 4);
  EXPECT_EQ(target.test.size(), 5u * 6);

  ASSERT_EQ(r.strategies.size(), 4u);
  const std::vector<std::string> names = {"scratch", "frozen", "finetune", "two_stage"};
  const int64_t all = 11'179'077, head = 512 * 5 + 5;  // resnet18 with 5 classes; fc alone
  const std::vector<std::vector<int64_t>> trainable = {{all}, {head}, {all}, {head, all}};
  for (size_t i = 0; i < 4; ++i) {
    const train::StrategyResult& s = r.strategies[i];
    EXPECT_EQ(s.name, names[i]);
    EXPECT_EQ(s.epochs, 2);
    EXPECT_EQ(s.trainable, trainable[i]) << s.name;
    EXPECT_GE(s.test_accuracy, 0.0);
    EXPECT_LE(s.test_accuracy, 1.0);
    EXPECT_TRUE(fs::exists(s.run_dir + "/best.h5")) << s.name;
  }

  // The frozen strategy's backbone is the pre-trained one, bit for bit (BN's running statistics
  // excepted: they follow the target data in train mode, as in PyTorch); its head is new.
  const io::Weights pretrained = io::load_weights(r.source.run_dir + "/best.h5");
  const io::Weights frozen = io::load_weights(r.strategies[1].run_dir + "/last.h5");
  for (const char* key :
       {"conv1.weight", "layer3.1.conv2.weight", "bn1.weight", "layer4.0.bn2.bias"})
    testing::expect_identical(frozen.state_dict.at(key), pretrained.state_dict.at(key), key);
  EXPECT_GT(testing::max_relative_error(frozen.state_dict.at("fc.weight"),
                                        pretrained.state_dict.at("fc.weight")),
            0.1);
  EXPECT_NE(log.str().find("2 missing keys: fc.weight, fc.bias"), std::string::npos) << log.str();

  // The table and results.csv hold what run_demo returned.
  const std::string table = train::strategy_table(r);
  for (const std::string& n : names) EXPECT_NE(table.find(n), std::string::npos) << table;
  EXPECT_NE(table.find("2,565 -> 11,179,077"), std::string::npos) << table;
  const std::vector<std::string> csv = testing::lines_of(dir_.path() + "/results.csv");
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0], "strategy,epochs,best_val_acc,test_acc,seconds,trainable");
  EXPECT_EQ(csv[4].rfind("two_stage,2,", 0), 0u) << csv[4];
  EXPECT_NE(csv[4].find(",2565;11179077"), std::string::npos) << csv[4];

  // One page: every strategy, both charts, each run folded, well-formed markup.
  const std::string page = testing::read_text(train::write_demo_report(r, "cpu"));
  EXPECT_EQ(testing::tag_problem(page), "");
  for (const std::string& n : names)
    EXPECT_NE(page.find("<details><summary>" + n), std::string::npos) << n;
  EXPECT_NE(page.find("Validation accuracy"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);  // self-contained
  EXPECT_EQ(page.find("https://"), std::string::npos);
}

// Pre-training is most of the demo's time: a second demo with the same source settings reuses
// it, and each strategy's run starts afresh (its metrics.csv holds one run, not two).
TEST_F(Demo, ASecondDemoReusesThePreTraining) {
  std::ostringstream first, second;
  train::run_demo(tiny(), first);
  const auto stamp = fs::last_write_time(dir_ / "source/best.h5");
  const train::DemoResult r = train::run_demo(tiny(), second);
  EXPECT_TRUE(r.source.reused);
  EXPECT_NE(second.str().find("pre-training: reusing"), std::string::npos) << second.str();
  EXPECT_EQ(fs::last_write_time(dir_ / "source/best.h5"), stamp);
  EXPECT_GT(r.source.best_val_accuracy, 0.0);
  // 2 epochs x (train, val) + the test row.
  EXPECT_EQ(testing::lines_of(dir_ / "scratch/metrics.csv").size(), 1u + 5u);
  train::DemoOptions other = tiny();
  other.source_epochs = 2;  // another pre-training: trained again
  EXPECT_FALSE(train::run_demo(other, second).source.reused);
}

TEST_F(Demo, RefusesBadSettings) {
  train::DemoOptions o = tiny();
  o.epochs = 0;
  EXPECT_THROW(train::run_demo(o, std::cout), Error);
  o = tiny();
  o.fashion_mnist_dir = dir_.path() + "/nowhere";
  EXPECT_THROW(train::run_demo(o, std::cout), Error);
}

TEST_F(Demo, CommandPrintsTheTable) {
  const testing::Result r = testing::cli(
      "demo --output " + dir_.path() +
      " --device cpu --image-size 16 -b 8 -j 1 --source-per-class 8 --source-epochs 1 "
      "--target-per-class 4 --target-val-per-class 2 --target-test-per-class 2 --epochs 2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("strategy   epochs  best val acc  test acc"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("report: " + dir_.path() + "/report.html"), std::string::npos);
  EXPECT_EQ(testing::cli("demo --epochs -1 --output " + dir_.path()).code, 1);
  EXPECT_EQ(testing::cli("demo --no-such-flag").code, 2);
}

}  // namespace
}  // namespace afinar
