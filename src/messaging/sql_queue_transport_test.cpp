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

// A consumer's batches are handled by one thread of the process at a time (a second thread
// would walk the rows the first holds and queue on the same hot rows), while the process's
// other consumers are delivered by its other threads; every message is handled exactly once.
TEST(SqlQueueTransportTest, AConsumersMessagesAreDeliveredByOneThreadAtATime) {
    std::unique_ptr<storage::testing::TestDatabase> database;
    ACME_TEST_DATABASE_OR_SKIP(database, storage::Dialect::kPostgresql);
    catalog::testing::TempCatalog dir(kCatalog);
    auto catalog = catalog::LoadCatalog(dir.root());
    ASSERT_TRUE(catalog.has_value());
    auto contracts = ContractRegistry::FromCatalog(*catalog);
    ASSERT_TRUE(contracts.has_value());
    auto db = database->Connect();
    ASSERT_TRUE(db.has_value()) << db.error().message;
    ASSERT_TRUE(Bus::Migrate(**db));
    ASSERT_TRUE((*db)->ExecuteScript(
        "CREATE TABLE seen(consumer TEXT NOT NULL, subject TEXT NOT NULL, PRIMARY KEY (consumer, "
        "subject))"));

    SystemClock clock;
    IdGenerator ids(clock, 5);
    Bus bus(*contracts, clock, ids,
            {.poll_ms = 5, .consumer_threads = 4, .backend = storage::Dialect::kPostgresql});
    InFlight b, c;
    ASSERT_TRUE(bus.Subscribe("b", "ping", Counting(b, "b")));
    ASSERT_TRUE(bus.Subscribe("c", "ping", Counting(c, "c")));
    ASSERT_TRUE(bus.Start([&] { return database->Connect(); }));
    constexpr int kMessages = 60;
    for (int i = 0; i < kMessages; ++i) {
        // A subject each: the per-subject order holds none of them back.
        ASSERT_TRUE(storage::InTransaction(**db, [&] {
            return bus.Publish(**db, "a", "ping", "s" + std::to_string(i), std::string("{}"));
        }));
        bus.Notify();
    }
    auto count = [&] { return (*db)->Query("SELECT count(*) FROM seen")->at(0).Int(0); };
    for (int i = 0; i < 1000 && count() < 2 * kMessages; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    bus.Stop();
    EXPECT_EQ(count(), 2 * kMessages);  // the primary key: none twice
    EXPECT_EQ(b.most.load(), 1);
    EXPECT_EQ(c.most.load(), 1);
    EXPECT_EQ((*db)->Query("SELECT count(*) FROM bus_deliveries")->at(0).Int(0), 0);
}

}  // namespace
}  // namespace acme::messaging
