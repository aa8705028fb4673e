// The SQL queue (PostgreSQL) delivered by a process's consumer threads, on the real server.
#include "messaging/sql_queue_transport.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "catalog/loader.hpp"
#include "catalog/test_catalog.hpp"
#include "messaging/bus.hpp"
#include "storage/testing/backends.hpp"

namespace acme::messaging {
namespace {

using storage::Value;

const std::map<std::string, std::string> kCatalog = {
    {"events/ping/index.mdx", "---\nid: ping\nname: Ping\nversion: 1.0.0\n---\n"},
    {"services/a/index.mdx", "---\nid: a\nname: A\nversion: 1.0.0\nsends:\n  - id: ping\n---\n"},
    {"services/b/index.mdx", "---\nid: b\nname: B\nversion: 1.0.0\nreceives:\n  - id: ping\n---\n"},
    {"services/c/index.mdx", "---\nid: c\nname: C\nversion: 1.0.0\nreceives:\n  - id: ping\n---\n"},
};

// How many handlers of one consumer run at once, and the most that ever did.
struct InFlight {
    std::atomic<int> now{0};
    std::atomic<int> most{0};
    void Enter() {
        const int n = now.fetch_add(1) + 1;
        int seen = most.load();
        while (n > seen && !most.compare_exchange_weak(seen, n)) {
        }
    }
    void Leave() { now.fetch_sub(1); }
};

Handler Counting(InFlight& flight, const std::string& consumer) {
    return [&flight, consumer](const Envelope& e, Publisher& out) -> Result<void> {
        flight.Enter();
        // Long enough that a second thread claiming the same consumer's messages would overlap.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const Value v[] = {consumer, e.subject};
        auto ok = out.db().Execute("INSERT INTO seen(consumer, subject) VALUES (?, ?)", v);
        flight.Leave();
        return ok;
    };
}

class SqlQueueTransportTest : public ::testing::Test {
  protected:
    SqlQueueTransportTest()
        : dir_(kCatalog),
          catalog_(*catalog::LoadCatalog(dir_.root())),
          contracts_(*ContractRegistry::FromCatalog(catalog_)) {}
    void SetUp() override {
        ACME_TEST_DATABASE_OR_SKIP(database_, storage::Dialect::kPostgresql);
        auto db = database_->Connect();
        ASSERT_TRUE(db.has_value()) << db.error().message;
        db_ = std::move(*db);
        ASSERT_TRUE(Bus::Migrate(*db_));
    }
    Result<std::unique_ptr<storage::Connection>> Connect() const { return database_->Connect(); }

    catalog::testing::TempCatalog dir_;
    catalog::Catalog catalog_;
    ContractRegistry contracts_;
    std::unique_ptr<storage::testing::TestDatabase> database_;
    std::unique_ptr<storage::Connection> db_;
};

// A consumer's batches are handled by one thread of the process at a time (a second thread
// would walk the rows the first holds and queue on the same hot rows), while the process's
// other consumers are delivered by its other threads; every message is handled exactly once.
TEST_F(SqlQueueTransportTest, AConsumersMessagesAreDeliveredByOneThreadAtATime) {
    ASSERT_TRUE(db_->ExecuteScript(
        "CREATE TABLE seen(consumer TEXT NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (consumer, "
        "subject))"));

    SystemClock clock;
    IdGenerator ids(clock, 5);
    Bus bus(contracts_, clock, ids,
            {.poll_ms = 5, .consumer_threads = 4, .backend = storage::Dialect::kPostgresql});
    InFlight b, c;
    ASSERT_TRUE(bus.Subscribe("b", "ping", Counting(b, "b")));
    ASSERT_TRUE(bus.Subscribe("c", "ping", Counting(c, "c")));
    ASSERT_TRUE(bus.Start([&] { return Connect(); }));
    constexpr int kMessages = 60;
    for (int i = 0; i < kMessages; ++i) {
        // A subject each: the per-subject order holds none of them back.
        ASSERT_TRUE(storage::InTransaction(*db_, [&] {
            return bus.Publish(*db_, "a", "ping", "s" + std::to_string(i), std::string("{}"));
        }));
        bus.Notify();
    }
    auto count = [&] { return db_->Query("SELECT count(*) FROM seen")->at(0).Int(0); };
    for (int i = 0; i < 1000 && count() < 2 * kMessages; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    bus.Stop();
    EXPECT_EQ(count(), 2 * kMessages);  // the primary key: none twice
    EXPECT_EQ(b.most.load(), 1);
    EXPECT_EQ(c.most.load(), 1);
    EXPECT_EQ(db_->Query("SELECT count(*) FROM bus_deliveries")->at(0).Int(0), 0);
}

// Admission control where checkouts are accepted sees the whole work list, though that process
// delivers none of it (its consumers run elsewhere).
TEST_F(SqlQueueTransportTest, AProcessWithoutConsumersWatchesTheWholeBacklog) {
    SystemClock clock;
    IdGenerator ids(clock, 6);
    Bus front(contracts_, clock, ids, {.poll_ms = 5, .backend = storage::Dialect::kPostgresql});
    front.WatchBacklog("a");  // "a" only sends: no consumer in this process
    ASSERT_TRUE(front.Start([&] { return Connect(); }));
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(storage::InTransaction(*db_, [&] {
            return front.Publish(*db_, "a", "ping", "s" + std::to_string(i), std::string("{}"));
        }));
    }
    // Five messages, each for b and for c: ten rows, counted within about a second.
    for (int i = 0; i < 300 && front.Backlog() != 10; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(front.Backlog(), 10);
    ASSERT_TRUE(db_->Execute("DELETE FROM bus_deliveries WHERE consumer = 'b'"));
    for (int i = 0; i < 300 && front.Backlog() != 5; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(front.Backlog(), 5);
    front.Stop();
}

}  // namespace
}  // namespace acme::messaging
