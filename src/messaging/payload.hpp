// JSON payloads of messages, for the services' handlers (include from .cpp files only: it
// brings nlohmann/json).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "messaging/envelope.hpp"

namespace acme::messaging {

// Parses a message payload; kInvalidArgument when it is not JSON.
[[nodiscard]] inline Result<nlohmann::json> ParsePayload(std::string_view text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return MakeError(ErrorCode::kInvalidArgument, "payload is not json");
    return j;
}

using PayloadPtr = std::shared_ptr<const nlohmann::json>;

// The payload of `e`: the publisher's own value when the bus still had it (no parsing),
// otherwise `e.data` parsed.
[[nodiscard]] inline Result<PayloadPtr> ParsePayload(const Envelope& e) {
    if (e.payload) return e.payload;
    auto j = ParsePayload(e.data);
    if (!j) return std::unexpected(j.error());
    return std::make_shared<const nlohmann::json>(std::move(*j));
}

// A handler that takes the message's payload parsed.
using PayloadHandler =
    std::function<Result<void>(const Envelope& e, const nlohmann::json& data, Publisher& out)>;

// `fn` as a bus handler: a payload that is not JSON fails the message (kInvalidArgument)
// before `fn` runs.
[[nodiscard]] inline Handler WithPayload(PayloadHandler fn) {
    return [fn = std::move(fn)](const Envelope& e, Publisher& out) -> Result<void> {
        auto parsed = ParsePayload(e);
        if (!parsed) return std::unexpected(parsed.error());
        return fn(e, **parsed, out);
    };
}

}  // namespace acme::messaging
