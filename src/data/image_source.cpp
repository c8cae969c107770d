#include "afinar/data/image_source.h"

#include <memory>

namespace afinar::data {

ExampleFn image_source(std::vector<Sample> samples, Compose transform, DecodeOptions decode) {
  // Shared, read-only state: workers call the source concurrently.
  auto list = std::make_shared<const std::vector<Sample>>(std::move(samples));
  auto pipeline = std::make_shared<const Compose>(std::move(transform));
  return [list, pipeline, decode](int64_t i, Generator& gen) {
    AFN_CHECK(i >= 0 && i < int64_t(list->size()), "image_source: index ", i,
              " is out of range for ", list->size(), " samples");
    const Sample& s = (*list)[size_t(i)];
    return Example{(*pipeline)(decode_image(s.path, decode), gen), s.label};
  };
}

}  // namespace afinar::data
