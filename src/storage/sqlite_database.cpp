// SQLite adapter: with sqlite_wal_vfs.cpp, the only files that include sqlite3.h.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "storage/database.hpp"
#include "storage/sqlite_wal_vfs.hpp"

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

// A commit that leaves the WAL this many times `autocheckpoint_pages` long checkpoints it on
// the spot even while a WalCheckpointer runs: a backstop should that thread fall behind.
constexpr int kBackstopFactor = 16;
// The WalCheckpointer copies without holding up the writer until at most this many frames
// are left (or after this many passes), then copies the rest holding the writer mutex.
constexpr int kLockedFrames = 128;
constexpr int kUnlockedPasses = 4;

// What the process's connections to one database file share.
struct FileState {
    // SQLite has one writer at a time. Left to itself, a blocked writer sleeps in the busy
    // handler (1, 2, 5, 10 ... 100 ms), which dominates latency under load; connections of
    // one process to one file instead queue on this mutex and are handed the lock in turn.
    std::mutex writer;
    // The WAL checkpoint hand-off: a commit that finds the WAL long sets `due` for the
    // WalCheckpointer of this file, when one runs.
    std::mutex checkpoint_mutex;
    std::condition_variable checkpoint_cv;
    bool checkpointer = false;
    bool due = false;
    bool stopping = false;
    // Set while the WalCheckpointer waits for `writer`: a transaction about to begin lets it
    // go first. A released std::mutex goes to whichever thread asks first, and the writer,
    // looping from one transaction to the next, would otherwise win it for hundreds of
    // milliseconds while the WAL grows.
    std::atomic<bool> checkpoint_waiting{false};
};

FileState& StateFor(const std::string& path) {
    static std::mutex registry_mutex;
    static std::map<std::string, std::unique_ptr<FileState>> files;
    std::lock_guard lock(registry_mutex);
    auto& s = files[path];
    if (!s) s = std::make_unique<FileState>();
    return *s;
}

class SqliteConnection final : public Connection {
  public:
    SqliteConnection(sqlite3* db, const std::string& path, int autocheckpoint_pages)
        : db_(db),
          file_(StateFor(path)),
          writer_(file_.writer),
          autocheckpoint_pages_(autocheckpoint_pages) {
        // Replaces SQLite's own auto-checkpoint (which checkpoints inside the commit).
        sqlite3_wal_hook(db_, &SqliteConnection::OnWalCommit, this);
    }
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
        sqlite3_free(message);  // the same text as sqlite3_errmsg, which Fail reports
        return Fail(rc, sql);
    }

    std::int64_t Changes() override { return sqlite3_changes64(db_); }
    Dialect dialect() const override { return Dialect::kSqlite; }

    Result<bool> HasTable(std::string_view table) override {
        const Value v[] = {std::string(table)};
        auto rows =
            Query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", v);
        if (!rows) return std::unexpected(rows.error());
        return rows->front().Int(0) != 0;
    }
    Result<bool> HasColumn(std::string_view table, std::string_view column) override {
        const Value v[] = {std::string(table), std::string(column)};
        auto rows = Query("SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", v);
        if (!rows) return std::unexpected(rows.error());
        return rows->front().Int(0) != 0;
    }
    [[nodiscard]] sqlite3* handle() const { return db_; }

    // A Begin inside an open transaction starts a savepoint: the inner unit commits or rolls
    // back on its own, and only the outermost Commit makes anything durable.
    Result<void> Begin() override {
        if (depth_ > 0) {
            auto ok = Execute("SAVEPOINT acme_nested", {});
            if (ok) ++depth_;
            return ok;
        }
        while (file_.checkpoint_waiting.load(std::memory_order_acquire)) {
            file_.checkpoint_waiting.wait(true, std::memory_order_acquire);
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

    [[nodiscard]] FileState& file() { return file_; }

  private:
    // After each commit, with the WAL's length in pages: past `autocheckpoint_pages_` the WAL
    // is checkpointed, by the file's WalCheckpointer when one runs (so that this commit's
    // thread does not wait for the copying and the fsyncs), else here, as SQLite would.
    static int OnWalCommit(void* self_ptr, sqlite3* db, const char* name, int frames) {
        auto* self = static_cast<SqliteConnection*>(self_ptr);
        if (self->autocheckpoint_pages_ <= 0 || frames < self->autocheckpoint_pages_) {
            return SQLITE_OK;
        }
        {
            std::lock_guard lock(self->file_.checkpoint_mutex);
            if (self->file_.checkpointer &&
                frames < self->autocheckpoint_pages_ * kBackstopFactor) {
                if (!self->file_.due) {
                    self->file_.due = true;
                    self->file_.checkpoint_cv.notify_one();
                }
                return SQLITE_OK;
            }
        }
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        return SQLITE_OK;
    }

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
    FileState& file_;
    std::mutex& writer_;
    int autocheckpoint_pages_;
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

constexpr auto kMaxOpenPause = std::chrono::milliseconds(20);

Result<std::unique_ptr<Connection>> OpenSqlite(const std::filesystem::path& path,
                                               const SqliteOptions& options) {
    // SQLite's memory statistics take a process-wide mutex on every allocation, which the
    // writer and the readers' threads then queue on; nothing here reads them.
    static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)configured;
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(
        path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        options.coalesce_wal_writes ? detail::WalCoalescingVfsName() : nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return MakeError(ErrorCode::kUnavailable, path.string() + ": " + message);
    }
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    auto conn = std::make_unique<SqliteConnection>(
        db, std::filesystem::weakly_canonical(path, ec).string(), options.autocheckpoint_pages);
    const std::string pragmas =
        std::string("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=") +
        (options.durability == Durability::kFull ? "FULL" : "NORMAL") +
        // The WAL file is truncated back to 64 MiB after a checkpoint lets it restart.
        "; PRAGMA journal_size_limit=67108864;"
        // Savepoint (sub-)journals and temporary tables in memory: a batch of writes, one
        // savepoint each, otherwise spills its journal to a temporary file past 64 KiB and
        // writes it there 4 bytes and one page at a time.
        " PRAGMA temp_store=MEMORY;";
    // Switching a new file to WAL needs its exclusive lock; two connections opening it at once
    // can each hold a shared lock while asking, and SQLite answers one of them SQLITE_BUSY at
    // once instead of waiting (it would deadlock). Ask again until the busy timeout passes.
    const auto give_up = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(std::max(options.busy_timeout_ms, 0));
    for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, kMaxOpenPause)) {
        auto ok = conn->ExecuteScript(pragmas);
        if (ok) break;
        if (ok.error().code != ErrorCode::kUnavailable ||
            std::chrono::steady_clock::now() + pause > give_up) {
            return MakeError(ok.error().code, path.string() + ": " + ok.error().message);
        }
        std::this_thread::sleep_for(pause);
    }
    return std::unique_ptr<Connection>(std::move(conn));
}

namespace {

class SqliteWalCheckpointer final : public WalCheckpointer {
  public:
    SqliteWalCheckpointer(std::unique_ptr<Connection> conn, int locked_nice)
        : conn_(std::move(conn)),
          file_(static_cast<SqliteConnection*>(conn_.get())->file()),
          locked_nice_(locked_nice) {
        {
            std::lock_guard lock(file_.checkpoint_mutex);
            file_.checkpointer = true;
            file_.stopping = false;
        }
        thread_ = std::jthread([this] {
            pthread_setname_np(pthread_self(), "acme-checkpoint");
            Run();
        });
    }
    ~SqliteWalCheckpointer() override {
        {
            std::lock_guard lock(file_.checkpoint_mutex);
            file_.checkpointer = false;
            file_.stopping = true;
        }
        file_.checkpoint_cv.notify_all();
        thread_.join();
    }

    Stats stats() const override {
        std::lock_guard lock(mutex_);
        return stats_;
    }

  private:
    void Run() {
        auto* db = static_cast<SqliteConnection*>(conn_.get())->handle();
        for (;;) {
            {
                std::unique_lock lock(file_.checkpoint_mutex);
                file_.checkpoint_cv.wait(lock, [&] { return file_.stopping || file_.due; });
                if (file_.stopping) return;
                file_.due = false;
            }
            int frames = 0, backfilled = 0;
            // PASSIVE: copies what no reader still needs, without waiting for anyone, while
            // the writer goes on appending; again while that left many frames behind. Then
            // the rest, between two of the writer's transactions: a WAL copied in full starts
            // over at the next write instead of growing. The writer waits for those few
            // frames (and the checkpoint's two fsyncs), not for the whole copy.
            for (int pass = 0; pass < kUnlockedPasses; ++pass) {
                (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                                &backfilled);
                if (frames - backfilled <= kLockedFrames) break;
            }
            {
                // Linux: nice is per thread. Raised only for the locked pass (the copying
                // before it must not crowd out the threads serving requests).
                const auto tid = static_cast<id_t>(gettid());
                errno = 0;
                const int own = getpriority(PRIO_PROCESS, tid);
                const bool raise = errno == 0 && locked_nice_ != 0 && locked_nice_ < own;
                if (raise) (void)setpriority(PRIO_PROCESS, tid, locked_nice_);
                file_.checkpoint_waiting.store(true, std::memory_order_release);
                std::unique_lock writer(file_.writer);
                file_.checkpoint_waiting.store(false, std::memory_order_release);
                file_.checkpoint_waiting.notify_all();
                (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                                &backfilled);
                writer.unlock();
                if (raise) (void)setpriority(PRIO_PROCESS, tid, own);
            }
            {
                std::lock_guard lock(mutex_);
                ++stats_.checkpoints;
                stats_.wal_frames = frames;
                stats_.backfilled = backfilled;
            }
            // While readers keep the WAL from starting over, every commit asks again: at most
            // one checkpoint per few milliseconds.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    std::unique_ptr<Connection> conn_;
    FileState& file_;
    const int locked_nice_;
    mutable std::mutex mutex_;
    Stats stats_;
    std::jthread thread_;
};

}  // namespace

Result<std::unique_ptr<WalCheckpointer>> StartWalCheckpointer(const std::filesystem::path& path,
                                                              const SqliteOptions& options,
                                                              int locked_nice) {
    auto conn = OpenSqlite(path, options);
    if (!conn) return std::unexpected(conn.error());
    return std::unique_ptr<WalCheckpointer>(
        std::make_unique<SqliteWalCheckpointer>(std::move(*conn), locked_nice));
}

}  // namespace acme::storage
