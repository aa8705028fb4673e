// The payment service's business rules, in the service harness, against the simulated
// gateway: the gateway is asked once per checkout, outside the handler; a void or capture
// applies to an authorized payment only; a refund never exceeds the capture.
#include "payments/payment_service.hpp"

#include <atomic>

#include <gtest/gtest.h>

#include "messaging/testing/service_harness.hpp"

namespace acme::payments {
namespace {

using nlohmann::json;

// The simulated gateway, counting the calls it answers.
class CountingGateway final : public PaymentGateway {
  public:
    GatewayDecision Authorize(const std::string& token, std::int64_t amount) override {
        ++authorizations;
        return real_.Authorize(token, amount);
    }
    GatewayDecision Refund(const std::string& authorization_id, std::int64_t amount) override {
        ++refunds;
        return real_.Refund(authorization_id, amount);
    }
    std::atomic<int> authorizations{0};
    std::atomic<int> refunds{0};

  private:
    SimulatedGateway real_;
};

class PaymentServiceTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    PaymentServiceTest() : payments_(gateway_, h_.ids()) {}
    void SetUp() override {
        if (!h_.ready()) GTEST_SKIP() << h_.why();
        EXPECT_TRUE(PaymentService::Migrate(h_.db()));
        EXPECT_TRUE(payments_.Register(h_.bus()));
    }
    static json Money(std::int64_t amount) { return {{"amount", amount}, {"currency", "EUR"}}; }
    Result<void> Authorize(const std::string& checkout, const std::string& token,
                           std::int64_t amount = 2'500) {
        return h_.Publish("checkout-orchestrator", "authorize-payment", checkout,
                          {{"checkoutId", checkout},
                           {"customerId", "cust-1"},
                           {"amount", Money(amount)},
                           {"paymentToken", token}});
    }
    // An authorized payment for `checkout`; its authorization id.
    std::string Authorized(const std::string& checkout) {
        EXPECT_TRUE(Authorize(checkout, "tok_visa"));
        EXPECT_TRUE(h_.Run());
        return h_.Last("payment-authorized").value("authorizationId", "");
    }
    Result<void> Capture(const std::string& order, const std::string& auth) {
        return h_.Publish(
            "warehouse-service", "capture-payment", order,
            {{"orderId", order}, {"authorizationId", auth}, {"amount", Money(2'500)}});
    }

    messaging::testing::ServiceHarness h_{GetParam()};
    CountingGateway gateway_;
    PaymentService payments_;
};

INSTANTIATE_TEST_SUITE_P(Backends, PaymentServiceTest, storage::testing::AllBackends(),
                         storage::testing::BackendName);

TEST_P(PaymentServiceTest, TheGatewayIsAskedOncePerCheckout) {
    ASSERT_TRUE(Authorize("c1", "tok_visa"));
    ASSERT_TRUE(Authorize("c1", "tok_visa"));  // a repeated command
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(gateway_.authorizations.load(), 1);
    const auto authorized = h_.Published("payment-authorized");
    ASSERT_EQ(authorized.size(), 1u);
    EXPECT_EQ(authorized[0]["checkoutId"], "c1");
    EXPECT_FALSE(authorized[0]["authorizationId"].get<std::string>().empty());
}

TEST_P(PaymentServiceTest, DeclinesCarryTheGatewaysReason) {
    ASSERT_TRUE(Authorize("c1", "tok_decline"));
    ASSERT_TRUE(Authorize("c2", "tok_never_issued"));
    ASSERT_TRUE(Authorize("c3", "tok_visa", 9'000'000));  // above the gateway's limit
    ASSERT_TRUE(h_.Run());
    EXPECT_TRUE(h_.Published("payment-authorized").empty());
    const auto declined = h_.Published("payment-declined");
    ASSERT_EQ(declined.size(), 3u);
    for (const auto& d : declined) {
        EXPECT_FALSE(d.value("reason", "").empty()) << d.dump();
    }
}

TEST_P(PaymentServiceTest, AVoidAppliesOnceAndIsAlwaysAnswered) {
    const std::string auth = Authorized("c1");
    ASSERT_FALSE(auth.empty());
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(h_.Publish("checkout-orchestrator", "void-payment", "c1",
                               {{"checkoutId", "c1"}, {"authorizationId", auth}}));
    }
    ASSERT_TRUE(h_.Run());
    EXPECT_EQ(h_.Published("payment-voided").size(), 2u);
    // A voided authorization cannot be captured: the capture fails (and is retried).
    ASSERT_TRUE(Capture("o1", auth));
    (void)h_.Run();
    EXPECT_TRUE(h_.Published("payment-captured").empty());
}

TEST_P(PaymentServiceTest, ACaptureOnceThenARefundUpToTheCapturedAmount) {
    const std::string auth = Authorized("c1");
    ASSERT_TRUE(Capture("o1", auth));
    ASSERT_TRUE(h_.Run());
    ASSERT_EQ(h_.Published("payment-captured").size(), 1u);
    ASSERT_TRUE(h_.Publish("order-service", "refund-payment", "o1",
                           {{"orderId", "o1"}, {"checkoutId", "c1"}, {"amount", Money(2'500)}}));
    ASSERT_TRUE(h_.Run());
    const auto refunded = h_.Published("payment-refunded");
    ASSERT_EQ(refunded.size(), 1u);
    EXPECT_EQ(refunded[0]["amount"], Money(2'500));
    EXPECT_EQ(gateway_.refunds.load(), 1);
    // More than was captured, or for a checkout never captured: refused, the gateway not asked.
    ASSERT_TRUE(h_.Publish("order-service", "refund-payment", "o2",
                           {{"orderId", "o2"}, {"checkoutId", "c1"}, {"amount", Money(9'999)}}));
    ASSERT_TRUE(h_.Publish("order-service", "refund-payment", "o3",
                           {{"orderId", "o3"}, {"checkoutId", "c-none"}, {"amount", Money(1)}}));
    (void)h_.Advance(60'000);
    EXPECT_EQ(gateway_.refunds.load(), 1);
    EXPECT_EQ(h_.Published("payment-refunded").size(), 1u);
}

}  // namespace
}  // namespace acme::payments
