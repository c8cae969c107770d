// afinar as a library: fine-tune a ResNet18 on an ImageFolder in the libtorch style, as a
// PyTorch user would write it — load weights into a model with a new head, freeze the backbone
// but layer4, an optimizer with two parameter groups (the fresh head learns 10x faster), a few
// epochs of forward / cross_entropy / backward / step, and a weights file at the end
// (finetuned.h5, which `afinar eval --weights finetuned.h5 --data-dir DATA_DIR` evaluates).
//
//   finetune DATA_DIR [EPOCHS=3] [WEIGHTS.h5|-] [IMAGE_SIZE]
//
// DATA_DIR: class folders, or train/ (+ val/, test/) of class folders. WEIGHTS: an afinar weights
// file, e.g. torchvision's resnet18 after `afinar import`; "-" or none starts from a random
// initialisation. IMAGE_SIZE: the training crop; by default the weights file's, else 224.
// The build: examples/finetune/CMakeLists.txt (find_package(afinar)); the README's "Library use".
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "afinar/data/image_source.h"
#include "afinar/io/weights.h"
#include "afinar/nn/freeze.h"
#include "afinar/nn/models.h"
#include "afinar/ops/loss.h"
#include "afinar/optim/adam.h"

using namespace afinar;

int main(int argc, char** argv) try {
  if (argc < 2 || argc > 5) {
    std::fprintf(stderr, "usage: %s DATA_DIR [EPOCHS=3] [WEIGHTS.h5|-] [IMAGE_SIZE]\n", argv[0]);
    return 2;
  }
  const int epochs = argc > 2 ? std::stoi(argv[2]) : 3;
  const std::string weights = argc > 3 ? argv[3] : "-";
  const data::DatasetSplits splits = data::open_splits(argv[1]);
  const auto classes = int64_t(splits.classes.size());

  // torchvision's resnet18 with a `classes`-way fc; a non-strict load keeps the new fc when the
  // file's has another shape (model.fc = nn.Linear(512, classes) after load_state_dict).
  nn::ModulePtr model = nn::create_model("resnet18", classes);
  io::WeightsMeta meta;  // what the weights file will say about the model
  meta.arch = "resnet18";
  meta.num_classes = classes;
  meta.class_names = splits.classes;
  meta.source = "finetune";
  if (weights != "-") {
    const io::Weights w = io::load_weights(weights);
    const nn::LoadStateDictResult r = model->load_state_dict(w.state_dict, /*strict=*/false);
    std::printf("%s: %s\n", weights.c_str(), r.ok() ? "every tensor loaded" : r.str().c_str());
    meta.preprocessing = w.meta.preprocessing;
  }
  const int64_t size = argc > 4 ? std::stoll(argv[4]) : meta.preprocessing.crop;
  meta.preprocessing.crop = size;  // what `afinar eval` / `predict` will feed it: resize, crop
  meta.preprocessing.resize = std::lround(double(size) * 256.0 / 224.0);

  // requires_grad = false everywhere but layer4 and fc; two parameter groups for those.
  nn::freeze(*model, {"*"});
  nn::unfreeze(*model, {"layer4.*", "fc.*"});
  std::vector<Tensor> body, head;
  for (const auto& [name, p] : model->named_parameters())
    if (p.requires_grad()) (name.starts_with("fc.") ? head : body).push_back(p);
  optim::Adam opt(body, {.lr = 1e-4});
  opt.add_param_group(head, {{"lr", 1e-3}});

  // RandomResizedCrop(size) + flip + Normalize, batches of 32 shuffled per epoch on 2 threads.
  data::DataLoader loader(int64_t(splits.train.size()),
                          data::image_source(splits.train, data::train_transform({.crop = size})),
                          {.batch_size = 32, .shuffle = true, .num_workers = 2, .seed = 1});
  model->train();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    loader.start_epoch(epoch);
    double loss_sum = 0;
    int64_t seen = 0;
    while (auto batch = loader.next()) {
      const Tensor loss = cross_entropy((*model)(batch->images), batch->labels);
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.item<double>() * double(batch->labels.numel());
      seen += batch->labels.numel();
    }
    std::printf("epoch %d/%d: train loss %.4f over %ld images\n", epoch + 1, epochs,
                loss_sum / double(seen), long(seen));
  }
  io::save_weights("finetuned.h5", model->state_dict(), meta);
  std::printf("wrote finetuned.h5 (%ld classes)\n", long(classes));
  return 0;
} catch (const std::exception& e) {  // afinar::Error says what is wrong and what to do
  std::fprintf(stderr, "finetune: %s\n", e.what());
  return 1;
}
