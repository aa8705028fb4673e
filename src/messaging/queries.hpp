// Queries: request/response reads between services (cart-api asks promotions-service for a
// discount), answered in process and not logged. In the scale-out mode every process registers
// every query's answer: a query only reads, and all processes reach the same database, so the
// asking process runs the answering service's code there. Request and answer are JSON values, never
// serialized, but the request is checked against the catalog like any message.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"
#include "messaging/outbox.hpp"
#include "storage/database.hpp"

namespace acme::messaging {

// Answers a query: JSON request in, JSON answer out, reading through `db`.
using QueryHandler =
    std::function<Result<nlohmann::json>(storage::Connection& db, const nlohmann::json& request)>;

class Queries {
  public:
    explicit Queries(const Outbox& outbox) : outbox_(outbox) {}

    // Registers `service` as the one answering `type` (before serving). kFailedPrecondition
    // when the catalog does not declare that it receives `type`.
    [[nodiscard]] Result<void> Answer(const std::string& service, const std::string& type,
                                      QueryHandler handler);
    // Sends `type` as `service` and returns the answer: the contract errors of a publish, or
    // kNotFound when nobody answers it.
    [[nodiscard]] Result<nlohmann::json> Ask(storage::Connection& db, const std::string& service,
                                             const std::string& type,
                                             const nlohmann::json& request) const;

  private:
    const Outbox& outbox_;
    std::map<std::string, QueryHandler> answers_;  // by query type; fixed before serving
};

}  // namespace acme::messaging
