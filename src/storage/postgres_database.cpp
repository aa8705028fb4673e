// PostgreSQL adapter over libpq: the only file that includes libpq-fe.h.
//
// Statements are prepared once per connection (keyed by their text and the types of their
// parameters) and run with PQexecPrepared; `?` placeholders become `$1..$n`. Values travel as
// text: integers declared int8, reals float8, strings and NULLs of a type the server infers
// from the statement. Result columns come back by their type: integers (and bool as 0/1) as
// int64, reals as double, numeric as int64 when it has no fraction, everything else as text.
#include <libpq-fe.h>
#include <poll.h>

#include <charconv>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "storage/database.hpp"

namespace acme::storage {

namespace {

// Type OIDs of pg_type (stable across versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// Cap on prepared statements per connection: SQL built at run time (never in hot paths)
// must not grow the server's memory without bound.
constexpr std::size_t kMaxPrepared = 1024;

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// `?` -> `$n`, outside string literals, quoted identifiers and comments (domain SQL has no
// dollar quotes; scripts, which may, run without parameters).
std::string Numbered(std::string_view sql) {
    std::string out;
    out.reserve(sql.size() + 16);
    int n = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (c == '\'' || c == '"') {
            const std::size_t end = sql.find(c, i + 1);
            const std::size_t stop = end == std::string_view::npos ? sql.size() : end + 1;
            out.append(sql.substr(i, stop - i));
            i = stop - 1;
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            const std::size_t end = sql.find('\n', i);
            const std::size_t stop = end == std::string_view::npos ? sql.size() : end;
            out.append(sql.substr(i, stop - i));
            i = stop - 1;
        } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            const std::size_t end = sql.find("*/", i + 2);
            const std::size_t stop = end == std::string_view::npos ? sql.size() : end + 2;
            out.append(sql.substr(i, stop - i));
            i = stop - 1;
        } else if (c == '?') {
            out += '$';
            out += std::to_string(++n);
        } else {
            out += c;
        }
    }
    return out;
}

char TypeLetter(const Value& v) {
    switch (v.index()) {
        case 1:
            return 'i';
        case 2:
            return 'd';
        case 3:
            return 't';
        default:
            return 'n';
    }
}

// The code of a failed statement, by its SQLSTATE (errcodes-appendix of PostgreSQL's manual).
ErrorCode CodeOf(std::string_view state, bool connection_lost) {
    if (connection_lost) return ErrorCode::kUnavailable;
    if (state.starts_with("23")) return ErrorCode::kConflict;               // integrity constraint
    if (state == "40001" || state == "40P01") return ErrorCode::kConflict;  // serialization
    if (state == "55P03" || state == "57014") return ErrorCode::kUnavailable;  // lock, timeout
    if (state.starts_with("08") || state.starts_with("57P") || state.starts_with("53")) {
        return ErrorCode::kUnavailable;  // connection, shutdown, out of resources
    }
    if (state == "42501") return ErrorCode::kFailedPrecondition;  // insufficient privilege
    return ErrorCode::kInternal;
}

Value ValueOf(const PGresult* res, int row, int col) {
    if (PQgetisnull(res, row, col) != 0) return std::monostate{};
    const char* text = PQgetvalue(res, row, col);
    const int len = PQgetlength(res, row, col);
    switch (PQftype(res, col)) {
        case kBoolOid:
            return std::int64_t{text[0] == 't' ? 1 : 0};
        case kInt2Oid:
        case kInt4Oid:
        case kInt8Oid:
        case kOidOid: {
            std::int64_t v = 0;
            std::from_chars(text, text + len, v);
            return v;
        }
        case kNumericOid: {
            // sum() and avg() of integers are numeric: whole ones read as integers.
            if (std::memchr(text, '.', static_cast<std::size_t>(len)) == nullptr) {
                std::int64_t v = 0;
                auto [p, ec] = std::from_chars(text, text + len, v);
                if (ec == std::errc{} && p == text + len) return v;
            }
            return std::strtod(text, nullptr);
        }
        case kFloat4Oid:
        case kFloat8Oid:
            return std::strtod(text, nullptr);
        default:
            return std::string(text, static_cast<std::size_t>(len));
    }
}

class PostgresConnection final : public Connection {
  public:
    PostgresConnection(PGconn* conn, PostgresOptions options)
        : conn_(conn), options_(std::move(options)) {}
    ~PostgresConnection() override { PQfinish(conn_); }
    PostgresConnection(const PostgresConnection&) = delete;
    PostgresConnection& operator=(const PostgresConnection&) = delete;

    // Session settings, after every (re)connection.
    Result<void> Configure() {
        // Notices (IF NOT EXISTS skipped, DROP cascades) are not errors: not on stderr.
        std::string set = "SET client_min_messages = warning; SET lock_timeout = " +
                          std::to_string(options_.lock_timeout_ms);
        if (!options_.application_name.empty()) {
            set += "; SET application_name = '" + options_.application_name + "'";
        }
        return ExecuteScript(set);
    }

    Result<void> Execute(std::string_view sql, std::span<const Value> params) override {
        auto res = Run(sql, params);
        if (!res) return std::unexpected(res.error());
        changes_ = ChangesOf(res->get());
        return {};
    }

    Result<std::vector<Row>> Query(std::string_view sql, std::span<const Value> params) override {
        auto res = Run(sql, params);
        if (!res) return std::unexpected(res.error());
        const PGresult* r = res->get();
        const int rows = PQntuples(r);
        const int cols = PQnfields(r);
        std::vector<Row> out(static_cast<std::size_t>(rows));
        for (int i = 0; i < rows; ++i) {
            auto& values = out[static_cast<std::size_t>(i)].values;
            values.reserve(static_cast<std::size_t>(cols));
            for (int c = 0; c < cols; ++c) values.push_back(ValueOf(r, i, c));
        }
        changes_ = ChangesOf(r);
        return out;
    }

    Result<void> ExecuteScript(std::string_view sql) override {
        if (auto ok = Usable(); !ok) return ok;
        const std::string text(sql);
        PgResult res(PQexec(conn_, text.c_str()));
        if (auto ok = Check(res.get(), sql); !ok) return std::unexpected(ok.error());
        return {};
    }

    std::int64_t Changes() override { return changes_; }
    Dialect dialect() const override { return Dialect::kPostgresql; }

    Result<bool> HasTable(std::string_view table) override {
        const Value v[] = {std::string(table)};
        auto rows = Query("SELECT to_regclass(?) IS NOT NULL", v);
        if (!rows) return std::unexpected(rows.error());
        return rows->front().Int(0) != 0;
    }
    Result<bool> HasColumn(std::string_view table, std::string_view column) override {
        const Value v[] = {std::string(table), std::string(column)};
        auto rows = Query(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(?) AND attname = ? "
            "AND attnum > 0 AND NOT attisdropped",
            v);
        if (!rows) return std::unexpected(rows.error());
        return rows->front().Int(0) != 0;
    }

    Result<void> Begin() override {
        if (depth_ > 0) {
            auto ok = ExecuteScript("SAVEPOINT acme_" + std::to_string(depth_));
            if (ok) ++depth_;
            return ok;
        }
        auto ok = ExecuteScript("BEGIN");
        if (ok) depth_ = 1;
        return ok;
    }

    Result<void> Commit() override {
        if (depth_ > 1) {
            auto ok = ExecuteScript("RELEASE SAVEPOINT acme_" + std::to_string(depth_ - 1));
            if (ok) --depth_;
            return ok;
        }
        if (depth_ == 0) return MakeError(ErrorCode::kFailedPrecondition, "commit: no transaction");
        if (auto ok = Usable(); !ok) return ok;
        // The transaction's notifications go with its COMMIT, in the same round trip; the
        // last result (the COMMIT's) is the one read.
        std::string commit;
        for (const std::string& channel : notify_) commit += "NOTIFY " + channel + "; ";
        notify_.clear();
        commit += "COMMIT";
        PgResult res(PQexec(conn_, commit.c_str()));
        if (auto ok = Check(res.get(), "COMMIT"); !ok) return std::unexpected(ok.error());
        // A transaction that had failed ends in ROLLBACK, without an error: say it did.
        if (std::strcmp(PQcmdStatus(res.get()), "COMMIT") != 0) {
            depth_ = 0;
            if (roles_used_) role_in_session_ = false;
            return MakeError(ErrorCode::kConflict,
                             "commit: the transaction had failed and was rolled back");
        }
        depth_ = 0;
        return {};
    }

    void NotifyOnCommit(std::string_view channel) override {
        if (depth_ == 0) return;
        for (const std::string& c : notify_) {
            if (c == channel) return;
        }
        notify_.emplace_back(channel);
    }

    Result<void> ActAs(std::string_view role) override {
        if (role_in_session_ && role == role_) return {};
        for (const char c : role) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
                return MakeError(
                    ErrorCode::kInvalidArgument,
                    "postgresql: role '" + std::string(role) + "': a role name is [a-z0-9_]+");
            }
        }
        role_ = role;
        role_in_session_ = false;
        roles_used_ = true;
        return Usable();  // sets it now: a role the login may not take fails here
    }

    void Rollback() override {
        if (depth_ == 1) notify_.clear();
        if (depth_ > 1) {
            const std::string name = "acme_" + std::to_string(depth_ - 1);
            if (!lost_) {
                const std::string sql =
                    "ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name;
                PgResult res(PQexec(conn_, sql.c_str()));
                (void)res;
            }
            --depth_;
        } else {
            if (depth_ == 1 && !lost_) {
                PgResult res(PQexec(conn_, "ROLLBACK"));
                (void)res;
            }
            depth_ = 0;
        }
        // A SET ROLE inside what was undone is undone with it: set again before what follows.
        if (roles_used_) role_in_session_ = false;
    }

  private:
    // The connection, re-established when it was lost and no transaction is open (a lost
    // transaction is lost: its caller rolls back and retries the unit on a new one).
    Result<void> Usable() {
        if (!lost_ && PQstatus(conn_) == CONNECTION_OK) return RoleInSession();
        if (depth_ > 0) {
            return MakeError(ErrorCode::kUnavailable,
                             "postgresql: connection lost inside a transaction");
        }
        PQreset(conn_);
        if (PQstatus(conn_) != CONNECTION_OK) {
            lost_ = true;
            return MakeError(ErrorCode::kUnavailable,
                             std::string("postgresql: reconnecting: ") + PQerrorMessage(conn_));
        }
        lost_ = false;
        prepared_.clear();
        role_in_session_ = role_.empty();  // a new session starts as the login
        if (auto ok = Configure(); !ok) return ok;
        return RoleInSession();
    }

    // The role ActAs asked for, set again when the session may have lost it (a rollback, a
    // new connection) before the next statement runs.
    Result<void> RoleInSession() {
        if (role_in_session_) return {};
        role_in_session_ = true;  // the statement below passes through here too
        const std::string sql = role_.empty() ? std::string("RESET ROLE") : "SET ROLE " + role_;
        PgResult res(PQexec(conn_, sql.c_str()));
        if (auto ok = Check(res.get(), sql); !ok) {
            role_in_session_ = false;
            return ok;
        }
        return {};
    }

    Result<PgResult> Run(std::string_view sql, std::span<const Value> params) {
        if (auto ok = Usable(); !ok) return std::unexpected(ok.error());
        key_.assign(sql);
        key_ += '\x1f';
        for (const Value& v : params) key_ += TypeLetter(v);
        auto it = prepared_.find(key_);
        if (it == prepared_.end()) {
            if (prepared_.size() >= kMaxPrepared) {
                PgResult res(PQexec(conn_, "DEALLOCATE ALL"));
                if (auto ok = Check(res.get(), "DEALLOCATE ALL"); !ok) {
                    return std::unexpected(ok.error());
                }
                prepared_.clear();
            }
            std::vector<Oid> types(params.size(), 0);
            for (std::size_t i = 0; i < params.size(); ++i) {
                if (params[i].index() == 1) types[i] = kInt8Oid;
                if (params[i].index() == 2) types[i] = kFloat8Oid;
            }
            std::string name = "s" + std::to_string(++statement_counter_);
            const std::string numbered = Numbered(sql);
            PgResult res(PQprepare(conn_, name.c_str(), numbered.c_str(),
                                   static_cast<int>(params.size()), types.data()));
            if (auto ok = Check(res.get(), sql); !ok) return std::unexpected(ok.error());
            it = prepared_.emplace(key_, std::move(name)).first;
        }
        std::vector<std::string> text(params.size());
        std::vector<const char*> ptrs(params.size(), nullptr);
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (const auto* v = std::get_if<std::int64_t>(&params[i])) {
                text[i] = std::to_string(*v);
            } else if (const auto* d = std::get_if<double>(&params[i])) {
                char buf[32];
                auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *d);
                text[i].assign(buf, p);
            } else if (const auto* s = std::get_if<std::string>(&params[i])) {
                text[i] = *s;
            } else {
                continue;  // NULL
            }
            ptrs[i] = text[i].c_str();
        }
        PgResult res(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                                    ptrs.data(), nullptr, nullptr, 0));
        if (auto ok = Check(res.get(), sql); !ok) return std::unexpected(ok.error());
        return res;
    }

    // The error of a failed command, or nothing; a lost connection is remembered.
    Result<void> Check(const PGresult* res, std::string_view sql) {
        const ExecStatusType status = res == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(res);
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
            status == PGRES_EMPTY_QUERY) {
            return {};
        }
        const char* state = res == nullptr ? nullptr : PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const std::string_view sqlstate = state == nullptr ? "" : state;
        if (PQstatus(conn_) != CONNECTION_OK || sqlstate.starts_with("08") ||
            sqlstate.starts_with("57P")) {
            lost_ = true;
        }
        std::string message = res == nullptr ? PQerrorMessage(conn_) : PQresultErrorMessage(res);
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
            message.pop_back();
        }
        if (sqlstate == "26000") prepared_.clear();  // a statement the server forgot
        return MakeError(CodeOf(sqlstate, lost_),
                         "postgresql: " + message +
                             (sqlstate.empty() ? "" : " [" + std::string(sqlstate) + "]") +
                             " in: " + std::string(sql.substr(0, 200)));
    }

    static std::int64_t ChangesOf(const PGresult* res) {
        const char* n = PQcmdTuples(const_cast<PGresult*>(res));
        std::int64_t v = 0;
        if (n != nullptr) std::from_chars(n, n + std::strlen(n), v);
        return v;
    }

    PGconn* conn_;
    PostgresOptions options_;
    std::unordered_map<std::string, std::string> prepared_;
    std::vector<std::string> notify_;  // channels to NOTIFY at the outermost COMMIT
    std::string key_;
    std::uint64_t statement_counter_ = 0;
    std::int64_t changes_ = 0;
    int depth_ = 0;  // 1 inside a transaction, more inside savepoints
    bool lost_ = false;
    std::string role_;             // ActAs: the role asked for last ("": the login)
    bool role_in_session_ = true;  // ... and whether the session surely has it
    bool roles_used_ = false;      // ActAs was called: rollbacks may undo a role
};

class PostgresListener final : public Listener {
  public:
    PostgresListener(std::string url, std::vector<std::string> channels)
        : url_(std::move(url)), channels_(std::move(channels)) {}
    ~PostgresListener() override {
        if (conn_ != nullptr) PQfinish(conn_);
    }
    PostgresListener(const PostgresListener&) = delete;
    PostgresListener& operator=(const PostgresListener&) = delete;

    Result<void> Connect() {
        if (conn_ != nullptr) PQfinish(conn_);
        conn_ = PQconnectdb(url_.c_str());
        if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
            return MakeError(ErrorCode::kUnavailable,
                             std::string("postgresql listener: ") +
                                 (conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory"));
        }
        std::string listen;
        for (const std::string& c : channels_) listen += "LISTEN " + c + "; ";
        PgResult res(PQexec(conn_, listen.c_str()));
        if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
            return MakeError(ErrorCode::kUnavailable,
                             std::string("postgresql listener: ") + PQerrorMessage(conn_));
        }
        return {};
    }

    Result<bool> Wait(int timeout_ms) override {
        if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
            if (auto ok = Connect(); !ok) return std::unexpected(ok.error());
            return true;  // notifications may have been missed while away: look
        }
        if (Drain()) return true;
        pollfd p{PQsocket(conn_), POLLIN, 0};
        const int ready = ::poll(&p, 1, timeout_ms);
        if (ready <= 0) return false;
        if (PQconsumeInput(conn_) == 0) {  // the server went away
            PQfinish(conn_);
            conn_ = nullptr;
            return MakeError(ErrorCode::kUnavailable, "postgresql listener: connection lost");
        }
        return Drain();
    }

  private:
    bool Drain() {
        bool any = false;
        while (PGnotify* n = PQnotifies(conn_)) {
            any = true;
            PQfreemem(n);
        }
        return any;
    }

    std::string url_;
    std::vector<std::string> channels_;
    PGconn* conn_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Listener>> ListenPostgres(std::string_view url,
                                                 const std::vector<std::string>& channels) {
    for (const std::string& channel : channels) {
        for (char c : channel) {
            if (!((c >= 'a' && c <= 'z') || c == '_')) {
                return MakeError(ErrorCode::kInvalidArgument,
                                 "listen: channel '" + channel + "' is not [a-z_]+");
            }
        }
    }
    auto l = std::make_unique<PostgresListener>(std::string(url), channels);
    if (auto ok = l->Connect(); !ok) return std::unexpected(ok.error());
    return std::unique_ptr<Listener>(std::move(l));
}

Result<std::unique_ptr<Connection>> OpenPostgres(std::string_view url,
                                                 const PostgresOptions& options) {
    std::string conninfo(url);
    if (options.connect_timeout_s > 0 && conninfo.find("connect_timeout") == std::string::npos) {
        conninfo += conninfo.find('?') == std::string::npos ? '?' : '&';
        conninfo += "connect_timeout=" + std::to_string(options.connect_timeout_s);
    }
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (conn == nullptr) return MakeError(ErrorCode::kUnavailable, "postgresql: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string message = PQerrorMessage(conn);
        PQfinish(conn);
        while (!message.empty() && message.back() == '\n') message.pop_back();
        return MakeError(ErrorCode::kUnavailable, "postgresql: " + message);
    }
    auto db = std::make_unique<PostgresConnection>(conn, options);
    if (auto ok = db->Configure(); !ok) return std::unexpected(ok.error());
    return std::unique_ptr<Connection>(std::move(db));
}

bool IsPostgresUrl(std::string_view url) {
    return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

}  // namespace acme::storage
