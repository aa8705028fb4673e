// The durable message bus: a transactional outbox that is also the log consumers read.
//
// Publishing inserts the message into `bus_log` inside the sender's own transaction, so a
// state change and the messages it causes commit together (transactional outbox). Each
// consumer (a service) reads the log in order from its stored offset, in batches: one
// transaction per batch runs the handlers, moves the consumer's inbox (a watermark: every
// message through it was taken in, so a redelivered one is skipped and effects apply once;
// messages handled out of order, retries, are listed by id) and moves the offset. A message whose
// handler fails is retried with exponential backoff and jitter; after `max_attempts` it goes
// to `bus_dead_letters` with the reason. Every publish is checked against the catalog
// (`ContractRegistry`). `RunUntilIdle` drives everything on the calling thread (tests);
// `Start` runs one thread per consumer and per ticker (serving).
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "messaging/contracts.hpp"
#include "messaging/envelope.hpp"
#include "messaging/recent_payloads.hpp"
#include "storage/database.hpp"

namespace acme::messaging {

// Thrown instead of returning an error when BusOptions::strict_contracts is set (tests).
class ContractViolation : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct BusOptions {
    int batch_size = 256;
    int max_attempts = 5;
    std::int64_t retry_base_ms = 100;
    std::int64_t retry_max_ms = 30'000;
    std::int64_t poll_ms = 50;
    std::int64_t linger_us = 0;  // wait after a wake-up so batches grow (group commit)
    // Passes over the consumers in one round (one transaction) while they find new messages.
    int round_passes = 4;
    // Scheduling priority (nice) of the dispatcher thread, the one writer every message waits
    // for: below 0, it is not made to wait for CPU behind the HTTP threads. Needs
    // CAP_SYS_NICE (root has it); without, the thread keeps the process's priority.
    int dispatcher_nice = -10;
    bool strict_contracts = false;
};

class Bus;

struct DeadLetter {
    std::int64_t id = 0;
    std::string consumer;
    std::int64_t seq = 0;
    std::string message_id;
    std::string type;
    std::int64_t attempts = 0;
    std::string reason;
    std::string time;
    bool replayed = false;
};

// Dead letters, newest first (replayed ones included when `all`).
[[nodiscard]] Result<std::vector<DeadLetter>> ListDeadLetters(storage::Connection& db, bool all);
// Puts dead letter `id` (or every unreplayed one when `id` is 0) back on its consumer's retry
// queue, due now; returns how many. kNotFound when `id` names no unreplayed dead letter.
[[nodiscard]] Result<std::int64_t> ReplayDeadLetters(storage::Connection& db, std::int64_t id,
                                                     std::int64_t now_ms);

// A message already checked against the catalog and serialized (`Bus::Prepare`), so that
// publishing it inside a transaction is only the insert: the costly part of a publish (schema
// validation, serialization, ids) runs on the caller's thread instead of the one writer's.
// Only a bus makes one, so a prepared message has always passed the contract check.
class PreparedMessage {
  public:
    [[nodiscard]] const Envelope& envelope() const { return envelope_; }
    [[nodiscard]] std::int64_t created_ms() const { return created_ms_; }

  private:
    friend class Bus;
    PreparedMessage(Envelope envelope, std::int64_t created_ms)
        : envelope_(std::move(envelope)), created_ms_(created_ms) {}
    Envelope envelope_;
    std::int64_t created_ms_ = 0;
};

// Sends messages as one service inside the transaction that is open on `db()`.
class Publisher {
  public:
    Publisher(Bus& bus, storage::Connection& db, std::string service,
              const Envelope* cause = nullptr)
        : bus_(bus), db_(db), service_(std::move(service)), cause_(cause) {}

    // Publishes `type` with JSON `data`; `subject` is the checkout or order id.
    [[nodiscard]] Result<void> Publish(const std::string& type, const std::string& subject,
                                       const std::string& data);
    // The same from a JSON value: checked against the schema as it is, serialized once, and
    // kept for consumers in this process (pass a temporary or move: it is taken by value).
    [[nodiscard]] Result<void> Publish(const std::string& type, const std::string& subject,
                                       nlohmann::json data);
    [[nodiscard]] storage::Connection& db() { return db_; }
    [[nodiscard]] const std::string& service() const { return service_; }
    [[nodiscard]] std::int64_t NowMillis() const;

  private:
    Bus& bus_;
    storage::Connection& db_;
    std::string service_;
    const Envelope* cause_;
};

using Handler = std::function<Result<void>(const Envelope&, Publisher&)>;
// Answers a query: JSON request in, JSON answer out, reading through `db`. Values, not text:
// a query is answered in process, so nothing is serialized or parsed on the way.
using QueryHandler =
    std::function<Result<nlohmann::json>(storage::Connection& db, const nlohmann::json& request)>;
using Ticker = std::function<Result<void>(Publisher&)>;
// A unit of writes (a command from outside, a worker's results) run by `Bus::Write`.
using WriteFn = std::function<Result<void>(storage::Connection&)>;
// Told the outcome of a `Bus::WriteAsync` once it committed or failed.
using WriteDone = std::function<void(Result<void>)>;
// Work that must not hold the write lock (calls to outside systems); opens its own
// transactions and returns how much it did.
using Worker = std::function<Result<std::size_t>(storage::Connection& db)>;

struct BusStats {
    std::int64_t published = 0;
    std::int64_t handled = 0;
    std::int64_t duplicates = 0;
    std::int64_t retries = 0;
    std::int64_t dead_letters = 0;
    std::int64_t writes = 0;         // Write calls run by the dispatcher
    std::int64_t write_commits = 0;  // the transactions they were committed in
    // The dispatcher thread's nice value once it runs: BusOptions::dispatcher_nice, or what
    // it kept when raising its priority was not allowed.
    int dispatcher_nice = 0;
};

// The message bus every service talks through. Two implementations are planned behind this
// interface: the SQL log (here, on SQLite; next on PostgreSQL) and NATS JetStream.
class Bus {
  public:
    using Connector = std::function<Result<std::unique_ptr<storage::Connection>>()>;

    virtual ~Bus() = default;

    // Publishes from `service` inside the open transaction on `db` (transactional outbox).
    // `cause` (the message being handled) gives correlation and causation ids; without it the
    // subject is the correlation. Errors: the catalog contract (kFailedPrecondition,
    // kInvalidArgument) or the database.
    // `data` is taken by value: it stays with the message (Envelope::payload) for consumers
    // in this process.
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const std::string& service,
                                       const std::string& type, const std::string& subject,
                                       nlohmann::json data, const Envelope* cause);
    // The same in two halves: `Prepare` checks and serializes the message on any thread,
    // outside any transaction (the contract errors above); `Publish` of the prepared message
    // stores it inside the open transaction on `db` (database errors only).
    [[nodiscard]] virtual Result<PreparedMessage> Prepare(const std::string& service,
                                                          const std::string& type,
                                                          const std::string& subject,
                                                          nlohmann::json data,
                                                          const Envelope* cause) = 0;
    [[nodiscard]] virtual Result<void> Publish(storage::Connection& db,
                                               const PreparedMessage& message) = 0;
    // The same from JSON text (kInvalidArgument when it is not JSON).
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const std::string& service,
                                       const std::string& type, const std::string& subject,
                                       const std::string& data, const Envelope* cause);
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const std::string& service,
                                       const std::string& type, const std::string& subject,
                                       const std::string& data) {
        return Publish(db, service, type, subject, data, nullptr);
    }
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const std::string& service,
                                       const std::string& type, const std::string& subject,
                                       nlohmann::json data);
    // Runs `fn` in a write transaction and returns once it committed, or failed and left
    // nothing behind (`fn`'s error, or the database's). While the bus runs (after Start) the
    // writes of every thread are queued for the dispatcher, which commits them together on
    // its own connection (group commit: one writer, one commit for many requests, and the
    // messages they publish are handled in the same round); otherwise, and on the dispatcher
    // thread itself, `fn` runs on `db` in a transaction (a savepoint inside an open one).
    // An exception thrown by `fn` is rethrown to the caller.
    [[nodiscard]] virtual Result<void> Write(storage::Connection& db, const WriteFn& fn) = 0;
    // Write without waiting: `done` is called once with the outcome, on the bus's teller
    // thread (keep it short: hand the rest to a thread of your own), or on this one when
    // there is no dispatcher (then `fn` runs on `db` first). An exception thrown by `fn`
    // arrives as kInternal.
    virtual void WriteAsync(storage::Connection& db, WriteFn fn, WriteDone done) = 0;
    // Registers `consumer`'s handler for `type`. kFailedPrecondition when the catalog does not
    // declare that `consumer` receives `type`.
    [[nodiscard]] virtual Result<void> Subscribe(const std::string& consumer,
                                                 const std::string& type, Handler handler) = 0;
    // Runs `ticker` as `service` every `period_ms` inside a transaction (timers, deadlines).
    virtual void AddTicker(const std::string& service, std::int64_t period_ms, Ticker ticker) = 0;
    // Runs `worker` every `period_ms` and whenever messages were handled, outside any
    // transaction, on a thread of its own.
    virtual void AddWorker(std::int64_t period_ms, Worker worker) = 0;
    // Queries are request/response reads, answered in process and not logged. `Answer`
    // registers `service` as the one answering `type` (kFailedPrecondition when the catalog
    // does not declare that it receives `type`); `Ask` sends `type` as `service`, checked
    // against the catalog like any message, and returns the answer (kNotFound: no answerer).
    [[nodiscard]] virtual Result<void> Answer(const std::string& service, const std::string& type,
                                              QueryHandler handler) = 0;
    [[nodiscard]] virtual Result<nlohmann::json> Ask(storage::Connection& db,
                                                     const std::string& service,
                                                     const std::string& type,
                                                     const nlohmann::json& request) = 0;
    // Handles everything pending on this thread until nothing is left (tests); returns the
    // number of messages whose handler ran (duplicates excluded).
    [[nodiscard]] virtual Result<std::size_t> RunUntilIdle(storage::Connection& db,
                                                           int max_rounds) = 0;
    [[nodiscard]] Result<std::size_t> RunUntilIdle(storage::Connection& db) {
        return RunUntilIdle(db, 10'000);
    }
    // Starts the consumer and ticker threads, each with its own connection.
    [[nodiscard]] virtual Result<void> Start(const Connector& connect) = 0;
    virtual void Stop() = 0;
    // Wakes the consumers (after a commit that published outside a handler).
    virtual void Notify() = 0;
    [[nodiscard]] virtual BusStats Stats() const = 0;
    // Messages in the log that some consumer has not looked at yet, as of the last round:
    // how far handling lags behind publishing (0 when caught up).
    [[nodiscard]] virtual std::int64_t Backlog() const = 0;
    [[nodiscard]] virtual const Clock& clock() const = 0;

  protected:
    // For implementations of `Prepare`, once the message passed the contract check.
    [[nodiscard]] static PreparedMessage MakePrepared(Envelope envelope, std::int64_t created_ms) {
        return {std::move(envelope), created_ms};
    }
};

class SqlLogBus final : public Bus {
  public:
    SqlLogBus(const ContractRegistry& contracts, const Clock& clock, IdGenerator& ids,
              BusOptions options = {});
    ~SqlLogBus() override;
    SqlLogBus(const SqlLogBus&) = delete;
    SqlLogBus& operator=(const SqlLogBus&) = delete;

    // Creates the bus tables when missing.
    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);

    using Bus::Publish;
    using Bus::RunUntilIdle;
    [[nodiscard]] Result<PreparedMessage> Prepare(const std::string& service,
                                                  const std::string& type,
                                                  const std::string& subject, nlohmann::json data,
                                                  const Envelope* cause) override;
    [[nodiscard]] Result<void> Publish(storage::Connection& db,
                                       const PreparedMessage& message) override;

    [[nodiscard]] Result<void> Write(storage::Connection& db, const WriteFn& fn) override;
    void WriteAsync(storage::Connection& db, WriteFn fn, WriteDone done) override;
    [[nodiscard]] Result<void> Subscribe(const std::string& consumer, const std::string& type,
                                         Handler handler) override;
    void AddTicker(const std::string& service, std::int64_t period_ms, Ticker ticker) override;
    void AddWorker(std::int64_t period_ms, Worker worker) override;
    [[nodiscard]] Result<void> Answer(const std::string& service, const std::string& type,
                                      QueryHandler handler) override;
    [[nodiscard]] Result<nlohmann::json> Ask(storage::Connection& db, const std::string& service,
                                             const std::string& type,
                                             const nlohmann::json& request) override;

    [[nodiscard]] Result<std::size_t> RunUntilIdle(storage::Connection& db,
                                                   int max_rounds) override;

    // One thread per consumer and per ticker.
    [[nodiscard]] Result<void> Start(const Connector& connect) override;
    void Stop() override;
    void Notify() override;
    [[nodiscard]] BusStats Stats() const override;
    [[nodiscard]] std::int64_t Backlog() const override { return backlog_.load(); }
    [[nodiscard]] const Clock& clock() const override { return clock_; }

  private:
    struct Consumer {
        std::string name;
        std::map<std::string, Handler> handlers;
        std::string fetch_sql;
        // In memory, owned by the consumer's thread: how far the log has been scanned (the
        // stored offset only moves with handled messages), and when retries are next due.
        std::int64_t scanned = -1;
        std::int64_t scanned_from = -1;  // the stored offset `scanned` was derived from
        std::int64_t next_retry_check = 0;
    };
    struct TickerEntry {
        std::string service;
        std::int64_t period_ms;
        Ticker fn;
        std::int64_t next_at = 0;
    };

    struct Fetched {
        std::vector<Envelope> batch;
        std::int64_t top = -1;  // highest log row looked at; -1 when nothing was new
        std::int64_t stored = 0;
        std::int64_t through = 0;  // the inbox watermark (bus_inbox_through)
        bool full = false;
    };
    Result<Fetched> Fetch(Consumer& c, storage::Connection& db);
    void MarkScanned(Consumer& c, const Fetched& f);
    // After a rollback: what each consumer scanned is derived again from its stored offset.
    void ForgetScanned();
    Result<void> SetOffset(Consumer& c, storage::Connection& db, std::int64_t seq);
    // Inside an open transaction: handles the batch and moves the offset; false when a
    // handler failed (the caller rolls back).
    Result<bool> HandleBatch(Consumer& c, storage::Connection& db, const Fetched& f);
    Result<std::size_t> ProcessAlone(Consumer& c, storage::Connection& db, const Fetched& f);
    // Every consumer's new messages in one transaction (group commit); on a handler failure,
    // redone message by message so the failing one is retried alone.
    Result<std::size_t> ProcessRound(storage::Connection& db);
    Result<std::size_t> ProcessRetries(Consumer& c, storage::Connection& db);
    // Runs the handler unless the inbox says `e` was taken in before: in log order (`through`
    // >= 0, the watermark) by its seq; out of order (`through` < 0: retries) by the inbox
    // list, which then records it. False when skipped.
    Result<bool> HandleOne(Consumer& c, storage::Connection& db, const Envelope& e,
                           std::int64_t through);
    // Handles `e` in a transaction of its own and runs `on_success` in it before committing.
    // Outer error: the database failed; inner error: the handler failed (rolled back).
    Result<Result<bool>> HandleAlone(Consumer& c, storage::Connection& db, const Envelope& e,
                                     std::int64_t through,
                                     const std::function<Result<void>()>& on_success);
    Result<void> RecordFailure(Consumer& c, storage::Connection& db, const Envelope& e,
                               int attempts, const std::string& reason, bool advance_offset);
    Result<std::size_t> RunTicker(TickerEntry& t, storage::Connection& db, bool force);
    struct PendingWrite {
        const WriteFn* fn = nullptr;
        Result<void> result;
        std::exception_ptr exception;
        std::binary_semaphore finished{0};  // Write: released once, by the dispatcher
        // WriteAsync: the write owns its function and is deleted once `done` was told.
        WriteFn owned;
        WriteDone done;
    };
    // On the dispatcher: every queued write in one transaction, each in a savepoint of its
    // own; returns how many ran.
    Result<std::size_t> RunWrites(storage::Connection& db);
    void FinishWrites(std::vector<PendingWrite*>& batch);
    // Queues `w` for the dispatcher and wakes it; false when there is none to hand it to (not
    // started, stopping, or this is the dispatcher's own thread): the caller runs it itself.
    bool Enqueue(PendingWrite* w);
    // Tells a WriteAsync caller its outcome (an exception from its function as kInternal).
    static void Tell(PendingWrite& w);
    // Tells and deletes every write of `batch`, and empties it.
    static void TellAll(std::vector<PendingWrite*>& batch);
    // The teller thread: tells WriteAsync callers their outcomes in batches handed over by the
    // dispatcher, so that the one writer does not spend its time waking their threads.
    void RunTeller();
    std::int64_t Backoff(int attempts);
    void PrepareFetchSql(Consumer& c);

    const ContractRegistry& contracts_;
    const Clock& clock_;
    IdGenerator& ids_;
    BusOptions options_;
    std::map<std::string, Consumer> consumers_;
    std::vector<TickerEntry> tickers_;
    std::vector<std::pair<std::int64_t, Worker>> workers_;
    std::map<std::string, QueryHandler> answers_;  // by query type; fixed before Start

    std::atomic<bool> running_{false};
    std::atomic<int> dispatcher_nice_{0};
    std::atomic<std::int64_t> backlog_{0};
    std::vector<std::jthread> threads_;
    // A wake-up for one kind of thread: Raise bumps the generation, a waiter sleeps until it
    // moves past what it saw (or the bus stops, or the timeout passes).
    struct Signal {
        std::mutex mutex;
        std::condition_variable cv;
        std::uint64_t generation = 0;
        void Raise();
        [[nodiscard]] std::uint64_t Seen();
        // True when raised (not on timeout or stop).
        bool WaitPast(std::uint64_t seen, std::int64_t timeout_ms,
                      const std::atomic<bool>& running);
    };
    Signal dispatcher_signal_;  // writes queued, messages published outside the dispatcher
    Signal worker_signal_;      // a round handled messages: workers may have work
    Signal stop_signal_;        // tickers only sleep between runs

    std::atomic<std::int64_t> published_{0}, handled_{0}, duplicates_{0}, retries_{0},
        dead_letters_{0}, writes_run_{0}, write_commits_{0};
    std::mutex writes_mutex_;
    std::vector<PendingWrite*> writes_;  // queued for the dispatcher
    bool writer_running_ = false;        // guarded by writes_mutex_
    std::thread::id dispatcher_id_;

    std::mutex tell_mutex_;
    std::condition_variable tell_cv_;
    std::vector<PendingWrite*> to_tell_;  // committed or failed, waiting to be told
    bool teller_running_ = false;         // guarded by tell_mutex_
    std::jthread teller_;

    // Payloads of the messages published lately, by message id, until every consumer of
    // their type fetched them: a fetched message that is here reaches its handler parsed
    // (Envelope::payload). Bounded for publishes that roll back.
    RecentPayloads recent_{4096};
    std::map<std::string, int> readers_;  // consumers per message type; fixed before Start

    std::mutex jitter_mutex_;
    std::uint64_t jitter_state_ = 0x9e3779b97f4a7c15ULL;
};

}  // namespace acme::messaging
