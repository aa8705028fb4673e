// Fulfilment: stock, reservations (inventory-service) and the warehouse (warehouse-service).
//
// Stock can never go negative: a reservation is all-or-nothing and runs inside the consumer's
// write transaction, so concurrent checkouts of the last unit serialize and only one wins.
// A reservation is released (compensation, cancellation) or committed (order completed:
// the units leave on-hand). The warehouse picks, packs and ships on a configurable schedule
// and asks Payments to capture at shipment.
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

struct WarehouseSchedule {
    std::int64_t pick_ms = 200;
    std::int64_t pack_ms = 200;
    std::int64_t ship_ms = 200;
    std::int64_t tick_ms = 50;
};

class WarehouseService {
  public:
    static constexpr const char* kService = "warehouse-service";

    explicit WarehouseService(WarehouseSchedule schedule) : schedule_(schedule) {}

    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);

  private:
    WarehouseSchedule schedule_;
};

}  // namespace acme::fulfilment
