#include "ordering/order_service.hpp"

#include "messaging/payload.hpp"

namespace acme::ordering {

namespace {

using nlohmann::json;
using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ord_cancellations (
    order_id TEXT PRIMARY KEY, requested_ms INTEGER NOT NULL
) WITHOUT ROWID;
-- A customer's cancel or return request, accepted once: the first request of a kind wins,
-- in parallel as in sequence (a repeat is a 409 with the order's status).
CREATE TABLE IF NOT EXISTS ord_customer_requests (
    order_id TEXT NOT NULL, kind TEXT NOT NULL, requested_ms INTEGER NOT NULL,
    PRIMARY KEY (order_id, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ord_orders (
    id TEXT PRIMARY KEY, checkout_id TEXT NOT NULL UNIQUE, customer_id TEXT NOT NULL,
    status TEXT NOT NULL, items TEXT NOT NULL, total INTEGER NOT NULL, currency TEXT NOT NULL,
    reservation_id TEXT NOT NULL, authorization_id TEXT NOT NULL, created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
)sql";
// The same tables on PostgreSQL: 64-bit integers (SQLite's INTEGER), heap tables.
constexpr const char* kPostgresSchema = R"sql(
CREATE TABLE IF NOT EXISTS ord_cancellations (
    order_id TEXT PRIMARY KEY, requested_ms BIGINT NOT NULL
);
-- A customer's cancel or return request, accepted once: the first request of a kind wins,
-- in parallel as in sequence (a repeat is a 409 with the order's status).
CREATE TABLE IF NOT EXISTS ord_customer_requests (
    order_id TEXT NOT NULL, kind TEXT NOT NULL, requested_ms BIGINT NOT NULL,
    PRIMARY KEY (order_id, kind)
);
CREATE TABLE IF NOT EXISTS ord_orders (
    id TEXT PRIMARY KEY, checkout_id TEXT NOT NULL UNIQUE, customer_id TEXT NOT NULL,
    status TEXT NOT NULL, items TEXT NOT NULL, total BIGINT NOT NULL, currency TEXT NOT NULL,
    reservation_id TEXT NOT NULL, authorization_id TEXT NOT NULL, created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
)sql";

// Whether a checkout gets an order, decided once by whichever of create-order and
// abandon-order inserts first ('order' or 'abandoned'); orders from before the table have
// theirs.
constexpr const char* kDecisions = R"sql(
CREATE TABLE IF NOT EXISTS ord_checkout_decisions (
    checkout_id TEXT PRIMARY KEY, decision TEXT NOT NULL, decided_ms BIGINT NOT NULL
);
INSERT INTO ord_checkout_decisions(checkout_id, decision, decided_ms)
    SELECT checkout_id, 'order', created_ms FROM ord_orders WHERE true
    ON CONFLICT (checkout_id) DO NOTHING;
)sql";

// Claims the decision for `checkout`: true when this call made it, false when it was made
// before (read it with Decision).
Result<bool> Decide(storage::Connection& tx, const std::string& checkout, const char* decision,
                    std::int64_t now) {
    const Value v[] = {checkout, std::string(decision), now};
    if (auto ok = tx.Execute(
            "INSERT INTO ord_checkout_decisions(checkout_id, decision, decided_ms) VALUES (?, ?, "
            "?) ON CONFLICT (checkout_id) DO NOTHING",
            v);
        !ok) {
        return std::unexpected(ok.error());
    }
    return tx.Changes() != 0;
}

Result<std::string> Decision(storage::Connection& tx, const std::string& checkout) {
    const Value v[] = {checkout};
    auto rows = tx.Query("SELECT decision FROM ord_checkout_decisions WHERE checkout_id = ?", v);
    if (!rows) return std::unexpected(rows.error());
    return rows->empty() ? std::string() : rows->front().Text(0);
}

}  // namespace

Result<void> OrderService::Migrate(storage::Connection& db) {
    static constexpr storage::Migration kSteps[] = {
        {.version = 1,
         .summary = "orders, cancellations, customer requests",
         .sqlite = kSchema,
         .postgresql = kPostgresSchema},
        {.version = 2,
         .summary = "one decision per checkout: an order, or abandoned past the saga's deadline",
         .sqlite = kDecisions,
         .postgresql = kDecisions}};
    return storage::Migrate(db, kService, kSteps);
}

Result<OrderView> OrderService::Get(storage::Connection& db, const std::string& id) {
    const Value k[] = {id};
    auto rows = db.Query(
        "SELECT id, checkout_id, customer_id, status, items, total, currency FROM ord_orders WHERE "
        "id = ?",
        k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return MakeError(ErrorCode::kNotFound, "no order '" + id + "'");
    const auto& r = rows->front();
    return OrderView{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4), r.Int(5), r.Text(6)};
}

Result<std::vector<OrderView>> OrderService::List(storage::Connection& db) {
    auto rows = db.Query(
        "SELECT id, checkout_id, customer_id, status, items, total, currency FROM ord_orders "
        "ORDER BY created_ms, id");
    if (!rows) return std::unexpected(rows.error());
    std::vector<OrderView> out;
    for (const auto& r : *rows) {
        out.push_back({r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4), r.Int(5), r.Text(6)});
    }
    return out;
}

namespace {

// Records the first customer request of `kind` for an order; kConflict, naming the order's
// status, for every later one. One insert on the writer decides, so parallel and sequential
// repeats get the same answer.
Result<void> ClaimRequest(storage::Connection& tx, const Clock& clock, const std::string& order_id,
                          const char* kind, const std::string& status) {
    const Value v[] = {order_id, std::string(kind), clock.NowMillis()};
    if (auto ok = tx.Execute(
            "INSERT INTO ord_customer_requests(order_id, kind, requested_ms) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            v);
        !ok) {
        return ok;
    }
    if (tx.Changes() != 0) return {};
    return MakeError(ErrorCode::kConflict, std::string("a ") + kind + " of order '" + order_id +
                                               "' was requested already; the order is " + status);
}

}  // namespace

Result<OrderView> OrderService::RequestCancel(storage::Connection& db, messaging::Bus& bus,
                                              const std::string& id) {
    OrderView view;
    auto done = bus.Write(db, "storefront", [&](storage::Connection& tx) -> Result<void> {
        auto order = Get(tx, id);
        if (!order) return std::unexpected(order.error());
        if (order->status != "created" && order->status != "picked" && order->status != "packed") {
            return MakeError(ErrorCode::kConflict,
                             "order '" + id + "' is " + order->status + " and cannot be cancelled");
        }
        view = *order;
        if (auto first = ClaimRequest(tx, bus.clock(), id, "cancel", order->status); !first)
            return first;
        return bus.Publish(tx, "storefront", "cancel-order", id,
                           json{{"orderId", id}, {"reason", "customer_request"}});
    });
    if (!done) return std::unexpected(done.error());
    return view;
}

Result<OrderView> OrderService::RequestReturn(storage::Connection& db, messaging::Bus& bus,
                                              const std::string& id) {
    OrderView view;
    auto done = bus.Write(db, "storefront", [&](storage::Connection& tx) -> Result<void> {
        auto order = Get(tx, id);
        if (!order) return std::unexpected(order.error());
        view = *order;
        if (order->status != "completed") {
            return MakeError(ErrorCode::kConflict, "order '" + id + "' is " + order->status +
                                                       ": only a completed order can be returned");
        }
        if (auto first = ClaimRequest(tx, bus.clock(), id, "return", order->status); !first)
            return first;
        return bus.Publish(tx, "storefront", "return-order", id,
                           json{{"orderId", id}, {"reason", "customer_return"}});
    });
    if (!done) return std::unexpected(done.error());
    return view;
}

Result<void> OrderService::Register(messaging::Bus& bus) {
    using messaging::Envelope;
    using messaging::Publisher;
    auto create = [this](const Envelope& e, const json& data, Publisher& out) -> Result<void> {
        const std::string checkout = data.at("checkoutId").get<std::string>();
        const std::string customer = data.at("customerId").get<std::string>();
        if (!faults_.fail_customer_prefix.empty() &&
            customer.starts_with(faults_.fail_customer_prefix)) {
            return out.Publish("order-creation-failed", e.subject,
                               json{{"checkoutId", checkout}, {"reason", "order_store_rejected"}});
        }
        // One decision per checkout: a checkout the saga abandoned gets no order (it was
        // answered order-creation-failed then), whenever its create-order is handled.
        auto decided = Decide(out.db(), checkout, "order", out.NowMillis());
        if (!decided) return std::unexpected(decided.error());
        if (!*decided) {
            auto decision = Decision(out.db(), checkout);
            if (!decision) return std::unexpected(decision.error());
            if (*decision != "order") return {};
        }
        // One order per checkout, whoever writes first: a second command finds the key taken.
        const std::string id = ids_.Next();
        const Value v[] = {id,
                           checkout,
                           customer,
                           data.at("items").dump(),
                           data.at("total").at("amount").get<std::int64_t>(),
                           data.at("total").at("currency").get<std::string>(),
                           data.at("reservationId").get<std::string>(),
                           data.at("authorizationId").get<std::string>(),
                           out.NowMillis(),
                           out.NowMillis()};
        if (auto ok = out.db().Execute(
                "INSERT INTO ord_orders(id, checkout_id, customer_id, status, items, total, "
                "currency, reservation_id, authorization_id, created_ms, updated_ms) VALUES "
                "(?,?,?,'created',?,?,?,?,?,?,?) ON CONFLICT (checkout_id) DO NOTHING",
                v);
            !ok) {
            return ok;
        }
        if (out.db().Changes() == 0) return {};  // created before
        json created = data;
        created.erase("cartId");
        created["orderId"] = id;
        return out.Publish("order-created", id, created);
    };
    auto set_status = [](Publisher& out, const std::string& id, const std::string& status,
                         const char* only_from) -> Result<bool> {
        const Value v[] = {status, out.NowMillis(), id};
        const std::string sql =
            std::string("UPDATE ord_orders SET status = ?, updated_ms = ? WHERE id = ?") +
            " AND status IN (" + only_from + ")";
        if (auto ok = out.db().Execute(sql, v); !ok) return std::unexpected(ok.error());
        return out.db().Changes() > 0;
    };
    // A cancellation is a request until the warehouse confirms it (shipment-cancelled): the
    // order keeps its status meanwhile, and ships if the parcel had already left.
    auto cancel = [](const Envelope&, const json& data, Publisher& out) -> Result<void> {
        const std::string id = data.at("orderId").get<std::string>();
        auto order = Get(out.db(), id);
        if (!order)
            return order.error().code == ErrorCode::kNotFound ? Result<void>()
                                                              : std::unexpected(order.error());
        if (order->status != "created" && order->status != "picked" && order->status != "packed") {
            return {};  // shipped meanwhile: too late to cancel
        }
        const Value req[] = {id, out.NowMillis()};
        if (auto ok = out.db().Execute("INSERT INTO ord_cancellations(order_id, requested_ms) "
                                       "VALUES (?, ?) ON CONFLICT DO NOTHING",
                                       req);
            !ok) {
            return ok;
        }
        if (out.db().Changes() == 0) return {};  // requested before
        const Value k[] = {id};
        auto ids = out.db().Query(
            "SELECT reservation_id, authorization_id FROM ord_orders WHERE id = ?", k);
        if (!ids) return std::unexpected(ids.error());
        return out.Publish("order-cancelled", id,
                           json{{"orderId", id},
                                {"checkoutId", order->checkout_id},
                                {"reservationId", ids->front().Text(0)},
                                {"authorizationId", ids->front().Text(1)},
                                {"reason", data.value("reason", "cancelled")}});
    };
    auto stopped = [set_status](const Envelope&, const json& data, Publisher& out) -> Result<void> {
        auto changed = set_status(out, data.at("orderId").get<std::string>(), "cancelled",
                                  "'created','picked','packed'");
        if (!changed) return std::unexpected(changed.error());
        return {};
    };
    auto progress = [set_status](const char* status, const char* from) {
        return [=](const Envelope&, const json& data, Publisher& out) -> Result<void> {
            auto changed = set_status(out, data.at("orderId").get<std::string>(), status, from);
            if (!changed) return std::unexpected(changed.error());
            return {};
        };
    };
    auto captured = [set_status](const Envelope&, const json& data,
                                 Publisher& out) -> Result<void> {
        const std::string id = data.at("orderId").get<std::string>();
        auto changed = set_status(out, id, "completed", "'shipped'");
        if (!changed) return std::unexpected(changed.error());
        if (!*changed) {
            // Capture can overtake order-shipped on another path; wait for it via retry.
            auto order = Get(out.db(), id);
            if (!order) return std::unexpected(order.error());
            if (order->status == "completed") return {};
            return MakeError(ErrorCode::kFailedPrecondition,
                             "order " + id + " is " + order->status + ", not shipped yet");
        }
        const Value k[] = {id};
        auto rows =
            out.db().Query("SELECT checkout_id, reservation_id FROM ord_orders WHERE id = ?", k);
        if (!rows) return std::unexpected(rows.error());
        return out.Publish("order-completed", id,
                           json{{"orderId", id},
                                {"checkoutId", rows->front().Text(0)},
                                {"reservationId", rows->front().Text(1)},
                                {"completedAt", FormatTime(out.NowMillis())}});
    };
    // A return: the completed order becomes `returned` (once) and its capture is refunded.
    auto returned = [set_status](const Envelope&, const json& data,
                                 Publisher& out) -> Result<void> {
        const std::string id = data.at("orderId").get<std::string>();
        auto changed = set_status(out, id, "returned", "'completed'");
        if (!changed) return std::unexpected(changed.error());
        if (!*changed) return {};  // returned before, or not completed: nothing to refund
        auto order = Get(out.db(), id);
        if (!order) return std::unexpected(order.error());
        return out.Publish(
            "refund-payment", id,
            json{{"orderId", id},
                 {"checkoutId", order->checkout_id},
                 {"amount", {{"amount", order->total}, {"currency", order->currency}}},
                 {"reason", data.value("reason", "returned")}});
    };
    auto refunded = [set_status](const Envelope&, const json& data,
                                 Publisher& out) -> Result<void> {
        auto changed =
            set_status(out, data.at("orderId").get<std::string>(), "refunded", "'returned'");
        if (!changed) return std::unexpected(changed.error());
        return {};
    };
    // The saga's deadline for the order passed: no order unless one was created already, in
    // which case its order-created is on its way and the saga completes with it.
    auto abandon = [](const Envelope& e, const json& data, Publisher& out) -> Result<void> {
        const std::string checkout = data.at("checkoutId").get<std::string>();
        auto decided = Decide(out.db(), checkout, "abandoned", out.NowMillis());
        if (!decided) return std::unexpected(decided.error());
        if (!*decided) return {};
        return out.Publish("order-creation-failed", e.subject,
                           json{{"checkoutId", checkout},
                                {"reason", data.value("reason", std::string("abandoned"))}});
    };
    const std::pair<const char*, messaging::PayloadHandler> handlers[] = {
        {"abandon-order", abandon},
        {"return-order", returned},
        {"payment-refunded", refunded},
        {"create-order", create},
        {"cancel-order", cancel},
        {"order-picked", progress("picked", "'created'")},
        {"order-packed", progress("packed", "'created','picked'")},
        {"order-shipped", progress("shipped", "'created','picked','packed'")},
        {"payment-captured", captured},
        {"shipment-cancelled", stopped}};
    for (const auto& [type, handler] : handlers) {
        if (auto ok = bus.Subscribe(kService, type, messaging::WithPayload(handler)); !ok) {
            return ok;
        }
    }
    return RegisterQueries(bus);
}

Result<void> OrderService::RegisterQueries(messaging::Bus& bus) {
    // The get-order query: {orderId} -> the order.
    return bus.Answer(kService, "get-order",
                      [](storage::Connection& db, const json& req) -> Result<json> {
                          auto o = Get(db, req.at("orderId").get<std::string>());
                          if (!o) return std::unexpected(o.error());
                          return json{{"id", o->id},
                                      {"checkoutId", o->checkout_id},
                                      {"customerId", o->customer_id},
                                      {"status", o->status},
                                      {"items", json::parse(o->items_json, nullptr, false)},
                                      {"total", o->total},
                                      {"currency", o->currency}};
                      });
}

}  // namespace acme::ordering
