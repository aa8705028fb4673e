// The warehouse's business rules, in the service harness: each created order is picked,
// packed and shipped once on the schedule, capture is asked for at shipment, and only an
// order that has not left can be stopped.
#include "fulfilment/warehouse.hpp"

#include <gtest/gtest.h>

#include "messaging/testing/service_harness.hpp"

namespace acme::fulfilment {
namespace {

using nlohmann::json;

class WarehouseTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    WarehouseTest() : warehouse_({100, 100, 100, 10}) {}
    void SetUp() override {
        if (!h_.ready()) GTEST_SKIP() << h_.why();
        EXPECT_TRUE(WarehouseService::Migrate(h_.db()));
        EXPECT_TRUE(warehouse_.Register(h_.bus()));
    }
    static json Money(std::int64_t amount) { return {{"amount", amount}, {"currency", "EUR"}}; }
    void Created(const std::string& order) {
        ASSERT_TRUE(h_.Publish("order-service", "order-created", order,
                               {{"orderId", order},
                                {"checkoutId", "c-" + order},
                                {"customerId", "cust-1"},
                                {"reservationId", "r-" + order},
                                {"authorizationId", "a-" + order},
                                {"items", json::array({{{"sku", "SKU-MUG"}, {"quantity", 1}}})},
                                {"total", Money(1'250)}}));
        ASSERT_TRUE(h_.Run());
    }
    Result<void> Cancel(const std::string& order) {
        return h_.Publish("order-service", "order-cancelled", order,
                          {{"orderId", order},
                           {"checkoutId", "c-" + order},
                           {"reservationId", "r-" + order},
                           {"authorizationId", "a-" + order},
                           {"reason", "customer_request"}});
    }

    messaging::testing::ServiceHarness h_{GetParam()};
    WarehouseService warehouse_;
};

INSTANTIATE_TEST_SUITE_P(Backends, WarehouseTest, storage::testing::AllBackends(),
                         storage::testing::BackendName);

TEST_P(WarehouseTest, PicksPacksAndShipsOnTheScheduleThenAsksForCapture) {
    Created("o1");
    EXPECT_TRUE(h_.Published("order-picked").empty());
    ASSERT_TRUE(h_.Advance(100));
    EXPECT_EQ(h_.Published("order-picked").size(), 1u);
    EXPECT_TRUE(h_.Published("order-packed").empty());
    ASSERT_TRUE(h_.Advance(100));
    ASSERT_TRUE(h_.Advance(100));
    ASSERT_TRUE(h_.Advance(1'000));  // nothing more happens to a shipped order
    EXPECT_EQ(h_.Published("order-packed").size(), 1u);
    ASSERT_EQ(h_.Published("order-shipped").size(), 1u);
    EXPECT_EQ(h_.Last("order-shipped")["trackingNumber"], "TRK-o1");
    const auto capture = h_.Published("capture-payment");
    ASSERT_EQ(capture.size(), 1u);
    EXPECT_EQ(capture[0]["authorizationId"], "a-o1");
    EXPECT_EQ(capture[0]["amount"], Money(1'250));
}

TEST_P(WarehouseTest, AnOrderCancelledBeforeItShipsStopsThereAndOnce) {
    Created("o1");
    ASSERT_TRUE(h_.Advance(100));  // picked
    ASSERT_TRUE(Cancel("o1"));
    ASSERT_TRUE(Cancel("o1"));
    ASSERT_TRUE(h_.Run());
    const auto stopped = h_.Published("shipment-cancelled");
    ASSERT_EQ(stopped.size(), 1u);
    EXPECT_EQ(stopped[0]["reservationId"], "r-o1");
    ASSERT_TRUE(h_.Advance(1'000));
    EXPECT_TRUE(h_.Published("order-shipped").empty());
    EXPECT_TRUE(h_.Published("capture-payment").empty());
}

TEST_P(WarehouseTest, ACancellationAfterShipmentIsTooLate) {
    Created("o1");
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(h_.Advance(100));
    ASSERT_EQ(h_.Published("order-shipped").size(), 1u);
    ASSERT_TRUE(Cancel("o1"));
    ASSERT_TRUE(h_.Run());
    EXPECT_TRUE(h_.Published("shipment-cancelled").empty());
}

}  // namespace
}  // namespace acme::fulfilment
