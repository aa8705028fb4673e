// What only the PostgreSQL backend has to show: lost connections and restarts survived, lock
// waits bounded, a failed transaction never reported as committed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "storage/database.hpp"
#include "storage/testing/backends.hpp"

namespace acme::storage {
namespace {

class PostgresTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ACME_TEST_DATABASE_OR_SKIP(database_, Dialect::kPostgresql);
        auto db = database_->Connect();
        ASSERT_TRUE(db.has_value()) << db.error().message;
        db_ = std::move(*db);
        ASSERT_TRUE(db_->ExecuteScript("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)"));
    }
    std::int64_t BackendPid(Connection& c) {
        auto rows = c.Query("SELECT pg_backend_pid()");
        return rows ? rows->front().Int(0) : -1;
    }
    void Terminate(std::int64_t pid) {
        auto admin = database_->Connect();
        ASSERT_TRUE(admin.has_value());
        const Value v[] = {pid};
        ASSERT_TRUE((*admin)->Query("SELECT pg_terminate_backend(?::int)", v));
        // Wait until the backend is gone, so the next statement meets a closed socket.
        for (int i = 0; i < 200; ++i) {
            auto rows =
                (*admin)->Query("SELECT count(*) FROM pg_stat_activity WHERE pid = ?::int", v);
            if (rows && rows->front().Int(0) == 0) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    std::unique_ptr<testing::TestDatabase> database_;
    std::unique_ptr<Connection> db_;
};

TEST_F(PostgresTest, ALostConnectionFailsAsUnavailableThenReconnects) {
    const Value a[] = {std::int64_t{1}, std::string("one")};
    ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (?, ?)", a));  // prepared before the loss
    Terminate(BackendPid(*db_));
    auto lost = db_->Query("SELECT count(*) FROM t");
    ASSERT_FALSE(lost.has_value());
    EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable) << lost.error().message;
    // The next use reconnects, in the same schema, and re-prepares what it had prepared.
    const Value b[] = {std::int64_t{2}, std::string("two")};
    ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (?, ?)", b));
    EXPECT_EQ(db_->Query("SELECT count(*) FROM t")->front().Int(0), 2);
}

TEST_F(PostgresTest, AConnectionLostInsideATransactionLosesOnlyThatTransaction) {
    ASSERT_TRUE(db_->Begin());
    const Value a[] = {std::int64_t{1}, std::string("in flight")};
    ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (?, ?)", a));
    Terminate(BackendPid(*db_));
    auto next = db_->Execute("INSERT INTO t VALUES (?, ?)", a);
    ASSERT_FALSE(next.has_value());
    EXPECT_EQ(next.error().code, ErrorCode::kUnavailable);
    // Still inside the (dead) transaction: refused rather than silently auto-committed.
    EXPECT_EQ(db_->Commit().error().code, ErrorCode::kUnavailable);
    db_->Rollback();
    ASSERT_TRUE(
        InTransaction(*db_, [&] { return db_->Execute("INSERT INTO t VALUES (?, ?)", a); }));
    EXPECT_EQ(db_->Query("SELECT count(*) FROM t")->front().Int(0), 1);
}

TEST_F(PostgresTest, ARoleActedAsHoldsThroughRollbacksAndReconnections) {
    std::random_device rd;
    const std::string role = "t_act_" + std::to_string(rd() % 1'000'000'000);
    ASSERT_TRUE(db_->ExecuteScript("CREATE ROLE " + role + " NOLOGIN"));
    auto who = [&] {
        auto rows = db_->Query("SELECT current_user");
        return rows ? rows->front().Text(0) : rows.error().message;
    };
    const std::string login = who();
    // Set inside a transaction that is rolled back (PostgreSQL undoes the SET ROLE with it).
    ASSERT_TRUE(db_->Begin());
    ASSERT_TRUE(db_->ActAs(role));
    EXPECT_EQ(who(), role);
    db_->Rollback();
    EXPECT_EQ(who(), role);
    // Inside a savepoint that is rolled back.
    ASSERT_TRUE(db_->Begin());
    ASSERT_TRUE(db_->Begin());
    ASSERT_TRUE(db_->ActAs(""));
    EXPECT_EQ(who(), login);
    db_->Rollback();
    EXPECT_EQ(who(), login);
    ASSERT_TRUE(db_->Commit());
    // A new session after a lost connection takes the role again before its first statement.
    ASSERT_TRUE(db_->ActAs(role));
    Terminate(BackendPid(*db_));
    EXPECT_FALSE(db_->Query("SELECT 1").has_value());
    EXPECT_EQ(who(), role);
    // Names are checked; a role that does not exist fails where it is asked for.
    EXPECT_EQ(db_->ActAs("x; DROP TABLE t").error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(db_->ActAs("t_no_such_role_here").has_value());
    ASSERT_TRUE(db_->ActAs(""));
    EXPECT_EQ(who(), login);
    EXPECT_TRUE(db_->ExecuteScript("DROP ROLE " + role));
}

TEST_F(PostgresTest, ACommitOfAFailedTransactionIsAnError) {
    ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (1, 'a')"));
    ASSERT_TRUE(db_->Begin());
    ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (2, 'b')"));
    EXPECT_EQ(db_->Execute("INSERT INTO t VALUES (1, 'again')").error().code, ErrorCode::kConflict);
    // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK and no error.
    auto commit = db_->Commit();
    ASSERT_FALSE(commit.has_value());
    EXPECT_EQ(db_->Query("SELECT count(*) FROM t")->front().Int(0), 1);
}

TEST_F(PostgresTest, AWaitForALockIsBounded) {
    ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (1, 'a')"));
    PostgresOptions quick;
    quick.lock_timeout_ms = 200;
    auto other = OpenPostgres(database_->Locator(), quick);
    ASSERT_TRUE(other.has_value());
    ASSERT_TRUE(db_->Begin());
    ASSERT_TRUE(db_->Execute("UPDATE t SET name = 'held' WHERE id = 1"));
    const auto start = std::chrono::steady_clock::now();
    auto blocked = (*other)->Execute("UPDATE t SET name = 'waits' WHERE id = 1");
    const auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(blocked.has_value());
    EXPECT_EQ(blocked.error().code, ErrorCode::kUnavailable) << blocked.error().message;
    EXPECT_LT(waited, std::chrono::seconds(5));
    ASSERT_TRUE(db_->Commit());
}

TEST_F(PostgresTest, AnUnreachableServerIsUnavailableNotFatal) {
    PostgresOptions quick;
    quick.connect_timeout_s = 2;
    auto none = OpenPostgres("postgresql://postgres@127.0.0.1:1/acme", quick);
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(none.error().message.find("127.0.0.1"), std::string::npos) << none.error().message;
}

// A server of this test's own (restarting the shared one would fail the tests beside it).
TEST(PostgresRestartTest, AServerRestartIsSurvivedWithoutReopening) {
    if (testing::PostgresServerUrl().empty()) GTEST_SKIP() << "no PostgreSQL server for tests";
    const char* src = std::getenv("ACME_SOURCE_DIR");
    ASSERT_NE(src, nullptr);
    const std::string script = std::string(src) + "/scripts/pg.sh";
    std::random_device rd;
    const auto dir =
        std::filesystem::temp_directory_path() / ("acme-pg-restart-" + std::to_string(rd()));
    const std::string start = script + " start " + dir.string() + " > " + dir.string() + ".url";
    ASSERT_EQ(std::system(start.c_str()), 0);
    std::string url;
    {
        std::FILE* f = std::fopen((dir.string() + ".url").c_str(), "r");
        ASSERT_NE(f, nullptr);
        char buf[512] = {};
        if (std::fgets(buf, sizeof buf, f) != nullptr) url = buf;
        std::fclose(f);
        while (!url.empty() && url.back() == '\n') url.pop_back();
    }
    auto db = OpenPostgres(url);
    ASSERT_TRUE(db.has_value()) << db.error().message;
    ASSERT_TRUE((*db)->ExecuteScript("CREATE TABLE kept(a INTEGER); INSERT INTO kept VALUES (7)"));
    for (const char* mode : {"fast", "immediate"}) {
        ASSERT_EQ(
            std::system((script + " restart " + dir.string() + " " + mode + " >/dev/null").c_str()),
            0);
        // The first statement may meet the dead socket; the connection comes back on its own.
        Result<std::vector<Row>> rows = MakeError(ErrorCode::kUnavailable, "not tried");
        for (int i = 0; i < 100 && !rows; ++i) {
            rows = (*db)->Query("SELECT a FROM kept");
            if (!rows) {
                EXPECT_EQ(rows.error().code, ErrorCode::kUnavailable) << rows.error().message;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        ASSERT_TRUE(rows.has_value()) << mode << ": " << rows.error().message;
        EXPECT_EQ(rows->front().Int(0), 7) << mode;  // committed before the restart: kept
    }
    db->reset();
    (void)std::system((script + " stop " + dir.string() + " immediate").c_str());
    std::filesystem::remove_all(dir);
    std::filesystem::remove(dir.string() + ".url");
}

}  // namespace
}  // namespace acme::storage
