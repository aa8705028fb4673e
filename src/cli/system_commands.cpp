#include "cli/system_commands.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>

#include "catalog/loader.hpp"
#include "cli/exit_codes.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "messaging/bus.hpp"
#include "messaging/dead_letters.hpp"
#include "runtime/roles.hpp"
#include "runtime/system.hpp"

namespace acme::cli {

namespace {

// Splits "a,b,c" (empty items dropped).
std::vector<std::string> SplitList(std::string_view list) {
    std::vector<std::string> out;
    for (std::size_t at = 0; at <= list.size();) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        if (comma > at) out.emplace_back(list.substr(at, comma - at));
        at = comma + 1;
    }
    return out;
}

struct ServeArgs {
    std::string data = "data";
    std::string db;        // postgresql://...: the scale-out mode
    std::string services;  // comma-separated; empty: all
    std::int64_t initial_stock = 100;
    std::int64_t payment_claim_ms = 30'000;
    std::int64_t lease_ms = 30'000;
    int db_wait_s = 60;  // --db: how long a database that cannot be reached yet is waited for
    bool service_roles = false;
    bool crash_after_gateway_call = false;
    int consumer_threads = messaging::BusOptions{}.consumer_threads;
    std::string listen = "127.0.0.1:8080";
    std::string catalog = "catalog";
    std::string durability = "full";
    int http_threads = 2;
    std::size_t max_connections = 0;
    std::int64_t ship_ms = 2'000;
    double decline_rate = 0;
    double error_rate = 0;
    double timeout_rate = 0;
    std::int64_t gateway_latency_ms = 0;
    std::int64_t late_answer_ms = -1;
    std::int64_t linger_us = 2'000;
    std::int64_t max_backlog = http::ApiOptions{}.max_backlog;
    std::string checkpoint = "thread";
    int writer_nice = -10;
};

int RunServe(const ServeArgs& args) {
    const std::size_t colon = args.listen.rfind(':');
    if (colon == std::string::npos) {
        return ReportError({ErrorCode::kInvalidArgument, "--listen takes HOST:PORT"});
    }
    int port = 0;
    try {
        port = std::stoi(args.listen.substr(colon + 1));
    } catch (const std::exception&) {
        port = -1;
    }
    if (port < 0 || port > 65535) {
        return ReportError({ErrorCode::kInvalidArgument, "bad port in --listen " + args.listen});
    }
    runtime::SystemOptions options;
    options.data_dir = args.data;
    options.database_url = args.db;
    options.service_roles = args.service_roles;
    options.initial_stock = args.initial_stock;
    options.payments.claim_ms = args.payment_claim_ms;
    options.payments.crash_after_gateway_call = args.crash_after_gateway_call;
    options.bus.lease_ms = args.lease_ms;
    options.bus.consumer_threads = args.consumer_threads;
    for (std::string& s : SplitList(args.services)) options.services.insert(std::move(s));
    options.catalog_dir = args.catalog;
    options.durability =
        args.durability == "full" ? storage::Durability::kFull : storage::Durability::kNormal;
    options.warehouse = {args.ship_ms, args.ship_ms, args.ship_ms, 50};
    options.gateway.decline_rate = args.decline_rate;
    options.gateway.error_rate = args.error_rate;
    options.gateway.timeout_rate = args.timeout_rate;
    options.gateway.latency_ms = args.gateway_latency_ms;
    options.payments.late_answer_ms = args.late_answer_ms;
    options.bus.linger_us = args.linger_us;
    options.background_checkpoint = args.checkpoint == "thread";
    options.bus.dispatcher_nice = args.writer_nice;
    static SystemClock clock;
    // Block the stop signals before any thread starts, so only sigwait sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    auto system = runtime::System::Open(options, clock);
    // A database that is not up yet (started together, restarting, failing over) is waited
    // for, up to --db-wait seconds; a stop signal meanwhile stops the wait.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(args.db_wait_s);
    for (int attempt = 1;
         !system && !args.db.empty() && system.error().code == ErrorCode::kUnavailable &&
         std::chrono::steady_clock::now() < give_up;
         ++attempt) {
        if (attempt == 1 || attempt % 10 == 0) {
            std::fprintf(stderr, "acme serve: waiting for the database (%s)\n",
                         system.error().message.c_str());
        }
        const timespec pause{.tv_sec = 0, .tv_nsec = std::min(attempt, 9) * 100'000'000L};
        if (sigtimedwait(&signals, nullptr, &pause) > 0) return 0;
        system = runtime::System::Open(options, clock);
    }
    if (!system) return ReportError(system.error());
    if (auto ok = (*system)->Start(); !ok) return ReportError(ok.error());
    // The HTTP API is the cart-api's (and the checkouts it accepts): served where it runs.
    std::unique_ptr<http::Api> api;
    std::unique_ptr<http::HttpServer> server;
    std::string base;
    if ((*system)->Runs(shopping::CartService::kService)) {
        api = std::make_unique<http::Api>(**system,
                                          http::ApiOptions{.max_backlog = args.max_backlog});
        auto started = http::HttpServer::Start(
            {.host = args.listen.substr(0, colon),
             .port = static_cast<std::uint16_t>(port),
             .threads = args.http_threads,
             .max_connections = args.max_connections},
            [a = api.get()](const http::HttpRequest& r, http::Respond respond) {
                a->Handle(r, std::move(respond));
            });
        if (!started) return ReportError(started.error());
        server = std::move(*started);
        api->SetServerStats([s = server.get()] { return s->Stats(); });
        base = "http://" + args.listen.substr(0, colon) + ":" + std::to_string(server->port());
    }
    std::string running;
    for (const auto& name : runtime::ServiceNames()) {
        if ((*system)->Runs(name)) running += (running.empty() ? "" : ",") + name;
    }
    const bool embedded = args.db.empty();
    const std::string store = embedded ? (*system)->DatabasePath().string() +
                                             " (SQLite, WAL, synchronous=" +
                                             (args.durability == "full" ? "FULL" : "NORMAL") + ")"
                                       : "PostgreSQL (the SQL queue transport)";
    std::printf("acme serve: Place an Order is running (%s)\n",
                options.services.empty() ? "every service in one process" : running.c_str());
    if (server) {
        std::printf(
            "  http=%s\n  products   %s/products\n  health     %s/healthz\n"
            "  metrics    %s/metrics\n",
            base.c_str(), base.c_str(), base.c_str(), base.c_str());
    } else {
        std::printf("  no HTTP here (cart-api runs elsewhere)\n");
    }
    std::printf("  data       %s\n  contracts  %s\n", store.c_str(), args.catalog.c_str());
    if (server) {
        std::printf(
            "try: curl -s -XPOST %s/carts -H 'content-type: application/json' -d "
            "'{\"customerId\":\"me\"}'\n",
            base.c_str());
    }
    if (embedded) {
        std::printf("check the invariants any time: acme audit --data %s --allow-pending\n",
                    args.data.c_str());
    } else {
        std::printf("check the invariants any time: acme audit --db URL --allow-pending\n");
    }
    std::printf("stop with Ctrl-C\n");
    std::fflush(stdout);
    int received = 0;
    sigwait(&signals, &received);
    std::printf("acme serve: stopping (signal %d)\n", received);
    if (server) server->Stop();
    (*system)->Stop();
    return kExitOk;
}

// Opens the data folder's database without creating one: a typo in --data must not look
// like an empty, healthy system.
Result<std::unique_ptr<storage::Connection>> OpenExisting(const std::string& data) {
    const auto path = std::filesystem::path(data) / "acme.sqlite";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        return MakeError(ErrorCode::kNotFound,
                         "no acme data in '" + data + "' (expected " + path.string() + ")");
    }
    return storage::OpenSqlite(path);
}

// The store named by --db (a PostgreSQL URL) or else --data (an existing data folder).
struct StoreArgs {
    std::string data = "data";
    std::string db;
};

Result<std::unique_ptr<storage::Connection>> OpenStore(const StoreArgs& store) {
    if (store.db.empty()) return OpenExisting(store.data);
    if (!storage::IsPostgresUrl(store.db)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "--db takes a postgresql:// URL, not '" + store.db + "'");
    }
    return storage::OpenPostgres(store.db, {.application_name = "acme-cli"});
}

void AddStoreOptions(CLI::App& cmd, StoreArgs& store) {
    cmd.add_option("--data", store.data, "data folder of the embedded mode (default ./data)");
    cmd.add_option("--db", store.db, "PostgreSQL URL of the scale-out mode (instead of --data)");
}

int RunAudit(const StoreArgs& store, bool allow_pending) {
    auto db = OpenStore(store);
    if (!db) return ReportError(db.error());
    auto report = runtime::Audit(
        **db, allow_pending ? runtime::Pending::kAllowed : runtime::Pending::kViolation);
    if (!report) return ReportError(report.error());
    for (const auto& c : report->checks) {
        std::printf("%-4s %-72s checked %6lld  violations %lld%s%s\n",
                    c.violations == 0 ? "ok" : "FAIL", c.name.c_str(),
                    static_cast<long long>(c.checked), static_cast<long long>(c.violations),
                    c.detail.empty() ? "" : "  ", c.detail.c_str());
    }
    std::printf("%s\n", report->Clean() ? "audit clean" : "audit FAILED");
    return report->Clean() ? kExitOk : kExitFindings;
}

int RunDlqList(const StoreArgs& store, bool all) {
    auto db = OpenStore(store);
    if (!db) return ReportError(db.error());
    auto list = messaging::ListDeadLetters(
        **db, all ? messaging::Replayed::kInclude : messaging::Replayed::kExclude);
    if (!list) return ReportError(list.error());
    for (const auto& d : *list) {
        std::printf("%lld\t%s\t%s\t%s\tattempts=%lld\t%s\t%s%s\n", static_cast<long long>(d.id),
                    d.time.c_str(), d.consumer.c_str(), d.type.c_str(),
                    static_cast<long long>(d.attempts), d.message_id.c_str(), d.reason.c_str(),
                    d.replayed ? "\t(replayed)" : "");
    }
    std::printf("%zu dead letters\n", list->size());
    return kExitOk;
}

int RunDlqReplay(const StoreArgs& store, std::int64_t id) {
    auto db = OpenStore(store);
    if (!db) return ReportError(db.error());
    SystemClock clock;
    auto n = messaging::ReplayDeadLetters(**db, id, clock.NowMillis());
    if (!n) return ReportError(n.error());
    std::printf("%lld dead letters back on their retry queues\n", static_cast<long long>(*n));
    return kExitOk;
}

struct RolesArgs {
    std::string db;
    std::string catalog = "catalog";
    std::vector<std::string> logins;  // NAME=SERVICE,SERVICE
};

int RunDbRoles(const RolesArgs& args) {
    if (!storage::IsPostgresUrl(args.db)) {
        return ReportError({ErrorCode::kInvalidArgument,
                            "--db takes the postgresql:// URL of the database's owner"});
    }
    std::vector<runtime::Login> logins;
    for (const std::string& spec : args.logins) {
        const std::size_t eq = spec.find('=');
        if (eq == std::string::npos || eq == 0) {
            return ReportError({ErrorCode::kInvalidArgument,
                                "--login takes NAME=SERVICE[,SERVICE...], not '" + spec + "'"});
        }
        logins.push_back({spec.substr(0, eq), SplitList(std::string_view(spec).substr(eq + 1))});
    }
    auto catalog = catalog::LoadCatalog(args.catalog, {.keep_bodies = false});
    if (!catalog) return ReportError(catalog.error());
    auto db = storage::OpenPostgres(args.db, {.application_name = "acme-db-roles"});
    if (!db) return ReportError(db.error());
    auto report = runtime::SetUpRoles(**db, *catalog, logins);
    if (!report) return ReportError(report.error());
    for (const std::string& line : *report) std::printf("%s\n", line.c_str());
    return kExitOk;
}

}  // namespace

void AddWriterOptions(CLI::App& cmd, std::string& value, int& writer_nice) {
    cmd.add_option("--checkpoint", value,
                   "who copies the SQLite WAL into the database every 1,000 pages: thread (a "
                   "thread of its own; default) or writer (the commit crossing the mark, "
                   "SQLite's behaviour)")
        ->check(CLI::IsMember({"thread", "writer"}));
    cmd.add_option("--writer-nice", writer_nice,
                   "scheduling priority (nice, -20..19) of the bus's one writer thread; below 0 "
                   "needs CAP_SYS_NICE, without it the thread keeps the process's (default -10)")
        ->check(CLI::Range(-20, 19));
}

void AddSystemCommands(CLI::App& app, int& exit_code) {
    auto serve_args = std::make_shared<ServeArgs>();
    CLI::App* serve =
        app.add_subcommand("serve", "run every service in one process with the HTTP API");
    serve->add_option("--data", serve_args->data, "data folder (default ./data)");
    serve->add_option("--db", serve_args->db,
                      "postgresql://... : run on PostgreSQL (the scale-out mode: any number of "
                      "processes share the database) instead of SQLite under --data");
    serve
        ->add_option("--db-wait", serve_args->db_wait_s,
                     "seconds to wait at start for a --db that cannot be reached yet "
                     "(default 60)")
        ->check(CLI::Range(0, 86'400));
    serve->add_option("--services", serve_args->services,
                      "comma-separated services this process runs (default all): cart-api "
                      "(with the HTTP API), checkout-api, checkout-orchestrator, "
                      "inventory-service, order-service, payment-service, promotions-service, "
                      "warehouse-service");
    serve->add_option("--listen", serve_args->listen, "HOST:PORT (default 127.0.0.1:8080)");
    serve->add_option("--catalog", serve_args->catalog,
                      "catalog enforced at run time (default ./catalog)");
    serve
        ->add_option("--durability", serve_args->durability,
                     "full (default): fsync the WAL at every commit, before any 202 is sent; "
                     "normal: synchronous=NORMAL, survives a process crash but a power loss may "
                     "take checkouts already answered 202")
        ->check(CLI::IsMember({"normal", "full"}));
    serve
        ->add_option("--max-connections", serve_args->max_connections,
                     "connections served at once; the next get 503 (default: the file "
                     "descriptor limit less an eighth, at least 128)")
        ->check(CLI::NonNegativeNumber);
    serve
        ->add_option(
            "--http-threads", serve_args->http_threads,
            "HTTP threads serving connections (default 2; requests waiting for a group commit hold "
            "none)")
        ->check(CLI::Range(1, 64));
    serve
        ->add_option("--max-backlog", serve_args->max_backlog,
                     "refuse checkouts (503, Retry-After) while more log messages than this wait "
                     "to be handled (default 20000)")
        ->check(CLI::NonNegativeNumber);
    serve->add_option("--stage-ms", serve_args->ship_ms, "warehouse pick/pack/ship time per stage")
        ->check(CLI::NonNegativeNumber);
    serve
        ->add_option("--gateway-decline-rate", serve_args->decline_rate,
                     "simulated gateway: share of approvable payments declined")
        ->check(CLI::Range(0.0, 1.0));
    serve
        ->add_option("--gateway-error-rate", serve_args->error_rate,
                     "simulated gateway: share failing with an error (retried)")
        ->check(CLI::Range(0.0, 1.0));
    serve
        ->add_option("--gateway-timeout-rate", serve_args->timeout_rate,
                     "simulated gateway: share never answered in time")
        ->check(CLI::Range(0.0, 1.0));
    serve
        ->add_option("--gateway-latency-ms", serve_args->gateway_latency_ms,
                     "simulated gateway: latency of every answer")
        ->check(CLI::NonNegativeNumber);
    serve->add_option("--gateway-late-answer-ms", serve_args->late_answer_ms,
                      "simulated gateway: approve unanswered payments this late (default never)");
    serve
        ->add_option("--linger-us", serve_args->linger_us,
                     "consumers wait this long after a wake-up so batches grow (group commit; "
                     "default 2000)")
        ->check(CLI::NonNegativeNumber);
    serve
        ->add_option("--initial-stock", serve_args->initial_stock,
                     "units of each demo product on first start (default 100)")
        ->check(CLI::NonNegativeNumber);
    serve
        ->add_option("--lease-ms", serve_args->lease_ms,
                     "PostgreSQL: how long an instance that stops answering keeps the messages it "
                     "claimed (default 30000)")
        ->check(CLI::Range(100, 3'600'000));
    serve
        ->add_option("--payment-claim-ms", serve_args->payment_claim_ms,
                     "how long a payment worker holds the requests it took before another "
                     "instance may call the gateway for them again (default 30000)")
        ->check(CLI::Range(100, 3'600'000));
    serve
        ->add_option("--consumer-threads", serve_args->consumer_threads,
                     "PostgreSQL: threads delivering messages, each with its own connection; a "
                     "service's messages are delivered by one of them at a time (default 4)")
        ->check(CLI::Range(1, 64));
    serve->add_flag("--fault-crash-after-gateway-call", serve_args->crash_after_gateway_call,
                    "fault injection (tests): end the process right after the gateway answered, "
                    "before the answer is recorded");
    AddWriterOptions(*serve, serve_args->checkpoint, serve_args->writer_nice);
    serve->callback([&exit_code, serve_args] { exit_code = RunServe(*serve_args); });

    serve->add_flag("--service-roles", serve_args->service_roles,
                    "with --db: each service's work runs as its own PostgreSQL role, the HTTP "
                    "API's reads as the storefront's (set up by `acme db roles`; the login must "
                    "be a member of the roles of --services)");

    auto roles_args = std::make_shared<RolesArgs>();
    CLI::App* db_cmd = app.add_subcommand("db", "the PostgreSQL database of the scale-out mode");
    db_cmd->require_subcommand(1);
    CLI::App* roles = db_cmd->add_subcommand(
        "roles",
        "migrate, create a role per service with exactly its grants, and login roles for "
        "processes (run as the database's owner; again after an upgrade)");
    roles->add_option("--db", roles_args->db, "postgresql:// URL, connecting as the owner")
        ->required();
    roles->add_option("--catalog", roles_args->catalog,
                      "catalog whose queries decide the read grants (default ./catalog)");
    roles->add_option("--login", roles_args->logins,
                      "NAME=SERVICE[,SERVICE...]: a login role (LOGIN NOINHERIT) that may act as "
                      "those services ('storefront': the HTTP API's reads); repeatable");
    roles->callback([&exit_code, roles_args] { exit_code = RunDbRoles(*roles_args); });

    auto audit_store = std::make_shared<StoreArgs>();
    auto allow_pending = std::make_shared<bool>(false);
    CLI::App* audit =
        app.add_subcommand("audit", "check the system's invariants over stored state");
    AddStoreOptions(*audit, *audit_store);
    audit->add_flag("--allow-pending", *allow_pending,
                    "checkouts still in flight are not violations");
    audit->callback([&exit_code, audit_store, allow_pending] {
        exit_code = RunAudit(*audit_store, *allow_pending);
    });

    auto dlq_store = std::make_shared<StoreArgs>();
    CLI::App* dlq = app.add_subcommand("dlq", "dead letters: list and replay");
    dlq->require_subcommand(1);
    auto all = std::make_shared<bool>(false);
    CLI::App* list = dlq->add_subcommand("list", "list dead letters with their reason");
    AddStoreOptions(*list, *dlq_store);
    list->add_flag("--all", *all, "include replayed ones");
    list->callback([&exit_code, dlq_store, all] { exit_code = RunDlqList(*dlq_store, *all); });
    auto id = std::make_shared<std::int64_t>(0);
    CLI::App* replay =
        dlq->add_subcommand("replay", "put a dead letter (or all) back on its retry queue");
    AddStoreOptions(*replay, *dlq_store);
    replay->add_option("id", *id, "dead letter id (default: all)")->check(CLI::NonNegativeNumber);
    replay->callback([&exit_code, dlq_store, id] { exit_code = RunDlqReplay(*dlq_store, *id); });
}

}  // namespace acme::cli
