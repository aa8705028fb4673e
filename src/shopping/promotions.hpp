// Shopping: the Promotions service answers the calculate-discount query for the Cart API.
#pragma once

#include <cstdint>
#include <vector>

#include "core/error.hpp"
#include "messaging/bus.hpp"

namespace acme::shopping {

struct PricedItem {
    std::string sku;
    std::int64_t quantity = 0;
    std::int64_t unit_price = 0;
};

// The promotion in force: 10% off carts of 100.00 or more (minor units in, minor units out).
[[nodiscard]] std::int64_t CalculateDiscount(const std::vector<PricedItem>& items);

class PromotionsService {
  public:
    static constexpr const char* kService = "promotions-service";
    // Answers calculate-discount: {cartId, items, subtotal} -> {discount: {amount, currency}}.
    [[nodiscard]] static Result<void> Register(messaging::Bus& bus);
};

}  // namespace acme::shopping
