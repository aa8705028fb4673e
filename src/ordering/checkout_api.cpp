#include "ordering/checkout_api.hpp"

#include "messaging/payload.hpp"

namespace acme::ordering {

namespace {

using nlohmann::json;
using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ord_checkouts (
    id TEXT PRIMARY KEY, cart_id TEXT NOT NULL, accepted_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";
// The same tables on PostgreSQL: 64-bit integers (SQLite's INTEGER), heap tables.
constexpr const char* kPostgresSchema = R"sql(
CREATE TABLE IF NOT EXISTS ord_checkouts (
    id TEXT PRIMARY KEY, cart_id TEXT NOT NULL, accepted_ms BIGINT NOT NULL
);
)sql";

}  // namespace

Result<void> CheckoutApi::Migrate(storage::Connection& db) {
    static constexpr storage::Migration kSteps[] = {{.version = 1,
                                                     .summary = "accepted checkouts",
                                                     .sqlite = kSchema,
                                                     .postgresql = kPostgresSchema}};
    return storage::Migrate(db, kService, kSteps);
}

Result<void> CheckoutApi::Register(messaging::Bus& bus) {
    return bus.Subscribe(
        kService, "cart-checked-out",
        messaging::WithPayload([](const messaging::Envelope& e, const json& data,
                                  messaging::Publisher& out) -> Result<void> {
            const Value v[] = {data.at("checkoutId").get<std::string>(),
                               data.at("cartId").get<std::string>(), out.NowMillis()};
            if (auto ok = out.db().Execute("INSERT INTO ord_checkouts(id, cart_id, accepted_ms) "
                                           "VALUES (?,?,?) ON CONFLICT DO NOTHING",
                                           v);
                !ok) {
                return ok;
            }
            if (out.db().Changes() == 0) return {};
            return out.Publish("start-checkout", e.subject, data);  // parsed once, above
        }));
}

}  // namespace acme::ordering
