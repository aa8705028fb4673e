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

// The simulated gateway (its ledger in the test's database), counting the calls it answers;
// it can lose answers on their way back, as a network does.
class CountingGateway final : public PaymentGateway {
  public:
    GatewayDecision Authorize(const std::string& token, std::int64_t amount,
                              const std::string& key) override {
        ++authorizations;
        GatewayDecision d = real->Authorize(token, amount, key);
        if (lose_answers > 0) {
            --lose_answers;
            return {GatewayOutcome::kError, "answer_lost", {}};
        }
        return d;
    }
    GatewayDecision Refund(const std::string& authorization_id, std::int64_t amount,
                           const std::string& key) override {
        ++refunds;
        return real->Refund(authorization_id, amount, key);
    }
    std::atomic<int> authorizations{0};
    std::atomic<int> refunds{0};
    std::atomic<int> lose_answers{0};
    std::unique_ptr<SimulatedGateway> real = std::make_unique<SimulatedGateway>();
};

class PaymentServiceTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    PaymentServiceTest() : payments_(gateway_, h_.ids()) {}
    void SetUp() override {
        if (!h_.ready()) GTEST_SKIP() << h_.why();
        EXPECT_TRUE(SimulatedGateway::Migrate(h_.db()));
        gateway_.real = std::make_unique<SimulatedGateway>(SimulatedGatewayOptions{},
                                                           [this] { return h_.Connect(); });
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

TEST_P(PaymentServiceTest, AnAnswerLostOnTheWayIsAskedForAgainWithTheSameKeyAndChargesOnce) {
    // The gateway approved, but the answer never reached us (or we crashed before recording
    // it): the request is due again, and the second call, with the same idempotency key (the
    // checkout), gets the first answer instead of a second charge.
    gateway_.lose_answers = 1;
    ASSERT_TRUE(Authorize("c1", "tok_visa"));
    ASSERT_TRUE(h_.Run());
    EXPECT_TRUE(h_.Published("payment-authorized").empty());
    ASSERT_TRUE(h_.Advance(1'000));  // past the backoff
    EXPECT_EQ(gateway_.authorizations.load(), 2);
    const auto authorized = h_.Published("payment-authorized");
    ASSERT_EQ(authorized.size(), 1u);
    EXPECT_EQ(SimulatedGateway::Charges(h_.db()).value_or(-1), 1);
    EXPECT_EQ(h_.db().Query("SELECT calls FROM gw_ledger")->front().Int(0), 2);  // asked twice
    // The authorization is the gateway's own reference, the same for both calls.
    EXPECT_TRUE(authorized.front()["authorizationId"].get<std::string>().starts_with("gw-"));
}

TEST(SimulatedGatewayTest, OneKeyOneAnswerAcrossGatewaysSharingALedger) {
    // Two processes' gateways over one ledger are one gateway: the first decision stands.
    auto made = storage::testing::MakeTestDatabase(storage::Dialect::kSqlite);
    ASSERT_TRUE(made.has_value());
    auto db = (*made)->Connect();
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE(SimulatedGateway::Migrate(**db));
    auto connect = [&] { return (*made)->Connect(); };
    SimulatedGateway a({}, connect);
    SimulatedGateway b({.decline_rate = 1.0}, connect);
    const GatewayDecision first = a.Authorize("tok_visa", 2'500, "c1");
    const GatewayDecision again = b.Authorize("tok_visa", 2'500, "c1");  // b would decline
    EXPECT_EQ(first.outcome, GatewayOutcome::kApproved);
    EXPECT_EQ(again.outcome, GatewayOutcome::kApproved);
    EXPECT_EQ(again.reference, first.reference);
    EXPECT_EQ(b.Authorize("tok_visa", 2'500, "c2").outcome, GatewayOutcome::kDeclined);
    EXPECT_EQ(SimulatedGateway::Charges(**db).value_or(-1), 1);
    // Gateways started alike (one seed) still never hand two keys the same reference.
    SimulatedGateway c({}, connect);
    EXPECT_NE(c.Authorize("tok_visa", 2'500, "c4").reference, first.reference);
    EXPECT_EQ(a.Authorize("tok_visa", 2'500, "c5").outcome, GatewayOutcome::kApproved);
    // Errors are not decisions: a key that failed is decided afresh.
    EXPECT_EQ(a.Authorize("tok_error", 2'500, "c3").outcome, GatewayOutcome::kError);
    // Refunds have keys of their own.
    EXPECT_EQ(a.Refund(first.reference, 2'500, "o1").outcome, GatewayOutcome::kApproved);
    EXPECT_EQ(SimulatedGateway::Charges(**db).value_or(-1), 3);
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
