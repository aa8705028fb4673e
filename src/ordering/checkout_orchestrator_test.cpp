// The Checkout Orchestrator running the checkout saga's table, in the service harness: the
// commands it sends carry the start payload's fields, a deadline fires once, and the
// checkout's public view follows the saga. (The table's rules alone: saga_machine_test.)
#include "ordering/checkout_orchestrator.hpp"

#include <gtest/gtest.h>

#include "messaging/testing/service_harness.hpp"

namespace acme::ordering {
namespace {

using nlohmann::json;

class CheckoutOrchestratorTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    CheckoutOrchestratorTest() : orchestrator_({5'000, 3'000, 5'000, 10}) {}
    void SetUp() override {
        if (!h_.ready()) GTEST_SKIP() << h_.why();
        EXPECT_TRUE(CheckoutOrchestrator::Migrate(h_.db()));
        EXPECT_TRUE(orchestrator_.Register(h_.bus()));
    }
    static json Money(std::int64_t amount) { return {{"amount", amount}, {"currency", "EUR"}}; }
    void Start(const std::string& id) {
        ASSERT_TRUE(h_.Publish(
            "checkout-api", "start-checkout", id,
            {{"checkoutId", id},
             {"cartId", "cart-1"},
             {"customerId", "cust-1"},
             {"paymentToken", "tok_visa"},
             {"items",
              json::array({{{"sku", "SKU-MUG"}, {"quantity", 2}, {"unitPrice", Money(1'250)}}})},
             {"total", Money(2'500)}}));
        ASSERT_TRUE(h_.Run());
    }
    CheckoutView View(const std::string& id) {
        auto v = CheckoutOrchestrator::Get(h_.db(), id);
        EXPECT_TRUE(v.has_value());
        return v.value_or(CheckoutView{});
    }

    messaging::testing::ServiceHarness h_{GetParam()};
    CheckoutOrchestrator orchestrator_;
};

INSTANTIATE_TEST_SUITE_P(Backends, CheckoutOrchestratorTest, storage::testing::AllBackends(),
                         storage::testing::BackendName);

TEST_P(CheckoutOrchestratorTest, RunsTheStepsAndCompletes) {
    Start("c1");
    Start("c1");  // a second start of the same checkout is ignored
    EXPECT_EQ(h_.Published("reserve-inventory").size(), 1u);
    EXPECT_EQ(View("c1").saga_state, "reserving");
    ASSERT_TRUE(h_.Publish("inventory-service", "inventory-reserved", "c1",
                           {{"checkoutId", "c1"},
                            {"reservationId", "r1"},
                            {"items", json::array({{{"sku", "SKU-MUG"}, {"quantity", 2}}})}}));
    ASSERT_TRUE(h_.Run());
    const json authorize = h_.Last("authorize-payment");
    EXPECT_EQ(authorize["amount"], Money(2'500));
    EXPECT_EQ(authorize["paymentToken"], "tok_visa");
    ASSERT_TRUE(
        h_.Publish("payment-service", "payment-authorized", "c1",
                   {{"checkoutId", "c1"}, {"authorizationId", "a1"}, {"amount", Money(2'500)}}));
    ASSERT_TRUE(h_.Run());
    const json create = h_.Last("create-order");
    EXPECT_EQ(create["reservationId"], "r1");
    EXPECT_EQ(create["authorizationId"], "a1");
    EXPECT_EQ(create["cartId"], "cart-1");
    ASSERT_TRUE(h_.Publish("order-service", "order-created", "o1",
                           {{"orderId", "o1"},
                            {"checkoutId", "c1"},
                            {"customerId", "cust-1"},
                            {"reservationId", "r1"},
                            {"authorizationId", "a1"},
                            {"items", json::array({{{"sku", "SKU-MUG"}, {"quantity", 2}}})},
                            {"total", Money(2'500)}}));
    ASSERT_TRUE(h_.Run());
    const CheckoutView v = View("c1");
    EXPECT_EQ(v.state, "completed");
    EXPECT_EQ(v.order_id, "o1");
}

TEST_P(CheckoutOrchestratorTest, APassedDeadlineCompensatesOnceAndALateReplyIsUndone) {
    Start("c1");
    ASSERT_TRUE(h_.Publish("inventory-service", "inventory-reserved", "c1",
                           {{"checkoutId", "c1"},
                            {"reservationId", "r1"},
                            {"items", json::array({{{"sku", "SKU-MUG"}, {"quantity", 2}}})}}));
    ASSERT_TRUE(h_.Run());
    ASSERT_TRUE(h_.Advance(2'999));
    EXPECT_TRUE(h_.Published("release-inventory").empty());  // not yet
    ASSERT_TRUE(h_.Advance(10));
    ASSERT_TRUE(h_.Advance(10'000));  // and no second time
    const auto release = h_.Published("release-inventory");
    ASSERT_EQ(release.size(), 1u);
    EXPECT_EQ(release[0]["reason"], "payment_timeout");
    EXPECT_EQ(View("c1").saga_state, "compensating");
    // The authorization arrives after the deadline: voided at once.
    ASSERT_TRUE(h_.Publish(
        "payment-service", "payment-authorized", "c1",
        {{"checkoutId", "c1"}, {"authorizationId", "a-late"}, {"amount", Money(2'500)}}));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(h_.Last("void-payment")["reason"], "late_authorization");
    ASSERT_TRUE(h_.Publish("inventory-service", "inventory-released", "c1",
                           {{"checkoutId", "c1"}, {"reservationId", "r1"}}));
    ASSERT_TRUE(h_.Run());
    const CheckoutView v = View("c1");
    EXPECT_EQ(v.state, "rejected");
    EXPECT_EQ(v.reason, "payment_timeout");
    EXPECT_EQ(CheckoutOrchestrator::Get(h_.db(), "c-none").error().code, ErrorCode::kNotFound);
}

TEST_P(CheckoutOrchestratorTest, PastTheOrderDeadlineTheOrderServiceDecidesOnce) {
    // Deadlines: reserve 5 s, authorize 3 s, create the order 5 s.
    Start("c1");
    ASSERT_TRUE(h_.Publish("inventory-service", "inventory-reserved", "c1",
                           {{"checkoutId", "c1"},
                            {"reservationId", "r1"},
                            {"items", json::array({{{"sku", "SKU-MUG"}, {"quantity", 2}}})}}));
    ASSERT_TRUE(h_.Run());
    ASSERT_TRUE(
        h_.Publish("payment-service", "payment-authorized", "c1",
                   {{"checkoutId", "c1"}, {"authorizationId", "a1"}, {"amount", Money(2'500)}}));
    ASSERT_TRUE(h_.Run());
    ASSERT_EQ(h_.Published("create-order").size(), 1u);
    ASSERT_TRUE(h_.Advance(5'010));
    ASSERT_TRUE(h_.Advance(60'000));  // asked once, and no deadline after it
    const auto asked = h_.Published("abandon-order");
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0], (json{{"checkoutId", "c1"}, {"reason", "order_timeout"}}));
    EXPECT_TRUE(h_.Published("void-payment").empty());  // nothing undone before the answer
    EXPECT_EQ(View("c1").saga_state, "creating_order");
    // The order service answers that no order was made: undone newest first.
    ASSERT_TRUE(h_.Publish("order-service", "order-creation-failed", "c1",
                           {{"checkoutId", "c1"}, {"reason", "order_timeout"}}));
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(h_.Last("void-payment")["authorizationId"], "a1");
    EXPECT_EQ(View("c1").reason, "order_failed:order_timeout");
}

}  // namespace
}  // namespace acme::ordering
