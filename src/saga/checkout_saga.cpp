#include "saga/checkout_saga.hpp"

namespace acme::saga {

SagaDefinition CheckoutSaga(const CheckoutDeadlines& d) {
    using From = Field::From;
    const Field id{"checkoutId", From::kSagaId, {}, 0};
    const Field reason{"reason", From::kReason, {}, 0};
    auto start = [](const char* name, const char* key) {
        return Field{name, From::kStart, key, 0};
    };
    auto result = [](const char* name, int step) { return Field{name, From::kResult, {}, step}; };
    SagaDefinition def;
    def.name = "checkout-saga";
    def.orchestrator = "checkout-orchestrator";
    def.start = "start-checkout";
    def.id_key = "checkoutId";
    def.steps = {
        {.name = "reserve-inventory",
         .state = "reserving",
         .command = "reserve-inventory",
         .command_fields = {id, start("items", "items")},
         .success = "inventory-reserved",
         .result_key = "reservationId",
         .failure = "inventory-reservation-failed",
         .failure_outcome = "failed",
         .failure_reason_prefix = "",
         .failure_reason_default = "out_of_stock",
         .timeout_reason = "inventory_timeout",
         .deadline_ms = d.reserve_ms,
         .deadline_command = {},
         .deadline_command_fields = {},
         .compensation = "release-inventory",
         .compensation_fields = {id, result("reservationId", kReserveStep), reason},
         .compensated = "inventory-released",
         .late_reason = "late_reservation"},
        {.name = "authorize-payment",
         .state = "authorizing",
         .command = "authorize-payment",
         .command_fields = {id, start("customerId", "customerId"), start("amount", "total"),
                            start("paymentToken", "paymentToken")},
         .success = "payment-authorized",
         .result_key = "authorizationId",
         .failure = "payment-declined",
         .failure_outcome = "declined",
         .failure_reason_prefix = "payment_declined:",
         .failure_reason_default = "declined",
         .timeout_reason = "payment_timeout",
         .deadline_ms = d.authorize_ms,
         .deadline_command = {},
         .deadline_command_fields = {},
         .compensation = "void-payment",
         .compensation_fields = {id, result("authorizationId", kAuthorizeStep), reason},
         .compensated = "payment-voided",
         .late_reason = "late_authorization"},
        {.name = "create-order",
         .state = "creating_order",
         .command = "create-order",
         .command_fields = {id, start("cartId", "cartId"), start("customerId", "customerId"),
                            result("reservationId", kReserveStep),
                            result("authorizationId", kAuthorizeStep), start("items", "items"),
                            start("total", "total")},
         .success = "order-created",
         .result_key = "orderId",
         .failure = "order-creation-failed",
         .failure_outcome = "failed",
         .failure_reason_prefix = "order_failed:",
         .failure_reason_default = "failed",
         .timeout_reason = "order_timeout",
         .deadline_ms = d.create_order_ms,
         // An order created after the saga gave up could not be undone by voiding and
         // releasing: the order service decides, one insert per checkout, and answers.
         .deadline_command = "abandon-order",
         .deadline_command_fields = {id, Field{"reason", From::kReason, {}, 0}},
         .compensation = {},
         .compensation_fields = {},
         .compensated = {},
         .late_reason = {}},
    };
    return def;
}

}  // namespace acme::saga
