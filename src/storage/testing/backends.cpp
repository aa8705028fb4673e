#include "storage/testing/backends.hpp"

#include <cstdlib>
#include <fstream>
#include <random>

namespace acme::storage::testing {

namespace {

std::string RandomSuffix() {
    std::random_device rd;
    std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 12; ++i) out += kHex[gen() % 16];
    return out;
}

class SqliteTestDatabase final : public TestDatabase {
  public:
    SqliteTestDatabase()
        : path_(std::filesystem::temp_directory_path() /
                ("acme-test-" + RandomSuffix() + ".sqlite")) {}
    ~SqliteTestDatabase() override {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::error_code ec;
            std::filesystem::remove(path_.string() + suffix, ec);
        }
    }
    Dialect dialect() const override { return Dialect::kSqlite; }
    Result<std::unique_ptr<Connection>> Connect() const override { return OpenSqlite(path_); }
    std::string Locator() const override { return path_.string(); }

  private:
    std::filesystem::path path_;
};

class PostgresTestDatabase final : public TestDatabase {
  public:
    PostgresTestDatabase(std::string server, std::string schema, std::unique_ptr<Connection> admin)
        : server_(std::move(server)), schema_(std::move(schema)), admin_(std::move(admin)) {}
    ~PostgresTestDatabase() override {
        (void)admin_->ExecuteScript("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    }
    Dialect dialect() const override { return Dialect::kPostgresql; }
    Result<std::unique_ptr<Connection>> Connect() const override {
        return OpenPostgres(Locator(), {.application_name = "acme-test"});
    }
    std::string Locator() const override {
        return server_ + (server_.find('?') == std::string::npos ? "?" : "&") +
               "options=-csearch_path%3D" + schema_;
    }

  private:
    std::string server_;
    std::string schema_;
    std::unique_ptr<Connection> admin_;
};

}  // namespace

std::string PostgresServerUrl() {
    if (const char* env = std::getenv("ACME_TEST_POSTGRES"); env != nullptr && *env != '\0') {
        return env;
    }
#ifdef ACME_TEST_POSTGRES_URL_FILE
    std::ifstream in(ACME_TEST_POSTGRES_URL_FILE);
    std::string url;
    if (in && std::getline(in, url)) return url;
#endif
    return {};
}

Result<std::unique_ptr<TestDatabase>> MakeTestDatabase(Dialect dialect) {
    if (dialect == Dialect::kSqlite) return std::make_unique<SqliteTestDatabase>();
    const std::string server = PostgresServerUrl();
    if (server.empty()) {
        return MakeError(ErrorCode::kNotFound,
                         "no PostgreSQL server for tests: ctest starts one (fixture `postgres`, "
                         "scripts/pg.sh) when PostgreSQL is installed, or set "
                         "ACME_TEST_POSTGRES=postgresql://...");
    }
    auto admin = OpenPostgres(server);
    if (!admin) {
        return MakeError(ErrorCode::kUnavailable, "the PostgreSQL test server " + server +
                                                      " does not answer: " + admin.error().message);
    }
    std::string schema = "t_" + RandomSuffix();
    if (auto ok = (*admin)->ExecuteScript("CREATE SCHEMA " + schema); !ok) {
        return std::unexpected(ok.error());
    }
    return std::make_unique<PostgresTestDatabase>(server, std::move(schema), std::move(*admin));
}

std::string BackendName(const ::testing::TestParamInfo<Dialect>& info) {
    return info.param == Dialect::kSqlite ? "Sqlite" : "Postgresql";
}

}  // namespace acme::storage::testing
