// JSON payloads of messages, for the services' handlers (include from .cpp files only: it
// brings nlohmann/json).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.hpp"

namespace acme::messaging {

// Parses a message payload; kInvalidArgument when it is not JSON.
[[nodiscard]] inline Result<nlohmann::json> ParsePayload(std::string_view text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return MakeError(ErrorCode::kInvalidArgument, "payload is not json");
    return j;
}

}  // namespace acme::messaging
