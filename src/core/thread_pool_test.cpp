#include "core/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
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
TEST(TaskPoolTest, RunsEveryPostedTaskOnItsThreadsAndDrainsOnDestruction) {
    std::atomic<int> ran{0};
    std::mutex ids_mutex;
    std::set<std::thread::id> ids;
    {
        TaskPool pool(3);
        for (int i = 0; i < 200; ++i) {
            pool.Post([&] {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
                {
                    std::lock_guard lock(ids_mutex);
                    ids.insert(std::this_thread::get_id());
                }
                ran.fetch_add(1);
            });
        }
    }  // the destructor runs what is queued, then joins
    EXPECT_EQ(ran.load(), 200);
    EXPECT_LE(ids.size(), 3u);
    EXPECT_FALSE(ids.contains(std::this_thread::get_id()));
}

TEST(TaskPoolTest, ForEachVisitsEveryIndexOnceOnTheCallerAndAtMostParallelThreads) {
    TaskPool pool(8);
    std::vector<std::atomic<int>> calls(300);
    std::mutex ids_mutex;
    std::set<std::thread::id> ids;
    pool.ForEach(
        calls.size(),
        [&](std::size_t i) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            calls[i].fetch_add(1);
            std::lock_guard lock(ids_mutex);
            ids.insert(std::this_thread::get_id());
        },
        4);
    for (const auto& c : calls) EXPECT_EQ(c.load(), 1);
    EXPECT_TRUE(ids.contains(std::this_thread::get_id()));
    // Slow items recruit helpers, never more than parallel - 1 of them.
    EXPECT_GT(ids.size(), 1u);
    EXPECT_LE(ids.size(), 4u);
}

TEST(TaskPoolTest, ForEachRethrowsTheFirstExceptionAndSkipsWhatWasNotStarted) {
    TaskPool pool(4);
    std::atomic<int> ran{0};
    EXPECT_THROW(pool.ForEach(
                     1000,
                     [&](std::size_t i) {
                         ran.fetch_add(1);
                         // The caller always takes item 0 first.
                         if (i == 0) throw std::runtime_error("boom");
                         std::this_thread::sleep_for(std::chrono::microseconds(100));
                     },
                     4),
                 std::runtime_error);
    EXPECT_LT(ran.load(), 1000);
    // The pool is still usable afterwards.
    std::atomic<int> again{0};
    pool.ForEach(
        10, [&](std::size_t) { again.fetch_add(1); }, 4);
    EXPECT_EQ(again.load(), 10);
}

TEST(TaskPoolTest, ForEachWithParallelOneStaysOnTheCaller) {
    TaskPool pool(4);
    std::set<std::thread::id> ids;
    pool.ForEach(
        50, [&](std::size_t) { ids.insert(std::this_thread::get_id()); }, 1);
    EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
}

}  // namespace acme
