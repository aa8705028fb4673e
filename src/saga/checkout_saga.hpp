// The checkout saga of the Place an Order journey, as a table: reserve inventory -> authorize
// payment -> create order, compensated in reverse (void the authorization, release the
// reservation). The Checkout Orchestrator runs it; a test checks it against the catalog's
// checkout-saga flow.
#pragma once

#include <cstdint>

#include "saga/saga_definition.hpp"

namespace acme::saga {

struct CheckoutDeadlines {
    std::int64_t reserve_ms = 5'000;
    std::int64_t authorize_ms = 3'000;
    std::int64_t create_order_ms = 5'000;
    std::int64_t tick_ms = 50;  // how often the orchestrator looks for passed deadlines
};

// Step indexes of the checkout saga (SagaState::step).
inline constexpr int kReserveStep = 0;
inline constexpr int kAuthorizeStep = 1;
inline constexpr int kCreateOrderStep = 2;

[[nodiscard]] SagaDefinition CheckoutSaga(const CheckoutDeadlines& deadlines = {});

}  // namespace acme::saga
