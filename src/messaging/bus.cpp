#include "messaging/bus.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <nlohmann/json.hpp>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

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

constexpr const char* kColumns =
    "seq, id, type, source, subject, dataschema, correlation_id, causation_id, traceparent, data, "
    "time";

// Moves the columns out of the row.
Envelope FromRow(storage::Row& r, std::size_t at = 0) {
    Envelope e;
    e.seq = r.Int(at);
    e.id = r.TakeText(at + 1);
    e.type = r.TakeText(at + 2);
    e.source = r.TakeText(at + 3);
    e.subject = r.TakeText(at + 4);
    e.dataschema = r.TakeText(at + 5);
    e.correlation_id = r.TakeText(at + 6);
    e.causation_id = r.TakeText(at + 7);
    e.traceparent = r.TakeText(at + 8);
    e.data = r.TakeText(at + 9);
    e.time = r.TakeText(at + 10);
    return e;
}

std::string Hex32(const std::string& uuid) {
    std::string out;
    for (char c : uuid) {
        if (c != '-') out += c;
    }
    out.resize(32, '0');
    return out;
}

}  // namespace

std::int64_t Publisher::NowMillis() const { return bus_.clock().NowMillis(); }

Result<void> Publisher::Publish(const std::string& type, const std::string& subject,
                                const std::string& data) {
    return bus_.Publish(db_, service_, type, subject, data, cause_);
}

Result<void> Publisher::Publish(const std::string& type, const std::string& subject,
                                nlohmann::json data) {
    return bus_.Publish(db_, service_, type, subject, std::move(data), cause_);
}

Result<void> Bus::Publish(storage::Connection& db, const std::string& service,
                          const std::string& type, const std::string& subject,
                          const std::string& data, const Envelope* cause) {
    // Text that is not JSON parses to a discarded value, which the contract check rejects.
    return Publish(db, service, type, subject, nlohmann::json::parse(data, nullptr, false), cause);
}

SqlLogBus::SqlLogBus(const ContractRegistry& contracts, const Clock& clock, IdGenerator& ids,
                     BusOptions options)
    : contracts_(contracts), clock_(clock), ids_(ids), options_(options) {}

SqlLogBus::~SqlLogBus() { Stop(); }

Result<void> SqlLogBus::Migrate(storage::Connection& db) {
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

Result<void> Bus::Publish(storage::Connection& db, const std::string& service,
                          const std::string& type, const std::string& subject,
                          nlohmann::json data) {
    return Publish(db, service, type, subject, std::move(data), nullptr);
}

Result<void> Bus::Publish(storage::Connection& db, const std::string& service,
                          const std::string& type, const std::string& subject, nlohmann::json data,
                          const Envelope* cause) {
    auto message = Prepare(service, type, subject, std::move(data), cause);
    if (!message) return std::unexpected(message.error());
    return Publish(db, *message);
}

Result<PreparedMessage> SqlLogBus::Prepare(const std::string& service, const std::string& type,
                                           const std::string& subject, nlohmann::json data,
                                           const Envelope* cause) {
    if (auto ok = contracts_.CheckSend(service, type, data); !ok) {
        if (options_.strict_contracts) throw ContractViolation(ok.error().message);
        return std::unexpected(ok.error());
    }
    Envelope e;
    e.id = ids_.Next();
    e.type = type;
    e.source = service;
    e.subject = subject;
    e.dataschema = contracts_.DataSchema(type);
    e.correlation_id = cause != nullptr ? cause->correlation_id : subject;
    e.causation_id = cause != nullptr ? cause->id : std::string();
    e.traceparent =
        cause != nullptr && !cause->traceparent.empty()
            ? cause->traceparent.substr(0, 36) + Hex32(e.id).substr(16, 16) + "-01"
            : "00-" + Hex32(e.correlation_id) + "-" + Hex32(e.id).substr(16, 16) + "-01";
    e.data = data.dump();
    e.payload = std::make_shared<const nlohmann::json>(std::move(data));
    const std::int64_t now = clock_.NowMillis();
    e.time = FormatTime(now);
    return MakePrepared(std::move(e), now);
}

Result<void> SqlLogBus::Publish(storage::Connection& db, const PreparedMessage& message) {
    const Envelope& e = message.envelope();
    const Value params[] = {
        e.id,           e.type,        e.source, e.subject, e.dataschema,        e.correlation_id,
        e.causation_id, e.traceparent, e.data,   e.time,    message.created_ms()};
    auto ok = db.Execute(
        "INSERT INTO bus_log(id, type, source, subject, dataschema, correlation_id, causation_id, "
        "traceparent, data, time, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        params);
    if (!ok) return ok;
    published_.fetch_add(1);
    // Kept even if this transaction rolls back: an id is never used again.
    if (auto it = readers_.find(e.type); it != readers_.end()) {
        recent_.Put(e.id, e.payload, it->second);
    }
    return ok;
}

bool SqlLogBus::Enqueue(PendingWrite* w) {
    {
        std::lock_guard lock(writes_mutex_);
        if (!writer_running_ || std::this_thread::get_id() == dispatcher_id_) return false;
        writes_.push_back(w);
    }
    dispatcher_signal_.Raise();
    return true;
}

Result<void> SqlLogBus::Write(storage::Connection& db, const WriteFn& fn) {
    PendingWrite pending;
    pending.fn = &fn;
    // `pending` is not read once queued until the dispatcher releases it.
    if (!Enqueue(&pending)) return storage::InTransaction(db, [&] { return fn(db); });
    // Each caller waits on its own semaphore: finishing a batch wakes exactly its callers.
    pending.finished.acquire();
    if (pending.exception) std::rethrow_exception(pending.exception);
    return pending.result;
}

void SqlLogBus::WriteAsync(storage::Connection& db, WriteFn fn, WriteDone done) {
    auto pending = std::make_unique<PendingWrite>();
    pending->owned = std::move(fn);
    pending->fn = &pending->owned;
    pending->done = std::move(done);
    if (Enqueue(pending.get())) {
        pending.release();  // FinishWrites deletes it
        return;
    }
    try {
        pending->result = storage::InTransaction(db, [&] { return pending->owned(db); });
    } catch (...) {
        pending->exception = std::current_exception();
    }
    Tell(*pending);
}

void SqlLogBus::Tell(PendingWrite& w) {
    Result<void> result = std::move(w.result);
    if (w.exception) {
        try {
            std::rethrow_exception(w.exception);
        } catch (const std::exception& e) {
            result = MakeError(ErrorCode::kInternal, std::string("write failed: ") + e.what());
        } catch (...) {
            result = MakeError(ErrorCode::kInternal, "write failed");
        }
    }
    w.done(std::move(result));
}

Result<std::size_t> SqlLogBus::RunWrites(storage::Connection& db) {
    std::vector<PendingWrite*> batch;
    {
        std::lock_guard lock(writes_mutex_);
        batch.swap(writes_);
    }
    if (batch.empty()) return 0;
    if (auto ok = db.Begin(); !ok) {
        for (PendingWrite* w : batch) w->result = ok;
        FinishWrites(batch);
        return std::unexpected(ok.error());
    }
    for (PendingWrite* w : batch) {
        // A savepoint per write: one that fails or throws leaves the others standing.
        if (auto ok = db.Begin(); !ok) {
            w->result = ok;
            continue;
        }
        try {
            w->result = (*w->fn)(db);
        } catch (...) {
            w->exception = std::current_exception();
        }
        if (!w->exception && w->result) {
            if (auto ok = db.Commit(); ok) continue;
            w->result = MakeError(ErrorCode::kInternal, "savepoint release failed");
        }
        db.Rollback();
    }
    if (auto ok = db.Commit(); !ok) {
        db.Rollback();
        for (PendingWrite* w : batch) {
            if (!w->exception && w->result) w->result = ok;
        }
        FinishWrites(batch);
        return std::unexpected(ok.error());
    }
    writes_run_.fetch_add(static_cast<std::int64_t>(batch.size()));
    write_commits_.fetch_add(1);
    FinishWrites(batch);
    return batch.size();
}

void SqlLogBus::FinishWrites(std::vector<PendingWrite*>& batch) {
    std::vector<PendingWrite*> to_tell;
    for (PendingWrite* w : batch) {
        if (!w->done) {
            // After release the caller may return at once and its PendingWrite is gone.
            w->finished.release();
            continue;
        }
        to_tell.push_back(w);
    }
    if (to_tell.empty()) return;
    {
        // The whole batch in one hand-off: the writer wakes one thread, not one per caller.
        std::lock_guard lock(tell_mutex_);
        if (teller_running_) {
            to_tell_.insert(to_tell_.end(), to_tell.begin(), to_tell.end());
            tell_cv_.notify_one();
            return;
        }
    }
    TellAll(to_tell);
}

void SqlLogBus::TellAll(std::vector<PendingWrite*>& batch) {
    for (PendingWrite* w : batch) {
        std::unique_ptr<PendingWrite> owned(w);
        Tell(*w);
    }
    batch.clear();
}

void SqlLogBus::RunTeller() {
    pthread_setname_np(pthread_self(), "acme-tell");
    std::vector<PendingWrite*> batch;
    std::unique_lock lock(tell_mutex_);
    for (;;) {
        tell_cv_.wait(lock, [&] { return !to_tell_.empty() || !teller_running_; });
        if (to_tell_.empty()) return;  // stopping, and everything told
        batch.swap(to_tell_);
        lock.unlock();
        TellAll(batch);
        lock.lock();
    }
}

Result<void> SqlLogBus::Subscribe(const std::string& consumer, const std::string& type,
                                  Handler handler) {
    if (!contracts_.Receives(consumer, type)) {
        return MakeError(ErrorCode::kFailedPrecondition, "contract violation: service '" +
                                                             consumer + "' does not declare '" +
                                                             type + "' in receives");
    }
    Consumer& c = consumers_[consumer];
    c.name = consumer;
    if (!c.handlers.contains(type)) ++readers_[type];
    c.handlers[type] = std::move(handler);
    PrepareFetchSql(c);
    return {};
}

void SqlLogBus::PrepareFetchSql(Consumer& c) {
    std::string in;
    for (const auto& [type, h] : c.handlers) {
        if (!in.empty()) in += ",";
        in += "'" + type + "'";  // catalog ids: [a-z0-9-], checked by Subscribe
    }
    // `+type` keeps SQLite on the primary key: a range scan over the new rows, in order, with
    // no sort; the range is short because `scanned` skips rows other consumers care about.
    c.fetch_sql = std::string("SELECT ") + kColumns +
                  " FROM bus_log WHERE seq > ? AND seq <= ? AND +type IN (" + in +
                  ") ORDER BY seq LIMIT ?";
}

Result<void> SqlLogBus::Answer(const std::string& service, const std::string& type,
                               QueryHandler handler) {
    if (!contracts_.Receives(service, type)) {
        return MakeError(ErrorCode::kFailedPrecondition, "contract violation: service '" + service +
                                                             "' does not declare '" + type +
                                                             "' in receives");
    }
    answers_[type] = std::move(handler);
    return {};
}

Result<nlohmann::json> SqlLogBus::Ask(storage::Connection& db, const std::string& service,
                                      const std::string& type, const nlohmann::json& request) {
    if (auto ok = contracts_.CheckSend(service, type, request); !ok) {
        if (options_.strict_contracts) throw ContractViolation(ok.error().message);
        return std::unexpected(ok.error());
    }
    auto it = answers_.find(type);
    if (it == answers_.end()) {
        return MakeError(ErrorCode::kNotFound, "no service answers query '" + type + "'");
    }
    return it->second(db, request);
}

void SqlLogBus::AddWorker(std::int64_t period_ms, Worker worker) {
    workers_.emplace_back(period_ms, std::move(worker));
}

void SqlLogBus::AddTicker(const std::string& service, std::int64_t period_ms, Ticker ticker) {
    tickers_.push_back({service, period_ms, std::move(ticker), 0});
}

std::int64_t SqlLogBus::Backoff(int attempts) {
    std::int64_t delay = options_.retry_base_ms;
    for (int i = 1; i < attempts && delay < options_.retry_max_ms; ++i) delay *= 2;
    delay = std::min(delay, options_.retry_max_ms);
    std::uint64_t r = 0;
    {
        std::lock_guard lock(jitter_mutex_);
        jitter_state_ ^= jitter_state_ << 13;
        jitter_state_ ^= jitter_state_ >> 7;
        jitter_state_ ^= jitter_state_ << 17;
        r = jitter_state_;
    }
    // Full jitter on the upper half: [delay/2, delay].
    const std::int64_t half = delay / 2;
    return half +
           (half > 0 ? static_cast<std::int64_t>(r % static_cast<std::uint64_t>(half + 1)) : 0);
}

Result<bool> SqlLogBus::HandleOne(Consumer& c, storage::Connection& db, const Envelope& e,
                                  std::int64_t through) {
    if (through >= 0) {
        // In log order: past the watermark means new (the caller moves the watermark in
        // this transaction); at or below it, taken in before (applied, or the retry queue's).
        if (e.seq <= through) {
            duplicates_.fetch_add(1);
            return false;
        }
    } else {
        const Value key[] = {c.name, e.id};
        if (auto ok = db.Execute(
                "INSERT INTO bus_inbox(consumer, message_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                key);
            !ok) {
            return std::unexpected(ok.error());
        }
        if (db.Changes() == 0) {
            duplicates_.fetch_add(1);
            return false;  // already applied
        }
    }
    auto it = c.handlers.find(e.type);
    if (it == c.handlers.end()) return false;
    Publisher out(*this, db, c.name, &e);
    // A handler that throws on a malformed message (a payload that slipped past the contract,
    // a replayed or hand-inserted row) fails that message like an error does: it is retried
    // and dead-lettered with the reason, and the consumer goes on. Contract violations in
    // strict mode stay exceptions: tests make them fatal.
    Result<void> ok;
    try {
        ok = it->second(e, out);
    } catch (const ContractViolation&) {
        throw;
    } catch (const std::exception& ex) {
        ok = MakeError(ErrorCode::kInvalidArgument,
                       std::string("handler failed on ") + e.type + " " + e.id + ": " + ex.what());
    }
    if (!ok) return std::unexpected(ok.error());
    handled_.fetch_add(1);
    return true;
}

Result<void> SqlLogBus::RecordFailure(Consumer& c, storage::Connection& db, const Envelope& e,
                                      int attempts, const std::string& reason,
                                      bool advance_offset) {
    return storage::InTransaction(db, [&]() -> Result<void> {
        if (advance_offset) {
            // Taken in: the retry queue owns the message now.
            if (auto ok = SetOffset(c, db, e.seq); !ok) return ok;
        }
        if (attempts >= options_.max_attempts) {
            dead_letters_.fetch_add(1);
            const Value dl[] = {c.name,
                                e.seq,
                                e.id,
                                e.type,
                                static_cast<std::int64_t>(attempts),
                                reason,
                                FormatTime(clock_.NowMillis())};
            if (auto ok = db.Execute(
                    "INSERT INTO bus_dead_letters(consumer, seq, message_id, type, attempts, "
                    "reason, time) VALUES (?,?,?,?,?,?,?)",
                    dl);
                !ok) {
                return ok;
            }
            const Value del[] = {c.name, e.seq};
            return db.Execute("DELETE FROM bus_retries WHERE consumer = ? AND seq = ?", del);
        }
        retries_.fetch_add(1);
        const Value rt[] = {c.name, e.seq, static_cast<std::int64_t>(attempts),
                            clock_.NowMillis() + Backoff(attempts), reason};
        return db.Execute(
            "INSERT INTO bus_retries(consumer, seq, attempts, next_at, last_error) VALUES "
            "(?,?,?,?,?) ON CONFLICT(consumer, seq) DO UPDATE SET attempts = excluded.attempts, "
            "next_at = excluded.next_at, last_error = excluded.last_error",
            rt);
    });
}

Result<Result<bool>> SqlLogBus::HandleAlone(Consumer& c, storage::Connection& db, const Envelope& e,
                                            std::int64_t through,
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

Result<SqlLogBus::Fetched> SqlLogBus::Fetch(Consumer& c, storage::Connection& db) {
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
        f.batch.push_back(FromRow(r));
        f.batch.back().payload = recent_.Take(f.batch.back().id);
    }
    return f;
}

void SqlLogBus::ForgetScanned() {
    for (auto& [name, c] : consumers_) c.scanned = -1;
}

void SqlLogBus::MarkScanned(Consumer& c, const Fetched& f) {
    if (f.top < 0) return;
    if (f.batch.empty()) {
        c.scanned = f.top;  // nothing for this consumer up to here
        c.scanned_from = f.stored;
        return;
    }
    c.scanned = f.full ? f.batch.back().seq : f.top;
    c.scanned_from = f.batch.back().seq;
}

Result<void> SqlLogBus::SetOffset(Consumer& c, storage::Connection& db, std::int64_t seq) {
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

Result<bool> SqlLogBus::HandleBatch(Consumer& c, storage::Connection& db, const Fetched& f) {
    for (const Envelope& e : f.batch) {
        if (auto r = HandleOne(c, db, e, f.through); !r) return false;
    }
    if (auto ok = SetOffset(c, db, f.batch.back().seq); !ok) return std::unexpected(ok.error());
    return true;
}

Result<std::size_t> SqlLogBus::ProcessAlone(Consumer& c, storage::Connection& db,
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

Result<std::size_t> SqlLogBus::ProcessRound(storage::Connection& db) {
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

Result<std::size_t> SqlLogBus::ProcessRetries(Consumer& c, storage::Connection& db) {
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
        const Envelope e = FromRow(row, 1);
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

Result<std::size_t> SqlLogBus::RunTicker(TickerEntry& t, storage::Connection& db, bool force) {
    const std::int64_t now = clock_.NowMillis();
    if (!force && now < t.next_at) return 0;
    t.next_at = now + t.period_ms;
    auto before = published_.load();
    // Serving, the ticker's transaction runs on the dispatcher (the one writer).
    auto ok = Write(db, [&](storage::Connection& tx) {
        Publisher out(*this, tx, t.service);
        return t.fn(out);
    });
    if (!ok) return std::unexpected(ok.error());
    return static_cast<std::size_t>(published_.load() - before);
}

Result<std::size_t> SqlLogBus::RunUntilIdle(storage::Connection& db, int max_rounds) {
    const std::int64_t handled_before = handled_.load();
    for (int round = 0; round < max_rounds; ++round) {
        std::size_t work = 0;
        for (auto& t : tickers_) {
            auto n = RunTicker(t, db, true);
            if (!n) return std::unexpected(n.error());
            work += *n;
        }
        auto n = ProcessRound(db);
        if (!n) return std::unexpected(n.error());
        work += *n;
        for (auto& [period, worker] : workers_) {
            auto w = worker(db);
            if (!w) return std::unexpected(w.error());
            work += *w;
        }
        for (auto& [name, c] : consumers_) {
            auto m = ProcessRetries(c, db);
            if (!m) return std::unexpected(m.error());
            work += *m;
        }
        if (work == 0) break;
    }
    return static_cast<std::size_t>(handled_.load() - handled_before);
}

Result<void> SqlLogBus::Start(const Connector& connect) {
    running_ = true;
    {
        std::lock_guard lock(tell_mutex_);
        teller_running_ = true;
    }
    teller_ = std::jthread([this] { RunTeller(); });
    // One dispatcher for every consumer: SQLite has one writer, so consumer threads of their
    // own would only queue for it; one thread commits all their batches together.
    if (!consumers_.empty()) {
        auto db = connect();
        if (!db) return std::unexpected(db.error());
        {
            // Running from here on: a write made as soon as Start returns is queued for the
            // dispatcher (its first round runs it), not run on the caller's connection.
            std::lock_guard lock(writes_mutex_);
            writer_running_ = true;
        }
        threads_.emplace_back([this, conn = std::shared_ptr(std::move(*db))] {
            pthread_setname_np(pthread_self(), "acme-dispatch");  // for top -H, perf
            {
                // Linux: nice is per thread. EACCES without CAP_SYS_NICE: keep what it has.
                const auto tid = static_cast<id_t>(gettid());
                if (options_.dispatcher_nice != 0) {
                    (void)setpriority(PRIO_PROCESS, tid, options_.dispatcher_nice);
                }
                errno = 0;
                const int nice = getpriority(PRIO_PROCESS, tid);
                dispatcher_nice_ = errno == 0 ? nice : 0;
            }
            {
                std::lock_guard lock(writes_mutex_);
                dispatcher_id_ = std::this_thread::get_id();
            }
            while (running_) {
                const std::uint64_t seen = dispatcher_signal_.Seen();
                // Writes queued by other threads first: the messages they publish are then
                // handled in this same round.
                auto w = RunWrites(*conn);
                auto n = ProcessRound(*conn);
                std::size_t work = (n ? *n : 0) + (w ? *w : 0);
                for (auto& [name, c] : consumers_) {
                    auto m = ProcessRetries(c, *conn);
                    work += m ? *m : 0;
                }
                if (!n) std::this_thread::sleep_for(std::chrono::milliseconds(10));
                if (work > 0) {
                    worker_signal_.Raise();  // the round may have queued work for them
                    continue;
                }
                const bool woken = dispatcher_signal_.WaitPast(seen, options_.poll_ms, running_);
                // Let a little more arrive so the next round carries several messages.
                if (woken && options_.linger_us > 0) {
                    std::this_thread::sleep_for(std::chrono::microseconds(options_.linger_us));
                }
            }
            // Stopping: writes queued until now still run; later ones run on their callers'
            // connections.
            {
                std::lock_guard lock(writes_mutex_);
                writer_running_ = false;
            }
            (void)RunWrites(*conn);
        });
    }
    for (auto& [period, worker] : workers_) {
        auto db = connect();
        if (!db) return std::unexpected(db.error());
        threads_.emplace_back(
            [this, period_ms = period, fn = &worker, conn = std::shared_ptr(std::move(*db))] {
                pthread_setname_np(pthread_self(), "acme-worker");
                while (running_) {
                    const std::uint64_t seen = worker_signal_.Seen();
                    auto n = (*fn)(*conn);
                    if (n && *n > 0) {
                        dispatcher_signal_.Raise();
                        continue;
                    }
                    (void)worker_signal_.WaitPast(seen, period_ms, running_);
                }
            });
    }
    for (auto& ticker : tickers_) {
        auto db = connect();
        if (!db) return std::unexpected(db.error());
        threads_.emplace_back([this, t = &ticker, conn = std::shared_ptr(std::move(*db))] {
            pthread_setname_np(pthread_self(), "acme-ticker");
            while (running_) {
                auto n = RunTicker(*t, *conn, false);
                if (n && *n > 0) dispatcher_signal_.Raise();
                (void)stop_signal_.WaitPast(stop_signal_.Seen(),
                                            std::min<std::int64_t>(t->period_ms, options_.poll_ms),
                                            running_);
            }
        });
    }
    return {};
}

void SqlLogBus::Stop() {
    running_ = false;
    for (Signal* s : {&dispatcher_signal_, &worker_signal_, &stop_signal_}) s->Raise();
    threads_.clear();
    // Last, once the dispatcher is gone: the teller tells what is queued, then ends.
    {
        std::lock_guard lock(tell_mutex_);
        teller_running_ = false;
    }
    tell_cv_.notify_one();
    if (teller_.joinable()) teller_.join();
}

void SqlLogBus::Notify() {
    dispatcher_signal_.Raise();
    worker_signal_.Raise();
}

void SqlLogBus::Signal::Raise() {
    {
        std::lock_guard lock(mutex);
        ++generation;
    }
    cv.notify_all();
}

std::uint64_t SqlLogBus::Signal::Seen() {
    std::lock_guard lock(mutex);
    return generation;
}

bool SqlLogBus::Signal::WaitPast(std::uint64_t seen, std::int64_t timeout_ms,
                                 const std::atomic<bool>& running) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
        return !running || generation != seen;
    }) && generation != seen;
}

Result<std::vector<DeadLetter>> ListDeadLetters(storage::Connection& db, bool all) {
    auto rows =
        db.Query(std::string("SELECT id, consumer, seq, message_id, type, attempts, reason, "
                             "time, replayed FROM bus_dead_letters") +
                 (all ? "" : " WHERE replayed = 0") + " ORDER BY id DESC");
    if (!rows) return std::unexpected(rows.error());
    std::vector<DeadLetter> out;
    for (const auto& r : *rows) {
        out.push_back({r.Int(0), r.Text(1), r.Int(2), r.Text(3), r.Text(4), r.Int(5), r.Text(6),
                       r.Text(7), r.Int(8) != 0});
    }
    return out;
}

Result<std::int64_t> ReplayDeadLetters(storage::Connection& db, std::int64_t id,
                                       std::int64_t now_ms) {
    return storage::InTransaction(db, [&]() -> Result<std::int64_t> {
        const Value filter[] = {id, id};
        auto rows = db.Query(
            "SELECT id, consumer, seq FROM bus_dead_letters WHERE replayed = 0 AND (? = 0 OR id = "
            "?)",
            filter);
        if (!rows) return std::unexpected(rows.error());
        if (rows->empty() && id != 0) {
            return MakeError(ErrorCode::kNotFound,
                             "no dead letter " + std::to_string(id) + " to replay");
        }
        for (const auto& r : *rows) {
            const Value retry[] = {r.Text(1), r.Int(2), now_ms};
            if (auto ok = db.Execute(
                    "INSERT INTO bus_retries(consumer, seq, attempts, next_at, last_error) VALUES "
                    "(?, ?, 0, ?, 'replayed') ON CONFLICT(consumer, seq) DO UPDATE SET attempts = "
                    "0, "
                    "next_at = excluded.next_at",
                    retry);
                !ok) {
                return std::unexpected(ok.error());
            }
            const Value mark[] = {r.Int(0)};
            if (auto ok = db.Execute("UPDATE bus_dead_letters SET replayed = 1 WHERE id = ?", mark);
                !ok) {
                return std::unexpected(ok.error());
            }
        }
        return static_cast<std::int64_t>(rows->size());
    });
}

BusStats SqlLogBus::Stats() const {
    return {published_.load(),     handled_.load(),        duplicates_.load(),
            retries_.load(),       dead_letters_.load(),   writes_run_.load(),
            write_commits_.load(), dispatcher_nice_.load()};
}

}  // namespace acme::messaging
