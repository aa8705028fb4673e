// The Order Service (Ordering): creates the order once the saga reserved and authorized
// (create-order), follows it through picking, packing, shipping and capture to completion,
// and takes customers' cancellations and returns. An order exists only after reservation and
// authorization succeeded.
#pragma once

#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "storage/database.hpp"

namespace acme::ordering {

struct OrderFaults {
    // Customers whose id starts with this fail order creation (drives the compensation path).
    std::string fail_customer_prefix = "fail-order";
};

struct OrderView {
    std::string id;
    std::string checkout_id;
    std::string customer_id;
    std::string status;
    std::string items_json;
    std::int64_t total = 0;
    std::string currency;
};

class OrderService {
  public:
    static constexpr const char* kService = "order-service";

    OrderService(IdGenerator& ids, OrderFaults faults = {}) : ids_(ids), faults_(faults) {}

    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);
    // Only its queries (get-order): they read, so any process on the service's database can
    // answer them (RegisterQueries is part of Register).
    [[nodiscard]] static Result<void> RegisterQueries(messaging::Bus& bus);
    [[nodiscard]] static Result<OrderView> Get(storage::Connection& db, const std::string& id);
    // Every order, oldest first.
    [[nodiscard]] static Result<std::vector<OrderView>> List(storage::Connection& db);
    // Accepts a cancellation before shipment: publishes cancel-order as the storefront would.
    // The order becomes `cancelled` when the warehouse confirms (shipment-cancelled); if the
    // parcel left first it ships. kNotFound; kConflict when shipped, completed or cancelled,
    // and for every request after the first (in parallel as in sequence).
    [[nodiscard]] static Result<OrderView> RequestCancel(storage::Connection& db,
                                                         messaging::Bus& bus,
                                                         const std::string& id);
    // Accepts the return of a completed order: publishes return-order as the storefront
    // would. The order becomes `returned`, order-service asks payments to refund the capture
    // (refund-payment) and the order becomes `refunded` on payment-refunded. kNotFound;
    // kConflict when the order is not `completed` (returned, refunded, not yet delivered) and
    // for every request after the first.
    [[nodiscard]] static Result<OrderView> RequestReturn(storage::Connection& db,
                                                         messaging::Bus& bus,
                                                         const std::string& id);

  private:
    IdGenerator& ids_;
    OrderFaults faults_;
};

}  // namespace acme::ordering
