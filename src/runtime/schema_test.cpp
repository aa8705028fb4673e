// Every service's schema and its demo data, on every backend: what `acme serve --db` creates.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fulfilment/inventory.hpp"
#include "runtime/system.hpp"
#include "storage/testing/backends.hpp"

namespace acme::runtime {
namespace {

class SchemaTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    void SetUp() override { ACME_TEST_DATABASE_OR_SKIP(database_, GetParam()); }
    std::unique_ptr<storage::testing::TestDatabase> database_;
};

INSTANTIATE_TEST_SUITE_P(Backends, SchemaTest, storage::testing::AllBackends(),
                         storage::testing::BackendName);

TEST_P(SchemaTest, EveryServiceMigratesOnceAndSeedsItsDemoData) {
    // Three instances starting together migrate one database; each step is applied once.
    std::vector<std::thread> starters;
    std::vector<Result<void>> results(3);
    for (std::size_t i = 0; i < results.size(); ++i) {
        starters.emplace_back([&, i] {
            auto db = database_->Connect();
            if (!db) {
                results[i] = std::unexpected(db.error());
                return;
            }
            results[i] = MigrateServices(**db);
            if (results[i]) results[i] = SeedDemo(**db, 25);
        });
    }
    for (auto& t : starters) t.join();
    for (const auto& r : results) ASSERT_TRUE(r.has_value()) << r.error().message;

    auto db = database_->Connect();
    ASSERT_TRUE(db.has_value());
    auto steps = (*db)->Query(
        "SELECT component, count(*), count(DISTINCT version) FROM schema_migrations GROUP BY "
        "component ORDER BY component");
    ASSERT_TRUE(steps.has_value()) << steps.error().message;
    std::vector<std::string> components;
    for (const auto& r : *steps) {
        components.push_back(r.Text(0));
        EXPECT_EQ(r.Int(1), r.Int(2)) << r.Text(0);
    }
    EXPECT_EQ(components,
              (std::vector<std::string>{"cart-api", "checkout-api", "checkout-orchestrator",
                                        "inventory-service", "order-service", "payment-service",
                                        "warehouse-service"}));
    for (const char* table :
         {"shop_products", "shop_carts", "shop_cart_items", "shop_checkout_keys", "ord_checkouts",
          "ord_sagas", "ord_saga_steps", "ord_orders", "ord_cancellations", "ord_customer_requests",
          "pay_payments", "pay_refunds", "inv_stock", "inv_reservations", "wh_shipments"}) {
        EXPECT_TRUE(*(*db)->HasTable(table)) << table;
    }
    // Seeding again (every start does) keeps what is there.
    ASSERT_TRUE(SeedDemo(**db, 99));
    auto accounts = fulfilment::InventoryService::Accounts(**db);
    ASSERT_TRUE(accounts.has_value()) << accounts.error().message;
    ASSERT_FALSE(accounts->empty());
    for (const auto& a : *accounts) {
        EXPECT_EQ(a.level.on_hand, 25) << a.level.sku;
        EXPECT_EQ(a.level.initial, 25) << a.level.sku;
        EXPECT_EQ(a.level.reserved, 0) << a.level.sku;
    }
    // Timestamps in milliseconds do not fit 32 bits: the columns take them.
    const storage::Value v[] = {std::string("c1"), std::string("k1"),
                                std::int64_t{1'764'633'600'123}};
    ASSERT_TRUE(
        (*db)->Execute("INSERT INTO ord_checkouts(id, cart_id, accepted_ms) VALUES (?, ?, ?)", v));
    EXPECT_EQ((*db)->Query("SELECT accepted_ms FROM ord_checkouts")->front().Int(0),
              1'764'633'600'123);
}

}  // namespace
}  // namespace acme::runtime
