#include <string>

#include "storage/database.hpp"

namespace acme::storage {

namespace {

// The same on every backend: plain types, a composite key.
constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT "
    "NULL, summary TEXT NOT NULL, PRIMARY KEY (component, version))";

// The advisory lock key migrations hold on PostgreSQL ("acmemigr" in ASCII).
const Value kMigrationLock[] = {std::int64_t{0x61636d656d696772}};

std::string_view ScriptFor(const Migration& m, Dialect dialect) {
    switch (dialect) {
        case Dialect::kSqlite:
            return m.sqlite;
        case Dialect::kPostgresql:
            return m.postgresql;
    }
    return {};
}

}  // namespace

Result<void> AddColumnIfMissing(Connection& db, std::string_view table, std::string_view column,
                                std::string_view type) {
    auto has = db.HasColumn(table, column);
    if (!has) return std::unexpected(has.error());
    if (*has) return {};
    return db.Execute("ALTER TABLE " + std::string(table) + " ADD COLUMN " + std::string(column) +
                      " " + std::string(type));
}

Result<void> Migrate(Connection& db, std::string_view component, std::span<const Migration> steps) {
    for (std::size_t i = 1; i < steps.size(); ++i) {
        if (steps[i].version <= steps[i - 1].version) {
            return MakeError(ErrorCode::kInvalidArgument,
                             std::string(component) + ": migration versions must increase (" +
                                 std::to_string(steps[i].version) + " after " +
                                 std::to_string(steps[i - 1].version) + ")");
        }
    }
    return InTransaction(db, [&]() -> Result<void> {
        if (db.dialect() == Dialect::kPostgresql) {
            // One migrating process at a time per database; released at commit or rollback.
            if (auto ok = db.Query("SELECT pg_advisory_xact_lock(?)", kMigrationLock); !ok) {
                return std::unexpected(ok.error());
            }
        }
        // Created only when missing: a role without the right to create tables (least
        // privilege, runtime/roles.hpp) still finds out that nothing is left to do.
        auto has = db.HasTable("schema_migrations");
        if (!has) return std::unexpected(has.error());
        if (!*has) {
            if (auto ok = db.Execute(kMigrationsTable); !ok) return ok;
        }
        const Value who[] = {std::string(component)};
        auto rows = db.Query(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations WHERE component = ?", who);
        if (!rows) return std::unexpected(rows.error());
        const std::int64_t applied = rows->front().Int(0);
        for (const Migration& m : steps) {
            if (m.version <= applied) continue;
            const std::string_view script = ScriptFor(m, db.dialect());
            if (script.empty() && m.upgrade == nullptr) {
                return MakeError(ErrorCode::kFailedPrecondition,
                                 std::string(component) + " migration " +
                                     std::to_string(m.version) + " (" + std::string(m.summary) +
                                     ") has no script for this database");
            }
            if (!script.empty()) {
                if (auto ok = db.ExecuteScript(script); !ok) {
                    return MakeError(ok.error().code, std::string(component) + " migration " +
                                                          std::to_string(m.version) + ": " +
                                                          ok.error().message);
                }
            }
            if (m.upgrade != nullptr) {
                if (auto ok = m.upgrade(db); !ok) return ok;
            }
            const Value rec[] = {std::string(component), static_cast<std::int64_t>(m.version),
                                 std::string(m.summary)};
            if (auto ok = db.Execute(
                    "INSERT INTO schema_migrations(component, version, summary) VALUES (?, ?, ?)",
                    rec);
                !ok) {
                return ok;
            }
        }
        return {};
    });
}

}  // namespace acme::storage
