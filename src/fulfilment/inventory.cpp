#include "fulfilment/inventory.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "messaging/payload.hpp"

namespace acme::fulfilment {

namespace {

using nlohmann::json;
using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS inv_stock (
    sku TEXT PRIMARY KEY, on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved INTEGER NOT NULL CHECK (reserved >= 0), initial INTEGER NOT NULL,
    CHECK (reserved <= on_hand)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inv_reservations (
    id TEXT PRIMARY KEY, checkout_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    items TEXT NOT NULL, updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Sums quantities per SKU of `items` ([{sku, quantity}, ...]).
std::map<std::string, std::int64_t> Quantities(const json& items) {
    std::map<std::string, std::int64_t> out;
    for (const auto& i : items)
        out[i.at("sku").get<std::string>()] += i.at("quantity").get<std::int64_t>();
    return out;
}

// The payload parser shared by every service (the publisher's value when it has it).
using messaging::ParsePayload;

// Releases a held reservation (by id or checkout); returns its checkout id, publishing
// inventory-released either way so a compensation can always finish.
Result<void> Release(messaging::Publisher& out, const std::string& reservation_id,
                     const std::string& checkout_id, const std::string& subject) {
    auto& db = out.db();
    const Value key[] = {reservation_id};
    auto rows =
        db.Query("SELECT status, items, checkout_id FROM inv_reservations WHERE id = ?", key);
    if (!rows) return std::unexpected(rows.error());
    std::string checkout = checkout_id;
    if (!rows->empty() && rows->front().Text(0) == "held") {
        auto items = ParsePayload(rows->front().Text(1));
        if (!items) return std::unexpected(items.error());
        for (const auto& [sku, qty] : Quantities(*items)) {
            const Value v[] = {qty, sku};
            if (auto ok =
                    db.Execute("UPDATE inv_stock SET reserved = reserved - ? WHERE sku = ?", v);
                !ok) {
                return ok;
            }
        }
        const Value upd[] = {out.NowMillis(), reservation_id};
        if (auto ok = db.Execute(
                "UPDATE inv_reservations SET status = 'released', updated_ms = ? WHERE id = ?",
                upd);
            !ok) {
            return ok;
        }
    }
    if (!rows->empty()) checkout = rows->front().Text(2);
    json data = {{"reservationId", reservation_id}};
    if (!checkout.empty()) data["checkoutId"] = checkout;
    return out.Publish("inventory-released", subject, data);
}

}  // namespace

Result<void> InventoryService::Migrate(storage::Connection& db) {
    return db.ExecuteScript(kSchema);
}

Result<void> InventoryService::Seed(storage::Connection& db, const std::vector<StockLevel>& stock) {
    return storage::InTransaction(db, [&]() -> Result<void> {
        for (const StockLevel& s : stock) {
            const Value v[] = {s.sku, s.on_hand, s.on_hand};
            if (auto ok = db.Execute("INSERT INTO inv_stock(sku, on_hand, reserved, "
                                     "initial) VALUES (?, ?, 0, ?) ON CONFLICT DO NOTHING",
                                     v);
                !ok) {
                return ok;
            }
        }
        return {};
    });
}

Result<std::vector<StockLevel>> InventoryService::Stock(storage::Connection& db) {
    auto rows = db.Query("SELECT sku, on_hand, reserved, initial FROM inv_stock ORDER BY sku");
    if (!rows) return std::unexpected(rows.error());
    std::vector<StockLevel> out;
    for (const auto& r : *rows) out.push_back({r.Text(0), r.Int(1), r.Int(2), r.Int(3)});
    return out;
}

Result<void> InventoryService::Register(messaging::Bus& bus) {
    auto reserve = [this](const messaging::Envelope& e, messaging::Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        const std::string checkout = data.at("checkoutId").get<std::string>();
        auto& db = out.db();
        const Value ck[] = {checkout};
        auto existing =
            db.Query("SELECT id, status FROM inv_reservations WHERE checkout_id = ?", ck);
        if (!existing) return std::unexpected(existing.error());
        if (!existing->empty()) return {};  // a redelivered command: answered already
        const auto wanted = Quantities(data.at("items"));
        json unavailable = json::array();
        for (const auto& [sku, qty] : wanted) {
            const Value k[] = {sku};
            auto row = db.Query("SELECT on_hand - reserved FROM inv_stock WHERE sku = ?", k);
            if (!row) return std::unexpected(row.error());
            if (row->empty() || row->front().Int(0) < qty) unavailable.push_back(sku);
        }
        if (!unavailable.empty()) {
            return out.Publish("inventory-reservation-failed", e.subject,
                               json{{"checkoutId", checkout},
                                    {"reason", "out_of_stock"},
                                    {"unavailableSkus", unavailable}});
        }
        for (const auto& [sku, qty] : wanted) {
            const Value v[] = {qty, sku};
            if (auto ok =
                    db.Execute("UPDATE inv_stock SET reserved = reserved + ? WHERE sku = ?", v);
                !ok) {
                return ok;
            }
        }
        const std::string id = ids_.Next();
        const Value ins[] = {id, checkout, data.at("items").dump(), out.NowMillis()};
        if (auto ok = db.Execute(
                "INSERT INTO inv_reservations(id, checkout_id, status, items, updated_ms) VALUES "
                "(?, ?, 'held', ?, ?)",
                ins);
            !ok) {
            return ok;
        }
        return out.Publish(
            "inventory-reserved", e.subject,
            json{{"checkoutId", checkout}, {"reservationId", id}, {"items", data.at("items")}});
    };
    auto release = [](const messaging::Envelope& e, messaging::Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        return Release(out, data.at("reservationId").get<std::string>(),
                       data.value("checkoutId", ""), e.subject);
    };
    auto cancelled = [](const messaging::Envelope& e, messaging::Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        return Release(out, data.at("reservationId").get<std::string>(),
                       data.value("checkoutId", ""), e.subject);
    };
    auto completed = [](const messaging::Envelope& e, messaging::Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        auto& db = out.db();
        const Value key[] = {data.at("reservationId").get<std::string>()};
        auto rows = db.Query("SELECT status, items FROM inv_reservations WHERE id = ?", key);
        if (!rows) return std::unexpected(rows.error());
        if (rows->empty() || rows->front().Text(0) != "held") return {};
        auto items = ParsePayload(rows->front().Text(1));
        if (!items) return std::unexpected(items.error());
        for (const auto& [sku, qty] : Quantities(*items)) {
            const Value v[] = {qty, qty, sku};
            if (auto ok = db.Execute("UPDATE inv_stock SET on_hand = on_hand - ?, reserved = "
                                     "reserved - ? WHERE sku = ?",
                                     v);
                !ok) {
                return ok;
            }
        }
        const Value upd[] = {out.NowMillis(), data.at("reservationId").get<std::string>()};
        return db.Execute(
            "UPDATE inv_reservations SET status = 'committed', updated_ms = ? WHERE id = ?", upd);
    };
    for (auto [type, handler] :
         {std::pair<const char*, messaging::Handler>{"reserve-inventory", reserve},
          {"release-inventory", release},
          {"shipment-cancelled", cancelled},
          {"order-completed", completed}}) {
        if (auto ok = bus.Subscribe(kService, type, handler); !ok) return ok;
    }
    return {};
}

}  // namespace acme::fulfilment
