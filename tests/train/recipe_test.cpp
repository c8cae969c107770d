// Recipes: the schema of the README (issue 6's example), unknown keys and wrong types refused by
// name, syntax errors located, and to_toml read back to the same configuration.
#include "afinar/train/recipe.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "afinar/core/check.h"

namespace afinar::train {
namespace {

const char* kExample = R"(
output = "runs/flowers"
seed = 7
smoothing = 0.1

[model]
name = "resnet18"
weights = "weights/resnet18.h5"
num_classes = 5

[data]
dir = "data/flowers"
val_split = 0.2
test_split = 0.0
image_size = 224
batch_size = 64

[[stage]]
epochs = 5
freeze = ["*"]
unfreeze = ["fc.*"]
optimizer = { name = "sgd", lr = 1e-2, momentum = 0.9, weight_decay = 1e-4, nesterov = true }
scheduler = { name = "step", step_size = 7, gamma = 0.1 }

[[stage]]
epochs = 5
unfreeze = ["*"]
optimizer = { name = "adam", lr = 1e-4, betas = [0.8, 0.99] }
scheduler = { name = "multistep", milestones = [2, 4], warmup_epochs = 1 }
param_groups = [ { params = ["fc.*", "layer4.*"], lr = 1e-3 } ]
)";

TEST(Recipe, ReadsTheDocumentedSchema) {
  const TrainConfig c = parse_recipe(kExample);
  EXPECT_EQ(c.output, "runs/flowers");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_DOUBLE_EQ(c.smoothing, 0.1);
  EXPECT_EQ(c.model, "resnet18");
  EXPECT_EQ(c.weights, "weights/resnet18.h5");
  EXPECT_EQ(c.num_classes, 5);
  EXPECT_EQ(c.data_dir, "data/flowers");
  EXPECT_EQ(c.batch_size, 64);
  ASSERT_EQ(c.stages.size(), 2u);
  const StageConfig& s0 = c.stages[0];
  EXPECT_EQ(s0.epochs, 5);
  EXPECT_EQ(s0.freeze, std::vector<std::string>{"*"});
  EXPECT_EQ(s0.unfreeze, std::vector<std::string>{"fc.*"});
  EXPECT_EQ(s0.optimizer.name, "sgd");
  EXPECT_EQ(
      s0.optimizer.options,
      (optim::Options{{"lr", 1e-2}, {"momentum", 0.9}, {"weight_decay", 1e-4}, {"nesterov", 1.0}}));
  EXPECT_EQ(s0.scheduler.name, "step");
  EXPECT_EQ(s0.scheduler.args, (std::map<std::string, double>{{"step_size", 7}, {"gamma", 0.1}}));
  const StageConfig& s1 = c.stages[1];
  EXPECT_EQ(s1.optimizer.options, (optim::Options{{"lr", 1e-4}, {"beta1", 0.8}, {"beta2", 0.99}}));
  EXPECT_EQ(s1.scheduler.milestones, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(s1.scheduler.warmup_epochs, 1);
  ASSERT_EQ(s1.param_groups.size(), 1u);
  EXPECT_EQ(s1.param_groups[0].params, (std::vector<std::string>{"fc.*", "layer4.*"}));
  EXPECT_EQ(s1.param_groups[0].options, (optim::Options{{"lr", 1e-3}}));
}

std::string error_of(const std::string& text) {
  try {
    parse_recipe(text, "r.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Recipe, UnknownKeysAndWrongTypesAreNamed) {
  EXPECT_NE(error_of("[data]\nbach_size = 3\n").find("[data]: unknown key 'bach_size'"),
            std::string::npos);
  EXPECT_NE(error_of("outptu = \"x\"\n").find("unknown key 'outptu'"), std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nepoch = 3\n").find("[[stage]] 1: unknown key 'epoch'"),
            std::string::npos);
  EXPECT_NE(error_of("[data]\nbatch_size = \"64\"\n").find("'batch_size' must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nfreeze = \"*\"\n").find("'freeze' must be an array"),
            std::string::npos);
  EXPECT_NE(error_of("[[stage]]\noptimizer = { name = \"sgd\", lr = \"high\" }\n")
                .find("'lr' must be a number"),
            std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nparam_groups = [ { lr = 1.0 } ]\n").find("'params'"),
            std::string::npos);
  EXPECT_NE(error_of("[model\nname = 1\n").find("r.toml:1:"), std::string::npos);
}

TEST(Recipe, ToTomlReadsBackTheSameConfiguration) {
  const TrainConfig c = parse_recipe(kExample);
  const TrainConfig back = parse_recipe(to_toml(c));
  EXPECT_EQ(to_toml(back), to_toml(c));
  EXPECT_EQ(back.stages[1].param_groups[0].params, c.stages[1].param_groups[0].params);
  EXPECT_EQ(back.stages[0].optimizer.options, c.stages[0].optimizer.options);
  EXPECT_EQ(back.stages[1].scheduler.milestones, c.stages[1].scheduler.milestones);
  EXPECT_EQ(back.data_dir, c.data_dir);
  EXPECT_EQ(back.seed, c.seed);
}

// Every recipe shipped in recipes/ parses and names a known model and optimizer.
TEST(Recipe, ShippedRecipesParse) {
  const std::filesystem::path dir = std::filesystem::path(AFINAR_TEST_DATA_DIR) / "../../recipes";
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".toml") continue;
    SCOPED_TRACE(e.path().string());
    const TrainConfig c = load_recipe(e.path().string());
    EXPECT_FALSE(c.stages.empty());
    for (const StageConfig& s : c.stages)
      EXPECT_TRUE(s.optimizer.name == "sgd" || s.optimizer.name == "adam" ||
                  s.optimizer.name == "adamw");
    ++count;
  }
  EXPECT_GE(count, 6);
}

}  // namespace
}  // namespace afinar::train
