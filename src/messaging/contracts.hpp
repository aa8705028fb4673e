// Run-time enforcement of the catalog: who may send and receive what, and payload schemas.
//
// Built once at start from `catalog/`: for every service its declared `sends` and `receives`,
// and for every message its draft-07 JSON Schema, compiled into a flat checker
// (compiled_schema.hpp) where the schema keeps to its subset, valijson otherwise. `CheckSend` is
// called on every publish; a message the service does not declare, or a payload that fails its
// schema, is an error naming the service, the message and the failing field.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>

#include "catalog/model.hpp"
#include "core/error.hpp"

namespace acme::messaging {

class ContractRegistry {
  public:
    ~ContractRegistry();
    ContractRegistry(ContractRegistry&&) noexcept;
    ContractRegistry& operator=(ContractRegistry&&) noexcept;

    // kInvalidArgument when a message schema of the catalog cannot be compiled.
    [[nodiscard]] static Result<ContractRegistry> FromCatalog(const catalog::Catalog& catalog);

    // kFailedPrecondition when `service` does not declare `type` in `sends`; kInvalidArgument
    // when `data` is not JSON or fails the message's schema.
    [[nodiscard]] Result<void> CheckSend(const std::string& service, const std::string& type,
                                         const std::string& data) const;
    // The same for a parsed payload (a discarded value is "not JSON").
    [[nodiscard]] Result<void> CheckSend(const std::string& service, const std::string& type,
                                         const nlohmann::json& data) const;
    // Whether `service` declares `type` in `receives`.
    [[nodiscard]] bool Receives(const std::string& service, const std::string& type) const;
    // The services that declare `type` in `receives`, comma-separated in id order ("" when
    // none): where the SQL queue transport delivers it.
    [[nodiscard]] std::string ReceiversOf(const std::string& type) const;
    // "id@version" of the latest version of message `type`, or "" when unknown.
    [[nodiscard]] std::string DataSchema(const std::string& type) const;
    // Every message type the registry knows.
    [[nodiscard]] std::set<std::string> MessageTypes() const;

  private:
    struct Impl;
    explicit ContractRegistry(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace acme::messaging
