// Fulfilment: stock and reservations (inventory-service).
//
// Stock can never go negative: a reservation is all-or-nothing and runs inside the consumer's
// write transaction, so concurrent checkouts of the last unit serialize and only one wins.
// A reservation is released (compensation, cancellation) or committed (order completed:
// the units leave on-hand).
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "storage/database.hpp"

namespace acme::fulfilment {

struct StockLevel {
    std::string sku;
    std::int64_t on_hand = 0;
    std::int64_t reserved = 0;
    std::int64_t initial = 0;
};

class InventoryService {
  public:
    static constexpr const char* kService = "inventory-service";

    explicit InventoryService(IdGenerator& ids) : ids_(ids) {}

    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    // Sets the starting stock of SKUs not yet known (first start).
    [[nodiscard]] static Result<void> Seed(storage::Connection& db,
                                           const std::vector<StockLevel>& stock);
    [[nodiscard]] static Result<std::vector<StockLevel>> Stock(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);

  private:
    IdGenerator& ids_;
};

}  // namespace acme::fulfilment
