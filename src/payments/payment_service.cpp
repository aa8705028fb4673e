#include "payments/payment_service.hpp"

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include <thread>
#include <vector>
#include "messaging/payload.hpp"

#include "core/thread_pool.hpp"

namespace acme::payments {

namespace {

using nlohmann::json;
using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS pay_payments (
    checkout_id TEXT PRIMARY KEY, authorization_id TEXT UNIQUE, status TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, token TEXT NOT NULL, reason TEXT,
    answer_at INTEGER, order_id TEXT, updated_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0,
    request_id TEXT, traceparent TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pay_payments_requested ON pay_payments(status, next_at);
CREATE TABLE IF NOT EXISTS pay_refunds (
    order_id TEXT PRIMARY KEY, checkout_id TEXT NOT NULL, authorization_id TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, refund_id TEXT UNIQUE,
    reason TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0,
    request_id TEXT, traceparent TEXT, updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pay_refunds_requested ON pay_refunds(status, next_at);
)sql";
// The same tables on PostgreSQL: 64-bit integers (SQLite's INTEGER), heap tables.
constexpr const char* kPostgresSchema = R"sql(
CREATE TABLE IF NOT EXISTS pay_payments (
    checkout_id TEXT PRIMARY KEY, authorization_id TEXT UNIQUE, status TEXT NOT NULL,
    amount BIGINT NOT NULL, currency TEXT NOT NULL, token TEXT NOT NULL, reason TEXT,
    answer_at BIGINT, order_id TEXT, updated_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0, next_at BIGINT NOT NULL DEFAULT 0,
    request_id TEXT, traceparent TEXT
);
CREATE INDEX IF NOT EXISTS pay_payments_requested ON pay_payments(status, next_at);
CREATE TABLE IF NOT EXISTS pay_refunds (
    order_id TEXT PRIMARY KEY, checkout_id TEXT NOT NULL, authorization_id TEXT NOT NULL,
    amount BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, refund_id TEXT UNIQUE,
    reason TEXT, attempts BIGINT NOT NULL DEFAULT 0, next_at BIGINT NOT NULL DEFAULT 0,
    request_id TEXT, traceparent TEXT, updated_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS pay_refunds_requested ON pay_refunds(status, next_at);
)sql";

// Voids an authorization that is still authorized (a no-op for anything else, so a
// redelivered void is harmless) and answers payment-voided with `reply`.
Result<void> VoidAuthorization(messaging::Publisher& out, const std::string& subject,
                               const std::string& auth, json reply) {
    const Value v[] = {out.NowMillis(), auth};
    if (auto ok = out.db().Execute("UPDATE pay_payments SET status = 'voided', updated_ms = ? "
                                   "WHERE authorization_id = ? AND status = 'authorized'",
                                   v);
        !ok) {
        return ok;
    }
    reply["authorizationId"] = auth;
    return out.Publish("payment-voided", subject, reply);
}

// Requests due for the gateway and the gateway's decisions for them. The requests are first
// claimed — their `next_at` moved past the claim, in a transaction of the worker's own — so a
// competing instance skips them (and takes them back once the claim lapsed); the calls then run
// in parallel and outside any transaction: a slow gateway slows only them.
struct DueCalls {
    std::vector<storage::Row> rows;
    std::vector<GatewayDecision> decisions;
    [[nodiscard]] bool empty() const { return rows.empty(); }
    [[nodiscard]] std::size_t size() const { return rows.size(); }
    const storage::Row& operator[](std::size_t i) const { return rows[i]; }
};

// `table` keyed by `key`: claims up to 256 requested rows due at `now` until `now + claim_ms`
// and returns `columns` of them.
Result<DueCalls> CallDue(storage::Connection& db, TaskPool& pool, std::int64_t now,
                         std::int64_t claim_ms, const std::string& table, const std::string& key,
                         const std::string& columns,
                         const std::function<GatewayDecision(const storage::Row&)>& call) {
    const char* skip =
        db.dialect() == storage::Dialect::kPostgresql ? " FOR UPDATE SKIP LOCKED" : "";
    const Value claim[] = {now + claim_ms, now};
    auto rows = storage::InTransaction(db, [&] {
        return db.Query("UPDATE " + table + " SET next_at = ? WHERE " + key + " IN (SELECT " + key +
                            " FROM " + table +
                            " WHERE status = 'requested' AND next_at <= ? ORDER BY next_at LIMIT "
                            "256" +
                            skip + ") RETURNING " + columns,
                        claim);
    });
    if (!rows) return std::unexpected(rows.error());
    DueCalls out{std::move(*rows), {}};
    out.decisions.resize(out.rows.size());
    if (out.rows.empty()) return out;
    pool.ForEach(
        out.rows.size(), [&](std::size_t i) { out.decisions[i] = call(out.rows[i]); },
        PaymentService::kGatewayCalls);
    return out;
}

// A gateway error on the request keyed `key` in `table` (pay_payments by checkout_id,
// pay_refunds by order_id): due again after an exponential backoff, or, after the last
// attempt, left in `give_up` status.
Result<void> RecordGatewayError(storage::Connection& tx, const std::string& table,
                                const std::string& key_column, const std::string& key,
                                std::int64_t attempts_before, std::int64_t max_attempts,
                                const char* give_up, const std::string& reason, std::int64_t now) {
    const std::int64_t attempts = attempts_before + 1;
    const Value upd[] = {attempts >= max_attempts ? std::string(give_up) : std::string("requested"),
                         attempts,
                         now + (std::int64_t{100} << std::min<std::int64_t>(attempts, 6)),
                         reason,
                         now,
                         key};
    return tx.Execute("UPDATE " + table +
                          " SET status = ?, attempts = ?, next_at = ?, reason = ?, updated_ms = ? "
                          "WHERE " +
                          key_column + " = ? AND status = 'requested'",
                      upd);
}

}  // namespace

SimulatedGateway::SimulatedGateway(SimulatedGatewayOptions options, Connector ledger)
    : options_(options), rng_(options.seed), connect_(std::move(ledger)) {}

Result<void> SimulatedGateway::Migrate(storage::Connection& db) {
    static constexpr const char* kLedger =
        "CREATE TABLE IF NOT EXISTS gw_ledger (idempotency_key TEXT PRIMARY KEY, operation TEXT "
        "NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL, reference TEXT NOT NULL, amount "
        "BIGINT NOT NULL, calls BIGINT NOT NULL DEFAULT 1)";
    static constexpr storage::Migration kSteps[] = {{.version = 1,
                                                     .summary = "ledger by idempotency key",
                                                     .sqlite = kLedger,
                                                     .postgresql = kLedger}};
    return storage::Migrate(db, "simulated-gateway", kSteps);
}

Result<std::int64_t> SimulatedGateway::Charges(storage::Connection& db) {
    auto rows = db.Query(
        "SELECT count(*) FROM gw_ledger WHERE operation = 'authorize' AND outcome = 'approved'");
    if (!rows) return std::unexpected(rows.error());
    return rows->front().Int(0);
}

GatewayDecision SimulatedGateway::Remember(const std::string& key, const char* operation,
                                           std::int64_t amount, GatewayDecision decided) {
    // Errors and unanswered calls are not decisions: a retry is decided afresh.
    if (decided.outcome != GatewayOutcome::kApproved &&
        decided.outcome != GatewayOutcome::kDeclined) {
        return decided;
    }
    // The gateway's own id for what it approved: one per key, whichever process asked (a
    // random draw would repeat across processes that share the seed).
    if (decided.outcome == GatewayOutcome::kApproved && decided.reference.empty()) {
        decided.reference = "gw-" + std::string(operation) + "-" + key;
    }
    const std::string scoped = std::string(operation) + ":" + key;
    if (!connect_) {
        std::lock_guard lock(ledger_mutex_);
        return decided_.try_emplace(scoped, decided).first->second;
    }
    // A connection of the pool (concurrent calls commit together: the server groups their
    // WAL flushes), or a new one while fewer than kLedgerConnections are open.
    std::unique_ptr<storage::Connection> conn;
    {
        std::lock_guard lock(ledger_mutex_);
        if (!idle_.empty()) {
            conn = std::move(idle_.back());
            idle_.pop_back();
        }
    }
    if (!conn) {
        auto opened = connect_();
        if (!opened) return {GatewayOutcome::kError, "gateway_error", {}};
        conn = std::move(*opened);
    }
    const std::string outcome =
        decided.outcome == GatewayOutcome::kApproved ? "approved" : "declined";
    const Value row[] = {scoped,         std::string(operation), outcome,
                         decided.reason, decided.reference,      amount};
    // One statement: the first answer for the key (stored now, or before), and the call
    // counted (`calls`: how often the gateway was asked with the key).
    auto first = conn->Query(
        "INSERT INTO gw_ledger(idempotency_key, operation, outcome, reason, reference, amount) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO UPDATE SET calls = "
        "gw_ledger.calls + 1 RETURNING outcome, reason, reference",
        row);
    {
        std::lock_guard lock(ledger_mutex_);
        if (idle_.size() < kLedgerConnections) idle_.push_back(std::move(conn));
    }
    // A gateway that cannot reach its books fails the call (retried with backoff).
    if (!first || first->empty()) return {GatewayOutcome::kError, "gateway_error", {}};
    const storage::Row& r = first->front();
    return {r.Text(0) == "approved" ? GatewayOutcome::kApproved : GatewayOutcome::kDeclined,
            r.Text(1), r.Text(2)};
}

GatewayDecision SimulatedGateway::Authorize(const std::string& token, std::int64_t amount,
                                            const std::string& idempotency_key) {
    return Remember(idempotency_key, "authorize", amount, Decide(token, amount));
}

GatewayDecision SimulatedGateway::Decide(const std::string& token, std::int64_t amount) {
    if (options_.latency_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.latency_ms));
    }
    if (token == "tok_decline") return {GatewayOutcome::kDeclined, "card_declined", {}};
    if (token == "tok_timeout") return {GatewayOutcome::kNoAnswer, "gateway_timeout", {}};
    if (token == "tok_error") return {GatewayOutcome::kError, "gateway_error", {}};
    // A real gateway declines a token it never issued.
    if (token != "tok_visa" && token != "tok_mastercard") {
        return {GatewayOutcome::kDeclined, "invalid_token", {}};
    }
    if (amount > options_.decline_above) return {GatewayOutcome::kDeclined, "amount_limit", {}};
    if (options_.decline_rate > 0 || options_.error_rate > 0 || options_.timeout_rate > 0) {
        std::lock_guard lock(mutex_);
        // One draw split into bands: [error | timeout | decline | approve].
        const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
        if (u < options_.error_rate) return {GatewayOutcome::kError, "gateway_error", {}};
        if (u < options_.error_rate + options_.timeout_rate) {
            return {GatewayOutcome::kNoAnswer, "gateway_timeout", {}};
        }
        if (u < options_.error_rate + options_.timeout_rate + options_.decline_rate) {
            return {GatewayOutcome::kDeclined, "card_declined", {}};
        }
    }
    return {GatewayOutcome::kApproved, {}, {}};
}

GatewayDecision SimulatedGateway::Refund(const std::string& /*authorization_id*/,
                                         std::int64_t amount, const std::string& idempotency_key) {
    if (options_.latency_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.latency_ms));
    }
    if (options_.refund_error_rate > 0) {
        std::lock_guard lock(mutex_);
        if (std::uniform_real_distribution<double>(0, 1)(rng_) < options_.refund_error_rate) {
            return {GatewayOutcome::kError, "gateway_error", {}};
        }
    }
    return Remember(idempotency_key, "refund", amount, {GatewayOutcome::kApproved, {}, {}});
}

Result<std::size_t> PaymentService::CallGatewayForRefunds(messaging::Bus& bus,
                                                          storage::Connection& db) {
    auto rows = CallDue(
        db, *gateway_calls_, bus.clock().NowMillis(), options_.claim_ms, "pay_refunds", "order_id",
        "order_id, authorization_id, amount, currency, attempts, request_id, traceparent",
        [&](const storage::Row& r) { return gateway_.Refund(r.Text(1), r.Int(2), r.Text(0)); });
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return 0;
    const std::vector<GatewayDecision>& decisions = rows->decisions;
    auto done = bus.Write(db, kService, [&](storage::Connection& tx) -> Result<void> {
        for (std::size_t i = 0; i < rows->size(); ++i) {
            const auto& r = (*rows)[i];
            const std::string order = r.Text(0);
            const std::int64_t at = bus.clock().NowMillis();
            if (decisions[i].outcome != GatewayOutcome::kApproved) {
                if (auto ok = RecordGatewayError(tx, "pay_refunds", "order_id", order, r.Int(4),
                                                 options_.gateway_attempts, "refund_failed",
                                                 decisions[i].reason, at);
                    !ok) {
                    return ok;
                }
                continue;
            }
            const std::string refund = ids_.Next();
            const Value upd[] = {refund, at, order};
            if (auto ok = tx.Execute("UPDATE pay_refunds SET status = 'refunded', refund_id = ?, "
                                     "updated_ms = ? WHERE order_id = ? AND status = 'requested'",
                                     upd);
                !ok) {
                return ok;
            }
            if (tx.Changes() == 0) continue;  // answered meanwhile
            const Value pay[] = {at, r.Text(1)};
            if (auto ok = tx.Execute("UPDATE pay_payments SET status = 'refunded', updated_ms = ? "
                                     "WHERE authorization_id = ? AND status = 'captured'",
                                     pay);
                !ok) {
                return ok;
            }
            messaging::Envelope cause;
            cause.id = r.Text(5);
            cause.correlation_id = order;
            cause.traceparent = r.Text(6);
            if (auto ok =
                    bus.Publish(tx, kService, "payment-refunded", order,
                                json{{"orderId", order},
                                     {"refundId", refund},
                                     {"amount", {{"amount", r.Int(2)}, {"currency", r.Text(3)}}}},
                                &cause);
                !ok) {
                return ok;
            }
        }
        return {};
    });
    if (!done) return std::unexpected(done.error());
    return rows->size();
}

Result<void> PaymentService::Migrate(storage::Connection& db) {
    static constexpr storage::Migration kSteps[] = {{.version = 1,
                                                     .summary = "payments, refunds",
                                                     .sqlite = kSchema,
                                                     .postgresql = kPostgresSchema}};
    return storage::Migrate(db, kService, kSteps);
}

namespace {

Result<std::vector<PaymentView>> Payments(storage::Connection& db, const std::string& checkout) {
    const Value k[] = {checkout, checkout};
    auto rows = db.Query(
        "SELECT checkout_id, status, authorization_id, amount, currency, attempts FROM "
        "pay_payments WHERE (? = '' OR checkout_id = ?) ORDER BY checkout_id",
        k);
    if (!rows) return std::unexpected(rows.error());
    std::vector<PaymentView> out;
    for (const auto& r : *rows) {
        out.push_back({r.Text(0), r.Text(1), r.Text(2), r.Int(3), r.Text(4), r.Int(5)});
    }
    return out;
}

}  // namespace

Result<PaymentView> PaymentService::Get(storage::Connection& db, const std::string& checkout_id) {
    auto all = Payments(db, checkout_id);
    if (!all) return std::unexpected(all.error());
    if (checkout_id.empty() || all->empty()) {
        return MakeError(ErrorCode::kNotFound, "no payment for checkout '" + checkout_id + "'");
    }
    return all->front();
}

Result<std::vector<PaymentView>> PaymentService::List(storage::Connection& db) {
    return Payments(db, "");
}

Result<RefundView> PaymentService::GetRefund(storage::Connection& db, const std::string& order_id) {
    const Value k[] = {order_id};
    auto rows = db.Query(
        "SELECT order_id, status, amount, attempts FROM pay_refunds WHERE order_id = ?", k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty())
        return MakeError(ErrorCode::kNotFound, "no refund for order '" + order_id + "'");
    const auto& r = rows->front();
    return RefundView{r.Text(0), r.Text(1), r.Int(2), r.Int(3)};
}

Result<std::size_t> PaymentService::CallGateway(messaging::Bus& bus, storage::Connection& db) {
    auto rows = CallDue(
        db, *gateway_calls_, bus.clock().NowMillis(), options_.claim_ms, "pay_payments",
        "checkout_id", "checkout_id, amount, currency, token, attempts, request_id, traceparent",
        [&](const storage::Row& r) { return gateway_.Authorize(r.Text(3), r.Int(1), r.Text(0)); });
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return 0;
    if (options_.crash_after_gateway_call) std::_Exit(137);  // fault injection: answers lost
    const std::vector<GatewayDecision>& decisions = rows->decisions;
    // Every answer is decided and its message prepared (checked against the catalog,
    // serialized) here, on the worker's thread; the write only stores them.
    struct Answer {
        std::string checkout;
        std::string status;
        std::string authorization;
        std::optional<messaging::PreparedMessage> message;
    };
    std::vector<Answer> answers(rows->size());
    for (std::size_t i = 0; i < rows->size(); ++i) {
        const auto& r = (*rows)[i];
        const GatewayDecision& d = decisions[i];
        Answer& a = answers[i];
        a.checkout = r.Text(0);
        if (d.outcome == GatewayOutcome::kError) continue;
        if (d.outcome == GatewayOutcome::kNoAnswer) {
            a.status = "pending";  // nothing to publish until it answers
            continue;
        }
        messaging::Envelope cause;
        cause.id = r.Text(5);
        cause.correlation_id = a.checkout;
        cause.traceparent = r.Text(6);
        const bool approved = d.outcome == GatewayOutcome::kApproved;
        a.status = approved ? "authorized" : "declined";
        if (approved) a.authorization = d.reference.empty() ? ids_.Next() : d.reference;
        auto message =
            approved
                ? bus.Prepare(kService, "payment-authorized", a.checkout,
                              json{{"checkoutId", a.checkout},
                                   {"authorizationId", a.authorization},
                                   {"amount", {{"amount", r.Int(1)}, {"currency", r.Text(2)}}}},
                              &cause)
                : bus.Prepare(kService, "payment-declined", a.checkout,
                              json{{"checkoutId", a.checkout}, {"reason", d.reason}}, &cause);
        if (!message) return std::unexpected(message.error());
        a.message = std::move(*message);
    }
    auto done = bus.Write(db, kService, [&](storage::Connection& tx) -> Result<void> {
        for (std::size_t i = 0; i < rows->size(); ++i) {
            const auto& r = (*rows)[i];
            const GatewayDecision& d = decisions[i];
            const Answer& a = answers[i];
            const std::int64_t at = bus.clock().NowMillis();
            if (d.outcome == GatewayOutcome::kError) {
                // Retried by this worker with backoff; after the last attempt it stays
                // unanswered and the saga's deadline compensates.
                if (auto ok = RecordGatewayError(tx, "pay_payments", "checkout_id", a.checkout,
                                                 r.Int(4), options_.gateway_attempts,
                                                 "gateway_failed", d.reason, at);
                    !ok) {
                    return ok;
                }
                continue;
            }
            Value answer_at;
            if (d.outcome == GatewayOutcome::kNoAnswer && options_.late_answer_ms >= 0) {
                answer_at = at + options_.late_answer_ms;
            }
            const Value upd[] = {
                a.status, a.authorization.empty() ? Value{} : Value{a.authorization},
                d.reason, answer_at,
                at,       a.checkout};
            if (auto ok = tx.Execute(
                    "UPDATE pay_payments SET status = ?, authorization_id = ?, reason = ?, "
                    "answer_at = ?, updated_ms = ? WHERE checkout_id = ? AND status = 'requested'",
                    upd);
                !ok) {
                return ok;
            }
            // Another instance took the request over after our claim lapsed, and recorded
            // it (the same answer: same idempotency key): published once, by that one.
            if (tx.Changes() == 0) continue;
            if (a.message) {
                if (auto ok = bus.Publish(tx, *a.message); !ok) return ok;
            }
        }
        return {};
    });
    if (!done) return std::unexpected(done.error());
    return rows->size();
}

Result<void> PaymentService::Register(messaging::Bus& bus) {
    if (!gateway_calls_)
        gateway_calls_ = std::make_unique<TaskPool>(kGatewayCalls - 1, "acme-gateway");
    // The request is recorded in the handler's transaction; the gateway is called by the
    // worker below, outside any transaction, so its latency never holds the write lock.
    auto authorize = [](const messaging::Envelope& e, const json& data,
                        messaging::Publisher& out) -> Result<void> {
        const Value v[] = {data.at("checkoutId").get<std::string>(),
                           data.at("amount").at("amount").get<std::int64_t>(),
                           data.at("amount").at("currency").get<std::string>(),
                           data.at("paymentToken").get<std::string>(),
                           out.NowMillis(),
                           out.NowMillis(),
                           e.id,
                           e.traceparent};
        return out.db().Execute(
            "INSERT INTO pay_payments(checkout_id, status, amount, currency, token, "
            "updated_ms, next_at, request_id, traceparent) VALUES (?, 'requested', ?, ?, ?, ?, ?, "
            "?, ?) ON CONFLICT DO NOTHING",
            v);
    };
    auto void_payment = [](const messaging::Envelope& e, const json& data,
                           messaging::Publisher& out) -> Result<void> {
        json reply = json::object();
        if (data.contains("checkoutId")) reply["checkoutId"] = data.at("checkoutId");
        return VoidAuthorization(out, e.subject, data.at("authorizationId").get<std::string>(),
                                 std::move(reply));
    };
    auto capture = [](const messaging::Envelope& e, const json& data,
                      messaging::Publisher& out) -> Result<void> {
        const std::string auth = data.at("authorizationId").get<std::string>();
        const std::string order = data.at("orderId").get<std::string>();
        const Value v[] = {order, out.NowMillis(), auth};
        if (auto ok = out.db().Execute(
                "UPDATE pay_payments SET status = 'captured', order_id = ?, updated_ms = ? WHERE "
                "authorization_id = ? AND status = 'authorized'",
                v);
            !ok) {
            return ok;
        }
        if (out.db().Changes() == 0) {
            return MakeError(ErrorCode::kFailedPrecondition,
                             "authorization " + auth + " cannot be captured (not authorized)");
        }
        return out.Publish(
            "payment-captured", e.subject,
            json{{"orderId", order}, {"authorizationId", auth}, {"amount", data.at("amount")}});
    };
    auto cancelled = [](const messaging::Envelope& e, const json& data,
                        messaging::Publisher& out) -> Result<void> {
        return VoidAuthorization(out, e.subject, data.at("authorizationId").get<std::string>(),
                                 json{{"orderId", data.at("orderId")}});
    };
    // A refund is recorded here and sent to the gateway by the worker. Only a captured
    // payment is refunded, at most the captured amount; anything else is an error (retried,
    // then dead-lettered with the reason).
    auto refund = [](const messaging::Envelope& e, const json& data,
                     messaging::Publisher& out) -> Result<void> {
        const std::string order = data.at("orderId").get<std::string>();
        const std::string checkout = data.at("checkoutId").get<std::string>();
        const std::int64_t amount = data.at("amount").at("amount").get<std::int64_t>();
        const Value k[] = {checkout};
        auto paid = out.db().Query(
            "SELECT authorization_id, amount, currency, status FROM pay_payments WHERE "
            "checkout_id = ?",
            k);
        if (!paid) return std::unexpected(paid.error());
        if (paid->empty() ||
            (paid->front().Text(3) != "captured" && paid->front().Text(3) != "refunded")) {
            return MakeError(ErrorCode::kFailedPrecondition,
                             "checkout " + checkout + " has no captured payment to refund");
        }
        if (amount > paid->front().Int(1)) {
            return MakeError(ErrorCode::kInvalidArgument, "refund of " + std::to_string(amount) +
                                                              " exceeds the capture of " +
                                                              std::to_string(paid->front().Int(1)));
        }
        const Value v[] = {
            order,           checkout, paid->front().Text(0), amount,         paid->front().Text(2),
            out.NowMillis(), e.id,     e.traceparent,         out.NowMillis()};
        return out.db().Execute(
            "INSERT INTO pay_refunds(order_id, checkout_id, authorization_id, amount, "
            "currency, status, next_at, request_id, traceparent, updated_ms) VALUES (?, ?, ?, ?, "
            "?, 'requested', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            v);
    };
    for (auto [type, handler] :
         {std::pair<const char*, messaging::PayloadHandler>{"authorize-payment", authorize},
          {"refund-payment", refund},
          {"void-payment", void_payment},
          {"capture-payment", capture},
          {"shipment-cancelled", cancelled}}) {
        if (auto ok = bus.Subscribe(kService, type, messaging::WithPayload(handler)); !ok) {
            return ok;
        }
    }
    bus.AddWorker(kService, options_.tick_ms,
                  [this, &bus](storage::Connection& db) -> Result<std::size_t> {
                      auto authorized = CallGateway(bus, db);
                      if (!authorized) return authorized;
                      auto refunded = CallGatewayForRefunds(bus, db);
                      if (!refunded) return refunded;
                      return *authorized + *refunded;
                  });
    // Late gateway answers for authorizations that did not answer in time.
    bus.AddTicker(kService, options_.tick_ms, [this](messaging::Publisher& out) -> Result<void> {
        auto& db = out.db();
        const Value now[] = {out.NowMillis()};
        auto due = db.Query(
            "SELECT checkout_id, amount, currency FROM pay_payments WHERE status = 'pending' AND "
            "answer_at IS NOT NULL AND answer_at <= ? LIMIT 500",
            now);
        if (!due) return std::unexpected(due.error());
        for (const auto& r : *due) {
            const std::string auth = ids_.Next();
            const Value upd[] = {auth, out.NowMillis(), r.Text(0)};
            if (auto ok = db.Execute(
                    "UPDATE pay_payments SET status = 'authorized', authorization_id = ?, "
                    "updated_ms = ? WHERE checkout_id = ? AND status = 'pending'",
                    upd);
                !ok) {
                return ok;
            }
            if (db.Changes() == 0) continue;  // another instance's ticker answered it
            if (auto ok =
                    out.Publish("payment-authorized", r.Text(0),
                                json{{"checkoutId", r.Text(0)},
                                     {"authorizationId", auth},
                                     {"amount", {{"amount", r.Int(1)}, {"currency", r.Text(2)}}}});
                !ok) {
                return ok;
            }
        }
        return {};
    });
    return {};
}

}  // namespace acme::payments
