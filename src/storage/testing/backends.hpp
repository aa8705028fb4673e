// Test support: a fresh database on each backend, so one test body runs on SQLite and on
// PostgreSQL (parameterized, never copied).
//
//   class MyTest : public ::testing::TestWithParam<storage::Dialect> {
//       void SetUp() override { ACME_TEST_DATABASE_OR_SKIP(db_, GetParam()); }
//       std::unique_ptr<storage::testing::TestDatabase> db_;
//   };
//   INSTANTIATE_TEST_SUITE_P(Backends, MyTest, storage::testing::AllBackends(),
//                            storage::testing::BackendName);
//
// PostgreSQL tests use the server named by ACME_TEST_POSTGRES (a URL), else the one the ctest
// fixture `postgres` started (scripts/pg.sh, URL in build/pg-test/url). Without either they are
// skipped, saying so; a server that is named but does not answer fails them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "storage/database.hpp"

namespace acme::storage::testing {

// An empty database of its own: a temporary SQLite file, or a schema of its own on the
// PostgreSQL test server (dropped, with everything in it, when this is destroyed).
class TestDatabase {
  public:
    virtual ~TestDatabase() = default;
    [[nodiscard]] virtual Dialect dialect() const = 0;
    // A new connection to this database (each thread, each simulated process its own).
    [[nodiscard]] virtual Result<std::unique_ptr<Connection>> Connect() const = 0;
    // What `acme --db` takes for it: the SQLite file's path or the PostgreSQL URL.
    [[nodiscard]] virtual std::string Locator() const = 0;
};

// The PostgreSQL test server's URL, or "" when there is none (tests skip).
[[nodiscard]] std::string PostgresServerUrl();

// A fresh database on `dialect`; kNotFound when that backend has no server here (skip), another
// error when it has one that fails (fail).
[[nodiscard]] Result<std::unique_ptr<TestDatabase>> MakeTestDatabase(Dialect dialect);

[[nodiscard]] inline auto AllBackends() {
    return ::testing::Values(Dialect::kSqlite, Dialect::kPostgresql);
}
[[nodiscard]] std::string BackendName(const ::testing::TestParamInfo<Dialect>& info);

}  // namespace acme::storage::testing

// In a void function (SetUp, a test body): `var` = a fresh database on `dialect`, or the test
// skipped (no server) or failed (a server that does not work).
#define ACME_TEST_DATABASE_OR_SKIP(var, dialect)                              \
    do {                                                                      \
        auto acme_made = ::acme::storage::testing::MakeTestDatabase(dialect); \
        if (!acme_made) {                                                     \
            if (acme_made.error().code == ::acme::ErrorCode::kNotFound) {     \
                GTEST_SKIP() << acme_made.error().message;                    \
            }                                                                 \
            FAIL() << acme_made.error().message;                              \
        }                                                                     \
        (var) = std::move(*acme_made);                                        \
    } while (false)
