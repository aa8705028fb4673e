// Payments: authorize, void, capture and refund against a gateway, and the simulated gateway.
//
// Authorization requests are recorded with the authorize-payment message and sent to the
// gateway by a worker outside any database transaction, so gateway latency never holds the
// write lock. The simulated gateway answers by rules so every failure path can be driven from
// a test: card tokens (`tok_visa` and `tok_mastercard` approve, `tok_decline` declines,
// `tok_timeout` never answers or answers after `late_answer_ms`, `tok_error` fails and is
// retried with backoff, then left unanswered, and any other token is declined with
// `invalid_token`, as a real gateway declines a token it never issued), an amount limit,
// decline/error/timeout rates and a latency. Refunds (of a captured payment, for a returned order)
// are recorded by the refund-payment message and sent to the gateway by the same worker; gateway
// errors are retried with backoff, after the last attempt the refund stays `refund_failed` for an
// operator (the audit counts it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "messaging/bus.hpp"
#include "storage/database.hpp"

namespace acme::payments {

enum class GatewayOutcome { kApproved, kDeclined, kNoAnswer, kError };

struct GatewayDecision {
    GatewayOutcome outcome = GatewayOutcome::kApproved;
    std::string reason;
    // The gateway's own id for an approved authorization (empty: it gave none).
    std::string reference;
};

// A payment gateway, called outside any transaction. Every call carries an idempotency key
// (the payment's checkout id, the refund's order id), as real gateways take one: a call
// repeated with the key of one that was decided (approved or declined) gets that first answer
// and moves no money again — an instance that crashed between the call and recording its
// answer is retried by another without charging twice.
class PaymentGateway {
  public:
    virtual ~PaymentGateway() = default;
    // Decides an authorization of `amount` minor units on `token`.
    [[nodiscard]] virtual GatewayDecision Authorize(const std::string& token, std::int64_t amount,
                                                    const std::string& idempotency_key) = 0;
    // Refunds `amount` minor units of the captured authorization `authorization_id`:
    // kApproved or kError (retried).
    [[nodiscard]] virtual GatewayDecision Refund(const std::string& authorization_id,
                                                 std::int64_t amount,
                                                 const std::string& idempotency_key) = 0;
};

struct SimulatedGatewayOptions {
    std::int64_t decline_above = 5'000'000;  // amounts above this are declined
    double decline_rate = 0.0;               // share of tok_visa authorizations declined
    double error_rate = 0.0;                 // share failing with a gateway error (retried)
    double timeout_rate = 0.0;               // share never answered (the saga's deadline fires)
    double refund_error_rate = 0.0;          // share of refunds failing with a gateway error
    std::int64_t latency_ms = 0;             // added to every answer
    std::uint64_t seed = 1;
};

// The simulated gateway keeps what it decided per idempotency key in its own ledger: in
// memory, or — given a database, so that every process of a cluster calls one gateway, as they
// would a real one — in the table `gw_ledger` (`Migrate`), which `Charges` reads for tests
// and audits.
class SimulatedGateway final : public PaymentGateway {
  public:
    using Connector = std::function<Result<std::unique_ptr<storage::Connection>>()>;
    // `ledger`: connections to the database holding gw_ledger (opened as calls need them, up
    // to kLedgerConnections at once); none: the ledger is in memory.
    explicit SimulatedGateway(SimulatedGatewayOptions options = {}, Connector ledger = nullptr);
    static constexpr std::size_t kLedgerConnections = 8;
    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    [[nodiscard]] GatewayDecision Authorize(const std::string& token, std::int64_t amount,
                                            const std::string& idempotency_key) override;
    // Approved unless the refund error rate fires.
    [[nodiscard]] GatewayDecision Refund(const std::string& authorization_id, std::int64_t amount,
                                         const std::string& idempotency_key) override;
    // Approved authorizations per idempotency key in the database's ledger (a key charged twice
    // would show 2; by the ledger's key it cannot).
    [[nodiscard]] static Result<std::int64_t> Charges(storage::Connection& db);

  private:
    // The rules' answer (tokens, limit, rates, latency).
    GatewayDecision Decide(const std::string& token, std::int64_t amount);
    // The first decided answer for `key` (`decided` when there was none yet).
    GatewayDecision Remember(const std::string& key, const char* operation, std::int64_t amount,
                             GatewayDecision decided);

    SimulatedGatewayOptions options_;
    std::mutex mutex_;
    std::mt19937_64 rng_;
    Connector connect_;
    std::mutex ledger_mutex_;                                 // guards the two below
    std::vector<std::unique_ptr<storage::Connection>> idle_;  // ledger connections not in use
    std::map<std::string, GatewayDecision> decided_;          // without a database
};

struct PaymentOptions {
    // For tokens the gateway does not answer: approve this long after the request (a late
    // answer); -1 means never.
    std::int64_t late_answer_ms = -1;
    std::int64_t tick_ms = 50;
    std::int64_t gateway_attempts = 3;  // gateway errors retried this often, then left unanswered
    // A worker claims due requests for this long before it calls the gateway: an instance
    // that dies holding them leaves them to another after it (which calls again, with the same
    // idempotency key).
    std::int64_t claim_ms = 30'000;
    // Fault injection (tests): the process ends right after the gateway answered, before the
    // answer is recorded.
    bool crash_after_gateway_call = false;
};

// A checkout's payment as the service keeps it.
struct PaymentView {
    std::string checkout_id;
    std::string status;  // requested | authorized | declined | voided | captured | refunded
    std::string authorization_id;
    std::int64_t amount = 0;
    std::string currency;
    std::int64_t attempts = 0;  // gateway calls that failed and were retried
};

// An order's refund.
struct RefundView {
    std::string order_id;
    std::string status;  // requested | refunded | refund_failed
    std::int64_t amount = 0;
    std::int64_t attempts = 0;
};

class PaymentService {
  public:
    static constexpr const char* kService = "payment-service";
    // Gateway calls wait on I/O: up to this many run at once (the worker's thread and a pool).
    static constexpr std::size_t kGatewayCalls = 64;

    PaymentService(PaymentGateway& gateway, IdGenerator& ids, PaymentOptions options = {})
        : gateway_(gateway), ids_(ids), options_(options) {}

    // kNotFound when nothing was asked for `checkout_id` / `order_id`.
    [[nodiscard]] static Result<PaymentView> Get(storage::Connection& db,
                                                 const std::string& checkout_id);
    [[nodiscard]] static Result<std::vector<PaymentView>> List(storage::Connection& db);
    [[nodiscard]] static Result<RefundView> GetRefund(storage::Connection& db,
                                                      const std::string& order_id);
    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);

  private:
    // Calls the gateway for requested authorizations, outside any transaction, and records
    // the answers (publishing payment-authorized or payment-declined) in one transaction.
    Result<std::size_t> CallGateway(messaging::Bus& bus, storage::Connection& db);
    // The same for requested refunds (publishing payment-refunded).
    Result<std::size_t> CallGatewayForRefunds(messaging::Bus& bus, storage::Connection& db);

    PaymentGateway& gateway_;
    IdGenerator& ids_;
    PaymentOptions options_;
    // Persistent threads for the calls: a thread created per call (or per pass) cost the
    // worker more than the calls themselves.
    // Made by Register: a process that does not run the service has none.
    std::unique_ptr<TaskPool> gateway_calls_;
};

}  // namespace acme::payments
