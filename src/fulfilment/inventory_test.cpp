// The inventory service's business rules, in the service harness: reservations are
// all-or-nothing, a redelivered command reserves nothing twice, stock given back or shipped
// moves once.
#include "fulfilment/inventory.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "messaging/testing/service_harness.hpp"

namespace acme::fulfilment {
namespace {

using nlohmann::json;

class InventoryTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    InventoryTest() : inventory_(h_.ids()) {}
    void SetUp() override {
        if (!h_.ready()) GTEST_SKIP() << h_.why();
        EXPECT_TRUE(InventoryService::Migrate(h_.db()));
        EXPECT_TRUE(
            InventoryService::Seed(h_.db(), {{"SKU-MUG", 3, 0, 0}, {"SKU-KETTLE", 1, 0, 0}}));
        EXPECT_TRUE(inventory_.Register(h_.bus()));
    }

    Result<void> Reserve(const std::string& checkout, json items) {
        return h_.Publish("checkout-orchestrator", "reserve-inventory", checkout,
                          {{"checkoutId", checkout}, {"items", std::move(items)}});
    }
    static json Items(const std::string& sku, int qty) {
        return json::array({{{"sku", sku}, {"quantity", qty}}});
    }
    // (on hand, reserved) of `sku`.
    std::pair<std::int64_t, std::int64_t> Level(const std::string& sku) {
        auto stock = InventoryService::Stock(h_.db());
        EXPECT_TRUE(stock.has_value());
        for (const StockLevel& l : stock.value_or(std::vector<StockLevel>{})) {
            if (l.sku == sku) return {l.on_hand, l.reserved};
        }
        return {-1, -1};
    }

    messaging::testing::ServiceHarness h_{GetParam()};
    InventoryService inventory_;
};

INSTANTIATE_TEST_SUITE_P(Backends, InventoryTest, storage::testing::AllBackends(),
                         storage::testing::BackendName);

TEST_P(InventoryTest, AReservationHoldsStockAndAnswersWithItsId) {
    ASSERT_TRUE(Reserve("c1", Items("SKU-MUG", 2)));
    ASSERT_TRUE(h_.Run());
    const json reserved = h_.Last("inventory-reserved");
    EXPECT_EQ(reserved["checkoutId"], "c1");
    EXPECT_FALSE(reserved["reservationId"].get<std::string>().empty());
    EXPECT_EQ(Level("SKU-MUG"), (std::pair<std::int64_t, std::int64_t>{3, 2}));
}

TEST_P(InventoryTest, AShortageReservesNothingAtAllAndNamesTheSku) {
    // The mug is there, the second kettle is not: neither is reserved.
    json items = json::array(
        {{{"sku", "SKU-MUG"}, {"quantity", 1}}, {{"sku", "SKU-KETTLE"}, {"quantity", 2}}});
    ASSERT_TRUE(Reserve("c1", items));
    ASSERT_TRUE(h_.Run());
    const json failed = h_.Last("inventory-reservation-failed");
    EXPECT_EQ(failed["reason"], "out_of_stock");
    EXPECT_EQ(failed["unavailableSkus"], json::array({"SKU-KETTLE"}));
    EXPECT_TRUE(h_.Published("inventory-reserved").empty());
    EXPECT_EQ(Level("SKU-MUG").second, 0);
    EXPECT_EQ(Level("SKU-KETTLE").second, 0);
    // The failure held nothing: the same checkout can still reserve what there is.
    ASSERT_TRUE(Reserve("c1", Items("SKU-MUG", 1)));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(Level("SKU-MUG").second, 1);
}

TEST_P(InventoryTest, TheLastUnitGoesToOneCheckoutOnly) {
    ASSERT_TRUE(Reserve("c1", Items("SKU-KETTLE", 1)));
    ASSERT_TRUE(Reserve("c2", Items("SKU-KETTLE", 1)));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(h_.Published("inventory-reserved").size(), 1u);
    EXPECT_EQ(h_.Published("inventory-reservation-failed").size(), 1u);
    EXPECT_EQ(Level("SKU-KETTLE"), (std::pair<std::int64_t, std::int64_t>{1, 1}));
}

TEST_P(InventoryTest, ARepeatedCommandForOneCheckoutReservesOnce) {
    // A second reserve-inventory (a new message, the same checkout): answered already.
    ASSERT_TRUE(Reserve("c1", Items("SKU-MUG", 2)));
    ASSERT_TRUE(Reserve("c1", Items("SKU-MUG", 2)));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(h_.Published("inventory-reserved").size(), 1u);
    EXPECT_EQ(Level("SKU-MUG").second, 2);
}

TEST_P(InventoryTest, AReleaseGivesStockBackOnceAndIsAlwaysAnswered) {
    ASSERT_TRUE(Reserve("c1", Items("SKU-MUG", 2)));
    ASSERT_TRUE(h_.Run());
    const std::string id = h_.Last("inventory-reserved")["reservationId"];
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(h_.Publish("checkout-orchestrator", "release-inventory", "c1",
                               {{"checkoutId", "c1"}, {"reservationId", id}, {"reason", "x"}}));
    }
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(Level("SKU-MUG"), (std::pair<std::int64_t, std::int64_t>{3, 0}));
    // Both answered, so a compensation waiting for its reply always finishes.
    EXPECT_EQ(h_.Published("inventory-released").size(), 2u);
    // A reservation nobody made is answered too, and changes nothing.
    ASSERT_TRUE(h_.Publish("checkout-orchestrator", "release-inventory", "c9",
                           {{"checkoutId", "c9"}, {"reservationId", "no-such"}}));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(h_.Last("inventory-released")["reservationId"], "no-such");
    EXPECT_EQ(Level("SKU-MUG"), (std::pair<std::int64_t, std::int64_t>{3, 0}));
}

TEST_P(InventoryTest, ACompletedOrderShipsTheUnitsOnceAndAReleaseAfterItChangesNothing) {
    ASSERT_TRUE(Reserve("c1", Items("SKU-MUG", 2)));
    ASSERT_TRUE(h_.Run());
    const std::string id = h_.Last("inventory-reserved")["reservationId"];
    const json completed = {{"orderId", "o1"},
                            {"checkoutId", "c1"},
                            {"reservationId", id},
                            {"completedAt", "2026-12-02T00:00:00.000Z"}};
    ASSERT_TRUE(h_.Publish("order-service", "order-completed", "o1", completed));
    ASSERT_TRUE(h_.Publish("order-service", "order-completed", "o1", completed));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(Level("SKU-MUG"), (std::pair<std::int64_t, std::int64_t>{1, 0}));
    // Too late to cancel: the units left; nothing comes back.
    ASSERT_TRUE(h_.Publish("warehouse-service", "shipment-cancelled", "o1",
                           {{"orderId", "o1"}, {"reservationId", id}, {"authorizationId", "a1"}}));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(Level("SKU-MUG"), (std::pair<std::int64_t, std::int64_t>{1, 0}));
    auto accounts = InventoryService::Accounts(h_.db());
    ASSERT_TRUE(accounts.has_value());
    for (const StockAccount& a : *accounts) {
        if (a.level.sku == "SKU-MUG") {
            EXPECT_EQ(a.committed, 2);
        }
    }
}

TEST_P(InventoryTest, TheAuditsAccountsAreOneSnapshotWhileReservationsCommit) {
    // Another connection reserves and ships one unit at a time, as the running system does
    // while the audit reads; every account read meanwhile must add up.
    auto writer_db = h_.Connect();
    ASSERT_TRUE(writer_db.has_value()) << writer_db.error().message;
    ASSERT_TRUE(
        h_.db().Execute("UPDATE inv_stock SET on_hand = 100000, initial = 100000 WHERE "
                        "sku = 'SKU-MUG'"));
    std::atomic<bool> stop{false};
    std::atomic<int> shipped{0};
    std::thread writer([&] {
        storage::Connection& w = **writer_db;
        for (int i = 0; !stop && i < 100'000; ++i) {
            const std::string id = "r" + std::to_string(i);
            const storage::Value v[] = {id, "c" + std::to_string(i)};
            auto held = storage::InTransaction(w, [&]() -> Result<void> {
                if (auto ok = w.Execute(
                        "INSERT INTO inv_reservations(id, checkout_id, status, items, updated_ms) "
                        "VALUES (?, ?, 'held', '[{\"sku\":\"SKU-MUG\",\"quantity\":1}]', 0)",
                        v);
                    !ok) {
                    return ok;
                }
                return w.Execute(
                    "UPDATE inv_stock SET reserved = reserved + 1 WHERE sku = "
                    "'SKU-MUG'");
            });
            const storage::Value k[] = {id};
            auto committed = storage::InTransaction(w, [&]() -> Result<void> {
                if (auto ok = w.Execute(
                        "UPDATE inv_reservations SET status = 'committed' WHERE id = ?", k);
                    !ok) {
                    return ok;
                }
                return w.Execute(
                    "UPDATE inv_stock SET on_hand = on_hand - 1, reserved = "
                    "reserved - 1 WHERE sku = 'SKU-MUG'");
            });
            if (!held || !committed) continue;  // busy: the next one
            shipped.fetch_add(1);
        }
    });
    int reads = 0;
    int wrong = 0;
    for (; reads < 300 || shipped.load() < 50; ++reads) {
        if (reads > 20'000) break;
        auto accounts = InventoryService::Accounts(h_.db());
        ASSERT_TRUE(accounts.has_value()) << accounts.error().message;
        for (const StockAccount& a : *accounts) {
            if (a.level.on_hand != a.level.initial - a.committed || a.level.reserved != a.held) {
                ++wrong;
            }
        }
    }
    stop = true;
    writer.join();
    EXPECT_GE(shipped.load(), 50);
    EXPECT_EQ(wrong, 0) << "of " << reads << " reads while " << shipped.load() << " shipped";
}

}  // namespace
}  // namespace acme::fulfilment
