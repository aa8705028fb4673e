// The checkout saga's business rules, decided by its definition alone (no database, no bus).
#include "saga/saga_machine.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "saga/checkout_saga.hpp"

namespace acme::saga {
namespace {

using nlohmann::json;

class CheckoutSagaTest : public ::testing::Test {
  protected:
    const SagaDefinition def_ = CheckoutSaga();
    const json start_ = {{"checkoutId", "c1"},
                         {"cartId", "cart-1"},
                         {"customerId", "cust-1"},
                         {"paymentToken", "tok_approve"},
                         {"items", json::array({{{"sku", "SKU-MUG"}, {"quantity", 2}}})},
                         {"total", 2500}};
    int start_reads_ = 0;
    StartPayload start_payload_ = [this]() -> const json& {
        ++start_reads_;
        return start_;
    };

    Transition Reply(const SagaInstance& s, const std::string& type, const json& data) {
        return OnReply(def_, s, type, data, start_payload_);
    }
    // A saga moved along the happy path up to (not into) step `upto`.
    SagaInstance At(int upto) {
        SagaInstance s = Start(def_, "c1", start_payload_).next;
        if (upto > kReserveStep) s = Reply(s, "inventory-reserved", {{"reservationId", "r1"}}).next;
        if (upto > kAuthorizeStep) {
            s = Reply(s, "payment-authorized", {{"authorizationId", "a1"}}).next;
        }
        return s;
    }
};

TEST_F(CheckoutSagaTest, HappyPathRunsTheStepsInOrderWithTheirPayloads) {
    Transition t = Start(def_, "c1", start_payload_);
    EXPECT_EQ(def_.StateName(t.next.state), "reserving");
    EXPECT_TRUE(t.started_step);
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(t.send[0].type, "reserve-inventory");
    EXPECT_EQ(*t.send[0].data, (json{{"checkoutId", "c1"}, {"items", start_["items"]}}));

    t = Reply(t.next, "inventory-reserved", {{"reservationId", "r1"}});
    EXPECT_EQ(def_.StateName(t.next.state), "authorizing");
    EXPECT_EQ(t.finished_step, kReserveStep);
    EXPECT_EQ(t.outcome, "ok");
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(*t.send[0].data, (json{{"checkoutId", "c1"},
                                     {"customerId", "cust-1"},
                                     {"amount", 2500},
                                     {"paymentToken", "tok_approve"}}));

    t = Reply(t.next, "payment-authorized", {{"authorizationId", "a1"}});
    EXPECT_EQ(def_.StateName(t.next.state), "creating_order");
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(t.send[0].type, "create-order");
    EXPECT_EQ((*t.send[0].data)["reservationId"], "r1");
    EXPECT_EQ((*t.send[0].data)["authorizationId"], "a1");
    EXPECT_EQ((*t.send[0].data)["total"], 2500);

    t = Reply(t.next, "order-created", {{"orderId", "o1"}});
    EXPECT_EQ(t.next.state.phase, Phase::kCompleted);
    EXPECT_EQ(t.next.results, (std::vector<std::string>{"r1", "a1", "o1"}));
    EXPECT_TRUE(t.send.empty());
    EXPECT_TRUE(t.save);
}

TEST_F(CheckoutSagaTest, OutOfStockRejectsWithNothingToUndo) {
    Transition t = Reply(At(kReserveStep), "inventory-reservation-failed",
                         {{"checkoutId", "c1"}, {"reason", "out_of_stock"}});
    EXPECT_EQ(t.next.state.phase, Phase::kRejected);
    EXPECT_EQ(t.next.reason, "out_of_stock");
    EXPECT_EQ(t.finished_step, kReserveStep);
    EXPECT_EQ(t.outcome, "failed");
    EXPECT_TRUE(t.send.empty());
}

TEST_F(CheckoutSagaTest, ADeclineReleasesTheReservationThenRejects) {
    Transition t =
        Reply(At(kAuthorizeStep), "payment-declined", {{"reason", "insufficient_funds"}});
    EXPECT_EQ(t.next.state, (SagaState{Phase::kCompensating, kReserveStep}));
    EXPECT_EQ(t.outcome, "declined");
    EXPECT_EQ(t.next.reason, "payment_declined:insufficient_funds");
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(*t.send[0].data, (json{{"checkoutId", "c1"},
                                     {"reservationId", "r1"},
                                     {"reason", "payment_declined:insufficient_funds"}}));
    // Another reservation's release is not this one's.
    EXPECT_FALSE(Reply(t.next, "inventory-released", {{"reservationId", "r9"}}).save);
    t = Reply(t.next, "inventory-released", {{"reservationId", "r1"}});
    EXPECT_EQ(t.next.state.phase, Phase::kRejected);
    EXPECT_EQ(t.next.reason, "payment_declined:insufficient_funds");
}

TEST_F(CheckoutSagaTest, AFailedOrderUndoesNewestFirstVoidThenRelease) {
    Transition t = Reply(At(kCreateOrderStep), "order-creation-failed", json::object());
    EXPECT_EQ(t.next.reason, "order_failed:failed");
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(t.send[0].type, "void-payment");
    EXPECT_EQ((*t.send[0].data)["authorizationId"], "a1");
    t = Reply(t.next, "payment-voided", {{"authorizationId", "a1"}});
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(t.send[0].type, "release-inventory");
    EXPECT_EQ(t.next.state.phase, Phase::kCompensating);
    t = Reply(t.next, "inventory-released", {{"reservationId", "r1"}});
    EXPECT_EQ(t.next.state.phase, Phase::kRejected);
}

TEST_F(CheckoutSagaTest, EachDeadlineCompensatesWhatWasDone) {
    Transition t = OnDeadline(def_, At(kReserveStep), start_payload_);
    EXPECT_EQ(t.next.state.phase, Phase::kRejected);
    EXPECT_EQ(t.next.reason, "inventory_timeout");
    EXPECT_EQ(t.outcome, "timeout");

    t = OnDeadline(def_, At(kAuthorizeStep), start_payload_);
    EXPECT_EQ(t.next.reason, "payment_timeout");
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(t.send[0].type, "release-inventory");

    // The order cannot be undone by voiding and releasing: the saga asks the order service to
    // decide and keeps waiting, without a deadline, for its answer.
    t = OnDeadline(def_, At(kCreateOrderStep), start_payload_);
    EXPECT_EQ(t.next.state, (SagaState{Phase::kRunning, kCreateOrderStep}));
    EXPECT_TRUE(t.deadline_asked);
    EXPECT_EQ(t.finished_step, -1);
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(t.send[0].type, "abandon-order");
    EXPECT_EQ(*t.send[0].data, (json{{"checkoutId", "c1"}, {"reason", "order_timeout"}}));
    // Its answer is the step's own reply: a failure compensates as any failure does...
    Transition failed = Reply(t.next, "order-creation-failed", {{"reason", "order_timeout"}});
    EXPECT_EQ(failed.next.reason, "order_failed:order_timeout");
    ASSERT_EQ(failed.send.size(), 1u);
    EXPECT_EQ(failed.send[0].type, "void-payment");
    // ... and an order created before it completes the saga.
    EXPECT_EQ(Reply(t.next, "order-created", {{"orderId", "o1"}}).next.state.phase,
              Phase::kCompleted);
    t = failed;

    // A finished saga only loses its deadline.
    SagaInstance done = t.next;
    done.state = {Phase::kRejected, -1};
    t = OnDeadline(def_, done, start_payload_);
    EXPECT_TRUE(t.save);
    EXPECT_EQ(t.next.state, done.state);
    EXPECT_TRUE(t.send.empty());
    EXPECT_EQ(t.finished_step, -1);
}

TEST_F(CheckoutSagaTest, ALateSuccessIsUndoneAloneAndTheSagaStaysPut) {
    // The payment deadline passed: compensating, releasing r1.
    SagaInstance s = OnDeadline(def_, At(kAuthorizeStep), start_payload_).next;
    Transition t = Reply(s, "payment-authorized", {{"authorizationId", "a-late"}});
    EXPECT_FALSE(t.save);
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ(*t.send[0].data, (json{{"checkoutId", "c1"},
                                     {"authorizationId", "a-late"},
                                     {"reason", "late_authorization"}}));
    // A late reservation after an inventory timeout is released the same way.
    s = OnDeadline(def_, At(kReserveStep), start_payload_).next;
    t = Reply(s, "inventory-reserved", {{"reservationId", "r-late"}});
    ASSERT_EQ(t.send.size(), 1u);
    EXPECT_EQ((*t.send[0].data)["reason"], "late_reservation");
    // The same success delivered twice is a no-op.
    t = Reply(At(kCreateOrderStep), "inventory-reserved", {{"reservationId", "r1"}});
    EXPECT_FALSE(t.save);
    EXPECT_TRUE(t.send.empty());
}

TEST_F(CheckoutSagaTest, RepliesForStepsNotRunningChangeNothing) {
    SagaInstance s = At(kCreateOrderStep);
    for (const char* type : {"payment-declined", "inventory-reservation-failed", "payment-voided",
                             "inventory-released", "unknown"}) {
        Transition t = Reply(s, type, {{"reason", "x"}});
        EXPECT_FALSE(t.save) << type;
        EXPECT_TRUE(t.send.empty()) << type;
    }
    // A malformed success (no result) throws, so the handler's caller fails the message.
    EXPECT_THROW((void)Reply(At(kReserveStep), "inventory-reserved", json::object()),
                 json::exception);
}

TEST_F(CheckoutSagaTest, TheStartPayloadIsReadOnlyByCommandsThatNeedIt) {
    SagaInstance s = At(kReserveStep);
    start_reads_ = 0;
    (void)Reply(s, "inventory-reservation-failed", json::object());
    EXPECT_EQ(start_reads_, 0);
    (void)Reply(s, "inventory-reserved", {{"reservationId", "r1"}});
    EXPECT_GT(start_reads_, 0);
}

TEST_F(CheckoutSagaTest, StateNamesRoundTripAndHandlesListsEveryReply) {
    for (const auto& st : {SagaState{Phase::kRunning, 0}, SagaState{Phase::kRunning, 2},
                           SagaState{Phase::kCompleted, -1}, SagaState{Phase::kRejected, -1}}) {
        EXPECT_EQ(def_.ParseState(def_.StateName(st)), st);
    }
    EXPECT_EQ(def_.ParseState("compensating")->phase, Phase::kCompensating);
    EXPECT_FALSE(def_.ParseState("bogus").has_value());
    EXPECT_EQ(def_.Handles(),
              (std::vector<std::string>{"start-checkout", "inventory-reserved",
                                        "inventory-reservation-failed", "inventory-released",
                                        "payment-authorized", "payment-declined", "payment-voided",
                                        "order-created", "order-creation-failed"}));
}

}  // namespace
}  // namespace acme::saga
