// The order service's business rules, in the service harness: an order is created once per
// checkout, follows the warehouse in order, completes only once shipped and captured, and
// takes one cancellation and one return.
#include "ordering/order_service.hpp"

#include <gtest/gtest.h>

#include "messaging/testing/service_harness.hpp"

namespace acme::ordering {
namespace {

using nlohmann::json;

class OrderServiceTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    OrderServiceTest() : orders_(h_.ids()) {}
    void SetUp() override {
        if (!h_.ready()) GTEST_SKIP() << h_.why();
        EXPECT_TRUE(OrderService::Migrate(h_.db()));
        EXPECT_TRUE(orders_.Register(h_.bus()));
    }

    static json Money(std::int64_t amount) { return {{"amount", amount}, {"currency", "EUR"}}; }
    Result<void> CreateOrder(const std::string& checkout, const std::string& customer = "cust-1") {
        return h_.Publish("checkout-orchestrator", "create-order", checkout,
                          {{"checkoutId", checkout},
                           {"cartId", "cart-1"},
                           {"customerId", customer},
                           {"reservationId", "r-" + checkout},
                           {"authorizationId", "a-" + checkout},
                           {"items", json::array({{{"sku", "SKU-MUG"}, {"quantity", 2}}})},
                           {"total", Money(2500)}});
    }
    // Creates an order for checkout c1 and returns its id.
    std::string Created() {
        EXPECT_TRUE(CreateOrder("c1"));
        EXPECT_TRUE(h_.Run());
        return h_.Last("order-created").value("orderId", "");
    }
    std::string Status(const std::string& order) {
        auto o = OrderService::Get(h_.db(), order);
        return o ? o->status : "missing: " + o.error().message;
    }
    void Warehouse(const char* type, const std::string& order) {
        json data = {{"orderId", order}};
        if (std::string(type) == "order-shipped") data["trackingNumber"] = "TRK-1";
        ASSERT_TRUE(h_.Publish("warehouse-service", type, order, data));
        ASSERT_TRUE(h_.Run());
    }
    void Captured(const std::string& order) {
        ASSERT_TRUE(
            h_.Publish("payment-service", "payment-captured", order,
                       {{"orderId", order}, {"authorizationId", "a-c1"}, {"amount", Money(2500)}}));
        (void)h_.Run();
    }

    messaging::testing::ServiceHarness h_{GetParam()};
    OrderService orders_;
};

INSTANTIATE_TEST_SUITE_P(Backends, OrderServiceTest, storage::testing::AllBackends(),
                         storage::testing::BackendName);

TEST_P(OrderServiceTest, CreateOrderMakesOneOrderPerCheckout) {
    ASSERT_TRUE(CreateOrder("c1"));
    ASSERT_TRUE(CreateOrder("c1"));  // a second command for the same checkout
    ASSERT_TRUE(h_.Run());
    const auto created = h_.Published("order-created");
    ASSERT_EQ(created.size(), 1u);
    EXPECT_EQ(created[0]["checkoutId"], "c1");
    EXPECT_EQ(created[0]["reservationId"], "r-c1");
    EXPECT_FALSE(created[0].contains("cartId"));
    auto order = OrderService::Get(h_.db(), created[0]["orderId"]);
    ASSERT_TRUE(order.has_value());
    EXPECT_EQ(order->status, "created");
    EXPECT_EQ(order->total, 2500);
    EXPECT_EQ(order->customer_id, "cust-1");
}

TEST_P(OrderServiceTest, ARejectedOrderStoreAnswersCreationFailed) {
    ASSERT_TRUE(CreateOrder("c1", "fail-order-7"));
    ASSERT_TRUE(h_.Run());
    EXPECT_TRUE(h_.Published("order-created").empty());
    EXPECT_EQ(h_.Last("order-creation-failed")["reason"], "order_store_rejected");
}

TEST_P(OrderServiceTest, ACheckoutAbandonedBeforeItsOrderNeverGetsOne) {
    // The saga's deadline passed before create-order was handled (a slow or stopped instance).
    auto abandon = [&](const std::string& checkout) {
        return h_.Publish("checkout-orchestrator", "abandon-order", checkout,
                          {{"checkoutId", checkout}, {"reason", "order_timeout"}});
    };
    ASSERT_TRUE(abandon("c1"));
    ASSERT_TRUE(h_.Run());
    auto failed = h_.Published("order-creation-failed");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0], (json{{"checkoutId", "c1"}, {"reason", "order_timeout"}}));
    // Its create-order, handled late, creates nothing; asking again answers nothing new.
    ASSERT_TRUE(CreateOrder("c1"));
    ASSERT_TRUE(abandon("c1"));
    ASSERT_TRUE(h_.Run());
    EXPECT_TRUE(h_.Published("order-created").empty());
    EXPECT_EQ(h_.Published("order-creation-failed").size(), 1u);

    // An order created before the question stays: its order-created completes the saga.
    ASSERT_TRUE(CreateOrder("c2"));
    ASSERT_TRUE(h_.Run());
    ASSERT_EQ(h_.Published("order-created").size(), 1u);
    ASSERT_TRUE(abandon("c2"));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(h_.Published("order-creation-failed").size(), 1u);
    EXPECT_EQ(Status(h_.Last("order-created").value("orderId", "")), "created");
}

TEST_P(OrderServiceTest, TheOrderFollowsTheWarehouseAndCompletesOnceShippedAndCaptured) {
    const std::string id = Created();
    Warehouse("order-picked", id);
    EXPECT_EQ(Status(id), "picked");
    Warehouse("order-picked", id);  // again: stays
    Warehouse("order-packed", id);
    EXPECT_EQ(Status(id), "packed");
    Warehouse("order-picked", id);  // out of order: never goes back
    EXPECT_EQ(Status(id), "packed");
    Warehouse("order-shipped", id);
    Captured(id);
    EXPECT_EQ(Status(id), "completed");
    const auto completed = h_.Published("order-completed");
    ASSERT_EQ(completed.size(), 1u);
    EXPECT_EQ(completed[0]["reservationId"], "r-c1");
}

TEST_P(OrderServiceTest, ACaptureBeforeTheShipmentWaitsForIt) {
    const std::string id = Created();
    Captured(id);  // fails and is retried: the order is not shipped yet
    EXPECT_EQ(Status(id), "created");
    EXPECT_TRUE(h_.Published("order-completed").empty());
    Warehouse("order-shipped", id);
    ASSERT_TRUE(h_.Advance(1'000));  // the retry's backoff passes
    EXPECT_EQ(Status(id), "completed");
    EXPECT_EQ(h_.Published("order-completed").size(), 1u);
}

TEST_P(OrderServiceTest, OneCancellationIsAcceptedBeforeShipmentAndNoneAfter) {
    const std::string id = Created();
    auto first = OrderService::RequestCancel(h_.db(), h_.bus(), id);
    ASSERT_TRUE(first.has_value()) << first.error().message;
    auto again = OrderService::RequestCancel(h_.db(), h_.bus(), id);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kConflict);
    ASSERT_TRUE(h_.Run());
    const auto cancelled = h_.Published("order-cancelled");
    ASSERT_EQ(cancelled.size(), 1u);
    EXPECT_EQ(cancelled[0]["authorizationId"], "a-c1");
    EXPECT_EQ(Status(id), "created");  // a request until the warehouse confirms
    ASSERT_TRUE(
        h_.Publish("warehouse-service", "shipment-cancelled", id,
                   {{"orderId", id}, {"reservationId", "r-c1"}, {"authorizationId", "a-c1"}}));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(Status(id), "cancelled");

    // Shipped orders cannot be cancelled.
    ASSERT_TRUE(CreateOrder("c2"));
    ASSERT_TRUE(h_.Run());
    const std::string shipped = h_.Last("order-created")["orderId"];
    Warehouse("order-shipped", shipped);
    auto late = OrderService::RequestCancel(h_.db(), h_.bus(), shipped);
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().code, ErrorCode::kConflict);
    EXPECT_EQ(OrderService::RequestCancel(h_.db(), h_.bus(), "no-such").error().code,
              ErrorCode::kNotFound);
}

TEST_P(OrderServiceTest, AReturnOfACompletedOrderAsksForOneRefund) {
    const std::string id = Created();
    EXPECT_EQ(OrderService::RequestReturn(h_.db(), h_.bus(), id).error().code,
              ErrorCode::kConflict);  // not delivered yet
    Warehouse("order-shipped", id);
    Captured(id);
    ASSERT_TRUE(OrderService::RequestReturn(h_.db(), h_.bus(), id).has_value());
    EXPECT_EQ(OrderService::RequestReturn(h_.db(), h_.bus(), id).error().code,
              ErrorCode::kConflict);
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(Status(id), "returned");
    const auto refunds = h_.Published("refund-payment");
    ASSERT_EQ(refunds.size(), 1u);
    EXPECT_EQ(refunds[0]["amount"], Money(2500));
    ASSERT_TRUE(h_.Publish("payment-service", "payment-refunded", id,
                           {{"orderId", id}, {"refundId", "rf-1"}, {"amount", Money(2500)}}));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(Status(id), "refunded");
}

}  // namespace
}  // namespace acme::ordering
