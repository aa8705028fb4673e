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
// The same tables on PostgreSQL: 64-bit integers (SQLite's INTEGER), heap tables.
constexpr const char* kPostgresSchema = R"sql(
CREATE TABLE IF NOT EXISTS inv_stock (
    sku TEXT PRIMARY KEY, on_hand BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved BIGINT NOT NULL CHECK (reserved >= 0), initial BIGINT NOT NULL,
    CHECK (reserved <= on_hand)
);
CREATE TABLE IF NOT EXISTS inv_reservations (
    id TEXT PRIMARY KEY, checkout_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    items TEXT NOT NULL, updated_ms BIGINT NOT NULL
);
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

// Moves reservation `id` from held to `status`; false when it was not held (any more).
Result<bool> MoveStatus(storage::Connection& db, const std::string& id, const char* status,
                        std::int64_t now_ms) {
    const Value upd[] = {std::string(status), now_ms, id};
    if (auto ok = db.Execute(
            "UPDATE inv_reservations SET status = ?, updated_ms = ? WHERE id = ? AND status = "
            "'held'",
            upd);
        !ok) {
        return std::unexpected(ok.error());
    }
    return db.Changes() == 1;
}

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
        // The status moves first and only from held: of two concurrent releases (or a release
        // and a commit) one changes the row, and only that one gives the stock back.
        if (auto moved = MoveStatus(db, reservation_id, "released", out.NowMillis()); !moved) {
            return std::unexpected(moved.error());
        } else if (*moved) {
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
        }
    }
    if (!rows->empty()) checkout = rows->front().Text(2);
    json data = {{"reservationId", reservation_id}};
    if (!checkout.empty()) data["checkoutId"] = checkout;
    return out.Publish("inventory-released", subject, data);
}

}  // namespace

Result<void> InventoryService::Migrate(storage::Connection& db) {
    static constexpr storage::Migration kSteps[] = {{.version = 1,
                                                     .summary = "stock, reservations",
                                                     .sqlite = kSchema,
                                                     .postgresql = kPostgresSchema}};
    return storage::Migrate(db, kService, kSteps);
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

Result<ReservationView> InventoryService::ReservationFor(storage::Connection& db,
                                                         const std::string& checkout_id) {
    const Value k[] = {checkout_id};
    auto rows =
        db.Query("SELECT id, checkout_id, status FROM inv_reservations WHERE checkout_id = ?", k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) {
        return MakeError(ErrorCode::kNotFound, "no reservation for checkout '" + checkout_id + "'");
    }
    const auto& r = rows->front();
    return ReservationView{r.Text(0), r.Text(1), r.Text(2)};
}

Result<std::vector<ReservationView>> InventoryService::Reservations(storage::Connection& db) {
    auto rows = db.Query("SELECT id, checkout_id, status FROM inv_reservations ORDER BY id");
    if (!rows) return std::unexpected(rows.error());
    std::vector<ReservationView> out;
    for (const auto& r : *rows) out.push_back({r.Text(0), r.Text(1), r.Text(2)});
    return out;
}

Result<std::vector<StockAccount>> InventoryService::Accounts(storage::Connection& db) {
    // The stock and the reservations in one statement, so in one snapshot: read one after the
    // other, a reservation committed in between (the warehouse completes orders while the
    // system runs) would show as stock that does not add up.
    auto rows = db.Query(
        "SELECT 0 AS part, sku, on_hand, reserved, initial, NULL AS status, NULL AS items FROM "
        "inv_stock UNION ALL SELECT 1, id, NULL, NULL, NULL, status, items FROM inv_reservations "
        "WHERE status IN ('held', 'committed')");
    if (!rows) return std::unexpected(rows.error());
    std::map<std::string, StockAccount> by_sku;
    for (const auto& r : *rows) {
        if (r.Int(0) != 0) continue;
        StockAccount& a = by_sku[r.Text(1)];
        a.level = {r.Text(1), r.Int(2), r.Int(3), r.Int(4)};
    }
    for (const auto& r : *rows) {
        if (r.Int(0) != 1) continue;
        auto items = ParsePayload(r.Text(6));
        if (!items || !items->is_array()) {
            return MakeError(ErrorCode::kInternal,
                             "reservation " + r.Text(1) + " has items that are not a JSON array");
        }
        const bool held = r.Text(5) == "held";
        try {
            for (const auto& [sku, qty] : Quantities(*items)) {
                StockAccount& a = by_sku[sku];
                a.level.sku = sku;
                (held ? a.held : a.committed) += qty;
            }
        } catch (const json::exception& e) {
            return MakeError(ErrorCode::kInternal,
                             "reservation " + r.Text(1) + " has malformed items: " + e.what());
        }
    }
    std::vector<StockAccount> out;
    out.reserve(by_sku.size());
    for (auto& [sku, a] : by_sku) out.push_back(std::move(a));
    return out;
}

Result<void> InventoryService::Register(messaging::Bus& bus) {
    auto reserve = [this](const messaging::Envelope& e, const json& data,
                          messaging::Publisher& out) -> Result<void> {
        const std::string checkout = data.at("checkoutId").get<std::string>();
        auto& db = out.db();
        // Safe with concurrent writers: the reservation row is claimed by checkout first (a
        // second delivery finds it taken), and each SKU's stock moves only if the statement
        // itself finds enough left. A shortage undoes the claim and whatever it reserved.
        // Everything that can throw (a malformed payload) comes before the savepoint opens.
        const std::string id = ids_.Next();
        const auto wanted = Quantities(data.at("items"));
        const Value ins[] = {id, checkout, data.at("items").dump(), out.NowMillis()};
        if (auto ok = db.Begin(); !ok) return ok;  // a savepoint in the handler's transaction
        auto undo = [&db] { db.Rollback(); };
        if (auto ok = db.Execute(
                "INSERT INTO inv_reservations(id, checkout_id, status, items, updated_ms) VALUES "
                "(?, ?, 'held', ?, ?) ON CONFLICT (checkout_id) DO NOTHING",
                ins);
            !ok) {
            undo();
            return ok;
        }
        if (db.Changes() == 0) {
            undo();
            return {};  // a redelivered command: answered already
        }
        json unavailable = json::array();
        for (const auto& [sku, qty] : wanted) {
            const Value v[] = {qty, sku, qty};
            if (auto ok = db.Execute(
                    "UPDATE inv_stock SET reserved = reserved + ? WHERE sku = ? AND on_hand - "
                    "reserved >= ?",
                    v);
                !ok) {
                undo();
                return ok;
            }
            if (db.Changes() == 0) unavailable.push_back(sku);
        }
        if (!unavailable.empty()) {
            undo();
            return out.Publish("inventory-reservation-failed", e.subject,
                               json{{"checkoutId", checkout},
                                    {"reason", "out_of_stock"},
                                    {"unavailableSkus", unavailable}});
        }
        if (auto ok = db.Commit(); !ok) {
            undo();
            return ok;
        }
        return out.Publish(
            "inventory-reserved", e.subject,
            json{{"checkoutId", checkout}, {"reservationId", id}, {"items", data.at("items")}});
    };
    auto release = [](const messaging::Envelope& e, const json& data,
                      messaging::Publisher& out) -> Result<void> {
        return Release(out, data.at("reservationId").get<std::string>(),
                       data.value("checkoutId", ""), e.subject);
    };
    auto cancelled = [](const messaging::Envelope& e, const json& data,
                        messaging::Publisher& out) -> Result<void> {
        return Release(out, data.at("reservationId").get<std::string>(),
                       data.value("checkoutId", ""), e.subject);
    };
    auto completed = [](const messaging::Envelope&, const json& data,
                        messaging::Publisher& out) -> Result<void> {
        auto& db = out.db();
        const Value key[] = {data.at("reservationId").get<std::string>()};
        auto rows = db.Query("SELECT status, items FROM inv_reservations WHERE id = ?", key);
        if (!rows) return std::unexpected(rows.error());
        if (rows->empty() || rows->front().Text(0) != "held") return {};
        auto moved = MoveStatus(db, data.at("reservationId").get<std::string>(), "committed",
                                out.NowMillis());
        if (!moved) return std::unexpected(moved.error());
        if (!*moved) return {};  // released or committed meanwhile
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
        return {};
    };
    for (auto [type, handler] :
         {std::pair<const char*, messaging::PayloadHandler>{"reserve-inventory", reserve},
          {"release-inventory", release},
          {"shipment-cancelled", cancelled},
          {"order-completed", completed}}) {
        if (auto ok = bus.Subscribe(kService, type, messaging::WithPayload(handler)); !ok) {
            return ok;
        }
    }
    return {};
}

}  // namespace acme::fulfilment
