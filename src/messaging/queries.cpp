#include "messaging/queries.hpp"

#include <nlohmann/json.hpp>

namespace acme::messaging {

Result<void> Queries::Answer(const std::string& service, const std::string& type,
                             QueryHandler handler) {
    if (!outbox_.contracts().Receives(service, type)) {
        return MakeError(ErrorCode::kFailedPrecondition, "contract violation: service '" + service +
                                                             "' does not declare '" + type +
                                                             "' in receives");
    }
    answers_[type] = std::move(handler);
    return {};
}

Result<nlohmann::json> Queries::Ask(storage::Connection& db, const std::string& service,
                                    const std::string& type, const nlohmann::json& request) const {
    if (auto ok = outbox_.contracts().CheckSend(service, type, request); !ok) {
        return std::unexpected(outbox_.Violation(ok.error()).error());
    }
    auto it = answers_.find(type);
    if (it == answers_.end()) {
        return MakeError(ErrorCode::kNotFound, "no service answers query '" + type + "'");
    }
    return it->second(db, request);
}

}  // namespace acme::messaging
