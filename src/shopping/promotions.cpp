#include "shopping/promotions.hpp"

#include <nlohmann/json.hpp>

namespace acme::shopping {

std::int64_t CalculateDiscount(const std::vector<PricedItem>& items) {
    std::int64_t subtotal = 0;
    for (const PricedItem& i : items) subtotal += i.quantity * i.unit_price;
    return subtotal >= 10'000 ? subtotal / 10 : 0;
}

Result<void> PromotionsService::Register(messaging::Bus& bus) {
    return bus.Answer(
        kService, "calculate-discount",
        [](storage::Connection&, const nlohmann::json& req) -> Result<nlohmann::json> {
            std::vector<PricedItem> items;
            for (const auto& i : req.at("items")) {
                items.push_back({i.at("sku").get<std::string>(),
                                 i.at("quantity").get<std::int64_t>(),
                                 i.at("unitPrice").at("amount").get<std::int64_t>()});
            }
            return nlohmann::json{{"discount",
                                   {{"amount", CalculateDiscount(items)},
                                    {"currency", req.at("subtotal").at("currency")}}}};
        });
}

}  // namespace acme::shopping
