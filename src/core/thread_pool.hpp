// Data-parallel loops over an index range.
//
// `ParallelFor(n, fn)` calls `fn(i)` once for every `i` in `[0, n)` on up to
// `DefaultConcurrency()` threads and returns when all calls are done. Work is handed out in
// small chunks through an atomic counter, so uneven items (big and small files) balance.
// `fn` must be safe to call concurrently for different `i`; exceptions thrown by `fn` are
// rethrown on the calling thread (the first one wins).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace acme {

// Threads to use by default: the hardware concurrency, at least 1; `ACME_THREADS` overrides.
[[nodiscard]] std::size_t DefaultConcurrency();

void ParallelFor(std::size_t n, const std::function<void(std::size_t)>& fn,
                 std::size_t threads = 0);

// A fixed set of threads running posted tasks, oldest first. The destructor runs what is
// still queued, then joins. A task must not throw.
class TaskPool {
  public:
    // `name` (at most 15 characters) names the threads for top -H and perf.
    explicit TaskPool(std::size_t threads, const char* name = "acme-pool");
    ~TaskPool();
    TaskPool(const TaskPool&) = delete;
    TaskPool& operator=(const TaskPool&) = delete;

    void Post(std::function<void()> task);

    // Calls `fn(i)` once for every `i` in `[0, n)` on the calling thread and on up to
    // `parallel - 1` of the pool's threads, and returns when every call is done; the first
    // exception thrown by `fn` is rethrown here (items not started yet are skipped). Helpers
    // are recruited one at a time, each once the previous one started, while items are left:
    // quick items stay on the caller without waking anyone, slow ones (calls waiting on I/O)
    // spread over the pool within a few wake-ups. Unlike `ParallelFor`, no thread is created.
    void ForEach(std::size_t n, const std::function<void(std::size_t)>& fn, std::size_t parallel);

  private:
    void Run();

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace acme
