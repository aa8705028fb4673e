#include "messaging/envelope.hpp"

#include <nlohmann/json.hpp>

namespace acme::messaging {

std::string Envelope::ToCloudEventJson() const {
    nlohmann::ordered_json j = {{"specversion", "1.0"},
                                {"id", id},
                                {"source", source},
                                {"type", type},
                                {"dataschema", dataschema},
                                {"subject", subject},
                                {"time", time},
                                {"correlationid", correlation_id},
                                {"causationid", causation_id},
                                {"traceparent", traceparent}};
    j["datacontenttype"] = "application/json";
    j["data"] = nlohmann::json::parse(data, nullptr, false);
    return j.dump();
}

}  // namespace acme::messaging
