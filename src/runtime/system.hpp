// The whole order system in one process: every service of the four domains wired to one
// message bus over one database — SQLite under the data folder, or PostgreSQL by URL — with
// contracts loaded from `catalog/`. `acme serve` starts it with threads; tests drive it step by
// step with `RunUntilIdle` and a manual clock.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "fulfilment/inventory.hpp"
#include "fulfilment/warehouse.hpp"
#include "messaging/bus.hpp"
#include "ordering/checkout_api.hpp"
#include "ordering/checkout_orchestrator.hpp"
#include "ordering/order_service.hpp"
#include "payments/payment_service.hpp"
#include "shopping/cart.hpp"
#include "shopping/promotions.hpp"
#include "storage/database.hpp"

namespace acme::runtime {

struct SystemOptions {
    std::filesystem::path data_dir = "data";
    // postgresql://...: the scale-out mode (the SQL queue transport, any number of processes
    // on one database); empty: the embedded mode, SQLite under `data_dir`.
    std::string database_url;
    // The services this process runs (their handlers, tickers and workers); empty: all of
    // them. Several processes, each with some, share one PostgreSQL database.
    std::set<std::string> services;
    // PostgreSQL, least privilege (roles.hpp): each service's work runs as its own role, the
    // HTTP API's reads as the storefront's; the login must be a member of those roles (`acme
    // db roles`), and the schema must be migrated already (by `acme db roles`, as the owner).
    bool service_roles = false;
    std::filesystem::path catalog_dir = "catalog";
    // kFull: a commit is on disk before anyone is told it happened (a 202 is a promise).
    storage::Durability durability = storage::Durability::kFull;
    messaging::BusOptions bus;
    ordering::SagaDeadlines deadlines;
    ordering::OrderFaults order_faults;
    fulfilment::WarehouseSchedule warehouse;
    payments::SimulatedGatewayOptions gateway;
    payments::PaymentOptions payments;
    bool seed = true;                  // demo products and stock on first start
    std::int64_t initial_stock = 100;  // units per demo SKU
    // While started, the WAL is checkpointed (every 1,000 pages) by a thread of its own
    // rather than by the commit that crossed the mark, which is the bus's one writer: the
    // writer neither copies pages nor waits for the fsyncs (docs/BENCHMARKS.md).
    bool background_checkpoint = true;
};

// Creates (or brings up to date) every service's tables, the bus's excepted; on SQLite and on
// PostgreSQL. Safe when several processes start together (storage::Migrate).
[[nodiscard]] Result<void> MigrateServices(storage::Connection& db);
// The demo products and `initial_stock` units of each; products and stock already there are
// kept as they are.
[[nodiscard]] Result<void> SeedDemo(storage::Connection& db, std::int64_t initial_stock);

// Every service a process can run, in id order.
[[nodiscard]] const std::vector<std::string>& ServiceNames();

class System {
  public:
    ~System();
    // Loads the catalog's contracts, opens and migrates the database, seeds demo data and
    // registers every service. kInvalidArgument when the catalog has errors.
    [[nodiscard]] static Result<std::unique_ptr<System>> Open(SystemOptions options,
                                                              const Clock& clock);

    [[nodiscard]] Result<std::unique_ptr<storage::Connection>> Connect() const;
    [[nodiscard]] Result<void> Start();
    void Stop();
    // Tests: runs every consumer and ticker until idle on the system's own connection.
    [[nodiscard]] Result<std::size_t> RunUntilIdle();

    [[nodiscard]] messaging::Bus& bus() { return *bus_; }
    [[nodiscard]] const messaging::ContractRegistry& contracts() const { return *contracts_; }
    [[nodiscard]] shopping::CartService& cart() { return *cart_; }
    [[nodiscard]] storage::Connection& db() { return *db_; }
    [[nodiscard]] IdGenerator& ids() { return *ids_; }
    [[nodiscard]] const SystemOptions& options() const { return options_; }
    // Whether this process runs `service` (SystemOptions::services).
    [[nodiscard]] bool Runs(const std::string& service) const;
    [[nodiscard]] std::filesystem::path DatabasePath() const;
    // The background checkpointer's figures (zeros when none runs).
    [[nodiscard]] storage::WalCheckpointer::Stats CheckpointStats() const;

  private:
    System() = default;
    [[nodiscard]] storage::SqliteOptions DatabaseOptions() const;
    [[nodiscard]] Result<void> MigrateAndSeed();
    // Where the simulated gateway keeps its ledger: the PostgreSQL database (one gateway for
    // every process), or gateway.sqlite beside the data (one process).
    [[nodiscard]] Result<std::unique_ptr<storage::Connection>> ConnectGateway() const;
    SystemOptions options_;
    std::unique_ptr<messaging::ContractRegistry> contracts_;
    std::unique_ptr<IdGenerator> ids_;
    std::unique_ptr<messaging::Bus> bus_;
    std::unique_ptr<storage::Connection> db_;
    std::unique_ptr<shopping::CartService> cart_;
    std::unique_ptr<ordering::CheckoutApi> checkout_api_;
    std::unique_ptr<ordering::CheckoutOrchestrator> orchestrator_;
    std::unique_ptr<ordering::OrderService> orders_;
    std::unique_ptr<payments::SimulatedGateway> gateway_;
    std::unique_ptr<payments::PaymentService> payments_;
    std::unique_ptr<fulfilment::InventoryService> inventory_;
    std::unique_ptr<fulfilment::WarehouseService> warehouse_;
    std::unique_ptr<storage::WalCheckpointer> checkpointer_;
};

struct InvariantCheck {
    std::string name;
    std::int64_t checked = 0;
    std::int64_t violations = 0;
    std::string detail;
};

struct AuditReport {
    std::vector<InvariantCheck> checks;
    [[nodiscard]] bool Clean() const;
};

enum class Pending {
    kViolation,  // every checkout must have ended (a stopped system)
    kAllowed,    // checkouts still in flight are not violations (a live system)
};

// Checks the invariants of docs/INVARIANTS.md over the stored state.
[[nodiscard]] Result<AuditReport> Audit(storage::Connection& db, Pending pending);

}  // namespace acme::runtime
