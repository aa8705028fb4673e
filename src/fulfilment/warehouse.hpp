// Fulfilment: the warehouse (warehouse-service) picks, packs and ships each created order on
// a configurable schedule, asks Payments to capture at shipment, and stops an order that is
// cancelled before it ships.
#pragma once

#include <cstdint>

#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "storage/database.hpp"

namespace acme::fulfilment {

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
    // Where order `order_id`'s shipment is: queued | picked | packed | shipped | cancelled
    // (kNotFound: the warehouse never heard of it).
    [[nodiscard]] static Result<std::string> ShipmentState(storage::Connection& db,
                                                           const std::string& order_id);

  private:
    WarehouseSchedule schedule_;
};

}  // namespace acme::fulfilment
