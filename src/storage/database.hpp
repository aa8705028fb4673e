// The database interface every service writes through, and its SQLite backend.
//
// A `Connection` runs SQL with positional `?` parameters and returns rows of plain values,
// so services never see a driver type; SQLite (`OpenSqlite`) and PostgreSQL (`OpenPostgres`)
// implement it. A connection is used by one thread at a time. Statements are prepared once
// and cached per connection.
//
// What every backend guarantees, and all domain code may rely on (no more):
// - A transaction (Begin ... Commit) is atomic and durable at Commit, and sees its own writes.
// - Reads inside a transaction see data committed before the transaction's first statement or
//   later (read committed at least); a value read and then written back may have been changed
//   meanwhile by another connection. So a write that depends on a read is made conditional in
//   the statement itself (`UPDATE ... SET n = n + ? WHERE ... AND n + ? <= cap`, then check
//   Changes()), or keyed so that a second writer conflicts (`INSERT ... ON CONFLICT DO
//   NOTHING`, then check Changes()).
// - Two transactions writing the same row are serialized: the second waits for the first, or
//   fails with kUnavailable/kConflict and nothing of it stays.
// - A statement that fails inside a transaction fails the transaction (PostgreSQL aborts it):
//   the caller rolls back. Only a nested Begin (a savepoint) contains a failure to itself.
// - kUnavailable means "try again": the database is busy, restarting or unreachable. A
//   connection that lost its server reconnects on its next use outside a transaction; the
//   transaction it was in is gone (a Commit whose answer was lost may have committed: units
//   are retried, and consumers' inboxes absorb a second delivery).
// SQLite gives more (one writer at a time: Begin takes the write lock up front), but nothing
// outside `src/storage` and the SQLite log transport may count on it.
//
// SQL in domain code is the subset both SQLite and PostgreSQL run: `?` parameters, `ON
// CONFLICT ... DO NOTHING / DO UPDATE`, `CASE`, `COALESCE`, no `INSERT OR ...`, no pragmas.
// Schema differences live in per-backend migration scripts (`Migration`, below).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"

namespace acme::storage {

using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

enum class Dialect { kSqlite, kPostgresql };

struct Row {
    std::vector<Value> values;

    [[nodiscard]] bool IsNull(std::size_t i) const;
    [[nodiscard]] std::int64_t Int(std::size_t i) const;  // 0 for NULL
    [[nodiscard]] std::string Text(std::size_t i) const;  // "" for NULL
    // Text(i), moved out of the row (which is left with an empty value there).
    [[nodiscard]] std::string TakeText(std::size_t i);
    [[nodiscard]] double Real(std::size_t i) const;
};

class Connection {
  public:
    virtual ~Connection() = default;

    // Runs one statement; kConflict on a constraint violation, kUnavailable when the database
    // is busy past its timeout, kInternal otherwise.
    virtual Result<void> Execute(std::string_view sql, std::span<const Value> params = {}) = 0;
    // Runs one statement and returns its rows.
    virtual Result<std::vector<Row>> Query(std::string_view sql,
                                           std::span<const Value> params = {}) = 0;
    // Runs a script of several statements without parameters (schema migrations).
    virtual Result<void> ExecuteScript(std::string_view sql) = 0;
    // Rows changed by the last Execute.
    [[nodiscard]] virtual std::int64_t Changes() = 0;
    // Which SQL the connection speaks (migrations pick their script by it).
    [[nodiscard]] virtual Dialect dialect() const = 0;
    // Whether the schema has table `table` / column `column` of table `table` (migrations of
    // databases made before a change).
    [[nodiscard]] virtual Result<bool> HasTable(std::string_view table) = 0;
    [[nodiscard]] virtual Result<bool> HasColumn(std::string_view table,
                                                 std::string_view column) = 0;

    // Transactions, with the guarantees above. Inside an open transaction Begin starts a
    // savepoint, which Commit releases and Rollback undoes alone; only the outermost Commit
    // makes the work durable. (SQLite: BEGIN IMMEDIATE, the write lock taken up front.)
    virtual Result<void> Begin() = 0;
    virtual Result<void> Commit() = 0;
    virtual void Rollback() = 0;

    // Inside a transaction: once it commits, wake those listening on `channel` (PostgreSQL's
    // NOTIFY, sent once per channel and transaction, with the COMMIT; `Listener` below). A
    // no-op where nobody else can listen (SQLite: one process).
    virtual void NotifyOnCommit(std::string_view channel) { (void)channel; }

    // Least privilege: what follows runs with the privileges of database role `role`
    // ([a-z0-9_]+; empty: the login's own), until the next ActAs (PostgreSQL's SET ROLE,
    // issued only when the role changes; a rollback undoes a SET made inside it, so the
    // next ActAs sets it again). The login must be a member of `role` (kFailedPrecondition
    // when it is not). A no-op where the database has no roles (SQLite).
    virtual Result<void> ActAs(std::string_view role) {
        (void)role;
        return {};
    }
};

// Waits for notifications on some channels over a connection of its own (PostgreSQL LISTEN).
// Used by one thread; reconnects (and listens again) after a lost connection.
class Listener {
  public:
    virtual ~Listener() = default;
    // Blocks until a notification arrives (true) or `timeout_ms` passes (false); every
    // notification that arrived meanwhile is taken. kUnavailable while the server is gone.
    [[nodiscard]] virtual Result<bool> Wait(int timeout_ms) = 0;
};

enum class Durability {
    kFull,    // fsync on every commit (synchronous=FULL)
    kNormal,  // WAL with synchronous=NORMAL: durable against process crashes, not power loss
};

struct SqliteOptions {
    Durability durability = Durability::kNormal;
    int busy_timeout_ms = 10000;
    // A commit that leaves the WAL longer than this many pages checkpoints it (SQLite's
    // default, 1,000): on the spot, or, while a `WalCheckpointer` runs for the file, on that
    // thread (on the spot again past 16 times as many: a backstop). 0: never.
    int autocheckpoint_pages = 1000;
    // Write a transaction's WAL frames with one system call instead of two per page
    // (sqlite_wal_vfs.hpp). Off: SQLite's default VFS as it is.
    bool coalesce_wal_writes = true;
};

// WAL writes SQLite made through the coalescing VFS in this process, and the system calls
// that carried them.
struct WalWriteStats {
    std::int64_t writes = 0;
    std::int64_t flushes = 0;
};
[[nodiscard]] WalWriteStats GetWalWriteStats();

// Opens (creating when needed) an SQLite database in WAL mode.
[[nodiscard]] Result<std::unique_ptr<Connection>> OpenSqlite(const std::filesystem::path& path,
                                                             const SqliteOptions& options = {});

struct PostgresOptions {
    int connect_timeout_s = 10;
    // A wait for a lock past this fails the statement with kUnavailable (SQLite's busy
    // timeout, here).
    int lock_timeout_ms = 10000;
    // Shown in pg_stat_activity: which service and instance holds the connection.
    std::string application_name;
};

// Connects to a PostgreSQL server by URL (`postgresql://user@host:port/db?options=...`, libpq's
// syntax; `options=-csearch_path%3Dschema` picks the schema unqualified names live in).
// kUnavailable when the server cannot be reached.
[[nodiscard]] Result<std::unique_ptr<Connection>> OpenPostgres(std::string_view url,
                                                               const PostgresOptions& options = {});

// A listener on `channels` (identifiers: [a-z_]+) of the database at `url`.
[[nodiscard]] Result<std::unique_ptr<Listener>> ListenPostgres(
    std::string_view url, const std::vector<std::string>& channels);

// Whether `url` names a PostgreSQL database (postgresql:// or postgres://).
[[nodiscard]] bool IsPostgresUrl(std::string_view url);

// Copies an SQLite database's WAL back into the database file from a thread of its own, in
// PASSIVE mode (it never waits for the writer or for readers), whenever a commit of this
// process finds the WAL past its `autocheckpoint_pages`. That commit's thread then does not
// stop for the checkpoint's copying and fsyncs. One per file; stops when destroyed.
class WalCheckpointer {
  public:
    struct Stats {
        std::int64_t checkpoints = 0;  // runs so far
        std::int64_t wal_frames = 0;   // frames in the WAL at the last run
        std::int64_t backfilled = 0;   // of which copied into the database file
    };
    virtual ~WalCheckpointer() = default;
    [[nodiscard]] virtual Stats stats() const = 0;
};

// `locked_nice`: the scheduling priority (nice) the thread takes while it holds the writer
// mutex, the writer's own (so the writer does not wait for it behind threads the writer
// outranks); 0 leaves it as it is, and without CAP_SYS_NICE a raise is not allowed.
[[nodiscard]] Result<std::unique_ptr<WalCheckpointer>> StartWalCheckpointer(
    const std::filesystem::path& path, const SqliteOptions& options, int locked_nice = 0);

// Runs `fn` inside a transaction: commits when it returns a value, rolls back on an error
// or an exception (which is rethrown), so the write lock is never left held.
template <typename Fn>
auto InTransaction(Connection& db, Fn&& fn) -> decltype(fn()) {
    if (auto ok = db.Begin(); !ok) return std::unexpected(ok.error());
    decltype(fn()) result;
    try {
        result = fn();
    } catch (...) {
        db.Rollback();
        throw;
    }
    if (!result) {
        db.Rollback();
        return result;
    }
    if (auto ok = db.Commit(); !ok) {
        db.Rollback();
        return std::unexpected(ok.error());
    }
    return result;
}

// One step of a component's schema, applied once per database, in version order, in one
// transaction with the record that it was applied (`schema_migrations`). A step has a script
// per backend; `upgrade`, when set, runs after the script, for databases made before
// versioning whose shape it must inspect (HasColumn) before changing it.
struct Migration {
    int version = 0;
    std::string_view summary;
    std::string_view sqlite;
    std::string_view postgresql;
    Result<void> (*upgrade)(Connection& db) = nullptr;
};

// Adds column `column` (of SQL type `type`) to `table` unless the table has it already: the
// usual `upgrade` of a table made before versioning, when the column came later.
[[nodiscard]] Result<void> AddColumnIfMissing(Connection& db, std::string_view table,
                                              std::string_view column, std::string_view type);

// Applies the steps of `component` that this database has not had yet. kFailedPrecondition when a
// step has no script for the connection's dialect; steps must be in increasing version order.
// Safe when several processes start together: the check and the steps run in one write
// transaction, which on PostgreSQL first takes a transaction-level advisory lock (concurrent
// `CREATE TABLE IF NOT EXISTS` would otherwise race on the catalog).
[[nodiscard]] Result<void> Migrate(Connection& db, std::string_view component,
                                   std::span<const Migration> steps);

}  // namespace acme::storage
