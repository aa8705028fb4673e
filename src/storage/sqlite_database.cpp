// SQLite adapter: the only file that includes sqlite3.h.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <pthread.h>

#include "storage/database.hpp"

namespace acme::storage {

bool Row::IsNull(std::size_t i) const { return std::holds_alternative<std::monostate>(values[i]); }

std::int64_t Row::Int(std::size_t i) const {
    if (const auto* v = std::get_if<std::int64_t>(&values[i])) return *v;
    if (const auto* d = std::get_if<double>(&values[i])) return static_cast<std::int64_t>(*d);
    if (const auto* s = std::get_if<std::string>(&values[i])) return std::stoll(*s);
    return 0;
}

std::string Row::Text(std::size_t i) const {
    if (const auto* s = std::get_if<std::string>(&values[i])) return *s;
    if (const auto* v = std::get_if<std::int64_t>(&values[i])) return std::to_string(*v);
    if (const auto* d = std::get_if<double>(&values[i])) return std::to_string(*d);
    return {};
}

std::string Row::TakeText(std::size_t i) {
    if (auto* s = std::get_if<std::string>(&values[i])) return std::move(*s);
    return Text(i);
}

double Row::Real(std::size_t i) const {
    if (const auto* d = std::get_if<double>(&values[i])) return *d;
    return static_cast<double>(Int(i));
}

namespace {

// SQLite has one writer at a time. Left to itself, a blocked writer sleeps in the busy
// handler (1, 2, 5, 10 ... 100 ms), which dominates latency under load; connections of one
// process to one file instead queue on this mutex and are handed the lock in turn.
std::mutex& WriterLock(const std::string& path) {
    static std::mutex registry_mutex;
    static std::map<std::string, std::unique_ptr<std::mutex>> locks;
    std::lock_guard lock(registry_mutex);
    auto& m = locks[path];
    if (!m) m = std::make_unique<std::mutex>();
    return *m;
}

class SqliteConnection final : public Connection {
  public:
    SqliteConnection(sqlite3* db, const std::string& path) : db_(db), writer_(WriterLock(path)) {}
    ~SqliteConnection() override {
        for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
        sqlite3_close_v2(db_);
    }

    Result<void> Execute(std::string_view sql, std::span<const Value> params) override {
        auto stmt = Prepare(sql);
        if (!stmt) return std::unexpected(stmt.error());
        if (auto ok = Bind(*stmt, params); !ok) return ok;
        // A write outside a transaction takes the writer lock for its own implicit one.
        std::unique_lock<std::mutex> lock;
        if (!in_transaction_ && sqlite3_stmt_readonly(*stmt) == 0) {
            lock = std::unique_lock(writer_);
        }
        for (;;) {
            const int rc = sqlite3_step(*stmt);
            if (rc == SQLITE_ROW) continue;
            sqlite3_reset(*stmt);
            if (rc == SQLITE_DONE) return {};
            return Fail(rc, sql);
        }
    }

    Result<std::vector<Row>> Query(std::string_view sql, std::span<const Value> params) override {
        auto stmt = Prepare(sql);
        if (!stmt) return std::unexpected(stmt.error());
        if (auto ok = Bind(*stmt, params); !ok) return std::unexpected(ok.error());
        std::vector<Row> rows;
        for (;;) {
            const int rc = sqlite3_step(*stmt);
            if (rc == SQLITE_ROW) {
                const int n = sqlite3_column_count(*stmt);
                Row row;
                row.values.reserve(static_cast<std::size_t>(n));
                for (int i = 0; i < n; ++i) row.values.push_back(Column(*stmt, i));
                rows.push_back(std::move(row));
                continue;
            }
            sqlite3_reset(*stmt);
            if (rc == SQLITE_DONE) return rows;
            return std::unexpected(Fail(rc, sql).error());
        }
    }

    Result<void> ExecuteScript(std::string_view sql) override {
        char* message = nullptr;
        const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
        if (rc == SQLITE_OK) return {};
        std::string text = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        return MakeError(ErrorCode::kInternal, "sqlite: " + text);
    }

    std::int64_t Changes() override { return sqlite3_changes64(db_); }
    [[nodiscard]] sqlite3* handle() const { return db_; }

    // A Begin inside an open transaction starts a savepoint: the inner unit commits or rolls
    // back on its own, and only the outermost Commit makes anything durable.
    Result<void> Begin() override {
        if (depth_ > 0) {
            auto ok = Execute("SAVEPOINT acme_nested", {});
            if (ok) ++depth_;
            return ok;
        }
        writer_.lock();
        in_transaction_ = true;
        auto ok = Execute("BEGIN IMMEDIATE", {});
        if (!ok) {
            End();
            return ok;
        }
        depth_ = 1;
        return ok;
    }
    Result<void> Commit() override {
        if (depth_ > 1) {
            auto ok = Execute("RELEASE acme_nested", {});
            if (ok) --depth_;
            return ok;
        }
        auto ok = Execute("COMMIT", {});
        if (ok) End();
        return ok;  // on failure the caller rolls back, which releases the lock
    }
    void Rollback() override {
        if (depth_ > 1) {
            (void)Execute("ROLLBACK TO acme_nested", {});
            (void)Execute("RELEASE acme_nested", {});
            --depth_;
            return;
        }
        if (sqlite3_get_autocommit(db_) == 0) (void)Execute("ROLLBACK", {});
        End();
    }

  private:
    void End() {
        depth_ = 0;
        if (!in_transaction_) return;
        in_transaction_ = false;
        writer_.unlock();
    }

    Result<sqlite3_stmt*> Prepare(std::string_view sql) {
        // Looked up by the view: no key is built for a statement prepared before.
        if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        if (rc != SQLITE_OK) return std::unexpected(Fail(rc, sql).error());
        cache_.emplace(std::string(sql), stmt);
        return stmt;
    }

    Result<void> Bind(sqlite3_stmt* stmt, std::span<const Value> params) {
        sqlite3_clear_bindings(stmt);
        for (std::size_t i = 0; i < params.size(); ++i) {
            const int at = static_cast<int>(i) + 1;
            int rc = SQLITE_OK;
            if (const auto* v = std::get_if<std::int64_t>(&params[i])) {
                rc = sqlite3_bind_int64(stmt, at, *v);
            } else if (const auto* d = std::get_if<double>(&params[i])) {
                rc = sqlite3_bind_double(stmt, at, *d);
            } else if (const auto* s = std::get_if<std::string>(&params[i])) {
                // The parameters outlive the statement's run (Execute and Query step it to the
                // end and every run binds afresh), so SQLite need not copy them.
                rc = sqlite3_bind_text(stmt, at, s->data(), static_cast<int>(s->size()),
                                       SQLITE_STATIC);
            } else {
                rc = sqlite3_bind_null(stmt, at);
            }
            if (rc != SQLITE_OK) return Fail(rc, "bind");
        }
        return {};
    }

    static Value Column(sqlite3_stmt* stmt, int i) {
        switch (sqlite3_column_type(stmt, i)) {
            case SQLITE_INTEGER:
                return static_cast<std::int64_t>(sqlite3_column_int64(stmt, i));
            case SQLITE_FLOAT:
                return sqlite3_column_double(stmt, i);
            case SQLITE_NULL:
                return std::monostate{};
            default: {
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
                return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
            }
        }
    }

    Result<void> Fail(int rc, std::string_view what) {
        const int primary = rc & 0xff;
        const std::string message = "sqlite: " + std::string(sqlite3_errmsg(db_)) + " (" +
                                    std::string(what.substr(0, 80)) + ")";
        if (primary == SQLITE_CONSTRAINT) return MakeError(ErrorCode::kConflict, message);
        if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
            return MakeError(ErrorCode::kUnavailable, message);
        }
        return MakeError(ErrorCode::kInternal, message);
    }

    sqlite3* db_;
    std::mutex& writer_;
    bool in_transaction_ = false;
    int depth_ = 0;  // 1 inside a transaction, more inside savepoints
    struct SqlHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view sql) const {
            return std::hash<std::string_view>{}(sql);
        }
    };
    std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
};

}  // namespace

Result<std::unique_ptr<Connection>> OpenSqlite(const std::filesystem::path& path,
                                               const SqliteOptions& options) {
    // SQLite's memory statistics take a process-wide mutex on every allocation, which the
    // writer and the readers' threads then queue on; nothing here reads them.
    static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)configured;
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    sqlite3* db = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return MakeError(ErrorCode::kUnavailable, path.string() + ": " + message);
    }
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    auto conn = std::make_unique<SqliteConnection>(
        db, std::filesystem::weakly_canonical(path, ec).string());
    const std::string pragmas =
        std::string("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=") +
        (options.durability == Durability::kFull ? "FULL" : "NORMAL") +
        // The WAL file is truncated back to 64 MiB after a checkpoint lets it restart.
        "; PRAGMA journal_size_limit=67108864; PRAGMA wal_autocheckpoint=" +
        std::to_string(options.autocheckpoint_pages) + ";";
    if (auto ok = conn->ExecuteScript(pragmas); !ok) return std::unexpected(ok.error());
    return std::unique_ptr<Connection>(std::move(conn));
}

namespace {

class SqliteWalCheckpointer final : public WalCheckpointer {
  public:
    SqliteWalCheckpointer(std::unique_ptr<Connection> conn, std::int64_t period_ms)
        : conn_(std::move(conn)), thread_([this, period_ms](std::stop_token stop) {
              pthread_setname_np(pthread_self(), "acme-checkpoint");
              Run(stop, period_ms);
          }) {}
    ~SqliteWalCheckpointer() override {
        thread_.request_stop();
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
    }

    Stats stats() const override {
        std::lock_guard lock(mutex_);
        return stats_;
    }

  private:
    void Run(const std::stop_token& stop, std::int64_t period_ms) {
        auto* db = static_cast<SqliteConnection*>(conn_.get())->handle();
        while (!stop.stop_requested()) {
            {
                std::unique_lock lock(mutex_);
                wake_.wait_for(lock, std::chrono::milliseconds(period_ms),
                               [&] { return stopping_; });
                if (stopping_) return;
            }
            int frames = 0, backfilled = 0;
            // Busy (another checkpoint, or a reset of the WAL in progress) is left to the
            // next period.
            (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                            &backfilled);
            std::lock_guard lock(mutex_);
            ++stats_.checkpoints;
            stats_.wal_frames = frames;
            stats_.backfilled = backfilled;
        }
    }

    std::unique_ptr<Connection> conn_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    Stats stats_;
    std::jthread thread_;  // last: started once everything above exists
};

}  // namespace

Result<std::unique_ptr<WalCheckpointer>> StartWalCheckpointer(const std::filesystem::path& path,
                                                              const SqliteOptions& options,
                                                              std::int64_t period_ms) {
    auto conn = OpenSqlite(path, options);
    if (!conn) return std::unexpected(conn.error());
    return std::unique_ptr<WalCheckpointer>(std::make_unique<SqliteWalCheckpointer>(
        std::move(*conn), std::max<std::int64_t>(1, period_ms)));
}

}  // namespace acme::storage
