// The SQL queue transport, for PostgreSQL, where several processes (several instances of each
// service) write and consume the same database at once.
//
// No offsets: the outbox writes, with each message, one delivery row per receiver the catalog
// declares (`bus_deliveries`, outbox.hpp). A consumer claims a batch of its due rows with
// `FOR UPDATE SKIP LOCKED` — competing instances of one service take different rows, and a row
// that committed late (a lower `seq` than rows already handled) is simply claimed late: no gap
// can skip it (docs/ARCHITECTURE.md, "Delivery without gaps"). The batch is handled in the
// same transaction that holds the claim, and each handled row is deleted in it: the delivery
// row is the inbox, so a message's effects, its removal from the work list and the messages
// its handler publishes commit together, once.
//
// The claim is a lease: a crashed instance's connection closes and its locks go; a stopped one
// (SIGSTOP) holds them only until `idle_in_transaction_session_timeout` (`lease_ms`, set for
// every claim) ends its session, and its late commit then fails: nothing applies twice.
//
// Order: per consumer, a message is not claimed while an earlier undelivered message of the same
// subject (checkout, order) waits or is in flight, so each subject's messages are handled in
// publish order, whichever instance takes them. A failed message leaves that order (like the SQL
// log's retries): it is retried with backoff (`attempts`, `next_at` on its row) while the
// subject's later messages go on, and after `max_attempts` it becomes a dead letter.
#pragma once

#include <memory>

#include "messaging/transport.hpp"

namespace acme::messaging {

struct SqlQueueOptions {
    int batch_size = 256;
    int max_attempts = 5;
    std::int64_t retry_base_ms = 100;
    std::int64_t retry_max_ms = 30'000;
    // How long an instance that stops answering keeps its claimed messages.
    std::int64_t lease_ms = 30'000;
    // Each consumer's claims, handlers and failures run as its service's role (ServiceRole).
    bool service_roles = false;
};

// Poll may run on several threads at once, each with its own connection: they claim different
// rows (SKIP LOCKED), as instances in other processes do.
class SqlQueueTransport final : public Transport {
  public:
    SqlQueueTransport(Outbox& outbox, SqlQueueOptions options = {});
    ~SqlQueueTransport() override;
    SqlQueueTransport(const SqlQueueTransport&) = delete;
    SqlQueueTransport& operator=(const SqlQueueTransport&) = delete;

    // Creates the log, delivery, inbox and dead-letter tables when missing (PostgreSQL).
    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);

    [[nodiscard]] Result<void> Subscribe(const std::string& consumer, const std::string& type,
                                         Handler handler) override;
    [[nodiscard]] bool HasConsumers() const override;
    [[nodiscard]] std::vector<std::string> Consumers() const override;
    // kFailedPrecondition on a connection that is not PostgreSQL (SKIP LOCKED).
    [[nodiscard]] Result<std::size_t> Poll(storage::Connection& db) override;
    // Due rows on the whole work list (every consumer's, in every process), counted at most
    // once a second by Poll or CountBacklog.
    [[nodiscard]] std::int64_t Backlog() const override;
    // Counts the backlog now (at most once a second) on `db`, already acting as a role that
    // may read the work list: for a process that delivers nothing itself (Bus::WatchBacklog).
    void CountBacklog(storage::Connection& db);
    [[nodiscard]] DeliveryStats Stats() const override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace acme::messaging
