#include "cli/bench_command.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/exit_codes.hpp"
#include "cli/system_commands.hpp"
#include "http/api.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "runtime/system.hpp"

namespace acme::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
    int checkouts = 2000;
    int concurrency = 32;
    double rate = 0;   // checkouts per second; 0 = as fast as possible
    std::string url;   // external servers, comma-separated; empty = start one in-process
    std::string db;    // postgresql://...: the external servers' database (progress, latency)
    std::string data;  // data folder (embedded: default a temporary one)
    std::string durability = "full";
    std::string token = "tok_visa";
    bool no_wait = false;
    double timeout_s = 300;
    std::int64_t linger_us = 2'000;
    int http_threads = 2;
    std::int64_t gateway_latency_ms = 0;
    bool journey = false;  // cart creation and item inside the timed loop
    std::int64_t max_backlog = http::ApiOptions{}.max_backlog;
    std::string checkpoint = "thread";
    int writer_nice = -10;
};

// CPU seconds of the process (every thread, ended ones included) and of the live threads by
// name, from /proc (Linux).
struct CpuSnapshot {
    double process = 0;
    std::map<std::string, double> by_thread;
};

CpuSnapshot TakeCpuSnapshot() {
    CpuSnapshot snap;
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) == 0) {
        snap.process = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    }
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream in(task.path() / "stat");
        std::string line;
        if (!std::getline(in, line)) continue;
        // pid (comm) state ppid ... utime stime: fields 14 and 15, counted after the comm.
        const auto open = line.find('('), close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 2));
        std::string field;
        double utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::strtod(field.c_str(), nullptr);
            if (i == 15) stime = std::strtod(field.c_str(), nullptr);
        }
        snap.by_thread[line.substr(open + 1, close - open - 1)] += (utime + stime) / tick;
    }
    return snap;
}

double ThreadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto at = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(at, v.size() - 1)];
}

struct Counts {
    std::int64_t completed = 0, rejected = 0, pending = 0;
    Counts operator-(const Counts& o) const {
        return {completed - o.completed, rejected - o.rejected, pending - o.pending};
    }
};

Counts SagaCounts(storage::Connection& db) {
    Counts c;
    auto rows = db.Query("SELECT state, count(*) FROM ord_sagas GROUP BY state");
    for (int attempt = 0; !rows && attempt < 20; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        rows = db.Query("SELECT state, count(*) FROM ord_sagas GROUP BY state");
    }
    if (!rows) {
        std::fprintf(stderr, "acme bench: cannot read saga states: %s\n",
                     rows.error().message.c_str());
        return c;
    }
    for (const auto& r : *rows) {
        if (r.Text(0) == "completed")
            c.completed = r.Int(1);
        else if (r.Text(0) == "rejected")
            c.rejected = r.Int(1);
        else
            c.pending += r.Int(1);
    }
    return c;
}

int RunBench(const BenchArgs& args) {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::unique_ptr<runtime::System> system;
    std::unique_ptr<http::Api> api;
    std::unique_ptr<http::HttpServer> server;
    std::filesystem::path data = args.data;
    const bool embedded = args.url.empty();
    static SystemClock clock;
    if (embedded) {
        if (data.empty()) {
            data = std::filesystem::temp_directory_path() /
                   ("acme-bench-" + std::to_string(std::random_device{}()));
        }
        runtime::SystemOptions options;
        options.data_dir = data;
        options.durability =
            args.durability == "full" ? storage::Durability::kFull : storage::Durability::kNormal;
        options.initial_stock = static_cast<std::int64_t>(args.checkouts) + 1000;
        // Fulfilment after the order is created is outside the measured path.
        options.warehouse = {3'600'000, 3'600'000, 3'600'000, 1'000};
        options.bus.linger_us = args.linger_us;
        options.gateway.latency_ms = args.gateway_latency_ms;
        options.background_checkpoint = args.checkpoint == "thread";
        options.bus.dispatcher_nice = args.writer_nice;
        auto s = runtime::System::Open(options, clock);
        if (!s) return ReportError(s.error());
        system = std::move(*s);
        if (auto ok = system->Start(); !ok) return ReportError(ok.error());
        api =
            std::make_unique<http::Api>(*system, http::ApiOptions{.max_backlog = args.max_backlog});
        auto srv = http::HttpServer::Start({.host = host, .port = 0, .threads = args.http_threads},
                                           [&](const http::HttpRequest& r, http::Respond respond) {
                                               api->Handle(r, std::move(respond));
                                           });
        if (!srv) return ReportError(srv.error());
        server = std::move(*srv);
        port = server->port();
    }
    // Where each client thread sends: the servers in turn (the in-process one, or --url's).
    std::vector<std::pair<std::string, std::uint16_t>> targets;
    if (embedded) {
        targets.emplace_back(host, port);
    } else {
        for (std::size_t at = 0; at < args.url.size();) {
            const std::size_t comma = std::min(args.url.find(',', at), args.url.size());
            auto parsed = http::ParseBaseUrl(args.url.substr(at, comma - at));
            if (!parsed) return ReportError(parsed.error());
            targets.emplace_back(parsed->first, parsed->second);
            at = comma + 1;
        }
        host = targets.front().first;
        port = targets.front().second;
    }
    std::atomic<std::size_t> next_target{0};
    auto next_server = [&] { return targets[next_target.fetch_add(1) % targets.size()]; };
    // The database the sagas are read from: the in-process one, --data's or --db's.
    auto open_db = [&]() -> std::unique_ptr<storage::Connection> {
        if (!args.db.empty()) {
            auto conn = storage::OpenPostgres(args.db, {.application_name = "acme-bench"});
            if (conn) return std::move(*conn);
            std::fprintf(stderr, "acme bench: %s\n", conn.error().message.c_str());
            return nullptr;
        }
        if (data.empty()) return nullptr;
        auto conn = storage::OpenSqlite(data / "acme.sqlite");
        return conn ? std::move(*conn) : nullptr;
    };
    std::unique_ptr<storage::Connection> db = open_db();
    // Sagas already there (an external server's earlier runs) are not this run's.
    const Counts earlier = db ? SagaCounts(*db) : Counts{};
    const std::int64_t started_ms = SystemClock().NowMillis();
    auto commits = [&]() -> std::int64_t {
        if (!db || db->dialect() != storage::Dialect::kPostgresql) return -1;
        auto rows = db->Query(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        return rows && !rows->empty() ? rows->front().Int(0) : -1;
    };
    std::printf(
        "acme bench: %d checkouts, concurrency %d, rate %s, server %s:%u%s (%s), durability %s\n",
        args.checkouts, args.concurrency,
        args.rate > 0 ? (std::to_string(args.rate) + "/s").c_str() : "max", host.c_str(), port,
        targets.size() > 1 ? (" and " + std::to_string(targets.size() - 1) + " more").c_str() : "",
        embedded ? "in-process" : "external", args.durability.c_str());
    std::fflush(stdout);

    static const char* kSkus[] = {"SKU-KETTLE",  "SKU-MUG",    "SKU-BEANS",
                                  "SKU-GRINDER", "SKU-FILTER", "SKU-SCALE"};
    std::atomic<int> next{0}, accepted{0}, errors{0}, retries{0};
    // Retries each call until it succeeds: a restarted server must lose nothing accepted.
    auto call = [&](http::HttpClient& client, const std::string& method, const std::string& target,
                    const std::string& body, int expect,
                    const std::vector<std::pair<std::string, std::string>>& h = {})
        -> std::optional<http::ClientResponse> {
        for (int attempt = 0; attempt < 600; ++attempt) {
            auto r = client.Send(method, target, body, h);
            if (r && r->status == expect) return *r;
            if (r && r->status < 500) {
                // The first few refusals are printed: a load that should pass has none.
                if (errors.fetch_add(1) < 5) {
                    std::fprintf(stderr, "acme bench: %s %s answered %d: %s\n", method.c_str(),
                                 target.c_str(), r->status, r->body.substr(0, 300).c_str());
                }
                return std::nullopt;
            }
            retries.fetch_add(1);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        errors.fetch_add(1);
        return std::nullopt;
    };
    // A cart with one item, ready to check out ("" when the calls failed).
    auto make_cart = [&](http::HttpClient& client, int i) -> std::string {
        auto cart = call(client, "POST", "/carts",
                         R"({"customerId":"bench-)" + std::to_string(i) + "\"}", 201);
        if (!cart) return {};
        std::string cart_id = nlohmann::json::parse(cart->body).at("id");
        const std::string item = nlohmann::json{{"sku", kSkus[i % 6]}, {"quantity", 1}}.dump();
        if (!call(client, "POST", "/carts/" + cart_id + "/items", item, 200)) return {};
        return cart_id;
    };
    auto run_threads = [&](const std::function<void()>& fn) {
        std::vector<std::thread> threads;
        for (int t = 0; t < std::max(1, args.concurrency); ++t) threads.emplace_back(fn);
        for (auto& t : threads) t.join();
    };
    // Unless --journey, carts are filled before the timed phase: the target is checkout
    // accepted -> order created, and a shopper fills a cart long before checking out.
    std::vector<std::string> carts(static_cast<std::size_t>(args.checkouts));
    if (!args.journey) {
        const auto prep_start = Clock::now();
        run_threads([&] {
            const auto [h, p] = next_server();
            http::HttpClient client(h, p);
            for (int i = next.fetch_add(1); i < args.checkouts; i = next.fetch_add(1)) {
                carts[static_cast<std::size_t>(i)] = make_cart(client, i);
            }
        });
        next = 0;
        std::printf("prepared %d carts with one item each in %.2f s (not timed below)\n",
                    args.checkouts,
                    std::chrono::duration<double>(Clock::now() - prep_start).count());
        std::fflush(stdout);
    }
    std::mutex lat_mutex;
    std::vector<double> checkout_ms;
    double client_cpu_s = 0;  // the load generator's threads, guarded by lat_mutex
    const CpuSnapshot cpu_start = TakeCpuSnapshot();
    const storage::WalWriteStats wal_start = storage::GetWalWriteStats();
    const auto start = Clock::now();
    const std::int64_t commits_start = commits();
    const std::string run = std::to_string(std::random_device{}());
    std::atomic<bool> done_sending{false};
    auto worker = [&] {
        pthread_setname_np(pthread_self(), "acme-client");
        const double cpu0 = ThreadCpuSeconds();
        const auto [h, p] = next_server();
        http::HttpClient client(h, p);
        std::vector<double> local;
        for (;;) {
            const int i = next.fetch_add(1);
            if (i >= args.checkouts) break;
            if (args.rate > 0) {
                std::this_thread::sleep_until(start +
                                              std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(i / args.rate)));
            }
            const std::string cart_id =
                args.journey ? make_cart(client, i) : carts[static_cast<std::size_t>(i)];
            if (cart_id.empty()) continue;
            const auto t0 = Clock::now();
            auto co = call(client, "POST", "/carts/" + cart_id + "/checkout",
                           nlohmann::json{{"paymentToken", args.token}}.dump(), 202,
                           {{"Idempotency-Key", "bench-" + run + "-" + std::to_string(i)}});
            if (!co) continue;
            local.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            accepted.fetch_add(1);
        }
        std::lock_guard lock(lat_mutex);
        checkout_ms.insert(checkout_ms.end(), local.begin(), local.end());
        client_cpu_s += ThreadCpuSeconds() - cpu0;
    };
    std::thread sender([&] { run_threads(worker); });
    // The progress thread reads through a connection of its own: a connection is used by one
    // thread at a time.
    std::unique_ptr<storage::Connection> progress_db = open_db();
    std::thread progress([&] {
        while (!done_sending) {
            std::this_thread::sleep_for(std::chrono::seconds(1));
            const double s = std::chrono::duration<double>(Clock::now() - start).count();
            const Counts c = progress_db ? SagaCounts(*progress_db) - earlier : Counts{};
            std::printf(
                "  %6.1fs  accepted %d/%d  orders created %lld  rejected %lld  in flight %lld\n", s,
                accepted.load(), args.checkouts, static_cast<long long>(c.completed),
                static_cast<long long>(c.rejected),
                static_cast<long long>(accepted.load() - c.completed - c.rejected));
            std::fflush(stdout);
        }
    });
    sender.join();
    const double send_s = std::chrono::duration<double>(Clock::now() - start).count();
    if (!args.no_wait && db) {
        while (std::chrono::duration<double>(Clock::now() - start).count() < args.timeout_s) {
            const Counts c = SagaCounts(*db) - earlier;
            if (c.completed + c.rejected >= accepted.load() && c.pending == 0) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    const CpuSnapshot cpu_end = TakeCpuSnapshot();
    const storage::WalWriteStats wal_end = storage::GetWalWriteStats();
    const std::int64_t commits_end = commits();
    done_sending = true;
    progress.join();
    std::printf("\naccepted %d checkouts in %.2f s (%.0f/s), %d errors, %d retried calls\n",
                accepted.load(), send_s, accepted.load() / send_s, errors.load(), retries.load());
    std::printf("POST /checkout latency: p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
                Percentile(checkout_ms, 0.5), Percentile(checkout_ms, 0.9),
                Percentile(checkout_ms, 0.99), Percentile(checkout_ms, 1.0));
    int rc = kExitOk;
    if (db && !args.no_wait) {
        // Accepted (cart-checked-out committed) -> order created (saga completed), server side.
        auto rows = db->Query(
            "SELECT s.updated_ms - l.created_ms, s.updated_ms, l.created_ms FROM ord_sagas s JOIN "
            "bus_log l ON l.type = 'cart-checked-out' AND l.subject = s.checkout_id WHERE s.state "
            "= 'completed' AND l.created_ms >= ?",
            std::array<storage::Value, 1>{started_ms});
        std::vector<double> e2e;
        std::int64_t first = INT64_MAX, last = 0;
        if (rows) {
            for (const auto& r : *rows) {
                e2e.push_back(static_cast<double>(r.Int(0)));
                last = std::max(last, r.Int(1));
                first = std::min(first, r.Int(2));
            }
        }
        const Counts c = SagaCounts(*db) - earlier;
        const double span_s = e2e.empty() ? 0 : static_cast<double>(last - first) / 1000.0;
        std::printf("orders created %lld, rejected %lld, pending %lld\n",
                    static_cast<long long>(c.completed), static_cast<long long>(c.rejected),
                    static_cast<long long>(c.pending));
        std::printf(
            "throughput (first accept -> last order created): %.0f checkouts/s over %.2f s\n",
            span_s > 0 ? static_cast<double>(e2e.size()) / span_s : 0.0, span_s);
        std::printf(
            "accepted -> order created: p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms\n",
            Percentile(e2e, 0.5), Percentile(e2e, 0.9), Percentile(e2e, 0.99),
            Percentile(e2e, 1.0));
        if (c.pending > 0) rc = kExitFindings;
        if (commits_start >= 0 && commits_end >= 0 && accepted.load() > 0) {
            // Every transaction of the database in the timed phase, from every process (and
            // this one's reads), per accepted checkout.
            std::printf("database commits per checkout (timed phase, pg_stat_database): %.2f\n",
                        static_cast<double>(commits_end - commits_start) / accepted.load());
        }
    }
    // Where the CPU went while checkouts were sent and handled (the machine's cores are shared
    // by server and load generator): per accepted checkout.
    if (accepted.load() > 0) {
        const double n = accepted.load();
        auto per = [&](double seconds) { return seconds * 1e6 / n; };
        std::printf("CPU per checkout (timed phase): process %.0f us = load generator %.0f us",
                    per(cpu_end.process - cpu_start.process), per(client_cpu_s));
        for (const auto& [name, seconds] : cpu_end.by_thread) {
            auto before = cpu_start.by_thread.find(name);
            const double used =
                seconds - (before == cpu_start.by_thread.end() ? 0.0 : before->second);
            if (name != "acme-client" && per(used) >= 1)
                std::printf(" + %s %.0f us", name.c_str(), per(used));
        }
        std::printf(" (+ ended threads)\n");
        if (system) {
            std::printf("WAL writes per checkout (timed phase): %.1f, in %.1f system calls\n",
                        static_cast<double>(wal_end.writes - wal_start.writes) / n,
                        static_cast<double>(wal_end.flushes - wal_start.flushes) / n);
        }
    }
    if (system) {
        const auto wal = system->CheckpointStats();
        std::printf(
            "WAL checkpoints by the checkpoint thread: %lld (last: %lld of %lld frames copied); "
            "writer thread nice %d (asked %d)\n",
            static_cast<long long>(wal.checkpoints), static_cast<long long>(wal.backfilled),
            static_cast<long long>(wal.wal_frames), system->bus().Stats().dispatcher_nice,
            args.writer_nice);
    }
    if (server) server->Stop();
    if (system) system->Stop();
    if (embedded && args.data.empty()) std::filesystem::remove_all(data);
    return errors.load() > 0 ? kExitFindings : rc;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
    auto args = std::make_shared<BenchArgs>();
    CLI::App* cmd = app.add_subcommand(
        "bench", "drive checkouts through the HTTP API; report throughput and latency");
    cmd->add_option("--checkouts", args->checkouts, "checkouts to place")
        ->check(CLI::Range(1, 10'000'000));
    cmd->add_option("--concurrency", args->concurrency, "client threads")
        ->check(CLI::Range(1, 1024));
    cmd->add_option("--rate", args->rate, "checkouts per second (default: as fast as possible)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--url", args->url,
                    "acme serve instances to drive, comma-separated, client threads spread over "
                    "them (default: start one in-process)");
    cmd->add_option("--db", args->db,
                    "the PostgreSQL URL those instances share, to follow the sagas (progress, "
                    "accepted -> order created, commits per checkout)");
    cmd->add_option("--data", args->data,
                    "data folder to read results from (and to use in-process)");
    cmd->add_option("--durability", args->durability,
                    "in-process server durability: full (default, as serve) or normal")
        ->check(CLI::IsMember({"normal", "full"}));
    cmd->add_option("--token", args->token, "payment token for every checkout");
    cmd->add_flag("--no-wait", args->no_wait, "do not wait for the sagas to finish");
    cmd->add_option("--timeout", args->timeout_s, "seconds to wait for the sagas");
    cmd->add_option("--gateway-latency-ms", args->gateway_latency_ms,
                    "in-process server: simulated payment gateway latency")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--http-threads", args->http_threads,
                    "in-process server: HTTP threads (default 2)")
        ->check(CLI::Range(1, 64));
    cmd->add_option("--max-backlog", args->max_backlog,
                    "in-process server: admission control limit (default 20000)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--journey", args->journey,
                  "create the cart and add its item inside the timed loop (default: carts are "
                  "prepared first)");
    cmd->add_option("--linger-us", args->linger_us,
                    "in-process server: consumers wait this long after a wake-up (group commit; "
                    "default 2000)")
        ->check(CLI::NonNegativeNumber);
    AddWriterOptions(*cmd, args->checkpoint, args->writer_nice);
    cmd->callback([&exit_code, args] { exit_code = RunBench(*args); });
}

}  // namespace acme::cli
