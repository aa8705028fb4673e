#include "ordering/checkout_saga.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "messaging/payload.hpp"

namespace acme::ordering {

namespace {

using nlohmann::json;
using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ord_checkouts (
    id TEXT PRIMARY KEY, cart_id TEXT NOT NULL, accepted_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ord_sagas (
    checkout_id TEXT PRIMARY KEY, state TEXT NOT NULL, data TEXT NOT NULL,
    reservation_id TEXT, authorization_id TEXT, order_id TEXT, reason TEXT,
    deadline_at INTEGER, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    step_started_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ord_sagas_deadline ON ord_sagas(deadline_at);
-- A row per finished step (the running step's start is ord_sagas.step_started_ms); rows
-- without finished_ms come from databases written before that column.
CREATE TABLE IF NOT EXISTS ord_saga_steps (
    checkout_id TEXT NOT NULL, step TEXT NOT NULL, started_ms INTEGER NOT NULL,
    finished_ms INTEGER, outcome TEXT, PRIMARY KEY (checkout_id, step)
) WITHOUT ROWID;
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

// The payload parser shared by every service (the publisher's value when it has it).
using messaging::ParsePayload;

// The Ordering domain's tables (one set for its three services), once per database.
Result<void> MigrateOrdering(storage::Connection& db) {
    // Databases from before step_started_ms (and before versioned migrations) get the column;
    // NULL: not recorded.
    constexpr auto kStepStarted = [](storage::Connection& c) -> Result<void> {
        auto has = c.HasColumn("ord_sagas", "step_started_ms");
        if (!has) return std::unexpected(has.error());
        if (*has) return {};
        return c.Execute("ALTER TABLE ord_sagas ADD COLUMN step_started_ms INTEGER");
    };
    static constexpr storage::Migration kSteps[] = {
        {.version = 1,
         .summary = "checkouts, sagas, steps, orders, customer requests",
         .sqlite = kSchema,
         .postgresql = {},
         .upgrade = kStepStarted}};
    return storage::Migrate(db, "ordering", kSteps);
}

struct Saga {
    std::string checkout_id;
    std::string state;
    std::string data_text;  // the start-checkout payload, parsed only by the steps needing it
    std::string reservation_id;
    std::string authorization_id;
    std::string order_id;
    std::string reason;
    std::int64_t step_started_ms = 0;  // when the running step started (0: not recorded)

    // The start-checkout payload (validated when it was published; throws if corrupted,
    // which fails the message like any handler error).
    // Parsed when the saga started lately (`started`, by checkout id), else from `data_text`.
    const json& Data() {
        if (!data_ && started != nullptr) data_ = started->Take(checkout_id);
        if (!data_) data_ = std::make_shared<const json>(json::parse(data_text));
        return *data_;
    }
    messaging::RecentPayloads* started = nullptr;

  private:
    messaging::PayloadPtr data_;
};

Result<std::optional<Saga>> Load(storage::Connection& db, const std::string& id) {
    const Value k[] = {id};
    auto rows = db.Query(
        "SELECT checkout_id, state, data, reservation_id, authorization_id, order_id, reason, "
        "step_started_ms FROM ord_sagas WHERE checkout_id = ?",
        k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return std::optional<Saga>();
    auto& r = rows->front();
    Saga saga;
    saga.checkout_id = r.TakeText(0);
    saga.state = r.TakeText(1);
    saga.data_text = r.TakeText(2);
    saga.reservation_id = r.TakeText(3);
    saga.authorization_id = r.TakeText(4);
    saga.order_id = r.TakeText(5);
    saga.reason = r.TakeText(6);
    saga.step_started_ms = r.Int(7);
    return std::optional<Saga>(std::move(saga));
}

// Saves the saga's state; `deadline` 0 clears it.
Result<void> Save(messaging::Publisher& out, const Saga& s, std::int64_t deadline) {
    const Value v[] = {s.state,
                       s.reservation_id.empty() ? Value{} : Value{s.reservation_id},
                       s.authorization_id.empty() ? Value{} : Value{s.authorization_id},
                       s.order_id.empty() ? Value{} : Value{s.order_id},
                       s.reason.empty() ? Value{} : Value{s.reason},
                       deadline == 0 ? Value{} : Value{deadline},
                       out.NowMillis(),
                       s.step_started_ms == 0 ? Value{} : Value{s.step_started_ms},
                       s.checkout_id};
    return out.db().Execute(
        "UPDATE ord_sagas SET state = ?, reservation_id = ?, authorization_id = ?, order_id = ?, "
        "reason = ?, deadline_at = ?, updated_ms = ?, step_started_ms = ? WHERE checkout_id = ?",
        v);
}

// Records the running step `step` of `s` as finished with `outcome`: one row, written once.
Result<void> StepFinished(messaging::Publisher& out, const Saga& s, const std::string& step,
                          const std::string& outcome) {
    const std::int64_t now = out.NowMillis();
    // A saga started before step_started_ms has its step's row already (started, unfinished).
    const Value v[] = {s.checkout_id, step, s.step_started_ms == 0 ? now : s.step_started_ms, now,
                       outcome};
    return out.db().Execute(
        "INSERT INTO ord_saga_steps(checkout_id, step, started_ms, finished_ms, outcome) "
        "VALUES (?,?,?,?,?) ON CONFLICT(checkout_id, step) DO UPDATE SET finished_ms = "
        "excluded.finished_ms, outcome = excluded.outcome WHERE finished_ms IS NULL",
        v);
}

// Step `finished` succeeded: record it, start the next one and save the saga (its new state
// set by the caller) with the next step's deadline.
Result<void> Advance(messaging::Publisher& out, Saga& s, const std::string& finished,
                     std::int64_t deadline) {
    if (auto ok = StepFinished(out, s, finished, "ok"); !ok) return ok;
    s.step_started_ms = out.NowMillis();
    return Save(out, s, deadline);
}

}  // namespace

saga::SagaDefinition CheckoutSagaDefinition(const SagaDeadlines& d) {
    return {"checkout-saga",
            CheckoutOrchestrator::kService,
            {{"reserve-inventory", "reserve-inventory", "inventory-reserved",
              "inventory-reservation-failed", "release-inventory", d.reserve_ms},
             {"authorize-payment", "authorize-payment", "payment-authorized", "payment-declined",
              "void-payment", d.authorize_ms},
             {"create-order", "create-order", "order-created", "order-creation-failed", "",
              d.create_order_ms}}};
}

Result<void> CheckoutApi::Migrate(storage::Connection& db) { return MigrateOrdering(db); }

Result<void> CheckoutApi::Register(messaging::Bus& bus) {
    return bus.Subscribe(
        kService, "cart-checked-out",
        [](const messaging::Envelope& e, messaging::Publisher& out) -> Result<void> {
            auto parsed = ParsePayload(e);
            if (!parsed) return std::unexpected(parsed.error());
            const json& data = **parsed;
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
        });
}

Result<void> CheckoutOrchestrator::Migrate(storage::Connection& db) { return MigrateOrdering(db); }

Result<CheckoutView> CheckoutOrchestrator::Get(storage::Connection& db, const std::string& id) {
    const Value k[] = {id};
    auto rows = db.Query("SELECT state, order_id, reason FROM ord_sagas WHERE checkout_id = ?", k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return MakeError(ErrorCode::kNotFound, "no checkout '" + id + "'");
    const auto& r = rows->front();
    CheckoutView v{id, "pending", r.Text(0), r.Text(1), r.Text(2)};
    if (r.Text(0) == "completed") v.state = "completed";
    if (r.Text(0) == "rejected") v.state = "rejected";
    return v;
}

Result<void> CheckoutOrchestrator::Register(messaging::Bus& bus) {
    using messaging::Envelope;
    using messaging::Publisher;
    const std::int64_t reserve_ms = deadlines_.reserve_ms;
    const std::int64_t authorize_ms = deadlines_.authorize_ms;
    const std::int64_t create_ms = deadlines_.create_order_ms;

    auto saga_data = saga_data_;
    auto with_saga =
        [saga_data](const Envelope& e, Publisher& out,
                    const std::function<Result<void>(Saga&, const json&)>& fn) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        const std::string id = data.value("checkoutId", e.subject);
        auto saga = Load(out.db(), id);
        if (!saga) return std::unexpected(saga.error());
        if (!*saga) return {};  // not ours (e.g. a cancellation's payment-voided)
        (*saga)->started = saga_data.get();
        return fn(**saga, data);
    };
    auto reject = [](Publisher& out, Saga& s, const std::string& reason) -> Result<void> {
        s.state = "rejected";
        if (s.reason.empty()) s.reason = reason;
        return Save(out, s, 0);
    };
    auto release = [](Publisher& out, Saga& s) -> Result<void> {
        return out.Publish("release-inventory", s.checkout_id,
                           json{{"checkoutId", s.checkout_id},
                                {"reservationId", s.reservation_id},
                                {"reason", s.reason}});
    };
    auto void_auth = [](Publisher& out, const std::string& checkout, const std::string& auth,
                        const std::string& reason) -> Result<void> {
        return out.Publish(
            "void-payment", checkout,
            json{{"checkoutId", checkout}, {"authorizationId", auth}, {"reason", reason}});
    };

    auto start = [=](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        const std::string id = data.at("checkoutId").get<std::string>();
        // The first step, reserve-inventory, starts with the saga.
        // The payload as published (its text is the serialized JSON already).
        const Value v[] = {id,
                           e.data,
                           out.NowMillis() + reserve_ms,
                           out.NowMillis(),
                           out.NowMillis(),
                           out.NowMillis()};
        if (auto ok =
                out.db().Execute("INSERT INTO ord_sagas(checkout_id, state, data, deadline_at, "
                                 "created_ms, updated_ms, step_started_ms) VALUES (?, 'reserving', "
                                 "?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                 v);
            !ok) {
            return ok;
        }
        if (out.db().Changes() == 0) return {};
        // Read by the two steps that need it: authorize-payment and create-order.
        saga_data->Put(id, *parsed, 2);
        return out.Publish("reserve-inventory", id,
                           json{{"checkoutId", id}, {"items", data.at("items")}});
    };
    auto reserved = [=](const Envelope& e, Publisher& out) -> Result<void> {
        return with_saga(e, out, [&](Saga& s, const json& d) -> Result<void> {
            const std::string reservation = d.at("reservationId").get<std::string>();
            if (s.state != "reserving") {
                // Late: the saga moved on without this reservation; give the stock back.
                if (s.reservation_id == reservation) return {};
                return out.Publish("release-inventory", s.checkout_id,
                                   json{{"checkoutId", s.checkout_id},
                                        {"reservationId", reservation},
                                        {"reason", "late_reservation"}});
            }
            s.reservation_id = reservation;
            s.state = "authorizing";
            if (auto ok = Advance(out, s, "reserve-inventory", out.NowMillis() + authorize_ms);
                !ok) {
                return ok;
            }
            return out.Publish("authorize-payment", s.checkout_id,
                               json{{"checkoutId", s.checkout_id},
                                    {"customerId", s.Data().at("customerId")},
                                    {"amount", s.Data().at("total")},
                                    {"paymentToken", s.Data().at("paymentToken")}});
        });
    };
    auto reservation_failed = [=](const Envelope& e, Publisher& out) -> Result<void> {
        return with_saga(e, out, [&](Saga& s, const json& d) -> Result<void> {
            if (s.state != "reserving") return {};
            if (auto ok = StepFinished(out, s, "reserve-inventory", "failed"); !ok) return ok;
            return reject(out, s, d.value("reason", "out_of_stock"));
        });
    };
    auto authorized = [=](const Envelope& e, Publisher& out) -> Result<void> {
        return with_saga(e, out, [&](Saga& s, const json& d) -> Result<void> {
            const std::string auth = d.at("authorizationId").get<std::string>();
            if (s.state != "authorizing") {
                // Late authorization (after the deadline or a decline): void it.
                if (s.authorization_id == auth) return {};
                return void_auth(out, s.checkout_id, auth, "late_authorization");
            }
            s.authorization_id = auth;
            s.state = "creating_order";
            if (auto ok = Advance(out, s, "authorize-payment", out.NowMillis() + create_ms); !ok) {
                return ok;
            }
            return out.Publish("create-order", s.checkout_id,
                               json{{"checkoutId", s.checkout_id},
                                    {"cartId", s.Data().at("cartId")},
                                    {"customerId", s.Data().at("customerId")},
                                    {"reservationId", s.reservation_id},
                                    {"authorizationId", auth},
                                    {"items", s.Data().at("items")},
                                    {"total", s.Data().at("total")}});
        });
    };
    auto declined = [=](const Envelope& e, Publisher& out) -> Result<void> {
        return with_saga(e, out, [&](Saga& s, const json& d) -> Result<void> {
            if (s.state != "authorizing") return {};
            if (auto ok = StepFinished(out, s, "authorize-payment", "declined"); !ok) return ok;
            s.state = "compensating";
            s.reason = "payment_declined:" + d.value("reason", "declined");
            if (auto ok = Save(out, s, 0); !ok) return ok;
            return release(out, s);
        });
    };
    auto created = [=](const Envelope& e, Publisher& out) -> Result<void> {
        return with_saga(e, out, [&](Saga& s, const json& d) -> Result<void> {
            if (s.state != "creating_order") return {};
            s.order_id = d.at("orderId").get<std::string>();
            s.state = "completed";
            if (auto ok = StepFinished(out, s, "create-order", "ok"); !ok) return ok;
            return Save(out, s, 0);
        });
    };
    auto creation_failed = [=](const Envelope& e, Publisher& out) -> Result<void> {
        return with_saga(e, out, [&](Saga& s, const json& d) -> Result<void> {
            if (s.state != "creating_order") return {};
            if (auto ok = StepFinished(out, s, "create-order", "failed"); !ok) return ok;
            s.state = "compensating";
            s.reason = "order_failed:" + d.value("reason", "failed");
            if (auto ok = Save(out, s, 0); !ok) return ok;
            return void_auth(out, s.checkout_id, s.authorization_id, s.reason);
        });
    };
    auto voided = [=](const Envelope& e, Publisher& out) -> Result<void> {
        return with_saga(e, out, [&](Saga& s, const json& d) -> Result<void> {
            // Compensation continues in reverse: after the void, release the reservation.
            if (s.state != "compensating" || d.value("authorizationId", "") != s.authorization_id) {
                return {};
            }
            if (s.reservation_id.empty()) return reject(out, s, s.reason);
            return release(out, s);
        });
    };
    auto released = [=](const Envelope& e, Publisher& out) -> Result<void> {
        return with_saga(e, out, [&](Saga& s, const json& d) -> Result<void> {
            if (s.state != "compensating" || d.value("reservationId", "") != s.reservation_id) {
                return {};
            }
            return reject(out, s, s.reason);
        });
    };
    const std::pair<const char*, messaging::Handler> handlers[] = {
        {"start-checkout", start},
        {"inventory-reserved", reserved},
        {"inventory-reservation-failed", reservation_failed},
        {"payment-authorized", authorized},
        {"payment-declined", declined},
        {"order-created", created},
        {"order-creation-failed", creation_failed},
        {"payment-voided", voided},
        {"inventory-released", released}};
    for (const auto& [type, handler] : handlers) {
        if (auto ok = bus.Subscribe(kService, type, handler); !ok) return ok;
    }
    // Step deadlines.
    bus.AddTicker(kService, deadlines_.tick_ms, [=](Publisher& out) -> Result<void> {
        const Value now[] = {out.NowMillis()};
        auto due = out.db().Query(
            "SELECT checkout_id FROM ord_sagas WHERE deadline_at IS NOT NULL AND deadline_at <= ? "
            "ORDER BY deadline_at LIMIT 500",
            now);
        if (!due) return std::unexpected(due.error());
        for (const auto& row : *due) {
            auto loaded = Load(out.db(), row.Text(0));
            if (!loaded) return std::unexpected(loaded.error());
            if (!*loaded) continue;
            Saga& s = **loaded;
            if (s.state == "reserving") {
                if (auto ok = StepFinished(out, s, "reserve-inventory", "timeout"); !ok) return ok;
                if (auto ok = reject(out, s, "inventory_timeout"); !ok) return ok;
            } else if (s.state == "authorizing") {
                if (auto ok = StepFinished(out, s, "authorize-payment", "timeout"); !ok) return ok;
                s.state = "compensating";
                s.reason = "payment_timeout";
                if (auto ok = Save(out, s, 0); !ok) return ok;
                if (auto ok = release(out, s); !ok) return ok;
            } else if (s.state == "creating_order") {
                if (auto ok = StepFinished(out, s, "create-order", "timeout"); !ok) return ok;
                s.state = "compensating";
                s.reason = "order_timeout";
                if (auto ok = Save(out, s, 0); !ok) return ok;
                if (auto ok = void_auth(out, s.checkout_id, s.authorization_id, s.reason); !ok)
                    return ok;
            } else {
                if (auto ok = Save(out, s, 0); !ok) return ok;
            }
        }
        return {};
    });
    return {};
}

Result<void> OrderService::Migrate(storage::Connection& db) { return MigrateOrdering(db); }

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
    auto done = bus.Write(db, [&](storage::Connection& tx) -> Result<void> {
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
    auto done = bus.Write(db, [&](storage::Connection& tx) -> Result<void> {
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
    auto create = [this](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        const std::string checkout = data.at("checkoutId").get<std::string>();
        const std::string customer = data.at("customerId").get<std::string>();
        if (!faults_.fail_customer_prefix.empty() &&
            customer.starts_with(faults_.fail_customer_prefix)) {
            return out.Publish("order-creation-failed", e.subject,
                               json{{"checkoutId", checkout}, {"reason", "order_store_rejected"}});
        }
        const Value ck[] = {checkout};
        auto existing = out.db().Query("SELECT id FROM ord_orders WHERE checkout_id = ?", ck);
        if (!existing) return std::unexpected(existing.error());
        if (!existing->empty()) return {};
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
                "(?,?,?,'created',?,?,?,?,?,?,?)",
                v);
            !ok) {
            return ok;
        }
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
    auto cancel = [](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
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
    auto stopped = [set_status](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        auto changed = set_status(out, data.at("orderId").get<std::string>(), "cancelled",
                                  "'created','picked','packed'");
        if (!changed) return std::unexpected(changed.error());
        return {};
    };
    auto progress = [set_status](const char* status, const char* from) {
        return [=](const Envelope& e, Publisher& out) -> Result<void> {
            auto parsed = ParsePayload(e);
            if (!parsed) return std::unexpected(parsed.error());
            const json& data = **parsed;
            auto changed = set_status(out, data.at("orderId").get<std::string>(), status, from);
            if (!changed) return std::unexpected(changed.error());
            return {};
        };
    };
    auto captured = [set_status](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
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
    auto returned = [set_status](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
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
    auto refunded = [set_status](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        auto changed =
            set_status(out, data.at("orderId").get<std::string>(), "refunded", "'returned'");
        if (!changed) return std::unexpected(changed.error());
        return {};
    };
    const std::pair<const char*, messaging::Handler> handlers[] = {
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
        if (auto ok = bus.Subscribe(kService, type, handler); !ok) return ok;
    }
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
