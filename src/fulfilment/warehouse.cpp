#include "fulfilment/warehouse.hpp"

#include <nlohmann/json.hpp>

#include "messaging/payload.hpp"

namespace acme::fulfilment {

namespace {

using nlohmann::json;
using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS wh_shipments (
    order_id TEXT PRIMARY KEY, state TEXT NOT NULL, next_at INTEGER NOT NULL,
    authorization_id TEXT NOT NULL, amount TEXT NOT NULL, tracking TEXT
) WITHOUT ROWID;
)sql";
// The same tables on PostgreSQL: 64-bit integers (SQLite's INTEGER), heap tables.
constexpr const char* kPostgresSchema = R"sql(
CREATE TABLE IF NOT EXISTS wh_shipments (
    order_id TEXT PRIMARY KEY, state TEXT NOT NULL, next_at BIGINT NOT NULL,
    authorization_id TEXT NOT NULL, amount TEXT NOT NULL, tracking TEXT
);
)sql";

}  // namespace

Result<void> WarehouseService::Migrate(storage::Connection& db) {
    static constexpr storage::Migration kSteps[] = {
        {.version = 1, .summary = "shipments", .sqlite = kSchema, .postgresql = kPostgresSchema}};
    return storage::Migrate(db, kService, kSteps);
}

Result<std::string> WarehouseService::ShipmentState(storage::Connection& db,
                                                    const std::string& order_id) {
    const Value k[] = {order_id};
    auto rows = db.Query("SELECT state FROM wh_shipments WHERE order_id = ?", k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return MakeError(ErrorCode::kNotFound, "no shipment for '" + order_id + "'");
    return rows->front().Text(0);
}

Result<void> WarehouseService::Register(messaging::Bus& bus) {
    auto created = [this](const messaging::Envelope&, const json& data,
                          messaging::Publisher& out) -> Result<void> {
        const Value v[] = {data.at("orderId").get<std::string>(),
                           out.NowMillis() + schedule_.pick_ms,
                           data.at("authorizationId").get<std::string>(), data.at("total").dump()};
        return out.db().Execute(
            "INSERT INTO wh_shipments(order_id, state, next_at, authorization_id, "
            "amount) "
            "VALUES (?, 'queued', ?, ?, ?) ON CONFLICT DO NOTHING",
            v);
    };
    // The warehouse decides a cancellation: only it knows whether the parcel has left.
    auto cancelled = [](const messaging::Envelope&, const json& data,
                        messaging::Publisher& out) -> Result<void> {
        const std::string order = data.at("orderId").get<std::string>();
        const Value v[] = {order};
        if (auto ok = out.db().Execute(
                "UPDATE wh_shipments SET state = 'cancelled' WHERE order_id = ? AND state IN "
                "('queued', 'picked', 'packed')",
                v);
            !ok) {
            return ok;
        }
        if (out.db().Changes() == 0) return {};  // shipped already (or unknown): too late
        json stopped = {{"orderId", order},
                        {"reservationId", data.at("reservationId")},
                        {"authorizationId", data.at("authorizationId")},
                        {"reason", data.value("reason", "cancelled")}};
        if (data.contains("checkoutId")) stopped["checkoutId"] = data.at("checkoutId");
        return out.Publish("shipment-cancelled", order, stopped);
    };
    if (auto ok = bus.Subscribe(kService, "order-created", messaging::WithPayload(created)); !ok)
        return ok;
    if (auto ok = bus.Subscribe(kService, "order-cancelled", messaging::WithPayload(cancelled));
        !ok)
        return ok;
    bus.AddTicker(kService, schedule_.tick_ms, [this](messaging::Publisher& out) -> Result<void> {
        auto& db = out.db();
        const Value now[] = {out.NowMillis()};
        auto due = db.Query(
            "SELECT order_id, state, authorization_id, amount FROM wh_shipments WHERE next_at <= ? "
            "AND state IN ('queued', 'picked', 'packed') ORDER BY next_at LIMIT 500",
            now);
        if (!due) return std::unexpected(due.error());
        for (const auto& r : *due) {
            const std::string order = r.Text(0);
            const std::string state = r.Text(1);
            const bool shipping = state == "packed";
            const std::string next = state == "queued" ? "picked" : shipping ? "shipped" : "packed";
            const std::int64_t delay = state == "queued"   ? schedule_.pack_ms
                                       : state == "picked" ? schedule_.ship_ms
                                                           : 0;
            // The step moves first and only from the state read: a cancellation or another
            // ticker that got there meanwhile wins, and this one publishes nothing.
            const Value upd[] = {next, out.NowMillis() + delay, order, state};
            if (auto ok = db.Execute(
                    "UPDATE wh_shipments SET state = ?, next_at = ? WHERE order_id = ? AND state "
                    "= ?",
                    upd);
                !ok) {
                return ok;
            }
            if (db.Changes() == 0) continue;
            if (!shipping) {
                if (auto ok = out.Publish("order-" + next, order, json{{"orderId", order}}); !ok)
                    return ok;
                continue;
            }
            const std::string tracking =
                "TRK-" + (order.size() > 12 ? order.substr(order.size() - 12) : order);
            if (auto ok = out.Publish("order-shipped", order,
                                      json{{"orderId", order}, {"trackingNumber", tracking}});
                !ok)
                return ok;
            if (auto ok = out.Publish("capture-payment", order,
                                      json{{"orderId", order},
                                           {"authorizationId", r.Text(2)},
                                           {"amount", json::parse(r.Text(3))}});
                !ok)
                return ok;
        }
        return {};
    });
    return {};
}

}  // namespace acme::fulfilment
