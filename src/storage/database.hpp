// The database interface every service writes through, and its SQLite backend.
//
// A `Connection` runs SQL with positional `?` parameters and returns rows of plain values,
// so services never see a driver type; the PostgreSQL backend will implement the same
// interface. A connection is used by one thread at a time. Statements are prepared once and
// cached per connection.
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

    // Transactions: Begin takes the write lock up front (SQLite: BEGIN IMMEDIATE). Inside an
    // open transaction Begin starts a savepoint, which Commit releases and Rollback undoes
    // alone; only the outermost Commit makes the work durable.
    virtual Result<void> Begin() = 0;
    virtual Result<void> Commit() = 0;
    virtual void Rollback() = 0;
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

}  // namespace acme::storage
