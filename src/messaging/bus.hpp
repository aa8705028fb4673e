// The bus as services see it: one object composing the messaging seams, each with its own
// contract — the outbox and inbox (outbox.hpp), the transport that delivers (transport.hpp; the
// SQL log, sql_log_transport.hpp, on SQLite; the SQL queue, sql_queue_transport.hpp, on
// PostgreSQL), the embedded mode's single writer (dispatcher.hpp), queries
// (queries.hpp) and dead letters (dead_letters.hpp) — plus the tickers and workers services
// schedule. A service registers its handlers, tickers, workers and answers here, publishes
// through it inside its transactions, and hands its writes to it; which backend carries the
// messages is not its business.
//
// `RunUntilIdle` drives everything on the calling thread (tests). `Start` runs the writer
// thread (writes, then, on SQLite, delivery rounds: the messages they publish are handled in
// the same round; on PostgreSQL `consumer_threads` threads of their own deliver, each consumer's
// messages by one of them at a time), one thread
// per ticker and per worker, and the teller thread of `WriteAsync`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "messaging/contracts.hpp"
#include "messaging/dispatcher.hpp"
#include "messaging/envelope.hpp"
#include "messaging/outbox.hpp"
#include "messaging/queries.hpp"
#include "messaging/transport.hpp"
#include "storage/database.hpp"

namespace acme::messaging {

struct BusOptions {
    int batch_size = 256;
    int max_attempts = 5;
    std::int64_t retry_base_ms = 100;
    std::int64_t retry_max_ms = 30'000;
    std::int64_t poll_ms = 50;
    std::int64_t linger_us = 0;  // wait after a wake-up so batches grow (group commit)
    // Passes over the consumers in one round (one transaction) while they find new messages.
    int round_passes = 4;
    int dispatcher_nice = -10;       // DispatcherOptions::nice
    bool strict_contracts = false;   // contract violations throw (tests)
    std::int64_t lease_ms = 30'000;  // SqlQueueOptions::lease_ms
    // PostgreSQL: threads polling the transport, each with its own connection (a message's
    // statements wait on round trips: several consumers' batches in flight keep the cores
    // busy). A consumer's batches are delivered by one thread at a time, so more threads than
    // the process has consumers only wait. SQLite has one writer: the dispatcher's thread
    // polls there.
    int consumer_threads = 4;
    // Which database carries the messages: SQLite, the SQL log (one process, one writer);
    // PostgreSQL, the SQL queue (any number of processes and instances).
    storage::Dialect backend = storage::Dialect::kSqlite;
    // Least privilege: every piece of a service's work (its handlers, tickers, workers and
    // writes) runs as that service's database role (ServiceRole, Connection::ActAs), so it can
    // touch only what the role was granted (runtime/roles.hpp). Off: the login's privileges.
    bool service_roles = false;
};

using Ticker = std::function<Result<void>(Publisher&)>;
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

class Bus {
  public:
    using Connector = std::function<Result<std::unique_ptr<storage::Connection>>()>;

    // The transport `options.backend` calls for (the SQL log on SQLite, the SQL queue on
    // PostgreSQL), polled by the dispatcher's writer.
    Bus(const ContractRegistry& contracts, const Clock& clock, IdGenerator& ids,
        BusOptions options = {});
    ~Bus();  // stops
    Bus(const Bus&) = delete;
    Bus& operator=(const Bus&) = delete;

    // Creates the tables of the outbox and the transport (of `db`'s dialect) when missing.
    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);

    // Publishing, inside the open transaction on `db` (Outbox::Prepare and Outbox::Publish).
    [[nodiscard]] Result<PreparedMessage> Prepare(const std::string& service,
                                                  const std::string& type,
                                                  const std::string& subject, nlohmann::json data,
                                                  const Envelope* cause);
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const PreparedMessage& message);
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const std::string& service,
                                       const std::string& type, const std::string& subject,
                                       nlohmann::json data, const Envelope* cause);
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const std::string& service,
                                       const std::string& type, const std::string& subject,
                                       nlohmann::json data);
    // From JSON text (kInvalidArgument when it is not JSON).
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const std::string& service,
                                       const std::string& type, const std::string& subject,
                                       const std::string& data, const Envelope* cause);
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const std::string& service,
                                       const std::string& type, const std::string& subject,
                                       const std::string& data);

    // Dispatcher::Write / WriteAsync of a unit of `service`'s work (run as its role).
    [[nodiscard]] Result<void> Write(storage::Connection& db, std::string_view service,
                                     const WriteFn& fn);
    void WriteAsync(storage::Connection& db, std::string_view service, WriteFn fn, WriteDone done);
    // What follows on `db` runs as `service`'s role (BusOptions::service_roles; else nothing).
    [[nodiscard]] Result<void> ActAs(storage::Connection& db, std::string_view service) const;
    // Transport::Subscribe.
    [[nodiscard]] Result<void> Subscribe(const std::string& consumer, const std::string& type,
                                         Handler handler);
    // Runs `ticker` as `service` every `period_ms` inside a write (timers, deadlines).
    void AddTicker(const std::string& service, std::int64_t period_ms, Ticker ticker);
    // Runs `worker` as `service` every `period_ms` and whenever messages were handled, outside
    // any transaction, on a thread of its own.
    void AddWorker(const std::string& service, std::int64_t period_ms, Worker worker);
    // Keeps Backlog() current in a process whose consumers are elsewhere (PostgreSQL: the
    // work list counted every second by a worker acting as `service`), for admission control
    // where checkouts are accepted. On SQLite every consumer is in the process: nothing to do.
    void WatchBacklog(const std::string& service);
    // Queries::Answer / Ask.
    [[nodiscard]] Result<void> Answer(const std::string& service, const std::string& type,
                                      QueryHandler handler);
    [[nodiscard]] Result<nlohmann::json> Ask(storage::Connection& db, const std::string& service,
                                             const std::string& type,
                                             const nlohmann::json& request);

    // Handles everything pending on this thread until nothing is left (tests): tickers, the
    // transport's deliveries, workers; returns the number of messages whose handler ran
    // (duplicates excluded).
    [[nodiscard]] Result<std::size_t> RunUntilIdle(storage::Connection& db, int max_rounds);
    [[nodiscard]] Result<std::size_t> RunUntilIdle(storage::Connection& db) {
        return RunUntilIdle(db, 10'000);
    }
    // A listener on the given channels.
    using ListenerFactory = std::function<Result<std::unique_ptr<storage::Listener>>(
        const std::vector<std::string>& channels)>;
    // Starts the threads, each with its own connection; with `listen` (PostgreSQL), also one
    // that waits for other processes' commits that published for this one's consumers
    // (outbox.hpp, WakeChannel) and wakes them at once instead of at their next poll.
    [[nodiscard]] Result<void> Start(const Connector& connect,
                                     const ListenerFactory& listen = nullptr);
    void Stop();
    // Wakes delivery (after a commit that published outside a handler).
    void Notify();
    [[nodiscard]] BusStats Stats() const;
    // Transport::Backlog.
    [[nodiscard]] std::int64_t Backlog() const;
    [[nodiscard]] const Clock& clock() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace acme::messaging
