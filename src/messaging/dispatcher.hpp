// The embedded mode's single writer: one thread, its own connection, every write of the
// process and the transport's consumption rounds, committed together (group commit).
//
// Any thread hands a unit of writes to `Write` (waits) or `WriteAsync` (told later). The
// writer thread takes every queued unit, runs them in one transaction, each in a savepoint of
// its own (one that fails or throws leaves the others standing), commits once and tells each
// caller; then it runs the round it was given (the SQL log transport's delivery), and sleeps
// until woken (`Wake`, a queued write) or `poll_ms` passed. Without a writer thread (not
// started, stopping, or on the writer thread itself) a unit runs on the caller's connection in
// a transaction of its own (a savepoint inside an open one).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "core/error.hpp"
#include "storage/database.hpp"

namespace acme::messaging {

// A unit of writes (a command from outside, a worker's results, a ticker's run).
using WriteFn = std::function<Result<void>(storage::Connection&)>;
// Told the outcome of a `WriteAsync` once it committed or failed.
using WriteDone = std::function<void(Result<void>)>;
// What the writer does after each batch of writes; returns how much it did.
using Round = std::function<Result<std::size_t>(storage::Connection&)>;

struct DispatcherOptions {
    std::int64_t poll_ms = 50;
    std::int64_t linger_us = 0;  // wait after a wake-up so batches grow (group commit)
    // Scheduling priority (nice) of the writer thread, the one every write waits for: below 0,
    // it is not made to wait for CPU behind the HTTP threads. Needs CAP_SYS_NICE (root has
    // it); without, the thread keeps the process's priority.
    int nice = -10;
};

struct DispatcherStats {
    std::int64_t writes = 0;   // units run by the writer thread
    std::int64_t commits = 0;  // the transactions they were committed in
    int nice = 0;              // the writer thread's nice value once it runs
};

class Dispatcher {
  public:
    explicit Dispatcher(DispatcherOptions options = {});
    ~Dispatcher();  // stops
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    // Runs `fn` in a write transaction and returns once it committed, or failed and left
    // nothing behind (`fn`'s error, or the database's). An exception thrown by `fn` is
    // rethrown to the caller. `db` is used only when there is no writer thread.
    [[nodiscard]] Result<void> Write(storage::Connection& db, const WriteFn& fn);
    // Write without waiting: `done` is called once with the outcome, on the teller thread
    // (keep it short: hand the rest to a thread of your own), or on this one when there is no
    // writer thread (then `fn` runs on `db` first). An exception from `fn` arrives as kInternal.
    void WriteAsync(storage::Connection& db, WriteFn fn, WriteDone done);

    // Starts the teller thread and, given a connection, the writer thread, which runs `round`
    // after each batch of writes and `after_work` after a pass that did something.
    void Start(std::unique_ptr<storage::Connection> connection, Round round,
               std::function<void()> after_work);
    // Runs the writes queued until now, then stops the threads; later writes run on their
    // callers' connections.
    void Stop();
    // Wakes the writer thread (something to do besides queued writes).
    void Wake();
    [[nodiscard]] DispatcherStats Stats() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace acme::messaging
