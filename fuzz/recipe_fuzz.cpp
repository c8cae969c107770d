// Fuzz target: the recipe parser (train/recipe.h parse_recipe) on TOML text: toml++'s parser
// and every key's validation.
#include "afinar/train/recipe.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return afinar::fuzz::expect_error_or_success([&] {
    (void)afinar::train::parse_recipe(std::string(reinterpret_cast<const char*>(data), size),
                                      "fuzz.toml");
  });
}
