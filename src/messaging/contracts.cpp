#include "messaging/contracts.hpp"

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "catalog/schema.hpp"
#include "core/files.hpp"
#include "messaging/compiled_schema.hpp"

namespace acme::messaging {

struct ContractRegistry::Impl {
    std::map<std::string, std::set<std::string>> sends;
    std::map<std::string, std::set<std::string>> receives;
    std::map<std::string, std::string> dataschema;
    std::map<std::string, std::unique_ptr<valijson::Schema>> schemas;
    // The same schemas compiled for the fast check, where they compile (compiled_schema.hpp);
    // valijson checks the others and says why a payload fails.
    std::map<std::string, CompiledSchema> compiled;
};

ContractRegistry::ContractRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ContractRegistry::~ContractRegistry() = default;
ContractRegistry::ContractRegistry(ContractRegistry&&) noexcept = default;
ContractRegistry& ContractRegistry::operator=(ContractRegistry&&) noexcept = default;

Result<ContractRegistry> ContractRegistry::FromCatalog(const catalog::Catalog& c) {
    auto impl = std::make_unique<Impl>();
    for (std::size_t i = 0; i < c.resources.size(); ++i) {
        if (!c.is_latest[i]) continue;
        const catalog::Resource& r = c.resources[i];
        if (r.kind == catalog::Kind::kService) {
            for (const auto& s : r.sends) impl->sends[r.id].insert(s.message.id);
            for (const auto& rc : r.receives) impl->receives[r.id].insert(rc.message.id);
            continue;
        }
        if (!catalog::IsMessage(r.kind)) continue;
        impl->dataschema[r.id] = r.id + "@" + r.version;
        if (r.schema_path.empty()) continue;
        auto text = ReadFile(c.root / r.dir / r.schema_path);
        if (!text) return std::unexpected(text.error());
        if (auto usable = catalog::CheckJsonSchema(*text); !usable) {
            return MakeError(ErrorCode::kInvalidArgument,
                             r.id + ": schema " + r.schema_path + ": " + usable.error().message);
        }
        const nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
        if (doc.is_discarded()) {
            return MakeError(ErrorCode::kInvalidArgument, r.id + ": schema is not json");
        }
        auto schema = std::make_unique<valijson::Schema>();
        try {
            valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
            valijson::adapters::NlohmannJsonAdapter adapter(doc);
            parser.populateSchema(adapter, *schema);
        } catch (const std::exception& e) {
            return MakeError(ErrorCode::kInvalidArgument, r.id + ": " + e.what());
        }
        impl->schemas[r.id] = std::move(schema);
        if (auto compiled = CompiledSchema::Compile(doc); compiled) {
            impl->compiled.emplace(r.id, std::move(*compiled));
        }
    }
    return ContractRegistry(std::move(impl));
}

Result<void> ContractRegistry::CheckSend(const std::string& service, const std::string& type,
                                         const std::string& data) const {
    return CheckSend(service, type, nlohmann::json::parse(data, nullptr, false));
}

Result<void> ContractRegistry::CheckSend(const std::string& service, const std::string& type,
                                         const nlohmann::json& doc) const {
    auto it = impl_->sends.find(service);
    if (it == impl_->sends.end() || !it->second.contains(type)) {
        return MakeError(ErrorCode::kFailedPrecondition, "contract violation: service '" + service +
                                                             "' does not declare '" + type +
                                                             "' in sends");
    }
    if (doc.is_discarded()) {
        return MakeError(ErrorCode::kInvalidArgument, type + ": payload is not json");
    }
    auto schema = impl_->schemas.find(type);
    if (schema == impl_->schemas.end()) return {};
    const auto fast = impl_->compiled.find(type);
    if (fast != impl_->compiled.end() && fast->second.Valid(doc)) return {};
    valijson::Validator validator;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    // Without a results object valijson stops at the first failure and builds no messages;
    // only a payload that fails is validated again to say why.
    if (fast == impl_->compiled.end() && validator.validate(*schema->second, adapter, nullptr)) {
        return {};
    }
    valijson::ValidationResults results;
    (void)validator.validate(*schema->second, adapter, &results);
    std::string why;
    valijson::ValidationResults::Error error;
    while (results.popError(error)) {
        std::string path;
        for (const auto& p : error.context) path += p;
        if (!why.empty()) why += "; ";
        why += path + ": " + error.description;
        if (why.size() > 400) break;
    }
    return MakeError(ErrorCode::kInvalidArgument, "contract violation: '" + type + "' from '" +
                                                      service + "' fails its schema: " + why);
}

std::string ContractRegistry::ReceiversOf(const std::string& type) const {
    std::string out;
    for (const auto& [service, types] : impl_->receives) {  // by service id: sorted
        if (!types.contains(type)) continue;
        if (!out.empty()) out += ',';
        out += service;
    }
    return out;
}

bool ContractRegistry::Receives(const std::string& service, const std::string& type) const {
    auto it = impl_->receives.find(service);
    return it != impl_->receives.end() && it->second.contains(type);
}

std::string ContractRegistry::DataSchema(const std::string& type) const {
    auto it = impl_->dataschema.find(type);
    return it == impl_->dataschema.end() ? std::string() : it->second;
}

std::set<std::string> ContractRegistry::MessageTypes() const {
    std::set<std::string> out;
    for (const auto& [type, schema] : impl_->dataschema) out.insert(type);
    return out;
}

}  // namespace acme::messaging
