#include "core/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>

namespace acme {

std::size_t DefaultConcurrency() {
    if (const char* env = std::getenv("ACME_THREADS"); env != nullptr) {
        const long value = std::strtol(env, nullptr, 10);
        if (value > 0) return static_cast<std::size_t>(value);
    }
    return std::max<std::size_t>(1, std::thread::hardware_concurrency());
}

void ParallelFor(std::size_t n, const std::function<void(std::size_t)>& fn, std::size_t threads) {
    if (n == 0) return;
    if (threads == 0) threads = DefaultConcurrency();
    threads = std::min(threads, n);
    if (threads <= 1) {
        for (std::size_t i = 0; i < n; ++i) fn(i);
        return;
    }
    // Chunks of up to 16 indexes, smaller when there are few per thread, so short loops of slow
    // items (calls that wait on I/O) still spread over every thread.
    const std::size_t kChunk = std::clamp<std::size_t>(n / (threads * 4), 1, 16);
    std::atomic<std::size_t> next{0};
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto worker = [&] {
        for (;;) {
            const std::size_t begin = next.fetch_add(kChunk);
            if (begin >= n) return;
            const std::size_t end = std::min(n, begin + kChunk);
            try {
                for (std::size_t i = begin; i < end; ++i) fn(i);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!first_error) first_error = std::current_exception();
                next.store(n);
                return;
            }
        }
    };
    std::vector<std::jthread> pool;
    pool.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    pool.clear();
    if (first_error) std::rethrow_exception(first_error);
}

TaskPool::TaskPool(std::size_t threads, const char* name) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, threads); ++i) {
        threads_.emplace_back([this, name] {
            pthread_setname_np(pthread_self(), name);
            Run();
        });
    }
}

TaskPool::~TaskPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
}

void TaskPool::Post(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
}

namespace {

// One ForEach call's shared state; it lives on the caller's stack, which waits until every
// helper it recruited has finished with it.
struct ForEachState {
    std::size_t n = 0;
    std::size_t max_helpers = 0;
    std::atomic<std::size_t> next{0};
    std::mutex mutex;
    std::condition_variable all_done;
    std::size_t recruited = 0;  // guarded by mutex
    std::size_t started = 0;    // guarded by mutex
    std::size_t finished = 0;   // guarded by mutex
    std::exception_ptr error;   // guarded by mutex
};

}  // namespace

void TaskPool::ForEach(std::size_t n, const std::function<void(std::size_t)>& fn,
                       std::size_t parallel) {
    if (n == 0) return;
    ForEachState state;
    state.n = n;
    state.max_helpers = std::min({parallel > 0 ? parallel - 1 : 0, threads_.size(), n - 1});
    // Recruits one more helper when the last one recruited has started, items are left and
    // the limit allows; `helper` is the task a recruit runs.
    std::function<void()> helper;
    auto maybe_recruit = [&] {
        {
            std::lock_guard lock(state.mutex);
            if (state.recruited >= state.max_helpers || state.recruited != state.started ||
                state.next.load() >= state.n) {
                return;
            }
            ++state.recruited;
        }
        Post(helper);
    };
    auto work = [&] {
        for (;;) {
            const std::size_t i = state.next.fetch_add(1);
            if (i >= state.n) return;
            maybe_recruit();
            try {
                fn(i);
            } catch (...) {
                std::lock_guard lock(state.mutex);
                if (!state.error) state.error = std::current_exception();
                state.next.store(state.n);
                return;
            }
        }
    };
    helper = [&] {
        {
            std::lock_guard lock(state.mutex);
            ++state.started;
        }
        work();
        std::lock_guard lock(state.mutex);
        ++state.finished;
        // Notified under the lock: the caller destroys `state` as soon as it sees the count.
        state.all_done.notify_one();
    };
    work();
    std::unique_lock lock(state.mutex);
    state.all_done.wait(lock, [&] { return state.finished == state.recruited; });
    if (state.error) std::rethrow_exception(state.error);
}

void TaskPool::Run() {
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return;  // stopping, and nothing left
            task = std::move(tasks_.front());
            tasks_.pop_front();
        }
        task();
    }
}

}  // namespace acme
