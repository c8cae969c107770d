#include "afinar/core/rng.h"

#include <gtest/gtest.h>

namespace afinar {
namespace {

// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
TEST(Philox, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, 0),
            (std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, 0xffffffffffffffffull),
            (std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, 0x299f31d0a4093822ull),
            (std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, GeneratorHandsOutDisjointRanges) {
  Generator g(7);
  EXPECT_EQ(g.draw_offset(10), 0u);
  EXPECT_EQ(g.draw_offset(5), 10u);
  EXPECT_EQ(g.offset(), 15u);
  manual_seed(3);
  EXPECT_EQ(default_generator().seed(), 3u);
  EXPECT_EQ(default_generator().offset(), 0u);
}

TEST(Philox, UnitFloatsStayInHalfOpenInterval) {
  EXPECT_GT(uint_to_unit_float(0), 0.0f);
  EXPECT_EQ(uint_to_unit_float(0xffffffff), 1.0f);
  EXPECT_GT(uint_to_unit_double(0, 0), 0.0);
  EXPECT_EQ(uint_to_unit_double(0xffffffff, 0xffffffff), 1.0);
}

}  // namespace
}  // namespace afinar
