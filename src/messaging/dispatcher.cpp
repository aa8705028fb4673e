#include "messaging/dispatcher.hpp"

#include <atomic>
#include <cerrno>
#include <exception>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "messaging/signal.hpp"

namespace acme::messaging {

namespace {

struct PendingWrite {
    const WriteFn* fn = nullptr;
    Result<void> result;
    std::exception_ptr exception;
    std::binary_semaphore finished{0};  // Write: released once, by the writer
    // WriteAsync: the write owns its function and is deleted once `done` was told.
    WriteFn owned;
    WriteDone done;
};

// Tells a WriteAsync caller its outcome (an exception from its function as kInternal).
void Tell(PendingWrite& w) {
    Result<void> result = std::move(w.result);
    if (w.exception) {
        try {
            std::rethrow_exception(w.exception);
        } catch (const std::exception& e) {
            result = MakeError(ErrorCode::kInternal, std::string("write failed: ") + e.what());
        } catch (...) {
            result = MakeError(ErrorCode::kInternal, "write failed");
        }
    }
    w.done(std::move(result));
}

// Tells and deletes every write of `batch`, and empties it.
void TellAll(std::vector<PendingWrite*>& batch) {
    for (PendingWrite* w : batch) {
        std::unique_ptr<PendingWrite> owned(w);
        Tell(*w);
    }
    batch.clear();
}

}  // namespace

struct Dispatcher::Impl {
    DispatcherOptions options;
    std::atomic<bool> running{false};
    std::atomic<int> nice{0};
    std::atomic<std::int64_t> writes_run{0}, commits{0};
    Signal signal;  // writes queued, messages published outside the writer

    std::mutex writes_mutex;
    std::vector<PendingWrite*> writes;  // queued for the writer
    bool writer_running = false;        // guarded by writes_mutex
    std::thread::id writer_id;

    std::mutex tell_mutex;
    std::condition_variable tell_cv;
    std::vector<PendingWrite*> to_tell;  // committed or failed, waiting to be told
    bool teller_running = false;         // guarded by tell_mutex

    std::jthread writer;
    std::jthread teller;

    // Queues `w` for the writer and wakes it; false when there is none to hand it to (not
    // started, stopping, or this is the writer's own thread): the caller runs it itself.
    bool Enqueue(PendingWrite* w) {
        {
            std::lock_guard lock(writes_mutex);
            if (!writer_running || std::this_thread::get_id() == writer_id) return false;
            writes.push_back(w);
        }
        signal.Raise();
        return true;
    }

    // On the writer: every queued write in one transaction, each in a savepoint of its own;
    // returns how many ran.
    Result<std::size_t> RunWrites(storage::Connection& db) {
        std::vector<PendingWrite*> batch;
        {
            std::lock_guard lock(writes_mutex);
            batch.swap(writes);
        }
        if (batch.empty()) return 0;
        if (auto ok = db.Begin(); !ok) {
            for (PendingWrite* w : batch) w->result = ok;
            Finish(batch);
            return std::unexpected(ok.error());
        }
        for (PendingWrite* w : batch) {
            // A savepoint per write: one that fails or throws leaves the others standing.
            if (auto ok = db.Begin(); !ok) {
                w->result = ok;
                continue;
            }
            try {
                w->result = (*w->fn)(db);
            } catch (...) {
                w->exception = std::current_exception();
            }
            if (!w->exception && w->result) {
                if (auto ok = db.Commit(); ok) continue;
                w->result = MakeError(ErrorCode::kInternal, "savepoint release failed");
            }
            db.Rollback();
        }
        if (auto ok = db.Commit(); !ok) {
            db.Rollback();
            for (PendingWrite* w : batch) {
                if (!w->exception && w->result) w->result = ok;
            }
            Finish(batch);
            return std::unexpected(ok.error());
        }
        writes_run.fetch_add(static_cast<std::int64_t>(batch.size()));
        commits.fetch_add(1);
        Finish(batch);
        return batch.size();
    }

    void Finish(std::vector<PendingWrite*>& batch) {
        std::vector<PendingWrite*> async;
        for (PendingWrite* w : batch) {
            if (!w->done) {
                // After release the caller may return at once and its PendingWrite is gone.
                w->finished.release();
                continue;
            }
            async.push_back(w);
        }
        if (async.empty()) return;
        {
            // The whole batch in one hand-off: the writer wakes one thread, not one per caller.
            std::lock_guard lock(tell_mutex);
            if (teller_running) {
                to_tell.insert(to_tell.end(), async.begin(), async.end());
                tell_cv.notify_one();
                return;
            }
        }
        TellAll(async);
    }

    // The teller thread: tells WriteAsync callers their outcomes in batches handed over by the
    // writer, so that the one writer does not spend its time waking their threads.
    void RunTeller() {
        pthread_setname_np(pthread_self(), "acme-tell");
        std::vector<PendingWrite*> batch;
        std::unique_lock lock(tell_mutex);
        for (;;) {
            tell_cv.wait(lock, [&] { return !to_tell.empty() || !teller_running; });
            if (to_tell.empty()) return;  // stopping, and everything told
            batch.swap(to_tell);
            lock.unlock();
            TellAll(batch);
            lock.lock();
        }
    }

    void RunWriter(storage::Connection& conn, const Round& round,
                   const std::function<void()>& after_work) {
        pthread_setname_np(pthread_self(), "acme-dispatch");  // for top -H, perf
        {
            // Linux: nice is per thread. EACCES without CAP_SYS_NICE: keep what it has.
            const auto tid = static_cast<id_t>(gettid());
            if (options.nice != 0) (void)setpriority(PRIO_PROCESS, tid, options.nice);
            errno = 0;
            const int got = getpriority(PRIO_PROCESS, tid);
            nice = errno == 0 ? got : 0;
        }
        {
            std::lock_guard lock(writes_mutex);
            writer_id = std::this_thread::get_id();
        }
        while (running) {
            const std::uint64_t seen = signal.Seen();
            // Writes queued by other threads first: the messages they publish are then
            // handled in this same round.
            auto w = RunWrites(conn);
            auto n = round ? round(conn) : Result<std::size_t>(0);
            const std::size_t work = (n ? *n : 0) + (w ? *w : 0);
            if (!n) std::this_thread::sleep_for(std::chrono::milliseconds(10));
            if (work > 0) {
                if (after_work) after_work();  // the round may have queued work for others
                continue;
            }
            const bool woken = signal.WaitPast(seen, options.poll_ms, running);
            // Let a little more arrive so the next round carries several messages.
            if (woken && options.linger_us > 0) {
                std::this_thread::sleep_for(std::chrono::microseconds(options.linger_us));
            }
        }
        // Stopping: writes queued until now still run; later ones run on their callers'
        // connections.
        {
            std::lock_guard lock(writes_mutex);
            writer_running = false;
        }
        (void)RunWrites(conn);
    }
};

Dispatcher::Dispatcher(DispatcherOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->options = options;
}

Dispatcher::~Dispatcher() { Stop(); }

Result<void> Dispatcher::Write(storage::Connection& db, const WriteFn& fn) {
    PendingWrite pending;
    pending.fn = &fn;
    // `pending` is not read once queued until the writer releases it.
    if (!impl_->Enqueue(&pending)) return storage::InTransaction(db, [&] { return fn(db); });
    // Each caller waits on its own semaphore: finishing a batch wakes exactly its callers.
    pending.finished.acquire();
    if (pending.exception) std::rethrow_exception(pending.exception);
    return pending.result;
}

void Dispatcher::WriteAsync(storage::Connection& db, WriteFn fn, WriteDone done) {
    auto pending = std::make_unique<PendingWrite>();
    pending->owned = std::move(fn);
    pending->fn = &pending->owned;
    pending->done = std::move(done);
    if (impl_->Enqueue(pending.get())) {
        pending.release();  // Finish deletes it
        return;
    }
    try {
        pending->result = storage::InTransaction(db, [&] { return pending->owned(db); });
    } catch (...) {
        pending->exception = std::current_exception();
    }
    Tell(*pending);
}

void Dispatcher::Start(std::unique_ptr<storage::Connection> connection, Round round,
                       std::function<void()> after_work) {
    Impl& s = *impl_;
    s.running = true;
    {
        std::lock_guard lock(s.tell_mutex);
        s.teller_running = true;
    }
    s.teller = std::jthread([&s] { s.RunTeller(); });
    if (!connection) return;
    {
        // Running from here on: a write made as soon as Start returns is queued for the
        // writer (its first round runs it), not run on the caller's connection.
        std::lock_guard lock(s.writes_mutex);
        s.writer_running = true;
    }
    s.writer = std::jthread(
        [&s, conn = std::shared_ptr(std::move(connection)), round = std::move(round),
         after_work = std::move(after_work)] { s.RunWriter(*conn, round, after_work); });
}

void Dispatcher::Stop() {
    Impl& s = *impl_;
    s.running = false;
    s.signal.Raise();
    if (s.writer.joinable()) s.writer.join();
    // Last, once the writer is gone: the teller tells what is queued, then ends.
    {
        std::lock_guard lock(s.tell_mutex);
        s.teller_running = false;
    }
    s.tell_cv.notify_one();
    if (s.teller.joinable()) s.teller.join();
}

void Dispatcher::Wake() { impl_->signal.Raise(); }

DispatcherStats Dispatcher::Stats() const {
    return {impl_->writes_run.load(), impl_->commits.load(), impl_->nice.load()};
}

}  // namespace acme::messaging
