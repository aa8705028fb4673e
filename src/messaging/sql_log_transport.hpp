// The SQL log transport: the outbox table (`bus_log`) is the log, and every consumer reads it
// in `seq` order from a stored offset, in batches. It is polled by its caller — in the
// embedded mode the dispatcher's writer thread, which makes one round per pass: every
// consumer's new messages in one transaction (group commit), several passes while they find
// new ones (what one pass publishes, the next handles), one commit.
//
// Inbox: a watermark per consumer (`bus_inbox_through`: every message through it was taken
// in — handled, or handed to the retry queue) plus `bus_inbox` rows for messages handled out
// of order (retries, replayed dead letters). A handler failure rolls the round back; it is
// redone message by message, and the failing message goes to `bus_retries` (exponential
// backoff with jitter) and after `max_attempts` to `bus_dead_letters`.
//
// No message is skipped because the log has one writer at a time: SQLite takes its write lock
// at BEGIN, so rows get their `seq` in commit order and a reader never sees seq 42 while a
// transaction holding 41 is still open. A backend with concurrent writers (PostgreSQL) breaks
// that premise: there a reader may see 42 before 41 commits, and offsets would skip 41 for
// ever. This transport therefore refuses any connection that is not SQLite (`Poll` returns
// kFailedPrecondition); the PostgreSQL transport claims per-consumer delivery rows with
// FOR UPDATE SKIP LOCKED instead (docs/ARCHITECTURE.md, "Delivery without gaps").
#pragma once

#include <memory>

#include "messaging/transport.hpp"

namespace acme::messaging {

struct SqlLogOptions {
    int batch_size = 256;
    int max_attempts = 5;
    std::int64_t retry_base_ms = 100;
    std::int64_t retry_max_ms = 30'000;
    // Passes over the consumers in one round (one transaction) while they find new messages.
    int round_passes = 4;
};

class SqlLogTransport final : public Transport {
  public:
    SqlLogTransport(Outbox& outbox, SqlLogOptions options = {});
    ~SqlLogTransport() override;
    SqlLogTransport(const SqlLogTransport&) = delete;
    SqlLogTransport& operator=(const SqlLogTransport&) = delete;

    // Creates the log, offsets, inbox, retry and dead-letter tables when missing.
    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);

    [[nodiscard]] Result<void> Subscribe(const std::string& consumer, const std::string& type,
                                         Handler handler) override;
    [[nodiscard]] bool HasConsumers() const override;
    [[nodiscard]] std::vector<std::string> Consumers() const override;
    [[nodiscard]] Result<std::size_t> Poll(storage::Connection& db) override;
    [[nodiscard]] std::int64_t Backlog() const override;
    [[nodiscard]] DeliveryStats Stats() const override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace acme::messaging
