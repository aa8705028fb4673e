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

}  // namespace
}  // namespace acme::storage
