// The transport: what carries stored messages from the outbox to the services that subscribe
// to them. Its contract, for every implementation (the SQL log today; NATS JetStream next):
// - every message of a subscribed type is delivered to each subscribing consumer at least
//   once, after the transaction that published it committed; never one that rolled back;
// - per consumer, messages of one subject are handed over in the order they were published;
// - a delivery runs the handler inside a transaction on the transport's connection together
//   with the consumer's inbox mark (outbox.hpp), so a redelivered message is skipped and a
//   handler's effects and the messages it publishes commit together with it;
// - a handler that fails (an error or an exception) is retried with exponential backoff and
//   jitter, and after the last attempt becomes a dead letter with the reason (dead_letters.hpp);
//   the consumer goes on with its other messages meanwhile;
// - strict contracts: a `ContractViolation` thrown by a handler is not retried but rethrown.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "messaging/envelope.hpp"
#include "messaging/outbox.hpp"
#include "storage/database.hpp"

namespace acme::messaging {

using Handler = std::function<Result<void>(const Envelope&, Publisher&)>;

// The database role a service's work runs as when the bus keeps to least privilege
// (BusOptions::service_roles): "acme_" and the service id with '-' as '_' ("acme_cart_api").
[[nodiscard]] std::string ServiceRole(std::string_view service);

struct DeliveryStats {
    std::int64_t handled = 0;     // deliveries whose handler ran and committed
    std::int64_t duplicates = 0;  // deliveries the inbox skipped
    std::int64_t retries = 0;     // failures scheduled for another attempt
    std::int64_t dead_letters = 0;
};

class Transport {
  public:
    virtual ~Transport() = default;

    // Registers `consumer`'s handler for `type` (before delivery starts). kFailedPrecondition
    // when the catalog does not declare that `consumer` receives `type`.
    [[nodiscard]] virtual Result<void> Subscribe(const std::string& consumer,
                                                 const std::string& type, Handler handler) = 0;
    // Whether any consumer subscribed; which.
    [[nodiscard]] virtual bool HasConsumers() const = 0;
    [[nodiscard]] virtual std::vector<std::string> Consumers() const = 0;
    // Delivers what is due now on the calling thread, in transactions on `db`: new messages
    // and due retries. Returns how many messages it looked at (0: nothing to do).
    [[nodiscard]] virtual Result<std::size_t> Poll(storage::Connection& db) = 0;
    // Messages stored that some consumer has not looked at yet: how far delivery lags behind
    // publishing (0 when caught up).
    [[nodiscard]] virtual std::int64_t Backlog() const = 0;
    [[nodiscard]] virtual DeliveryStats Stats() const = 0;
};

}  // namespace acme::messaging
