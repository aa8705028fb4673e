#include "payments/payment_service.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

namespace acme::payments {

namespace {

using nlohmann::json;
using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS pay_payments (
    checkout_id TEXT PRIMARY KEY, authorization_id TEXT UNIQUE, status TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, token TEXT NOT NULL, reason TEXT,
    answer_at INTEGER, order_id TEXT, updated_ms INTEGER NOT NULL
);
)sql";

Result<json> Parse(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return MakeError(ErrorCode::kInvalidArgument, "payload is not json");
    return j;
}

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
    return out.Publish("payment-voided", subject, reply.dump());
}

}  // namespace

SimulatedGateway::SimulatedGateway(SimulatedGatewayOptions options)
    : options_(options), rng_(options.seed) {}

GatewayDecision SimulatedGateway::Authorize(const std::string& token, std::int64_t amount) {
    if (options_.latency_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.latency_ms));
    }
    if (token == "tok_decline") return {GatewayOutcome::kDeclined, "card_declined"};
    if (token == "tok_timeout") return {GatewayOutcome::kNoAnswer, "gateway_timeout"};
    if (token == "tok_error") return {GatewayOutcome::kError, "gateway_error"};
    if (amount > options_.decline_above) return {GatewayOutcome::kDeclined, "amount_limit"};
    if (options_.decline_rate > 0 || options_.error_rate > 0 || options_.timeout_rate > 0) {
        std::lock_guard lock(mutex_);
        // One draw split into bands: [error | timeout | decline | approve].
        const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
        if (u < options_.error_rate) return {GatewayOutcome::kError, "gateway_error"};
        if (u < options_.error_rate + options_.timeout_rate) {
            return {GatewayOutcome::kNoAnswer, "gateway_timeout"};
        }
        if (u < options_.error_rate + options_.timeout_rate + options_.decline_rate) {
            return {GatewayOutcome::kDeclined, "card_declined"};
        }
    }
    return {GatewayOutcome::kApproved, {}};
}

Result<void> PaymentService::Migrate(storage::Connection& db) { return db.ExecuteScript(kSchema); }

Result<void> PaymentService::Register(messaging::Bus& bus) {
    auto authorize = [this](const messaging::Envelope& e,
                            messaging::Publisher& out) -> Result<void> {
        auto data = Parse(e.data);
        if (!data) return std::unexpected(data.error());
        const std::string checkout = data->at("checkoutId").get<std::string>();
        const std::int64_t amount = data->at("amount").at("amount").get<std::int64_t>();
        const std::string currency = data->at("amount").at("currency").get<std::string>();
        const std::string token = data->at("paymentToken").get<std::string>();
        auto& db = out.db();
        const Value ck[] = {checkout};
        auto existing = db.Query("SELECT status FROM pay_payments WHERE checkout_id = ?", ck);
        if (!existing) return std::unexpected(existing.error());
        if (!existing->empty()) return {};  // answered already
        const GatewayDecision d = gateway_.Authorize(token, amount);
        if (d.outcome == GatewayOutcome::kError) {
            return MakeError(ErrorCode::kUnavailable, "payment gateway error: " + d.reason);
        }
        std::string status = "authorized";
        std::string auth_id;
        Value answer_at;
        if (d.outcome == GatewayOutcome::kDeclined) status = "declined";
        if (d.outcome == GatewayOutcome::kNoAnswer) {
            status = "pending";
            if (options_.late_answer_ms >= 0) answer_at = out.NowMillis() + options_.late_answer_ms;
        }
        if (status == "authorized") auth_id = ids_.Next();
        const Value ins[] = {checkout,       auth_id.empty() ? Value{} : Value{auth_id},
                             status,         amount,
                             currency,       token,
                             d.reason,       answer_at,
                             out.NowMillis()};
        if (auto ok = db.Execute(
                "INSERT INTO pay_payments(checkout_id, authorization_id, status, amount, currency, "
                "token, reason, answer_at, updated_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                ins);
            !ok) {
            return ok;
        }
        if (status == "authorized") {
            return out.Publish("payment-authorized", e.subject,
                               json{{"checkoutId", checkout},
                                    {"authorizationId", auth_id},
                                    {"amount", data->at("amount")}}
                                   .dump());
        }
        if (status == "declined") {
            return out.Publish("payment-declined", e.subject,
                               json{{"checkoutId", checkout}, {"reason", d.reason}}.dump());
        }
        return {};  // no answer: the saga's deadline decides
    };
    auto void_payment = [](const messaging::Envelope& e,
                           messaging::Publisher& out) -> Result<void> {
        auto data = Parse(e.data);
        if (!data) return std::unexpected(data.error());
        json reply = json::object();
        if (data->contains("checkoutId")) reply["checkoutId"] = data->at("checkoutId");
        return VoidAuthorization(out, e.subject, data->at("authorizationId").get<std::string>(),
                                 std::move(reply));
    };
    auto capture = [](const messaging::Envelope& e, messaging::Publisher& out) -> Result<void> {
        auto data = Parse(e.data);
        if (!data) return std::unexpected(data.error());
        const std::string auth = data->at("authorizationId").get<std::string>();
        const std::string order = data->at("orderId").get<std::string>();
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
            json{{"orderId", order}, {"authorizationId", auth}, {"amount", data->at("amount")}}
                .dump());
    };
    auto cancelled = [](const messaging::Envelope& e, messaging::Publisher& out) -> Result<void> {
        auto data = Parse(e.data);
        if (!data) return std::unexpected(data.error());
        return VoidAuthorization(out, e.subject, data->at("authorizationId").get<std::string>(),
                                 json{{"orderId", data->at("orderId")}});
    };
    for (auto [type, handler] :
         {std::pair<const char*, messaging::Handler>{"authorize-payment", authorize},
          {"void-payment", void_payment},
          {"capture-payment", capture},
          {"shipment-cancelled", cancelled}}) {
        if (auto ok = bus.Subscribe(kService, type, handler); !ok) return ok;
    }
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
                    "updated_ms = ? WHERE checkout_id = ?",
                    upd);
                !ok) {
                return ok;
            }
            if (auto ok =
                    out.Publish("payment-authorized", r.Text(0),
                                json{{"checkoutId", r.Text(0)},
                                     {"authorizationId", auth},
                                     {"amount", {{"amount", r.Int(1)}, {"currency", r.Text(2)}}}}
                                    .dump());
                !ok) {
                return ok;
            }
        }
        return {};
    });
    return {};
}

}  // namespace acme::payments
