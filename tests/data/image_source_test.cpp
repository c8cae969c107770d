// The data pipeline end to end: a real ImageFolder (Fashion-MNIST exported to PNGs) through
// decoding, training augmentation and the threaded loader, as a training loop iterates it.
#include "afinar/data/image_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "afinar/data/fashion_mnist.h"
#include "testing/fashion_mnist.h"
#include "testing/temp_dir.h"

namespace afinar::data {
namespace {

TEST(ImageSource, TrainingLoopIteratesAnAugmentedImageFolder) {
  SKIP_WITHOUT_FASHION_MNIST();
  testing::TempDir dir;
  export_mnist(kFashionMnistDir, fashion_mnist_classes(), dir.path(),
               {.limit_per_class = 6, .test = false});
  // One unreadable file among the images: reported, skipped, counted.
  std::ofstream(dir / "train/Bag/zz_broken.png") << "not a png";
  const ImageFolder folder = ImageFolder::open(dir / "train");
  ASSERT_EQ(folder.size(), 61);
  ASSERT_EQ(folder.num_classes(), 10);

  TrainTransformOptions aug;
  aug.crop = 24;
  aug.scale = {0.5, 1.0};
  aug.rotation = 10;
  auto run = [&](int workers) {
    DataLoader loader(folder.size(), image_source(folder.samples(), train_transform(aug)),
                      {.batch_size = 16, .shuffle = true, .num_workers = workers, .seed = 3});
    std::vector<std::vector<float>> epochs;
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      loader.start_epoch(epoch);
      std::vector<float> all;
      int64_t seen = 0;
      while (auto batch = loader.next()) {
        EXPECT_EQ(batch->images.shape()[1], 3);  // grayscale PNGs decode to RGB
        EXPECT_EQ(batch->images.shape()[2], 24);
        EXPECT_EQ(batch->images.shape()[3], 24);
        for (int64_t label : batch->labels.to_vector<int64_t>()) EXPECT_LT(label, 10);
        const auto v = batch->images.to_vector<float>();
        all.insert(all.end(), v.begin(), v.end());
        seen += batch->images.size(0);
      }
      EXPECT_EQ(seen, 60);
      EXPECT_EQ(loader.stats().skipped, 1);
      epochs.push_back(all);
    }
    EXPECT_EQ(loader.stats().reasons.size(), 1u);
    EXPECT_NE(loader.stats().reasons[0].find("zz_broken.png"), std::string::npos);
    EXPECT_NE(epochs[0], epochs[1]);  // new order and new augmentation each epoch
    return epochs;
  };
  EXPECT_EQ(run(0), run(3));  // the worker count changes nothing but speed
}

TEST(ImageSource, RejectsAnIndexOutsideTheSamples) {
  Generator gen(0);
  auto source = image_source({}, eval_transform());
  EXPECT_THROW(source(0, gen), Error);
}

}  // namespace
}  // namespace afinar::data
