#include "messaging/bus.hpp"

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include <pthread.h>

#include "messaging/signal.hpp"
#include "messaging/sql_log_transport.hpp"
#include "messaging/sql_queue_transport.hpp"

namespace acme::messaging {

namespace {

std::unique_ptr<Transport> MakeTransport(Outbox& outbox, const BusOptions& o) {
    if (o.backend == storage::Dialect::kPostgresql) {
        return std::make_unique<SqlQueueTransport>(
            outbox, SqlQueueOptions{.batch_size = o.batch_size,
                                    .max_attempts = o.max_attempts,
                                    .retry_base_ms = o.retry_base_ms,
                                    .retry_max_ms = o.retry_max_ms,
                                    .lease_ms = o.lease_ms,
                                    .service_roles = o.service_roles});
    }
    return std::make_unique<SqlLogTransport>(outbox, SqlLogOptions{.batch_size = o.batch_size,
                                                                   .max_attempts = o.max_attempts,
                                                                   .retry_base_ms = o.retry_base_ms,
                                                                   .retry_max_ms = o.retry_max_ms,
                                                                   .round_passes = o.round_passes});
}

}  // namespace

std::string ServiceRole(std::string_view service) {
    std::string role = "acme_";
    for (const char c : service) role += c == '-' ? '_' : c;
    return role;
}

struct Bus::Impl {
    Impl(const ContractRegistry& contracts, const Clock& clock, IdGenerator& ids, BusOptions o)
        : options(o),
          outbox(contracts, clock, ids,
                 o.strict_contracts ? Contracts::kThrow : Contracts::kReport),
          queries(outbox),
          transport(MakeTransport(outbox, o)),
          dispatcher({.poll_ms = o.poll_ms, .linger_us = o.linger_us, .nice = o.dispatcher_nice}) {}

    struct TickerEntry {
        std::string service;
        std::int64_t period_ms;
        Ticker fn;
        std::int64_t next_at = 0;
    };

    // Runs `t` when due (or `force`d) as a write; returns how many messages it published.
    Result<std::size_t> RunTicker(TickerEntry& t, storage::Connection& db, bool force) {
        const std::int64_t now = outbox.clock().NowMillis();
        if (!force && now < t.next_at) return 0;
        t.next_at = now + t.period_ms;
        const auto before = outbox.published();
        // Serving, the ticker's transaction runs on the dispatcher (the one writer).
        auto ok = dispatcher.Write(db, [&](storage::Connection& tx) -> Result<void> {
            if (auto as = ActAs(tx, t.service); !as) return as;
            Publisher out(outbox, tx, t.service);
            return t.fn(out);
        });
        if (!ok) return std::unexpected(ok.error());
        return static_cast<std::size_t>(outbox.published() - before);
    }

    Result<void> ActAs(storage::Connection& db, std::string_view service) const {
        if (!options.service_roles) return {};
        return db.ActAs(ServiceRole(service));
    }

    // Runs worker `w` on `db` as its service.
    Result<std::size_t> RunWorker(const std::string& service, const Worker& w,
                                  storage::Connection& db) const {
        if (auto as = ActAs(db, service); !as) return std::unexpected(as.error());
        return w(db);
    }

    struct WorkerEntry {
        std::string service;
        std::int64_t period_ms;
        Worker fn;
    };

    BusOptions options;
    Outbox outbox;
    Queries queries;
    std::unique_ptr<Transport> transport;
    Dispatcher dispatcher;
    std::vector<TickerEntry> tickers;
    std::vector<WorkerEntry> workers;

    std::atomic<bool> running{false};
    std::vector<std::jthread> threads;  // tickers and workers
    Signal worker_signal;               // a round handled messages: workers may have work
    Signal consumer_signal;             // PostgreSQL: there may be messages (first consumer)
    Signal helper_signal;               // ... and the first one found some (the others)
    Signal stop_signal;                 // tickers only sleep between runs
};

Bus::Bus(const ContractRegistry& contracts, const Clock& clock, IdGenerator& ids,
         BusOptions options)
    : impl_(std::make_unique<Impl>(contracts, clock, ids, options)) {}

Bus::~Bus() { Stop(); }

Result<void> Bus::Migrate(storage::Connection& db) {
    return db.dialect() == storage::Dialect::kPostgresql ? SqlQueueTransport::Migrate(db)
                                                         : SqlLogTransport::Migrate(db);
}

Result<PreparedMessage> Bus::Prepare(const std::string& service, const std::string& type,
                                     const std::string& subject, nlohmann::json data,
                                     const Envelope* cause) {
    return impl_->outbox.Prepare(service, type, subject, std::move(data), cause);
}

Result<void> Bus::Publish(storage::Connection& db, const PreparedMessage& message) {
    return impl_->outbox.Publish(db, message);
}

Result<void> Bus::Publish(storage::Connection& db, const std::string& service,
                          const std::string& type, const std::string& subject, nlohmann::json data,
                          const Envelope* cause) {
    Publisher out(impl_->outbox, db, service, cause);
    return out.Publish(type, subject, std::move(data));
}

Result<void> Bus::Publish(storage::Connection& db, const std::string& service,
                          const std::string& type, const std::string& subject,
                          nlohmann::json data) {
    return Publish(db, service, type, subject, std::move(data), nullptr);
}

Result<void> Bus::Publish(storage::Connection& db, const std::string& service,
                          const std::string& type, const std::string& subject,
                          const std::string& data, const Envelope* cause) {
    Publisher out(impl_->outbox, db, service, cause);
    return out.Publish(type, subject, data);
}

Result<void> Bus::Publish(storage::Connection& db, const std::string& service,
                          const std::string& type, const std::string& subject,
                          const std::string& data) {
    return Publish(db, service, type, subject, data, nullptr);
}

Result<void> Bus::ActAs(storage::Connection& db, std::string_view service) const {
    return impl_->ActAs(db, service);
}

Result<void> Bus::Write(storage::Connection& db, std::string_view service, const WriteFn& fn) {
    if (!impl_->options.service_roles) return impl_->dispatcher.Write(db, fn);
    return impl_->dispatcher.Write(db, [&](storage::Connection& tx) -> Result<void> {
        if (auto as = impl_->ActAs(tx, service); !as) return as;
        return fn(tx);
    });
}

void Bus::WriteAsync(storage::Connection& db, std::string_view service, WriteFn fn,
                     WriteDone done) {
    if (impl_->options.service_roles) {
        fn = [impl = impl_.get(), role = std::string(service),
              inner = std::move(fn)](storage::Connection& tx) -> Result<void> {
            if (auto as = impl->ActAs(tx, role); !as) return as;
            return inner(tx);
        };
    }
    impl_->dispatcher.WriteAsync(db, std::move(fn), std::move(done));
}

Result<void> Bus::Subscribe(const std::string& consumer, const std::string& type, Handler handler) {
    return impl_->transport->Subscribe(consumer, type, std::move(handler));
}

void Bus::AddTicker(const std::string& service, std::int64_t period_ms, Ticker ticker) {
    impl_->tickers.push_back({service, period_ms, std::move(ticker), 0});
}

void Bus::AddWorker(const std::string& service, std::int64_t period_ms, Worker worker) {
    impl_->workers.push_back({service, period_ms, std::move(worker)});
}

void Bus::WatchBacklog(const std::string& service) {
    auto* queue = dynamic_cast<SqlQueueTransport*>(impl_->transport.get());
    if (queue == nullptr) return;
    AddWorker(service, 1'000, [queue](storage::Connection& db) -> Result<std::size_t> {
        queue->CountBacklog(db);
        return 0;
    });
}

Result<void> Bus::Answer(const std::string& service, const std::string& type,
                         QueryHandler handler) {
    return impl_->queries.Answer(service, type, std::move(handler));
}

Result<nlohmann::json> Bus::Ask(storage::Connection& db, const std::string& service,
                                const std::string& type, const nlohmann::json& request) {
    return impl_->queries.Ask(db, service, type, request);
}

Result<std::size_t> Bus::RunUntilIdle(storage::Connection& db, int max_rounds) {
    Impl& s = *impl_;
    const std::int64_t handled_before = s.transport->Stats().handled;
    for (int round = 0; round < max_rounds; ++round) {
        std::size_t work = 0;
        for (auto& t : s.tickers) {
            auto n = s.RunTicker(t, db, true);
            if (!n) return std::unexpected(n.error());
            work += *n;
        }
        auto n = s.transport->Poll(db);
        if (!n) return std::unexpected(n.error());
        work += *n;
        for (const auto& w_entry : s.workers) {
            auto w = s.RunWorker(w_entry.service, w_entry.fn, db);
            if (!w) return std::unexpected(w.error());
            work += *w;
        }
        if (work == 0) break;
    }
    return static_cast<std::size_t>(s.transport->Stats().handled - handled_before);
}

Result<void> Bus::Start(const Connector& connect, const ListenerFactory& listen) {
    Impl& s = *impl_;
    s.running = true;
    if (listen && s.transport->HasConsumers()) {
        std::vector<std::string> channels;
        for (const std::string& c : s.transport->Consumers()) channels.push_back(WakeChannel(c));
        auto listener = listen(channels);
        if (!listener) return std::unexpected(listener.error());
        s.threads.emplace_back([&s, l = std::shared_ptr(std::move(*listener))] {
            pthread_setname_np(pthread_self(), "acme-listen");
            while (s.running) {
                auto woken = l->Wait(200);
                if (!woken) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    continue;  // reconnects on the next Wait; polling covers the gap
                }
                if (*woken) {
                    s.consumer_signal.Raise();
                    s.worker_signal.Raise();
                    // Debounced: the commits of the next moment are one wake-up.
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
            }
        });
    }
    // SQLite: one writer for every consumer — consumer threads of their own would only queue
    // for it; one thread commits all their batches together. PostgreSQL: the writer only
    // writes, and consumer threads of their own deliver, several batches at once.
    const bool queue = s.options.backend == storage::Dialect::kPostgresql;
    std::unique_ptr<storage::Connection> writer;
    if (s.transport->HasConsumers() || queue) {
        auto db = connect();
        if (!db) return std::unexpected(db.error());
        writer = std::move(*db);
    }
    Round round;
    if (!queue) round = [&s](storage::Connection& db) { return s.transport->Poll(db); };
    s.dispatcher.Start(std::move(writer), std::move(round), [&s] {
        s.worker_signal.Raise();
        s.consumer_signal.Raise();
    });
    // The first consumer thread answers wake-ups; the others join while it finds work (each
    // poll that handled something calls one more), so an idle process makes one poll per
    // wake-up, not one per thread. Wake-ups come from this process's commits and, through the
    // listener, other processes'; polling every poll_ms x 10 is the fallback.
    for (int i = 0; queue && s.transport->HasConsumers() && i < s.options.consumer_threads; ++i) {
        auto db = connect();
        if (!db) return std::unexpected(db.error());
        Signal& wake = i == 0 ? s.consumer_signal : s.helper_signal;
        s.threads.emplace_back([&s, &wake, conn = std::shared_ptr(std::move(*db))] {
            pthread_setname_np(pthread_self(), "acme-consume");
            while (s.running) {
                const std::uint64_t seen = wake.Seen();
                auto n = s.transport->Poll(*conn);
                if (n && *n > 0) {
                    // More may be waiting, and what it handled may have published work.
                    s.helper_signal.Raise();
                    s.worker_signal.Raise();
                    continue;
                }
                if (!n) std::this_thread::sleep_for(std::chrono::milliseconds(10));
                (void)wake.WaitPast(seen, s.options.poll_ms * 10, s.running);
            }
        });
    }
    for (const auto& worker : s.workers) {
        auto db = connect();
        if (!db) return std::unexpected(db.error());
        s.threads.emplace_back([&s, period_ms = worker.period_ms, w = &worker,
                                conn = std::shared_ptr(std::move(*db))] {
            pthread_setname_np(pthread_self(), "acme-worker");
            while (s.running) {
                const std::uint64_t seen = s.worker_signal.Seen();
                auto n = s.RunWorker(w->service, w->fn, *conn);
                if (n && *n > 0) {
                    s.dispatcher.Wake();
                    s.consumer_signal.Raise();
                    continue;
                }
                (void)s.worker_signal.WaitPast(seen, period_ms, s.running);
            }
        });
    }
    for (auto& ticker : s.tickers) {
        auto db = connect();
        if (!db) return std::unexpected(db.error());
        s.threads.emplace_back([&s, t = &ticker, conn = std::shared_ptr(std::move(*db))] {
            pthread_setname_np(pthread_self(), "acme-ticker");
            while (s.running) {
                auto n = s.RunTicker(*t, *conn, false);
                if (n && *n > 0) {
                    s.dispatcher.Wake();
                    s.consumer_signal.Raise();
                }
                (void)s.stop_signal.WaitPast(
                    s.stop_signal.Seen(), std::min<std::int64_t>(t->period_ms, s.options.poll_ms),
                    s.running);
            }
        });
    }
    return {};
}

void Bus::Stop() {
    Impl& s = *impl_;
    s.running = false;
    s.worker_signal.Raise();
    s.consumer_signal.Raise();
    s.helper_signal.Raise();
    s.stop_signal.Raise();
    s.dispatcher.Stop();
    s.threads.clear();
}

void Bus::Notify() {
    impl_->dispatcher.Wake();
    impl_->worker_signal.Raise();
    impl_->consumer_signal.Raise();
}

BusStats Bus::Stats() const {
    const DeliveryStats d = impl_->transport->Stats();
    const DispatcherStats w = impl_->dispatcher.Stats();
    return {impl_->outbox.published(),
            d.handled,
            d.duplicates,
            d.retries,
            d.dead_letters,
            w.writes,
            w.commits,
            w.nice};
}

std::int64_t Bus::Backlog() const { return impl_->transport->Backlog(); }

const Clock& Bus::clock() const { return impl_->outbox.clock(); }

}  // namespace acme::messaging
