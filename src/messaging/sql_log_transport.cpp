#include "messaging/sql_log_transport.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "messaging/delivery.hpp"
#include "messaging/log_row.hpp"

namespace acme::messaging {

namespace {

using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS bus_log (
    -- No AUTOINCREMENT (it costs every insert an update of sqlite_sequence): rows are never
    -- deleted, so a seq is never reused.
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    subject TEXT NOT NULL,
    dataschema TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT NOT NULL,
    traceparent TEXT NOT NULL,
    data TEXT NOT NULL,
    time TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
-- Consumers scan the log by seq; an index on type would cost every publish an insert.
DROP INDEX IF EXISTS bus_log_type;
CREATE TABLE IF NOT EXISTS bus_offsets (
    consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL
) WITHOUT ROWID;
-- The inbox of a consumer reading the log in order is a watermark and a list: every message
-- through `bus_inbox_through.seq` was taken in (handled, or handed to the retry queue, which
-- then owns it), and `bus_inbox` names the messages handled out of order (retries, replayed
-- dead letters). Kept apart from the offset: an offset reset or lost redelivers, and the
-- watermark skips what was already applied.
CREATE TABLE IF NOT EXISTS bus_inbox_through (
    consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL
) WITHOUT ROWID;
-- Keyed by message first: ids are time-ordered (UUIDv7).
CREATE TABLE IF NOT EXISTS bus_inbox (
    consumer TEXT NOT NULL, message_id TEXT NOT NULL, PRIMARY KEY (message_id, consumer)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_retries (
    consumer TEXT NOT NULL, seq INTEGER NOT NULL, attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL, last_error TEXT NOT NULL, PRIMARY KEY (consumer, seq)
);
CREATE TABLE IF NOT EXISTS bus_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, consumer TEXT NOT NULL, seq INTEGER NOT NULL,
    message_id TEXT NOT NULL, type TEXT NOT NULL, attempts INTEGER NOT NULL,
    reason TEXT NOT NULL, time TEXT NOT NULL, replayed INTEGER NOT NULL DEFAULT 0
);
)sql";

// A round's message budget, in batches (see ProcessRound).
constexpr std::size_t kRoundBatches = 4;

}  // namespace

struct SqlLogTransport::Impl {
    Impl(Outbox& outbox, SqlLogOptions options)
        : outbox_(outbox),
          contracts_(outbox.contracts()),
          clock_(outbox.clock()),
          options_(options) {}

    struct Consumer {
        std::string name;
        std::map<std::string, Handler> handlers;
        std::string fetch_sql;
        // In memory, owned by the polling thread: how far the log has been scanned (the
        // stored offset only moves with handled messages), and when retries are next due.
        std::int64_t scanned = -1;
        std::int64_t scanned_from = -1;  // the stored offset `scanned` was derived from
        std::int64_t next_retry_check = 0;
    };
    struct Fetched {
        std::vector<Envelope> batch;
        std::int64_t top = -1;  // highest log row looked at; -1 when nothing was new
        std::int64_t stored = 0;
        std::int64_t through = 0;  // the inbox watermark (bus_inbox_through)
        bool full = false;
    };

    Result<void> Subscribe(const std::string& consumer, const std::string& type, Handler handler);
    Result<Fetched> Fetch(Consumer& c, storage::Connection& db);
    void MarkScanned(Consumer& c, const Fetched& f);
    // After a rollback: what each consumer scanned is derived again from its stored offset.
    void ForgetScanned();
    Result<void> SetOffset(Consumer& c, storage::Connection& db, std::int64_t seq);
    // Inside an open transaction: handles the batch and moves the offset; false when a
    // handler failed (the caller rolls back).
    Result<bool> HandleBatch(Consumer& c, storage::Connection& db, const Fetched& f);
    Result<std::size_t> ProcessAlone(Consumer& c, storage::Connection& db, const Fetched& f);
    // Every consumer's new messages in one transaction (group commit); on a handler failure,
    // redone message by message so the failing one is retried alone.
    Result<std::size_t> ProcessRound(storage::Connection& db);
    Result<std::size_t> ProcessRetries(Consumer& c, storage::Connection& db);
    // Runs the handler unless the inbox says `e` was taken in before: in log order (`through`
    // >= 0, the watermark) by its seq; out of order (`through` < 0: retries) by the inbox
    // list, which then records it. False when skipped.
    Result<bool> HandleOne(Consumer& c, storage::Connection& db, const Envelope& e,
                           std::int64_t through);
    // Handles `e` in a transaction of its own and runs `on_success` in it before committing.
    // Outer error: the database failed; inner error: the handler failed (rolled back).
    Result<Result<bool>> HandleAlone(Consumer& c, storage::Connection& db, const Envelope& e,
                                     std::int64_t through,
                                     const std::function<Result<void>()>& on_success);
    Result<void> RecordFailure(Consumer& c, storage::Connection& db, const Envelope& e,
                               int attempts, const std::string& reason, bool advance_offset);
    void PrepareFetchSql(Consumer& c);

    Outbox& outbox_;
    const ContractRegistry& contracts_;
    const Clock& clock_;
    SqlLogOptions options_;
    std::map<std::string, Consumer> consumers_;
    std::atomic<std::int64_t> backlog_{0};
    std::atomic<std::int64_t> handled_{0}, duplicates_{0}, retries_{0}, dead_letters_{0};
    RetryBackoff backoff_{options_.retry_base_ms, options_.retry_max_ms};
};

Result<void> SqlLogTransport::Migrate(storage::Connection& db) {
    // A database from before the watermark (and before versioned migrations): every message a
    // consumer applied is in bus_inbox, and nothing past its offset was applied unless the
    // offset was reset, so the watermark starts at the higher of the two. On a new database
    // both tables are empty and so is the watermark.
    constexpr auto kWatermark = [](storage::Connection& c) -> Result<void> {
        return c.Execute(
            "INSERT INTO bus_inbox_through(consumer, seq) SELECT consumer, max(seq) FROM ("
            "SELECT consumer, seq FROM bus_offsets UNION ALL "
            "SELECT i.consumer, l.seq FROM bus_inbox i JOIN bus_log l ON l.id = i.message_id) "
            "GROUP BY consumer ON CONFLICT DO NOTHING");
    };
    static constexpr storage::Migration kSteps[] = {
        {.version = 1,
         .summary = "log, offsets, inbox, retries, dead letters",
         .sqlite = kSchema,
         .postgresql = {},
         .upgrade = kWatermark}};
    return storage::Migrate(db, "bus", kSteps);
}

Result<void> SqlLogTransport::Impl::Subscribe(const std::string& consumer, const std::string& type,
                                              Handler handler) {
    if (auto ok = CheckReceives(contracts_, consumer, type); !ok) return ok;
    Consumer& c = consumers_[consumer];
    c.name = consumer;
    if (!c.handlers.contains(type)) outbox_.AddLocalReader(type);
    c.handlers[type] = std::move(handler);
    PrepareFetchSql(c);
    return {};
}

void SqlLogTransport::Impl::PrepareFetchSql(Consumer& c) {
    std::string in;
    for (const auto& [type, h] : c.handlers) {
        if (!in.empty()) in += ",";
        in += "'" + type + "'";  // catalog ids: [a-z0-9-], checked by Subscribe
    }
    // `+type` keeps SQLite on the primary key: a range scan over the new rows, in order, with
    // no sort; the range is short because `scanned` skips rows other consumers care about.
    c.fetch_sql = std::string("SELECT ") + kLogColumns +
                  " FROM bus_log WHERE seq > ? AND seq <= ? AND +type IN (" + in +
                  ") ORDER BY seq LIMIT ?";
}

Result<bool> SqlLogTransport::Impl::HandleOne(Consumer& c, storage::Connection& db,
                                              const Envelope& e, std::int64_t through) {
    if (through >= 0) {
        // In log order: past the watermark means new (the caller moves the watermark in
        // this transaction); at or below it, taken in before (applied, or the retry queue's).
        if (e.seq <= through) {
            duplicates_.fetch_add(1);
            return false;
        }
    } else {
        auto fresh = TakeIn(db, c.name, e.id);
        if (!fresh) return std::unexpected(fresh.error());
        if (!*fresh) {
            duplicates_.fetch_add(1);
            return false;  // already applied
        }
    }
    auto it = c.handlers.find(e.type);
    if (it == c.handlers.end()) return false;
    Publisher out(outbox_, db, c.name, &e);
    const Result<void> ok = CallHandler(it->second, e, out);
    if (!ok) return std::unexpected(ok.error());
    handled_.fetch_add(1);
    return true;
}

Result<void> SqlLogTransport::Impl::RecordFailure(Consumer& c, storage::Connection& db,
                                                  const Envelope& e, int attempts,
                                                  const std::string& reason, bool advance_offset) {
    return storage::InTransaction(db, [&]() -> Result<void> {
        if (advance_offset) {
            // Taken in: the retry queue owns the message now.
            if (auto ok = SetOffset(c, db, e.seq); !ok) return ok;
        }
        if (attempts >= options_.max_attempts) {
            dead_letters_.fetch_add(1);
            if (auto ok = StoreDeadLetter(db, c.name, e, attempts, reason, clock_.NowMillis());
                !ok) {
                return ok;
            }
            const Value del[] = {c.name, e.seq};
            return db.Execute("DELETE FROM bus_retries WHERE consumer = ? AND seq = ?", del);
        }
        retries_.fetch_add(1);
        const Value rt[] = {c.name, e.seq, static_cast<std::int64_t>(attempts),
                            clock_.NowMillis() + backoff_.Next(attempts), reason};
        return db.Execute(
            "INSERT INTO bus_retries(consumer, seq, attempts, next_at, last_error) VALUES "
            "(?,?,?,?,?) ON CONFLICT(consumer, seq) DO UPDATE SET attempts = excluded.attempts, "
            "next_at = excluded.next_at, last_error = excluded.last_error",
            rt);
    });
}

Result<Result<bool>> SqlLogTransport::Impl::HandleAlone(
    Consumer& c, storage::Connection& db, const Envelope& e, std::int64_t through,
    const std::function<Result<void>()>& on_success) {
    if (auto ok = db.Begin(); !ok) return std::unexpected(ok.error());
    Result<bool> r;
    try {
        r = HandleOne(c, db, e, through);
    } catch (...) {
        db.Rollback();
        throw;
    }
    if (!r) {
        db.Rollback();
        return r;  // the handler failed: the caller records the failure
    }
    if (auto ok = on_success(); !ok) {
        db.Rollback();
        return std::unexpected(ok.error());
    }
    if (auto ok = db.Commit(); !ok) {
        db.Rollback();
        return std::unexpected(ok.error());
    }
    return r;
}

auto SqlLogTransport::Impl::Fetch(Consumer& c, storage::Connection& db) -> Result<Fetched> {
    Fetched f;
    const Value who[] = {c.name, c.name};
    auto offset_rows = db.Query(
        "SELECT (SELECT seq FROM bus_offsets WHERE consumer = ?), "
        "(SELECT seq FROM bus_inbox_through WHERE consumer = ?)",
        who);
    if (!offset_rows) return std::unexpected(offset_rows.error());
    const storage::Row& stored = offset_rows->front();
    f.stored = stored.IsNull(0) ? 0 : stored.Int(0);
    f.through = stored.IsNull(1) ? 0 : stored.Int(1);
    // The stored offset moves only with handled messages; `scanned` also skips the rows of
    // other consumers. A stored offset this bus did not leave means a reset: obey it.
    if (c.scanned_from != f.stored) c.scanned = -1;
    const std::int64_t offset = std::max(f.stored, c.scanned);
    auto top_rows = db.Query("SELECT COALESCE(max(seq), 0) FROM bus_log");
    if (!top_rows) return std::unexpected(top_rows.error());
    const std::int64_t top = top_rows->front().Int(0);
    if (top <= offset) return f;  // top stays -1: nothing scanned
    const Value fetch[] = {offset, top, static_cast<std::int64_t>(options_.batch_size)};
    auto rows = db.Query(c.fetch_sql, fetch);
    if (!rows) return std::unexpected(rows.error());
    f.top = top;
    // A full batch resumes after its last row; a short one covered everything up to `top`.
    f.full = rows->size() == static_cast<std::size_t>(options_.batch_size);
    f.batch.reserve(rows->size());
    for (auto& r : *rows) {
        f.batch.push_back(EnvelopeFromRow(r));
        f.batch.back().payload = outbox_.TakeLocal(f.batch.back().id);
    }
    return f;
}

void SqlLogTransport::Impl::ForgetScanned() {
    for (auto& [name, c] : consumers_) c.scanned = -1;
}

void SqlLogTransport::Impl::MarkScanned(Consumer& c, const Fetched& f) {
    if (f.top < 0) return;
    if (f.batch.empty()) {
        c.scanned = f.top;  // nothing for this consumer up to here
        c.scanned_from = f.stored;
        return;
    }
    c.scanned = f.full ? f.batch.back().seq : f.top;
    c.scanned_from = f.batch.back().seq;
}

Result<void> SqlLogTransport::Impl::SetOffset(Consumer& c, storage::Connection& db,
                                              std::int64_t seq) {
    const Value off[] = {c.name, seq};
    if (auto ok = db.Execute(
            "INSERT INTO bus_offsets(consumer, seq) VALUES (?, ?) ON CONFLICT(consumer) DO UPDATE "
            "SET seq = excluded.seq",
            off);
        !ok) {
        return ok;
    }
    // The watermark never goes back: after a reset the offset does, and what lies between is
    // skipped as already taken in.
    return db.Execute(
        "INSERT INTO bus_inbox_through(consumer, seq) VALUES (?, ?) ON CONFLICT(consumer) DO "
        "UPDATE SET seq = CASE WHEN excluded.seq > bus_inbox_through.seq THEN excluded.seq ELSE "
        "bus_inbox_through.seq END",
        off);
}

Result<bool> SqlLogTransport::Impl::HandleBatch(Consumer& c, storage::Connection& db,
                                                const Fetched& f) {
    for (const Envelope& e : f.batch) {
        if (auto r = HandleOne(c, db, e, f.through); !r) return false;
    }
    if (auto ok = SetOffset(c, db, f.batch.back().seq); !ok) return std::unexpected(ok.error());
    return true;
}

Result<std::size_t> SqlLogTransport::Impl::ProcessAlone(Consumer& c, storage::Connection& db,
                                                        const Fetched& f) {
    // One transaction per message, to isolate the one that fails.
    for (const Envelope& e : f.batch) {
        auto r = HandleAlone(c, db, e, f.through, [&] { return SetOffset(c, db, e.seq); });
        if (!r) return std::unexpected(r.error());
        if (*r) continue;
        if (auto ok = RecordFailure(c, db, e, 1, r->error().message, true); !ok) {
            return std::unexpected(ok.error());
        }
        c.next_retry_check = 0;  // a retry is now scheduled
    }
    MarkScanned(c, f);
    return f.batch.size();
}

Result<std::size_t> SqlLogTransport::Impl::ProcessRound(storage::Connection& db) {
    // Group commit: every consumer's batch in one transaction, one commit per round. A round
    // makes several passes over the consumers while they find new messages, so the messages
    // one pass publishes (a saga's next step) are handled before the same commit: fewer
    // commits per checkout, each carrying more.
    if (auto ok = db.Begin(); !ok) return std::unexpected(ok.error());
    // What each consumer scanned moves as the passes go (a later pass resumes there); a
    // rollback forgets it, and the next fetch starts again from the stored offsets.
    std::vector<std::pair<Consumer*, std::int64_t>> stored;  // the last pass's offsets
    bool failed = false;
    Error error{ErrorCode::kInternal, {}};
    std::size_t total = 0;
    std::int64_t top = -1;
    // No further pass once a round has handled this many messages: the writes queued
    // meanwhile (checkouts waiting for their 202) are not held back behind a long round.
    const std::size_t budget = static_cast<std::size_t>(options_.batch_size) * kRoundBatches;
    try {
        for (int pass = 0; !failed && pass < std::max(1, options_.round_passes); ++pass) {
            stored.clear();
            std::size_t in_pass = 0;
            for (auto& [name, c] : consumers_) {
                auto f = Fetch(c, db);
                if (!f) {
                    error = f.error();
                    failed = true;
                    break;
                }
                if (!f->batch.empty()) {
                    auto handled = HandleBatch(c, db, *f);
                    if (!handled || !*handled) {
                        if (!handled) error = handled.error();
                        failed = true;
                        break;
                    }
                }
                MarkScanned(c, *f);
                in_pass += f->batch.size();
                top = std::max(top, f->top);
                stored.emplace_back(&c, f->stored);
            }
            total += in_pass;
            if (in_pass == 0 || total >= budget) break;
        }
    } catch (...) {
        db.Rollback();
        ForgetScanned();
        throw;
    }
    if (!failed) {
        if (auto ok = db.Commit(); !ok) {
            db.Rollback();
            ForgetScanned();
            return std::unexpected(ok.error());
        }
        // Backlog: the newest row looked at, less where the slowest consumer got to.
        std::int64_t behind = 0;
        if (top >= 0) {
            for (auto& [c, offset] : stored) {
                behind = std::max(behind, top - std::max(c->scanned, offset));
            }
        }
        backlog_ = behind;
        return total;
    }
    ForgetScanned();
    db.Rollback();
    if (!error.message.empty()) return std::unexpected(error);
    // A handler failed: redo this round consumer by consumer, message by message.
    total = 0;
    for (auto& [name, c] : consumers_) {
        auto f = Fetch(c, db);
        if (!f) return std::unexpected(f.error());
        if (f->batch.empty()) {
            MarkScanned(c, *f);
            continue;
        }
        auto n = ProcessAlone(c, db, *f);
        if (!n) return std::unexpected(n.error());
        total += *n;
    }
    return total;
}

Result<std::size_t> SqlLogTransport::Impl::ProcessRetries(Consumer& c, storage::Connection& db) {
    const std::int64_t now = clock_.NowMillis();
    if (now < c.next_retry_check) return 0;
    // Nothing due: look again when the earliest retry is due, and at least every second
    // (`acme dlq replay` from another process adds retries this process did not schedule).
    const Value who[] = {c.name};
    auto next = db.Query("SELECT min(next_at) FROM bus_retries WHERE consumer = ?", who);
    if (!next) return std::unexpected(next.error());
    const std::int64_t earliest = next->front().IsNull(0) ? INT64_MAX : next->front().Int(0);
    if (earliest > now) {
        c.next_retry_check = std::min(earliest, now + 1000);
        return 0;
    }
    const Value due[] = {c.name, now, static_cast<std::int64_t>(options_.batch_size)};
    auto rows = db.Query(std::string("SELECT r.attempts, l.") +
                             "seq, l.id, l.type, l.source, l.subject, l.dataschema, "
                             "l.correlation_id, l.causation_id, l.traceparent, l.data, l.time "
                             "FROM bus_retries r JOIN bus_log l ON l.seq = r.seq "
                             "WHERE r.consumer = ? AND r.next_at <= ? ORDER BY r.next_at LIMIT ?",
                         due);
    if (!rows) return std::unexpected(rows.error());
    std::size_t done = 0;
    for (auto& row : *rows) {
        const int attempts = static_cast<int>(row.Int(0));
        const Envelope e = EnvelopeFromRow(row, 1);
        const Value del[] = {c.name, e.seq};
        // Out of log order: the inbox list says whether it was applied.
        auto r = HandleAlone(c, db, e, -1, [&] {
            return db.Execute("DELETE FROM bus_retries WHERE consumer = ? AND seq = ?", del);
        });
        if (!r) return std::unexpected(r.error());
        ++done;
        if (*r) continue;
        if (auto ok = RecordFailure(c, db, e, attempts + 1, r->error().message, false); !ok) {
            return std::unexpected(ok.error());
        }
    }
    return done;
}

SqlLogTransport::SqlLogTransport(Outbox& outbox, SqlLogOptions options)
    : impl_(std::make_unique<Impl>(outbox, options)) {}

SqlLogTransport::~SqlLogTransport() = default;

Result<void> SqlLogTransport::Subscribe(const std::string& consumer, const std::string& type,
                                        Handler handler) {
    return impl_->Subscribe(consumer, type, std::move(handler));
}

bool SqlLogTransport::HasConsumers() const { return !impl_->consumers_.empty(); }

std::vector<std::string> SqlLogTransport::Consumers() const {
    std::vector<std::string> out;
    for (const auto& [name, c] : impl_->consumers_) out.push_back(name);
    return out;
}

Result<std::size_t> SqlLogTransport::Poll(storage::Connection& db) {
    if (db.dialect() != storage::Dialect::kSqlite) {
        // Offsets by seq are gap-free only with one writer at a time (see the header).
        return MakeError(ErrorCode::kFailedPrecondition,
                         "the SQL log transport reads by offset and needs SQLite's single writer");
    }
    auto n = impl_->ProcessRound(db);
    std::size_t work = n ? *n : 0;
    for (auto& [name, c] : impl_->consumers_) {
        auto m = impl_->ProcessRetries(c, db);
        if (!m) return std::unexpected(m.error());
        work += *m;
    }
    if (!n) return std::unexpected(n.error());
    return work;
}

std::int64_t SqlLogTransport::Backlog() const { return impl_->backlog_.load(); }

DeliveryStats SqlLogTransport::Stats() const {
    return {impl_->handled_.load(), impl_->duplicates_.load(), impl_->retries_.load(),
            impl_->dead_letters_.load()};
}

}  // namespace acme::messaging
