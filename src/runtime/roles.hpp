// Least privilege on PostgreSQL: a database role per service (messaging::ServiceRole), granted
// exactly what the service's work needs — its own tables, the message tables, and read access
// to the tables of the services it asks queries of (the catalog says which) — and login roles
// for processes, each a member of the roles of the services it runs and nothing else. With
// `acme serve --service-roles` every unit of a service's work runs as that service's role
// (messaging::BusOptions::service_roles), so cart-api's code cannot read or change payments'
// tables whatever it tries: PostgreSQL refuses it.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "catalog/model.hpp"
#include "core/error.hpp"
#include "storage/database.hpp"

namespace acme::runtime {

// The tables a component owns: every service of ServiceNames() (some own none), the simulated
// gateway ("simulated-gateway", an outside system with a table of its own), and "bus" (the
// message tables every service publishes into and consumes from).
struct TableOwner {
    std::string component;
    std::vector<std::string> tables;
};
[[nodiscard]] const std::vector<TableOwner>& TableOwners();

// A login role for processes: `name` ([a-z0-9_]+), a member of the roles of `services`
// (service ids, "storefront" for the HTTP API's reads) and of no other acme role.
struct Login {
    std::string name;
    std::vector<std::string> services;
};

// As the database's owner (or a role with CREATEROLE that owns the tables): migrates every
// component, creates the roles that are missing (NOLOGIN service roles; logins LOGIN
// NOINHERIT, so a login alone can do nothing), and replaces their grants and memberships with
// exactly the ones described above. Safe to run again (after an upgrade, or with other
// logins): what it does not grant is revoked. Returns a line per role saying what it may do.
// kInvalidArgument for an unknown service or a bad name.
[[nodiscard]] Result<std::vector<std::string>> SetUpRoles(storage::Connection& owner,
                                                          const catalog::Catalog& catalog,
                                                          std::span<const Login> logins);

}  // namespace acme::runtime
