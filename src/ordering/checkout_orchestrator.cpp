#include "ordering/checkout_orchestrator.hpp"

#include <optional>

#include "messaging/payload.hpp"
#include "saga/saga_machine.hpp"

namespace acme::ordering {

namespace {

using nlohmann::json;
using saga::Phase;
using storage::Value;

constexpr const char* kSchema = R"sql(
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
)sql";
// The same tables on PostgreSQL: 64-bit integers (SQLite's INTEGER), heap tables.
constexpr const char* kPostgresSchema = R"sql(
CREATE TABLE IF NOT EXISTS ord_sagas (
    checkout_id TEXT PRIMARY KEY, state TEXT NOT NULL, data TEXT NOT NULL,
    reservation_id TEXT, authorization_id TEXT, order_id TEXT, reason TEXT,
    deadline_at BIGINT, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
    step_started_ms BIGINT
);
CREATE INDEX IF NOT EXISTS ord_sagas_deadline ON ord_sagas(deadline_at);
-- A row per finished step (the running step's start is ord_sagas.step_started_ms); rows
-- without finished_ms come from databases written before that column.
CREATE TABLE IF NOT EXISTS ord_saga_steps (
    checkout_id TEXT NOT NULL, step TEXT NOT NULL, started_ms BIGINT NOT NULL,
    finished_ms BIGINT, outcome TEXT, PRIMARY KEY (checkout_id, step)
);
)sql";

// The columns holding each step's result, in step order (saga/checkout_saga.hpp).
constexpr const char* kResultColumns[] = {"reservation_id", "authorization_id", "order_id"};

// A saga as stored: the machine's view of it, and what only the store keeps.
struct Stored {
    saga::SagaInstance instance;
    std::string state_name;            // as read: a transition is stored only from it
    std::string data_text;             // the start-checkout payload, parsed only when needed
    std::int64_t step_started_ms = 0;  // when the running step started (0: not recorded)

    // The start-checkout payload (validated when it was published; throws if corrupted,
    // which fails the message like any handler error). Parsed when the saga started lately
    // (`started`, by checkout id), else from `data_text`.
    const json& Data() {
        if (!data_ && started != nullptr) data_ = started->Take(instance.id);
        if (!data_) data_ = std::make_shared<const json>(json::parse(data_text));
        return *data_;
    }
    messaging::RecentPayloads* started = nullptr;

  private:
    messaging::PayloadPtr data_;
};

Result<std::optional<Stored>> Load(storage::Connection& db, const saga::SagaDefinition& def,
                                   const std::string& id) {
    const Value k[] = {id};
    auto rows = db.Query(
        "SELECT checkout_id, state, data, reservation_id, authorization_id, order_id, reason, "
        "step_started_ms FROM ord_sagas WHERE checkout_id = ?",
        k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return std::optional<Stored>();
    auto& r = rows->front();
    Stored s;
    s.instance.id = r.TakeText(0);
    s.state_name = r.TakeText(1);
    auto state = def.ParseState(s.state_name);
    if (!state) {
        return MakeError(ErrorCode::kInternal,
                         "saga " + s.instance.id + " is in unknown state '" + s.state_name + "'");
    }
    s.instance.state = *state;
    s.data_text = r.TakeText(2);
    s.instance.results = {r.TakeText(3), r.TakeText(4), r.TakeText(5)};
    s.instance.reason = r.TakeText(6);
    s.step_started_ms = r.Int(7);
    return std::optional<Stored>(std::move(s));
}

Value OrNull(const std::string& s) { return s.empty() ? Value{} : Value{s}; }

// Stores `t` (step row, state, results, deadline) and publishes its commands, all in the
// handler's transaction.
Result<void> Apply(messaging::Publisher& out, const saga::SagaDefinition& def, Stored& s,
                   saga::Transition& t) {
    const std::int64_t now = out.NowMillis();
    if (t.finished_step >= 0) {
        // A saga started before step_started_ms has its step's row already (started,
        // unfinished); the row is written once.
        const Value v[] = {s.instance.id, def.steps[static_cast<std::size_t>(t.finished_step)].name,
                           s.step_started_ms == 0 ? now : s.step_started_ms, now, t.outcome};
        if (auto ok = out.db().Execute(
                "INSERT INTO ord_saga_steps(checkout_id, step, started_ms, finished_ms, outcome) "
                "VALUES (?,?,?,?,?) ON CONFLICT(checkout_id, step) DO UPDATE SET finished_ms = "
                "excluded.finished_ms, outcome = excluded.outcome WHERE "
                "ord_saga_steps.finished_ms IS NULL",
                v);
            !ok) {
            return ok;
        }
    }
    if (t.started_step) s.step_started_ms = now;
    if (t.save) {
        const saga::SagaInstance& n = t.next;
        const bool running = n.state.phase == Phase::kRunning;
        const std::int64_t deadline =
            running && !t.deadline_asked
                ? s.step_started_ms + def.steps[static_cast<std::size_t>(n.state.step)].deadline_ms
                : 0;
        const Value v[] = {def.StateName(n.state),
                           OrNull(n.results[0]),
                           OrNull(n.results[1]),
                           OrNull(n.results[2]),
                           OrNull(n.reason),
                           deadline == 0 ? Value{} : Value{deadline},
                           now,
                           s.step_started_ms == 0 ? Value{} : Value{s.step_started_ms},
                           s.instance.id,
                           s.state_name};
        if (auto ok = out.db().Execute(
                "UPDATE ord_sagas SET state = ?, reservation_id = ?, authorization_id = ?, "
                "order_id = ?, reason = ?, deadline_at = ?, updated_ms = ?, step_started_ms = ? "
                "WHERE checkout_id = ? AND state = ?",
                v);
            !ok) {
            return ok;
        }
        if (out.db().Changes() != 1) {
            return MakeError(ErrorCode::kConflict, "saga " + s.instance.id + " left state '" +
                                                       s.state_name + "' meanwhile");
        }
    }
    for (saga::Outgoing& m : t.send) {
        if (auto ok = out.Publish(m.type, s.instance.id, std::move(*m.data)); !ok) return ok;
    }
    return {};
}

Result<void> Migrate(storage::Connection& db, const char* component) {
    // Databases from before step_started_ms (and before versioned migrations) get the column;
    // NULL: not recorded.
    constexpr auto kStepStarted = [](storage::Connection& c) {
        return storage::AddColumnIfMissing(c, "ord_sagas", "step_started_ms", "INTEGER");
    };
    static constexpr storage::Migration kSteps[] = {{.version = 1,
                                                     .summary = "sagas, steps",
                                                     .sqlite = kSchema,
                                                     .postgresql = kPostgresSchema,
                                                     .upgrade = kStepStarted}};
    return storage::Migrate(db, component, kSteps);
}

}  // namespace

CheckoutOrchestrator::CheckoutOrchestrator(SagaDeadlines deadlines)
    : deadlines_(deadlines),
      definition_(std::make_shared<const saga::SagaDefinition>(saga::CheckoutSaga(deadlines))) {}

Result<void> CheckoutOrchestrator::Migrate(storage::Connection& db) {
    return ordering::Migrate(db, kService);
}

namespace {

CheckoutView ToView(const storage::Row& r) {
    CheckoutView v{r.Text(0), "pending", r.Text(1), r.Text(2), r.Text(3), r.Int(4)};
    if (v.saga_state == "completed") v.state = "completed";
    if (v.saga_state == "rejected") v.state = "rejected";
    return v;
}

constexpr const char* kViewColumns = "checkout_id, state, order_id, reason, step_started_ms";

}  // namespace

Result<CheckoutView> CheckoutOrchestrator::Get(storage::Connection& db, const std::string& id) {
    const Value k[] = {id};
    auto rows = db.Query(
        std::string("SELECT ") + kViewColumns + " FROM ord_sagas WHERE checkout_id = ?", k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return MakeError(ErrorCode::kNotFound, "no checkout '" + id + "'");
    return ToView(rows->front());
}

Result<std::vector<CheckoutView>> CheckoutOrchestrator::List(storage::Connection& db) {
    auto rows = db.Query(std::string("SELECT ") + kViewColumns +
                         " FROM ord_sagas ORDER BY created_ms, checkout_id");
    if (!rows) return std::unexpected(rows.error());
    std::vector<CheckoutView> out;
    for (const auto& r : *rows) out.push_back(ToView(r));
    return out;
}

Result<SagaTotals> CheckoutOrchestrator::Totals(storage::Connection& db) {
    SagaTotals t;
    auto rows = db.Query(
        "SELECT CASE WHEN state IN ('completed','rejected') THEN state ELSE 'pending' END, "
        "count(*) FROM ord_sagas GROUP BY 1");
    if (!rows) return std::unexpected(rows.error());
    for (const auto& r : *rows) {
        const std::string outcome = r.Text(0);
        (outcome == "completed"  ? t.completed
         : outcome == "rejected" ? t.rejected
                                 : t.pending) = r.Int(1);
    }
    auto steps = db.Query(
        "SELECT step, count(*), sum(finished_ms - started_ms) FROM ord_saga_steps WHERE "
        "finished_ms IS NOT NULL GROUP BY step ORDER BY step");
    if (!steps) return std::unexpected(steps.error());
    for (const auto& r : *steps) t.steps.push_back({r.Text(0), r.Int(1), r.Int(2)});
    return t;
}

Result<std::vector<StepView>> CheckoutOrchestrator::Steps(storage::Connection& db,
                                                          const std::string& id) {
    const Value k[] = {id};
    auto rows = db.Query(
        "SELECT step, started_ms, finished_ms, outcome FROM ord_saga_steps WHERE checkout_id = ? "
        "ORDER BY COALESCE(finished_ms, started_ms), step",
        k);
    if (!rows) return std::unexpected(rows.error());
    std::vector<StepView> out;
    for (const auto& r : *rows) out.push_back({r.Text(0), r.Int(1), r.Int(2), r.Text(3)});
    return out;
}

Result<void> CheckoutOrchestrator::Register(messaging::Bus& bus) {
    using messaging::Envelope;
    using messaging::Publisher;
    auto def = definition_;
    auto saga_data = saga_data_;

    auto start = [def, saga_data](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = messaging::ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        const json& data = **parsed;
        const std::string id = data.at(def->id_key).get<std::string>();
        const std::int64_t now = out.NowMillis();
        // The first step starts with the saga. The payload is stored as published (its text
        // is the serialized JSON already).
        const Value v[] = {id,     def->StateName({Phase::kRunning, 0}),
                           e.data, now + def->steps.front().deadline_ms,
                           now,    now,
                           now};
        if (auto ok = out.db().Execute(
                "INSERT INTO ord_sagas(checkout_id, state, data, deadline_at, created_ms, "
                "updated_ms, step_started_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                v);
            !ok) {
            return ok;
        }
        if (out.db().Changes() == 0) return {};  // started before
        // Read by the steps whose commands need it (authorize-payment, create-order).
        saga_data->Put(id, *parsed, 2);
        saga::Transition t = saga::Start(*def, id, [&]() -> const json& { return data; });
        for (saga::Outgoing& m : t.send) {
            if (auto ok = out.Publish(m.type, id, std::move(*m.data)); !ok) return ok;
        }
        return {};
    };
    if (auto ok = bus.Subscribe(kService, def->start, start); !ok) return ok;

    auto reply = [def, saga_data](const Envelope& e, const json& data,
                                  Publisher& out) -> Result<void> {
        const std::string id = data.value(def->id_key, e.subject);
        auto loaded = Load(out.db(), *def, id);
        if (!loaded) return std::unexpected(loaded.error());
        if (!*loaded) return {};  // not ours (e.g. a cancellation's payment-voided)
        Stored& s = **loaded;
        s.started = saga_data.get();
        saga::Transition t = saga::OnReply(*def, s.instance, e.type, data,
                                           [&]() -> const json& { return s.Data(); });
        return Apply(out, *def, s, t);
    };
    for (const std::string& type : def->Handles()) {
        if (type == def->start) continue;
        if (auto ok = bus.Subscribe(kService, type, messaging::WithPayload(reply)); !ok) return ok;
    }

    // Step deadlines.
    bus.AddTicker(kService, deadlines_.tick_ms, [def](Publisher& out) -> Result<void> {
        const Value now[] = {out.NowMillis()};
        auto due = out.db().Query(
            "SELECT checkout_id FROM ord_sagas WHERE deadline_at IS NOT NULL AND deadline_at <= ? "
            "ORDER BY deadline_at LIMIT 500",
            now);
        if (!due) return std::unexpected(due.error());
        for (const auto& row : *due) {
            auto loaded = Load(out.db(), *def, row.Text(0));
            if (!loaded) return std::unexpected(loaded.error());
            if (!*loaded) continue;
            Stored& s = **loaded;
            saga::Transition t =
                saga::OnDeadline(*def, s.instance, [&]() -> const json& { return s.Data(); });
            if (auto ok = Apply(out, *def, s, t); !ok) return ok;
        }
        return {};
    });
    return {};
}

}  // namespace acme::ordering
