#include "storage/database.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

namespace acme::storage {
namespace {

class SqliteTest : public ::testing::Test {
  protected:
    SqliteTest() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("acme-db-" + std::to_string(rd()) + ".sqlite");
        db_ = std::move(*OpenSqlite(path_));
        EXPECT_TRUE(
            db_->ExecuteScript("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, "
                               "score REAL)"));
    }
    ~SqliteTest() override {
        db_.reset();
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(path_.string() + suffix);
        }
    }
    std::filesystem::path path_;
    std::unique_ptr<Connection> db_;
};

TEST_F(SqliteTest, ExecutesAndQueriesWithParameters) {
    const Value a[] = {std::string("ann"), 1.5};
    ASSERT_TRUE(db_->Execute("INSERT INTO t(name, score) VALUES (?, ?)", a));
    EXPECT_EQ(db_->Changes(), 1);
    const Value b[] = {std::string("bob"), Value{}};
    ASSERT_TRUE(db_->Execute("INSERT INTO t(name, score) VALUES (?, ?)", b));
    auto rows = db_->Query("SELECT id, name, score FROM t ORDER BY id");
    ASSERT_TRUE(rows.has_value());
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].Text(1), "ann");
    EXPECT_DOUBLE_EQ((*rows)[0].Real(2), 1.5);
    EXPECT_TRUE((*rows)[1].IsNull(2));
    EXPECT_EQ((*rows)[1].Int(0), 2);
}

TEST_F(SqliteTest, ConstraintViolationIsConflict) {
    const Value a[] = {std::string("ann")};
    ASSERT_TRUE(db_->Execute("INSERT INTO t(name) VALUES (?)", a));
    auto again = db_->Execute("INSERT INTO t(name) VALUES (?)", a);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_F(SqliteTest, TransactionsCommitOrRollBack) {
    auto failed = InTransaction(*db_, [&]() -> Result<void> {
        const Value a[] = {std::string("x")};
        if (auto ok = db_->Execute("INSERT INTO t(name) VALUES (?)", a); !ok) return ok;
        return MakeError(ErrorCode::kInternal, "boom");
    });
    EXPECT_FALSE(failed.has_value());
    EXPECT_TRUE(db_->Query("SELECT * FROM t")->empty());
    auto done = InTransaction(*db_, [&]() -> Result<int> {
        const Value a[] = {std::string("y")};
        if (auto ok = db_->Execute("INSERT INTO t(name) VALUES (?)", a); !ok) {
            return std::unexpected(ok.error());
        }
        return 7;
    });
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(*done, 7);
    EXPECT_EQ(db_->Query("SELECT * FROM t")->size(), 1u);
}

TEST_F(SqliteTest, ExceptionRollsBackAndReleasesTheWriter) {
    EXPECT_THROW((void)InTransaction(*db_,
                                     [&]() -> Result<void> {
                                         const Value a[] = {std::string("x")};
                                         (void)db_->Execute("INSERT INTO t(name) VALUES (?)", a);
                                         throw std::runtime_error("boom");
                                     }),
                 std::runtime_error);
    EXPECT_TRUE(db_->Query("SELECT * FROM t")->empty());
    // Another connection can write at once: the writer lock was released.
    auto other = OpenSqlite(path_);
    ASSERT_TRUE(other.has_value());
    EXPECT_TRUE(InTransaction(**other, [&] {
        const Value a[] = {std::string("y")};
        return (*other)->Execute("INSERT INTO t(name) VALUES (?)", a);
    }));
}

TEST_F(SqliteTest, NestedTransactionsAreSavepoints) {
    auto insert = [&](const char* name) {
        const Value a[] = {std::string(name)};
        return db_->Execute("INSERT INTO t(name) VALUES (?)", a);
    };
    auto other = OpenSqlite(path_);
    ASSERT_TRUE(other.has_value());
    auto outer = InTransaction(*db_, [&]() -> Result<void> {
        if (auto ok = insert("kept"); !ok) return ok;
        // The inner unit fails: only its own row goes.
        EXPECT_FALSE(InTransaction(*db_, [&]() -> Result<void> {
            if (auto ok = insert("dropped"); !ok) return ok;
            return MakeError(ErrorCode::kConflict, "inner fails");
        }));
        EXPECT_THROW((void)InTransaction(*db_,
                                         [&]() -> Result<void> {
                                             (void)insert("thrown");
                                             throw std::runtime_error("boom");
                                         }),
                     std::runtime_error);
        EXPECT_TRUE(InTransaction(*db_, [&] { return insert("inner"); }));
        // Nothing is visible elsewhere before the outermost commit.
        EXPECT_TRUE((*other)->Query("SELECT name FROM t")->empty());
        return {};
    });
    ASSERT_TRUE(outer.has_value());
    auto rows = (*other)->Query("SELECT name FROM t ORDER BY name");
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].Text(0), "inner");
    EXPECT_EQ((*rows)[1].Text(0), "kept");
    // A failing outer transaction takes its committed savepoints with it.
    EXPECT_FALSE(InTransaction(*db_, [&]() -> Result<void> {
        EXPECT_TRUE(InTransaction(*db_, [&] { return insert("gone"); }));
        return MakeError(ErrorCode::kInternal, "outer fails");
    }));
    EXPECT_EQ((*other)->Query("SELECT name FROM t")->size(), 2u);
}

TEST_F(SqliteTest, SecondConnectionSeesCommittedRows) {
    auto other = OpenSqlite(path_);
    ASSERT_TRUE(other.has_value());
    const Value a[] = {std::string("z")};
    ASSERT_TRUE(db_->Execute("INSERT INTO t(name) VALUES (?)", a));
    EXPECT_EQ((*other)->Query("SELECT name FROM t")->at(0).Text(0), "z");
}

// What a process killed right after a commit leaves: the database file and the WAL (no
// shared-memory index), opened with SQLite's own VFS, which rebuilds the index from the WAL
// and keeps only frames whose checksums chain up to a commit.
std::int64_t RowsAfterCrash(const std::filesystem::path& path, const std::string& tag) {
    const auto copy = std::filesystem::path(path.string() + "-" + tag);
    std::filesystem::copy_file(path, copy, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(path.string() + "-wal", copy.string() + "-wal",
                               std::filesystem::copy_options::overwrite_existing);
    std::int64_t rows = -1;
    {
        auto db = OpenSqlite(copy, {.coalesce_wal_writes = false});
        if (db) {
            auto check = (*db)->Query("PRAGMA integrity_check");
            auto count = (*db)->Query("SELECT count(*) FROM t");
            if (check && count && check->front().Text(0) == "ok") rows = count->front().Int(0);
        }
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(copy.string() + suffix);
    return rows;
}

Result<void> InsertRows(Connection& db, int from, int n, std::size_t width = 1000) {
    for (int i = from; i < from + n; ++i) {
        const Value v[] = {"row-" + std::to_string(i) + std::string(width, 'x')};
        if (auto ok = db.Execute("INSERT INTO t(name) VALUES (?)", v); !ok) return ok;
    }
    return {};
}

TEST_F(SqliteTest, WalFramesOfATransactionGoToTheFileInOneWriteBeforeTheCommitReturns) {
    auto reader = OpenSqlite(path_);
    ASSERT_TRUE(reader.has_value());
    std::int64_t rows = 0;
    for (int round = 0; round < 5; ++round) {
        const WalWriteStats before = GetWalWriteStats();
        ASSERT_TRUE(InTransaction(*db_, [&] { return InsertRows(*db_, round * 100, 100); }));
        rows += 100;
        const WalWriteStats after = GetWalWriteStats();
        // ~50 pages (rows and their index): SQLite wrote each frame as a header and a page;
        // here one system call per 124 KiB (the unix VFS's most), one more when the WAL
        // starts over with its header.
        const std::int64_t frames = (after.writes - before.writes) / 2;
        EXPECT_GT(frames, 40);
        EXPECT_LE(after.flushes - before.flushes, 2 + frames * 4120 / 126976);
        // On disk when the commit returned, and visible to another connection.
        EXPECT_EQ(RowsAfterCrash(path_, "crash"), rows);
        EXPECT_EQ((*reader)->Query("SELECT count(*) FROM t")->front().Int(0), rows);
    }
    // Off, SQLite's VFS writes as it always did.
    auto plain = OpenSqlite(path_, {.coalesce_wal_writes = false});
    ASSERT_TRUE(plain.has_value());
    const WalWriteStats before = GetWalWriteStats();
    ASSERT_TRUE(InTransaction(**plain, [&] { return InsertRows(**plain, 1000, 100); }));
    EXPECT_EQ(GetWalWriteStats().writes, before.writes);
    EXPECT_EQ(RowsAfterCrash(path_, "plain"), rows + 100);
}

TEST_F(SqliteTest, WalFramesSpilledByARolledBackOrRewrittenTransactionStayConsistent) {
    // A tiny page cache makes SQLite write frames before the commit (a spill), rewrite spilled
    // pages in place, and recompute the chain of checksums when it commits: every path where
    // the writes are not one run of appends ending in a commit frame.
    ASSERT_TRUE(db_->ExecuteScript("CREATE TABLE big(v TEXT); PRAGMA cache_size=8"));
    auto other = OpenSqlite(path_);
    ASSERT_TRUE(other.has_value());
    // Appends spilled and never read back: still buffered when the transaction rolls back.
    ASSERT_TRUE(db_->Begin());
    for (int i = 0; i < 400; ++i) {
        const Value v[] = {std::string(1000, 'x')};
        ASSERT_TRUE(db_->Execute("INSERT INTO big(v) VALUES (?)", v));
    }
    db_->Rollback();
    // Another connection, on another thread, appends where the rolled-back frames were:
    // nothing of them may be written over its frames later.
    std::thread([&] {
        EXPECT_TRUE(InTransaction(**other, [&] { return InsertRows(**other, 0, 50); }));
    }).join();
    EXPECT_EQ(RowsAfterCrash(path_, "a"), 50);
    // Rows updated again and again while the cache keeps spilling them.
    ASSERT_TRUE(InTransaction(*db_, [&]() -> Result<void> {
        if (auto ok = InsertRows(*db_, 50, 300, 200); !ok) return ok;
        for (int pass = 0; pass < 3; ++pass) {
            if (auto ok = db_->Execute("UPDATE t SET score = coalesce(score, 0) + 1"); !ok) {
                return ok;
            }
        }
        return {};
    }));
    EXPECT_EQ(RowsAfterCrash(path_, "b"), 350);
    auto sum = (*other)->Query("SELECT count(*), sum(score) FROM t");
    ASSERT_TRUE(sum.has_value());
    EXPECT_EQ(sum->front().Int(0), 350);
    EXPECT_EQ(sum->front().Int(1), 1050);
    ASSERT_TRUE(InTransaction(**other, [&] { return InsertRows(**other, 1000, 10); }));
    EXPECT_EQ(RowsAfterCrash(path_, "c"), 360);
}

TEST_F(SqliteTest, WalStartsOverWhileAWriterCommitsBackToBack) {
    // The checkpointer copies without the writer mutex, then takes it for the last frames;
    // the writer, looping from one transaction to the next, lets it go first. So the WAL
    // starts over while the writer goes on, instead of growing with everything written.
    db_.reset();
    const SqliteOptions options{.autocheckpoint_pages = 100};
    auto checkpointer = StartWalCheckpointer(path_, options);
    ASSERT_TRUE(checkpointer.has_value()) << checkpointer.error().message;
    auto writer = OpenSqlite(path_, options);
    ASSERT_TRUE(writer.has_value());
    constexpr int kTransactions = 600;
    const WalWriteStats before = GetWalWriteStats();
    std::thread([&] {
        for (int i = 0; i < kTransactions; ++i) {
            EXPECT_TRUE(InTransaction(**writer, [&] { return InsertRows(**writer, i * 10, 10); }));
        }
    }).join();
    // SQLite writes a frame as two calls: a 24-byte header and a 4 KiB page.
    const std::int64_t written = (GetWalWriteStats().writes - before.writes) / 2 * 4120;
    EXPECT_GE((*checkpointer)->stats().checkpoints, 2);
    EXPECT_LT(static_cast<std::int64_t>(std::filesystem::file_size(path_.string() + "-wal")),
              written * 3 / 4)
        << "the WAL did not start over";
    EXPECT_EQ(RowsAfterCrash(path_, "restarts"), kTransactions * 10);
}

TEST_F(SqliteTest, WalCheckpointerTakesTheCheckpointOffTheCommittingThread) {
    db_.reset();
    const SqliteOptions options{.autocheckpoint_pages = 100};
    auto writer = OpenSqlite(path_, options);
    ASSERT_TRUE(writer.has_value());
    Connection& w = **writer;
    auto write_rows = [&](int from, int n) {
        ASSERT_TRUE(InTransaction(w, [&]() -> Result<void> {
            for (int i = from; i < from + n; ++i) {
                const Value v[] = {"row-" + std::to_string(i) + std::string(1000, 'x')};
                if (auto ok = w.Execute("INSERT INTO t(name) VALUES (?)", v); !ok) return ok;
            }
            return {};
        }));
    };
    // Without a checkpointer the committing connection checkpoints (SQLite's behaviour): the
    // rows reach the database file at once.
    write_rows(0, 1000);  // ~1 MiB, some 250 pages
    const auto after_inline = std::filesystem::file_size(path_);
    EXPECT_GT(after_inline, 1'000'000u);

    auto checkpointer = StartWalCheckpointer(path_, options);
    ASSERT_TRUE(checkpointer.has_value()) << checkpointer.error().message;
    write_rows(1000, 1000);
    // The commit only handed the checkpoint over: the thread copies the WAL shortly after.
    bool copied = false;
    for (int i = 0; i < 1000 && !copied; ++i) {
        const auto s = (*checkpointer)->stats();
        copied = s.checkpoints > 0 && s.wal_frames > 100 && s.backfilled == s.wal_frames &&
                 std::filesystem::file_size(path_) > after_inline + 1'000'000;
        if (!copied) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(copied);
    checkpointer->reset();  // stops and joins
    // Past the checkpointer's life the connection checkpoints on its own again.
    const auto before_third = std::filesystem::file_size(path_);
    write_rows(2000, 1000);
    EXPECT_GT(std::filesystem::file_size(path_), before_third + 1'000'000);
    auto reader = OpenSqlite(path_);
    EXPECT_EQ((*reader)->Query("SELECT count(*) FROM t")->front().Int(0), 3000);
}

TEST_F(SqliteTest, MigrationsRunOnceInVersionOrderAndRecordWhatRan) {
    static constexpr Migration kV1[] = {
        {.version = 1, .summary = "a", .sqlite = "CREATE TABLE m(a INTEGER)", .postgresql = {}}};
    ASSERT_TRUE(Migrate(*db_, "widgets", kV1));
    ASSERT_TRUE(Migrate(*db_, "widgets", kV1));  // a second start: nothing to do (no error)
    static constexpr Migration kV2[] = {
        {.version = 1, .summary = "a", .sqlite = "CREATE TABLE m(a INTEGER)", .postgresql = {}},
        {.version = 2,
         .summary = "b",
         .sqlite = "ALTER TABLE m ADD COLUMN b TEXT",
         .postgresql = {}}};
    ASSERT_TRUE(Migrate(*db_, "widgets", kV2));
    EXPECT_TRUE(*db_->HasColumn("m", "b"));
    EXPECT_FALSE(*db_->HasColumn("m", "c"));
    EXPECT_TRUE(*db_->HasTable("m"));
    EXPECT_FALSE(*db_->HasTable("nope"));
    auto rows = db_->Query(
        "SELECT group_concat(version || ':' || summary, ',') FROM (SELECT * FROM "
        "schema_migrations WHERE component = 'widgets' ORDER BY version)");
    EXPECT_EQ(rows->front().Text(0), "1:a,2:b");
    // Another component's steps are its own.
    static constexpr Migration kGadgets[] = {
        {.version = 1, .summary = "g", .sqlite = "CREATE TABLE g(a INTEGER)", .postgresql = {}}};
    ASSERT_TRUE(Migrate(*db_, "gadgets", kGadgets));
    EXPECT_TRUE(*db_->HasTable("g"));
    EXPECT_EQ(db_->Query("SELECT count(*) FROM schema_migrations")->front().Int(0), 3);
}

TEST_F(SqliteTest, AFailingMigrationLeavesNothingAndSaysWhich) {
    static constexpr Migration kBad[] = {
        {.version = 1, .summary = "ok", .sqlite = "CREATE TABLE m(a INTEGER)", .postgresql = {}},
        {.version = 2,
         .summary = "broken",
         .sqlite = "ALTER TABLE nope ADD COLUMN b TEXT",
         .postgresql = {}}};
    auto failed = Migrate(*db_, "widgets", kBad);
    ASSERT_FALSE(failed.has_value());
    EXPECT_NE(failed.error().message.find("widgets migration 2"), std::string::npos)
        << failed.error().message;
    EXPECT_FALSE(*db_->HasTable("m"));  // step 1 rolled back with step 2
    static constexpr Migration kOutOfOrder[] = {
        {.version = 2, .summary = "b", .sqlite = "SELECT 1", .postgresql = {}},
        {.version = 1, .summary = "a", .sqlite = "SELECT 1", .postgresql = {}}};
    EXPECT_EQ(Migrate(*db_, "widgets", kOutOfOrder).error().code, ErrorCode::kInvalidArgument);
    static constexpr Migration kPostgresOnly[] = {
        {.version = 1, .summary = "pg", .sqlite = {}, .postgresql = "CREATE TABLE m(a int)"}};
    EXPECT_EQ(Migrate(*db_, "widgets", kPostgresOnly).error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(SqliteTest, AnUpgradeStepInspectsTheSchemaItFinds) {
    // A table made before versioning, with and without the column the upgrade adds.
    ASSERT_TRUE(db_->ExecuteScript("CREATE TABLE m(a INTEGER)"));
    constexpr auto kAddB = [](Connection& c) { return AddColumnIfMissing(c, "m", "b", "TEXT"); };
    static constexpr Migration kSteps[] = {
        {.version = 1,
         .summary = "m with b",
         .sqlite = "CREATE TABLE IF NOT EXISTS m(a INTEGER, b TEXT)",
         .postgresql = {},
         .upgrade = kAddB}};
    ASSERT_TRUE(Migrate(*db_, "widgets", kSteps));
    EXPECT_TRUE(*db_->HasColumn("m", "b"));
    // A database made with the column: the upgrade finds it and adds nothing.
    ASSERT_TRUE(AddColumnIfMissing(*db_, "m", "b", "TEXT"));
    EXPECT_FALSE(AddColumnIfMissing(*db_, "nope", "b", "TEXT").has_value());
}

}  // namespace
}  // namespace acme::storage
