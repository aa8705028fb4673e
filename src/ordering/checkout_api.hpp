// The Checkout API (Ordering): takes in a cart's checkout (cart-checked-out) once per
// checkout id and hands it to the orchestrator as start-checkout.
#pragma once

#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "storage/database.hpp"

namespace acme::ordering {

class CheckoutApi {
  public:
    static constexpr const char* kService = "checkout-api";
    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);
};

}  // namespace acme::ordering
