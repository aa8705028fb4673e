// The transactional outbox and the inbox: the two halves of "effects exactly once" over
// at-least-once delivery, both used inside the caller's own transaction.
//
// Outbox: a message is checked against the catalog (declared in the sender's `sends`, valid
// against its JSON Schema) and serialized by `Prepare`, on any thread, outside any
// transaction; `Publish` stores it in the outbox table (`bus_log`) inside the transaction open
// on `db`, so the state change and the messages it causes commit together or not at all.
// Which transport then carries the stored messages is not the outbox's business, but for one
// thing: on PostgreSQL the same statement writes a delivery row per receiver the catalog
// declares (`bus_deliveries`, the SQL queue transport's work list), so a message is never
// stored without the rows that make sure each receiver gets it; and its commit notifies each
// receiver's `WakeChannel`, so consumers in other processes do not wait for their next poll. A
// payload published here stays parsed in memory until every in-process consumer of its type took it
// (`TakeLocal`), so handlers in this process do not parse its text again.
//
// Inbox: `TakeIn` records, in the consumer's transaction, that a consumer took a message in;
// a second delivery of the same message finds the record and is skipped.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "messaging/contracts.hpp"
#include "messaging/envelope.hpp"
#include "storage/database.hpp"

namespace acme::messaging {

// The channel a PostgreSQL transaction that published for `consumer` notifies at its commit,
// and that consumer's processes listen on (storage::Connection::NotifyOnCommit,
// storage::Listener): "acme_" and the service id with '_' for '-'.
[[nodiscard]] std::string WakeChannel(std::string_view consumer);

// Thrown instead of returning an error when contracts are strict (tests).
class ContractViolation : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A message already checked against the catalog and serialized, so that publishing it inside
// a transaction is only the insert. Only an outbox makes one, so a prepared message has always
// passed the contract check.
class PreparedMessage {
  public:
    [[nodiscard]] const Envelope& envelope() const { return envelope_; }
    [[nodiscard]] std::int64_t created_ms() const { return created_ms_; }

  private:
    friend class Outbox;
    PreparedMessage(Envelope envelope, std::int64_t created_ms)
        : envelope_(std::move(envelope)), created_ms_(created_ms) {}
    Envelope envelope_;
    std::int64_t created_ms_ = 0;
};

enum class Contracts {
    kReport,  // a contract violation is an error result (production)
    kThrow,   // ... a ContractViolation exception (tests: fatal)
};

class Outbox {
  public:
    Outbox(const ContractRegistry& contracts, const Clock& clock, IdGenerator& ids,
           Contracts violations);
    ~Outbox();
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    // Checks and serializes `type` from `service`; `subject` is the checkout or order id;
    // `cause` (the message being handled) gives correlation and causation ids and the trace,
    // without it the subject is the correlation. kFailedPrecondition (not declared in sends),
    // kInvalidArgument (fails the schema, not JSON). `data` is taken by value: it stays with
    // the message for consumers in this process.
    [[nodiscard]] Result<PreparedMessage> Prepare(const std::string& service,
                                                  const std::string& type,
                                                  const std::string& subject, nlohmann::json data,
                                                  const Envelope* cause) const;
    // Stores `message` inside the transaction open on `db` (database errors only).
    [[nodiscard]] Result<void> Publish(storage::Connection& db, const PreparedMessage& message);

    // An in-process consumer reads `type` (set up before messages flow): payloads of that type
    // are kept parsed until each such consumer took them.
    void AddLocalReader(const std::string& type);
    // The parsed payload of message `message_id` if this process published it lately and it
    // was not taken by all its local readers yet; null otherwise.
    [[nodiscard]] std::shared_ptr<const nlohmann::json> TakeLocal(const std::string& message_id);

    // Messages stored so far by this outbox (rolled-back ones included).
    [[nodiscard]] std::int64_t published() const;
    [[nodiscard]] const Clock& clock() const;
    [[nodiscard]] const ContractRegistry& contracts() const;
    // Reports or throws a contract violation, as configured.
    [[nodiscard]] Result<void> Violation(Error error) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The messages stored so far, in publish order: those about `subject` and/or of `type` (empty:
// any). A read of the outbox for operators and tests; payloads as stored text.
struct MessageFilter {
    std::string subject;
    std::string type;
};
[[nodiscard]] Result<std::vector<Envelope>> ReadMessages(storage::Connection& db,
                                                         const MessageFilter& filter);

// Records in the transaction open on `db` that `consumer` took in message `message_id`; false
// when it had before (the caller skips the message).
[[nodiscard]] Result<bool> TakeIn(storage::Connection& db, const std::string& consumer,
                                  const std::string& message_id);

// Sends messages as one service inside the transaction that is open on `db()`.
class Publisher {
  public:
    Publisher(Outbox& outbox, storage::Connection& db, std::string service,
              const Envelope* cause = nullptr)
        : outbox_(outbox), db_(db), service_(std::move(service)), cause_(cause) {}

    // Publishes `type` with JSON `data` (text: kInvalidArgument when it is not JSON).
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
    Outbox& outbox_;
    storage::Connection& db_;
    std::string service_;
    const Envelope* cause_;
};

}  // namespace acme::messaging
