// Ordering: the Checkout API, the Checkout Orchestrator (the checkout saga) and the Order
// Service.
//
// The saga: reserve inventory -> authorize payment -> create order. Its state is persisted
// per checkout (`ord_sagas`) and every transition commits together with the commands it sends
// (outbox). Each step has a deadline checked by a ticker; a reply that arrives after the saga
// moved on is harmless: a late reservation is released, a late authorization is voided.
// On failure the saga compensates in reverse (void the authorization, release the
// reservation) and ends `rejected` with a reason; an order exists only after reservation and
// authorization succeeded.
#pragma once

#include <string>

#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "messaging/recent_payloads.hpp"
#include "saga/saga_definition.hpp"
#include "storage/database.hpp"

namespace acme::ordering {

struct SagaDeadlines {
    std::int64_t reserve_ms = 5'000;
    std::int64_t authorize_ms = 3'000;
    std::int64_t create_order_ms = 5'000;
    std::int64_t tick_ms = 50;
};

// The checkout saga as the orchestrator runs it (checked against catalog flow checkout-saga).
[[nodiscard]] saga::SagaDefinition CheckoutSagaDefinition(const SagaDeadlines& deadlines = {});

struct CheckoutView {
    std::string id;
    std::string state;  // pending | completed | rejected
    std::string saga_state;
    std::string order_id;
    std::string reason;
};

class CheckoutApi {
  public:
    static constexpr const char* kService = "checkout-api";
    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);
};

class CheckoutOrchestrator {
  public:
    static constexpr const char* kService = "checkout-orchestrator";

    explicit CheckoutOrchestrator(SagaDeadlines deadlines = {}) : deadlines_(deadlines) {}

    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);
    // The checkout's state; kNotFound when the saga has not started (see CheckoutApi).
    [[nodiscard]] static Result<CheckoutView> Get(storage::Connection& db, const std::string& id);

  private:
    SagaDeadlines deadlines_;
    // The start-checkout payloads of sagas started lately, by checkout id: the steps that
    // need them (authorize, create the order) read them here instead of parsing the stored
    // text again.
    std::shared_ptr<messaging::RecentPayloads> saga_data_ =
        std::make_shared<messaging::RecentPayloads>(4096);
};

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
    [[nodiscard]] static Result<OrderView> Get(storage::Connection& db, const std::string& id);
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
