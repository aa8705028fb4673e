// The CloudEvents 1.0 envelope every message travels in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace acme::messaging {

struct Envelope {
    std::string id;              // UUIDv7
    std::string source;          // sending service id
    std::string type;            // catalog message id
    std::string dataschema;      // "id@version"
    std::string subject;         // checkout or order id
    std::string time;            // RFC 3339
    std::string correlation_id;  // the checkout the message belongs to
    std::string causation_id;    // the message that caused this one
    std::string traceparent;     // W3C trace context
    std::string data;            // JSON payload
    std::int64_t seq = 0;        // position in the log, once stored
    // `data` parsed, when this process published the message recently (not stored): the
    // consumers' handlers read it instead of parsing the text again (messaging::ParsePayload).
    std::shared_ptr<const nlohmann::json> payload;

    // The structured-mode CloudEvents JSON of this envelope.
    [[nodiscard]] std::string ToCloudEventJson() const;
};

}  // namespace acme::messaging
