// A wake-up for one kind of thread (internal to messaging/): Raise bumps the generation, a
// waiter sleeps until it moves past what it saw, or `running` goes false, or the timeout
// passes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace acme::messaging {

struct Signal {
    std::mutex mutex;
    std::condition_variable cv;
    std::uint64_t generation = 0;

    void Raise() {
        {
            std::lock_guard lock(mutex);
            ++generation;
        }
        cv.notify_all();
    }
    [[nodiscard]] std::uint64_t Seen() {
        std::lock_guard lock(mutex);
        return generation;
    }
    // True when raised (not on timeout or stop).
    bool WaitPast(std::uint64_t seen, std::int64_t timeout_ms, const std::atomic<bool>& running) {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
            return !running || generation != seen;
        }) && generation != seen;
    }
};

}  // namespace acme::messaging
