#include "runtime/roles.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "messaging/bus.hpp"
#include "payments/payment_service.hpp"
#include "runtime/system.hpp"

namespace acme::runtime {

namespace {

constexpr const char* kStorefront = "storefront";
constexpr const char* kGateway = "simulated-gateway";
constexpr const char* kBus = "bus";

// What the HTTP API (the storefront) reads to answer its pages and /metrics: products with
// stock, carts, checkouts and their sagas; and the customers' cancel and return requests it
// records once each (order_service.cpp, ClaimRequest). Orders it reads through its get-order
// query, granted from the catalog like every query.
struct TableGrant {
    const char* table;
    const char* privileges;
};
constexpr TableGrant kStorefrontGrants[] = {
    {"shop_products", "SELECT"},   {"shop_carts", "SELECT"},
    {"shop_cart_items", "SELECT"}, {"shop_checkout_keys", "SELECT"},
    {"inv_stock", "SELECT"},       {"ord_sagas", "SELECT"},
    {"ord_saga_steps", "SELECT"},  {"ord_customer_requests", "SELECT, INSERT"},
};

// Publishing (the log and the receivers' delivery rows), consuming (claiming, retrying and
// removing delivery rows; the inbox) and recording dead letters.
constexpr TableGrant kBusGrants[] = {
    {"bus_log", "SELECT, INSERT"},
    {"bus_deliveries", "SELECT, INSERT, UPDATE, DELETE"},
    {"bus_inbox", "SELECT, INSERT"},
    {"bus_dead_letters", "SELECT, INSERT"},
};

bool IsRoleName(std::string_view name) {
    return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : std::string(sep)) + i;
    return out;
}

// Creates `role` when missing; one that exists gets `attributes` (a login), or is left as it is
// (a service's role: setups of several databases on one server may run at once, and two
// updates of one role at once fail). Two creations at once are not errors.
std::string CreateRole(const std::string& role, const char* attributes, bool alter) {
    return "DO $$ BEGIN CREATE ROLE " + role + " " + attributes +
           "; EXCEPTION WHEN duplicate_object OR unique_violation THEN " +
           (alter ? "ALTER ROLE " + role + " " + attributes : std::string("NULL")) + "; END $$;\n";
}

// The services `service` asks queries of, from the catalog (latest versions).
std::set<std::string> QueriedServices(const catalog::Catalog& catalog, const std::string& service) {
    std::set<std::string> queries;
    for (std::size_t i = 0; i < catalog.resources.size(); ++i) {
        const catalog::Resource& r = catalog.resources[i];
        if (r.kind != catalog::Kind::kService || r.id != service || !catalog.is_latest[i]) continue;
        for (const catalog::Send& s : r.sends) {
            const auto t = s.message.target;
            if (t != catalog::kNoResource &&
                catalog.resources[static_cast<std::size_t>(t)].kind == catalog::Kind::kQuery) {
                queries.insert(s.message.id);
            }
        }
    }
    std::set<std::string> answerers;
    for (std::size_t i = 0; i < catalog.resources.size(); ++i) {
        const catalog::Resource& r = catalog.resources[i];
        if (r.kind != catalog::Kind::kService || !catalog.is_latest[i] || r.id == service) continue;
        for (const catalog::Receive& rc : r.receives) {
            if (queries.contains(rc.message.id)) answerers.insert(r.id);
        }
    }
    return answerers;
}

}  // namespace

const std::vector<TableOwner>& TableOwners() {
    static const std::vector<TableOwner> kOwners = {
        {"cart-api", {"shop_products", "shop_carts", "shop_cart_items", "shop_checkout_keys"}},
        {"checkout-api", {"ord_checkouts"}},
        {"checkout-orchestrator", {"ord_sagas", "ord_saga_steps"}},
        {"inventory-service", {"inv_stock", "inv_reservations"}},
        {"order-service",
         {"ord_orders", "ord_cancellations", "ord_customer_requests", "ord_checkout_decisions"}},
        {"payment-service", {"pay_payments", "pay_refunds"}},
        {"promotions-service", {}},
        {"warehouse-service", {"wh_shipments"}},
        {kStorefront, {}},
        {kGateway, {"gw_ledger"}},
        {kBus, {"bus_log", "bus_deliveries", "bus_inbox", "bus_dead_letters"}},
    };
    return kOwners;
}

Result<std::vector<std::string>> SetUpRoles(storage::Connection& owner,
                                            const catalog::Catalog& catalog,
                                            std::span<const Login> logins) {
    if (owner.dialect() != storage::Dialect::kPostgresql) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "database roles are PostgreSQL's: --db takes a postgresql:// URL");
    }
    // The components with a role: every service, the storefront, the gateway.
    std::map<std::string, const TableOwner*> components;
    std::vector<std::string> every_table = {"schema_migrations"};
    for (const TableOwner& o : TableOwners()) {
        if (o.component != kBus) components[o.component] = &o;
        every_table.insert(every_table.end(), o.tables.begin(), o.tables.end());
    }
    std::vector<std::string> roles;
    for (const auto& [component, unused] : components) {
        roles.push_back(messaging::ServiceRole(component));
    }
    for (const Login& l : logins) {
        if (!IsRoleName(l.name)) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "login '" + l.name + "': a role name is [a-z0-9_]+ (63 at most)");
        }
        if (std::find(roles.begin(), roles.end(), l.name) != roles.end()) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "login '" + l.name + "' is a service's role: pick another name");
        }
        for (const std::string& s : l.services) {
            if (!components.contains(s)) {
                std::vector<std::string> known;
                for (const auto& [c, unused] : components) {
                    if (c != kGateway) known.push_back(c);
                }
                return MakeError(ErrorCode::kInvalidArgument,
                                 "login '" + l.name + "': no service '" + s +
                                     "' (services: " + Join(known, ", ") + ")");
            }
        }
    }
    if (auto ok = messaging::Bus::Migrate(owner); !ok) return std::unexpected(ok.error());
    if (auto ok = MigrateServices(owner); !ok) return std::unexpected(ok.error());
    if (auto ok = payments::SimulatedGateway::Migrate(owner); !ok) {
        return std::unexpected(ok.error());
    }

    // Revoking a membership that was never granted is a warning, not news.
    std::string sql = "SET LOCAL client_min_messages = error;\n";
    for (const std::string& role : roles) sql += CreateRole(role, "NOLOGIN", false);
    // The roles may look into the schema the tables are in (public, or the one the URL's
    // search_path names).
    auto schema = owner.Query("SELECT current_schema()");
    if (!schema) return std::unexpected(schema.error());
    const std::string in_schema = schema->front().Text(0);
    if (!IsRoleName(in_schema)) {  // the same rule keeps it a plain identifier
        return MakeError(ErrorCode::kFailedPrecondition,
                         "the tables' schema '" + in_schema + "' is not a plain identifier");
    }
    sql += "GRANT USAGE ON SCHEMA " + in_schema + " TO " + Join(roles, ", ") + ";\n";
    // Exactly what is granted below: nothing left from an earlier setup.
    sql += "REVOKE ALL ON TABLE " + Join(every_table, ", ") + " FROM " + Join(roles, ", ") + ";\n";
    std::vector<std::string> report;
    for (const auto& [component, tables] : components) {
        const std::string role = messaging::ServiceRole(component);
        std::vector<std::string> can;
        sql += "GRANT SELECT ON TABLE schema_migrations TO " + role + ";\n";
        if (!tables->tables.empty()) {
            sql += "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE " + Join(tables->tables, ", ") +
                   " TO " + role + ";\n";
            can.push_back("reads and writes " + Join(tables->tables, ", "));
        }
        if (component != kGateway) {
            for (const TableGrant& g : kBusGrants) {
                sql += std::string("GRANT ") + g.privileges + " ON TABLE " + g.table + " TO " +
                       role + ";\n";
            }
            can.push_back("publishes and consumes messages (bus_*)");
        }
        std::vector<std::string> asked;
        for (const std::string& other : QueriedServices(catalog, component)) {
            auto it = components.find(other);
            if (it == components.end() || it->second->tables.empty()) continue;
            sql +=
                "GRANT SELECT ON TABLE " + Join(it->second->tables, ", ") + " TO " + role + ";\n";
            asked.push_back(other);
        }
        if (!asked.empty()) {
            can.push_back("reads the tables of " + Join(asked, ", ") +
                          " (it asks them queries, answered in its process)");
        }
        if (component == kStorefront) {
            std::vector<std::string> shown;
            for (const TableGrant& g : kStorefrontGrants) {
                sql += std::string("GRANT ") + g.privileges + " ON TABLE " + g.table + " TO " +
                       role + ";\n";
                shown.push_back(std::string(g.table) +
                                (std::string_view(g.privileges) == "SELECT" ? "" : " (+insert)"));
            }
            can.push_back("reads for the HTTP API " + Join(shown, ", "));
        }
        report.push_back(role + " (NOLOGIN): " + (can.empty() ? "nothing" : Join(can, "; ")));
    }
    for (const Login& l : logins) {
        sql += CreateRole(l.name, "LOGIN NOINHERIT", true);
        std::vector<std::string> members;
        // The simulated gateway stands in for an outside system, called by the payment
        // service's process with credentials of its own: it goes with payment-service.
        auto takes = [&](const std::string& component) {
            auto has = [&](std::string_view s) {
                return std::find(l.services.begin(), l.services.end(), s) != l.services.end();
            };
            return has(component) ||
                   (component == kGateway && has(payments::PaymentService::kService));
        };
        for (const auto& [component, unused] : components) {
            const std::string role = messaging::ServiceRole(component);
            const bool member = takes(component);
            sql +=
                (member ? "GRANT " + role + " TO " : "REVOKE " + role + " FROM ") + l.name + ";\n";
            if (member) members.push_back(role);
        }
        report.push_back(l.name + " (LOGIN NOINHERIT): may act as " +
                         (members.empty() ? std::string("no service") : Join(members, ", ")));
    }
    auto done = storage::InTransaction(owner, [&] { return owner.ExecuteScript(sql); });
    if (!done) return std::unexpected(done.error());
    return report;
}

}  // namespace acme::runtime
