// The samples of an ImageFolder (or of one split) as a DataLoader source: sample i is the file
// decoded to RGB and run through a transform pipeline with the sample's own generator, the label
// from the folder. A file that cannot be decoded throws afinar::Error naming it, which the loader
// reports once and skips.
//
//   auto splits = open_splits("flowers", {.val = 0.2, .seed = 1});
//   DataLoader train(splits.train.size(), image_source(splits.train, train_transform()),
//                    {.batch_size = 64, .shuffle = true, .num_workers = 4});
#pragma once

#include <vector>

#include "afinar/data/dataset.h"
#include "afinar/data/decode.h"
#include "afinar/data/loader.h"
#include "afinar/data/transforms.h"

namespace afinar::data {

ExampleFn image_source(std::vector<Sample> samples, Compose transform, DecodeOptions decode = {});

}  // namespace afinar::data
