#include "core/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace acme {
namespace {

TEST(ParallelForTest, VisitsEveryIndexExactlyOnce) {
    std::vector<std::atomic<int>> hits(1000);
    ParallelFor(
        hits.size(), [&](std::size_t i) { hits[i].fetch_add(1); }, 4);
    for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ParallelForTest, RethrowsTheFirstException) {
    EXPECT_THROW(ParallelFor(
                     100,
                     [](std::size_t i) {
                         if (i == 42) throw std::runtime_error("boom");
                     },
                     3),
                 std::runtime_error);
}

TEST(ParallelForTest, EmptyRangeDoesNothing) {
    int calls = 0;
    ParallelFor(0, [&](std::size_t) { ++calls; });
    EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace acme
