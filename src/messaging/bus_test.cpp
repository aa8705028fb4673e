#include "messaging/bus.hpp"
#include "messaging/dead_letters.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "catalog/loader.hpp"
#include "catalog/test_catalog.hpp"
#include "messaging/payload.hpp"
#include "messaging/recent_payloads.hpp"

namespace acme::messaging {
namespace {

using storage::Value;

const std::map<std::string, std::string> kCatalog = {
    {"events/ping/index.mdx",
     "---\nid: ping\nname: Ping\nversion: 1.0.0\nschemaPath: schema.json\n---\n"},
    {"events/ping/schema.json",
     R"({"type":"object","required":["n"],"properties":{"n":{"type":"integer","minimum":0}}})"},
    {"events/pong/index.mdx", "---\nid: pong\nname: Pong\nversion: 1.0.0\n---\n"},
    {"queries/price/index.mdx",
     "---\nid: price\nname: Price\nversion: 1.0.0\nschemaPath: schema.json\n---\n"},
    {"queries/price/schema.json", R"({"type":"object","required":["sku"]})"},
    {"queries/stock/index.mdx", "---\nid: stock\nname: Stock\nversion: 1.0.0\n---\n"},
    {"services/a/index.mdx",
     "---\nid: a\nname: A\nversion: 1.0.0\nsends:\n  - id: ping\n  - id: price\n  - id: "
     "stock\n---\n"},
    {"services/b/index.mdx",
     "---\nid: b\nname: B\nversion: 1.0.0\nreceives:\n  - id: ping\n  - id: price\n  - id: stock\n"
     "sends:\n  - id: pong\n---\n"},
    {"services/c/index.mdx", "---\nid: c\nname: C\nversion: 1.0.0\nreceives:\n  - id: ping\n---\n"},
};

class BusTest : public ::testing::Test {
  protected:
    BusTest()
        : dir_(kCatalog),
          catalog_(*catalog::LoadCatalog(dir_.root())),
          contracts_(*ContractRegistry::FromCatalog(catalog_)),
          ids_(clock_, 7) {
        db_path_ = dir_.root() / "bus.sqlite";
        db_ = std::move(*storage::OpenSqlite(db_path_));
        EXPECT_TRUE(Bus::Migrate(*db_));
        EXPECT_TRUE(db_->ExecuteScript("CREATE TABLE seen(n INTEGER)"));
    }

    Bus MakeBus(BusOptions options = {}) { return Bus(contracts_, clock_, ids_, options); }

    Result<void> Send(Bus& bus, const std::string& service, const std::string& type,
                      const std::string& data) {
        return storage::InTransaction(
            *db_, [&] { return bus.Publish(*db_, service, type, "subject-1", data); });
    }

    std::int64_t Count(const std::string& sql) { return db_->Query(sql)->at(0).Int(0); }

    catalog::testing::TempCatalog dir_;
    catalog::Catalog catalog_;
    ContractRegistry contracts_;
    ManualClock clock_;
    IdGenerator ids_;
    std::filesystem::path db_path_;
    std::unique_ptr<storage::Connection> db_;
};

Handler Record() {
    return [](const Envelope& e, Publisher& out) -> Result<void> {
        const Value v[] = {std::string(e.data)};
        if (auto ok = out.db().Execute("INSERT INTO seen(n) VALUES (json_extract(?, '$.n'))", v);
            !ok) {
            return ok;
        }
        return out.Publish("pong", e.subject, std::string("{}"));
    };
}

TEST_F(BusTest, DeliversOnceWithEnvelopeAndCausation) {
    Bus bus = MakeBus();
    ASSERT_TRUE(bus.Subscribe("b", "ping", Record()));
    ASSERT_TRUE(Send(bus, "a", "ping", R"({"n":1})"));
    ASSERT_TRUE(Send(bus, "a", "ping", R"({"n":2})"));
    auto handled = bus.RunUntilIdle(*db_);
    ASSERT_TRUE(handled.has_value()) << handled.error().message;
    EXPECT_EQ(*handled, 2u);
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 2);
    auto pong = db_->Query(
        "SELECT l.causation_id, p.id, l.dataschema, l.correlation_id FROM "
        "bus_log l JOIN bus_log p ON p.seq = 1 WHERE l.type = 'pong' ORDER BY l.seq");
    ASSERT_EQ(pong->size(), 2u);
    EXPECT_EQ(pong->at(0).Text(0), pong->at(0).Text(1));  // caused by the first ping
    EXPECT_EQ(pong->at(0).Text(3), "subject-1");
    // Redelivery (offset lost) is deduplicated by the inbox.
    ASSERT_TRUE(db_->Execute("DELETE FROM bus_offsets"));
    EXPECT_EQ(*bus.RunUntilIdle(*db_), 0u);
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 2);
    EXPECT_EQ(bus.Stats().duplicates, 2);
}

TEST(RecentPayloadsTest, KeepsAnEntryForItsReadsAndTheNewestWithinCapacity) {
    RecentPayloads recent(2);
    auto one = std::make_shared<const nlohmann::json>(1);
    recent.Put("a", one, 2);
    recent.Put("zero", one, 0);  // nobody will read it: not kept
    EXPECT_EQ(recent.size(), 1u);
    EXPECT_EQ(recent.Take("a"), one);
    EXPECT_EQ(recent.Take("a"), one);
    EXPECT_EQ(recent.Take("a"), nullptr);  // read out
    recent.Put("b", one, 1);
    recent.Put("c", one, 1);
    recent.Put("d", one, 1);  // pushes out the oldest of a capacity of 2
    EXPECT_EQ(recent.Take("b"), nullptr);
    EXPECT_EQ(recent.Take("c"), one);
    EXPECT_EQ(recent.Take("d"), one);
    EXPECT_EQ(recent.size(), 0u);
}

TEST_F(BusTest, HandlersGetThePublishersPayloadUntilEveryConsumerTookIt) {
    Bus bus = MakeBus();
    std::vector<std::string> got;  // consumer: "parsed" or "text"
    auto probe = [&](const std::string& who) -> Handler {
        return [&got, who](const Envelope& e, Publisher&) -> Result<void> {
            auto payload = ParsePayload(e);
            if (!payload) return std::unexpected(payload.error());
            EXPECT_EQ((*payload)->at("n").get<int>(), 7);
            got.push_back(who + (e.payload != nullptr ? " parsed" : " text"));
            return {};
        };
    };
    ASSERT_TRUE(bus.Subscribe("b", "ping", probe("b")));
    ASSERT_TRUE(bus.Subscribe("c", "ping", probe("c")));
    ASSERT_TRUE(Send(bus, "a", "ping", R"({"n":7})"));
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    EXPECT_EQ(got, (std::vector<std::string>{"b parsed", "c parsed"}));
    // Both consumers took it, so it is gone: redelivered, it is parsed from the log's text.
    got.clear();
    ASSERT_TRUE(db_->ExecuteScript("DELETE FROM bus_offsets; DELETE FROM bus_inbox_through"));
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    EXPECT_EQ(got, (std::vector<std::string>{"b text", "c text"}));
    // Published by another bus (another process): only the text.
    got.clear();
    Bus elsewhere = MakeBus();
    ASSERT_TRUE(Send(elsewhere, "a", "ping", R"({"n":7})"));
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    EXPECT_EQ(got, (std::vector<std::string>{"b text", "c text"}));
}

TEST_F(BusTest, EnforcesTheCatalogOnPublishAndSubscribe) {
    Bus bus = MakeBus();
    auto undeclared = Send(bus, "a", "pong", "{}");
    ASSERT_FALSE(undeclared.has_value());
    EXPECT_EQ(undeclared.error().code, ErrorCode::kFailedPrecondition);
    auto invalid = Send(bus, "a", "ping", R"({"n":-1})");
    ASSERT_FALSE(invalid.has_value());
    EXPECT_EQ(invalid.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(invalid.error().message.find("[n]"), std::string::npos) << invalid.error().message;
    EXPECT_EQ(Count("SELECT count(*) FROM bus_log"), 0);
    auto sub = bus.Subscribe("a", "ping", Record());
    ASSERT_FALSE(sub.has_value());
    Bus strict = MakeBus({.strict_contracts = true});
    EXPECT_THROW((void)Send(strict, "a", "pong", "{}"), ContractViolation);
}

TEST_F(BusTest, QueriesAreAnsweredInProcessUnderTheSameContracts) {
    Bus bus = MakeBus();
    ASSERT_TRUE(bus.Answer("b", "price", [](storage::Connection&, const nlohmann::json& q) {
        return Result<nlohmann::json>(
            nlohmann::json{{"price", q.value("sku", "") == "SKU-1" ? 100 : 0}});
    }));
    auto not_receiver = bus.Answer("a", "price", nullptr);
    ASSERT_FALSE(not_receiver.has_value());
    EXPECT_EQ(not_receiver.error().code, ErrorCode::kFailedPrecondition);

    auto answer = bus.Ask(*db_, "a", "price", nlohmann::json{{"sku", "SKU-1"}});
    ASSERT_TRUE(answer.has_value()) << answer.error().message;
    EXPECT_EQ(answer->dump(), R"({"price":100})");
    auto undeclared = bus.Ask(*db_, "b", "price", nlohmann::json{{"sku", "SKU-1"}});
    ASSERT_FALSE(undeclared.has_value());
    EXPECT_EQ(undeclared.error().code, ErrorCode::kFailedPrecondition);
    auto invalid = bus.Ask(*db_, "a", "price", nlohmann::json{{"item", "SKU-1"}});
    ASSERT_FALSE(invalid.has_value());
    EXPECT_EQ(invalid.error().code, ErrorCode::kInvalidArgument);
    auto unanswered = bus.Ask(*db_, "a", "stock", nlohmann::json::object());
    ASSERT_FALSE(unanswered.has_value());
    EXPECT_EQ(unanswered.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(Count("SELECT count(*) FROM bus_log"), 0);  // queries are not logged
}

TEST_F(BusTest, OutboxRowsRollBackWithTheTransaction) {
    Bus bus = MakeBus();
    auto failed = storage::InTransaction(*db_, [&]() -> Result<void> {
        if (auto ok = bus.Publish(*db_, "a", "ping", "s", std::string(R"({"n":1})")); !ok)
            return ok;
        return MakeError(ErrorCode::kInternal, "state change failed");
    });
    EXPECT_FALSE(failed.has_value());
    EXPECT_EQ(Count("SELECT count(*) FROM bus_log"), 0);
}

TEST_F(BusTest, RetriesWithBackoffThenDeadLettersWithReason) {
    Bus bus = MakeBus({.max_attempts = 3, .retry_base_ms = 100});
    int calls = 0;
    ASSERT_TRUE(bus.Subscribe("b", "ping", [&](const Envelope& e, Publisher& out) -> Result<void> {
        ++calls;
        if (e.data.find("\"n\":13") != std::string::npos) {
            return MakeError(ErrorCode::kInternal, "unlucky number");
        }
        return Record()(e, out);
    }));
    ASSERT_TRUE(Send(bus, "a", "ping", R"({"n":13})"));
    ASSERT_TRUE(Send(bus, "a", "ping", R"({"n":1})"));
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 1);  // the good one is not held up
    EXPECT_EQ(Count("SELECT attempts FROM bus_retries"), 1);
    clock_.Advance(40);  // before the backoff: nothing due
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    EXPECT_EQ(Count("SELECT attempts FROM bus_retries"), 1);
    for (int i = 0; i < 4; ++i) {
        clock_.Advance(1000);
        ASSERT_TRUE(bus.RunUntilIdle(*db_));
    }
    EXPECT_EQ(Count("SELECT count(*) FROM bus_retries"), 0);
    auto dl = db_->Query("SELECT type, attempts, reason FROM bus_dead_letters");
    ASSERT_EQ(dl->size(), 1u);
    EXPECT_EQ(dl->at(0).Text(0), "ping");
    EXPECT_EQ(dl->at(0).Int(1), 3);
    EXPECT_EQ(dl->at(0).Text(2), "unlucky number");
    EXPECT_EQ(bus.Stats().dead_letters, 1);
    // batch attempt + isolating attempt + 2 retries
    EXPECT_EQ(calls, 1 + 2 + 2);
    // Replay: back on the retry queue; it fails again and returns to the dead letters.
    auto listed = ListDeadLetters(*db_, Replayed::kExclude);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ(*ReplayDeadLetters(*db_, listed->front().id, clock_.NowMillis()), 1);
    EXPECT_TRUE(ListDeadLetters(*db_, Replayed::kExclude)->empty());
    EXPECT_FALSE(ReplayDeadLetters(*db_, listed->front().id, clock_.NowMillis()).has_value());
    clock_.Advance(1000);  // a running bus looks for replayed retries at least every second
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    EXPECT_EQ(calls, 1 + 2 + 2 + 1);
}

TEST_F(BusTest, InboxWatermarkSkipsRedeliveryAndLeavesRetriesToTheirQueue) {
    Bus bus = MakeBus({.retry_base_ms = 100});
    bool fail_13 = true;
    int calls_13 = 0;
    ASSERT_TRUE(bus.Subscribe("b", "ping", [&](const Envelope& e, Publisher& out) -> Result<void> {
        if (e.data.find("\"n\":13") != std::string::npos) {
            ++calls_13;
            if (fail_13) return MakeError(ErrorCode::kInternal, "not yet");
        }
        return Record()(e, out);
    }));
    for (const char* data : {R"({"n":1})", R"({"n":13})", R"({"n":2})"}) {
        ASSERT_TRUE(Send(bus, "a", "ping", data));
    }
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 2);
    EXPECT_EQ(Count("SELECT seq FROM bus_inbox_through WHERE consumer = 'b'"), 3);
    // The offset goes back before the failed message while it waits for its retry: the
    // redelivered messages are skipped, the failed one is left to the retry queue.
    ASSERT_TRUE(db_->Execute("UPDATE bus_offsets SET seq = 1"));
    const int before = calls_13;
    EXPECT_EQ(*bus.RunUntilIdle(*db_), 0u);
    EXPECT_EQ(calls_13, before);
    EXPECT_EQ(bus.Stats().duplicates, 2);
    fail_13 = false;
    clock_.Advance(1000);
    EXPECT_EQ(*bus.RunUntilIdle(*db_), 1u);  // the retry
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 3);
    EXPECT_EQ(Count("SELECT count(*) FROM bus_inbox WHERE consumer = 'b'"), 1);
    // Everything lost but the watermark: nothing applies twice, the retried one included.
    ASSERT_TRUE(db_->Execute("DELETE FROM bus_offsets"));
    ASSERT_TRUE(db_->Execute("DELETE FROM bus_retries"));
    EXPECT_EQ(*bus.RunUntilIdle(*db_), 0u);
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 3);
    // New messages are past the watermark and handled.
    ASSERT_TRUE(Send(bus, "a", "ping", R"({"n":4})"));
    EXPECT_EQ(*bus.RunUntilIdle(*db_), 1u);
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 4);
}

TEST_F(BusTest, MigrationStartsTheWatermarkWhereTheOldInboxEnds) {
    Bus bus = MakeBus();
    ASSERT_TRUE(bus.Subscribe("b", "ping", Record()));
    for (int n = 0; n < 4; ++n) {
        ASSERT_TRUE(Send(bus, "a", "ping", "{\"n\":" + std::to_string(n) + "}"));
    }
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    ASSERT_EQ(Count("SELECT count(*) FROM seen"), 4);
    // A database written before the watermark: every applied message listed in bus_inbox,
    // and an offset that was reset after the first message.
    ASSERT_TRUE(db_->ExecuteScript(
        "DROP TABLE bus_inbox_through; DELETE FROM schema_migrations; "
        "INSERT INTO bus_inbox(consumer, message_id) SELECT 'b', id FROM bus_log "
        "WHERE type = 'ping'; UPDATE bus_offsets SET seq = 1"));
    ASSERT_TRUE(Bus::Migrate(*db_));
    EXPECT_EQ(Count("SELECT seq FROM bus_inbox_through WHERE consumer = 'b'"),
              Count("SELECT max(seq) FROM bus_log WHERE type = 'ping'"));
    ASSERT_TRUE(Bus::Migrate(*db_));  // idempotent
    EXPECT_EQ(*bus.RunUntilIdle(*db_), 0u);
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 4);
}

TEST_F(BusTest, BackgroundThreadsDeliver) {
    SystemClock real;
    IdGenerator ids(real, 3);
    Bus bus(contracts_, real, ids, {.poll_ms = 5});
    ASSERT_TRUE(bus.Subscribe("b", "ping", Record()));
    ASSERT_TRUE(bus.Start([&] { return storage::OpenSqlite(db_path_); }));
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(storage::InTransaction(*db_, [&] {
            return bus.Publish(*db_, "a", "ping", "s", "{\"n\":" + std::to_string(i) + "}");
        }));
        bus.Notify();
    }
    for (int i = 0; i < 400 && Count("SELECT count(*) FROM seen") < 50; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    bus.Stop();
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 50);
}

TEST_F(BusTest, WritesFromManyThreadsAreGroupCommittedAndIsolated) {
    SystemClock real;
    IdGenerator ids(real, 4);
    Bus bus(contracts_, real, ids, {.poll_ms = 5, .linger_us = 2000});
    ASSERT_TRUE(bus.Subscribe("b", "ping", Record()));
    ASSERT_TRUE(db_->ExecuteScript("CREATE TABLE cmd(n INTEGER PRIMARY KEY)"));
    ASSERT_TRUE(bus.Start([&] { return storage::OpenSqlite(db_path_); }));
    constexpr int kThreads = 8;
    constexpr int kEach = 25;
    std::atomic<int> ok{0}, refused{0}, thrown{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            auto db = storage::OpenSqlite(db_path_);
            ASSERT_TRUE(db.has_value());
            for (int i = 0; i < kEach; ++i) {
                const int n = t * kEach + i;
                try {
                    auto done =
                        bus.Write(**db, "cart-api", [&](storage::Connection& tx) -> Result<void> {
                            const Value v[] = {std::int64_t{n}};
                            if (auto r = tx.Execute("INSERT INTO cmd(n) VALUES (?)", v); !r)
                                return r;
                            if (n % 10 == 3) throw std::runtime_error("boom");
                            // A failing write leaves nothing: its row and message roll back.
                            if (auto r =
                                    bus.Publish(tx, "a", "ping", "s",
                                                std::string("{\"n\":") + std::to_string(n) + "}");
                                !r) {
                                return r;
                            }
                            if (n % 10 == 7) return MakeError(ErrorCode::kConflict, "refused");
                            return {};
                        });
                    (done ? ok : refused).fetch_add(1);
                } catch (const std::runtime_error&) {
                    thrown.fetch_add(1);
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    const int accepted = ok.load();
    EXPECT_EQ(accepted, kThreads * kEach * 8 / 10);
    EXPECT_EQ(refused.load(), kThreads * kEach / 10);
    EXPECT_EQ(thrown.load(), kThreads * kEach / 10);
    for (int i = 0; i < 400 && Count("SELECT count(*) FROM seen") < accepted; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    bus.Stop();
    EXPECT_EQ(Count("SELECT count(*) FROM cmd"), accepted);
    EXPECT_EQ(Count("SELECT count(*) FROM cmd WHERE n % 10 IN (3, 7)"), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), accepted);
    // Group commit: the dispatcher ran every write, in fewer transactions than writes.
    const BusStats stats = bus.Stats();
    EXPECT_EQ(stats.writes, kThreads * kEach);
    EXPECT_LT(stats.write_commits, stats.writes);
    // After Stop, a write runs on the caller's own connection.
    EXPECT_TRUE(bus.Write(*db_, "cart-api", [](storage::Connection& tx) {
        return tx.Execute("INSERT INTO cmd(n) VALUES (100000)");
    }));
    EXPECT_EQ(Count("SELECT count(*) FROM cmd"), accepted + 1);
}

TEST_F(BusTest, BacklogIsWhatTheSlowestConsumerHasNotSeen) {
    Bus bus = MakeBus({.batch_size = 100, .round_passes = 2});
    ASSERT_TRUE(bus.Subscribe("b", "ping", Record()));
    for (int i = 0; i < 250; ++i) {
        ASSERT_TRUE(Send(bus, "a", "ping", "{\"n\":" + std::to_string(i) + "}"));
    }
    EXPECT_EQ(bus.Backlog(), 0);  // no round yet
    // One round makes two passes of a batch of 100 each, in one transaction (publishing 200
    // pongs nobody consumes); the second pass looked as far as the first pass's pongs.
    ASSERT_TRUE(bus.RunUntilIdle(*db_, 1));
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 200);
    EXPECT_EQ(bus.Backlog(), 350 - 200);
    ASSERT_TRUE(bus.RunUntilIdle(*db_));
    EXPECT_EQ(bus.Backlog(), 0);
    EXPECT_EQ(Count("SELECT count(*) FROM seen"), 250);
}

TEST_F(BusTest, WriteAsyncTellsTheOutcomeAfterTheCommit) {
    ASSERT_TRUE(db_->ExecuteScript("CREATE TABLE cmd(n INTEGER PRIMARY KEY)"));
    auto insert = [](std::int64_t n) {
        return [n](storage::Connection& tx) -> Result<void> {
            const Value v[] = {n};
            if (auto ok = tx.Execute("INSERT INTO cmd(n) VALUES (?)", v); !ok) return ok;
            if (n == 2) throw std::runtime_error("boom");
            return {};
        };
    };
    SystemClock real;
    IdGenerator ids(real, 5);
    Bus bus(contracts_, real, ids, {.poll_ms = 5});
    ASSERT_TRUE(bus.Subscribe("b", "ping", Record()));
    // Not started: runs on the caller's connection, and tells at once.
    std::optional<Result<void>> first;
    bus.WriteAsync(*db_, "cart-api", insert(1), [&](Result<void> r) { first = r; });
    ASSERT_TRUE(first.has_value());
    EXPECT_TRUE(*first);
    ASSERT_TRUE(bus.Start([&] { return storage::OpenSqlite(db_path_); }));
    std::mutex m;
    std::condition_variable told;
    std::vector<std::pair<std::int64_t, Result<void>>> outcomes;
    for (std::int64_t n : {2, 3, 1}) {  // throws, succeeds, conflicts with the first
        bus.WriteAsync(*db_, "cart-api", insert(n), [&, n](Result<void> r) {
            // Told after the commit: the row is visible from another connection.
            const std::int64_t rows = Count("SELECT count(*) FROM cmd WHERE n = 3");
            std::lock_guard lock(m);
            outcomes.emplace_back(r ? rows : n, r);
            told.notify_all();
        });
    }
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(
            told.wait_for(lock, std::chrono::seconds(5), [&] { return outcomes.size() == 3; }));
    }
    bus.Stop();
    std::map<std::int64_t, ErrorCode> errors;
    int succeeded = 0;
    for (const auto& [n, r] : outcomes) {
        if (r) {
            EXPECT_EQ(n, 1);  // the committed row was visible when told
            ++succeeded;
        } else {
            errors[n] = r.error().code;
        }
    }
    EXPECT_EQ(succeeded, 1);
    EXPECT_EQ(errors[2], ErrorCode::kInternal);  // the exception, as an error
    EXPECT_EQ(errors[1], ErrorCode::kConflict);  // the primary key
    EXPECT_EQ(Count("SELECT count(*) FROM cmd"), 2);
}

}  // namespace
}  // namespace acme::messaging
