#include "runtime/system.hpp"

#include <algorithm>
#include <functional>

#include "catalog/loader.hpp"

namespace acme::runtime {

namespace {
using storage::Value;
constexpr const char* kGateway = "simulated-gateway";
}  // namespace

System::~System() { Stop(); }

std::filesystem::path System::DatabasePath() const { return options_.data_dir / "acme.sqlite"; }

Result<std::unique_ptr<storage::Connection>> System::Connect() const {
    if (!options_.database_url.empty()) {
        return storage::OpenPostgres(options_.database_url, {.application_name = "acme"});
    }
    return storage::OpenSqlite(DatabasePath(), DatabaseOptions());
}

Result<std::unique_ptr<storage::Connection>> System::ConnectGateway() const {
    if (options_.database_url.empty()) {
        // A file of its own, the stand-in for a system outside ours: its one-row commits per
        // call neither queue behind the bus's writer nor wait for an fsync each (WAL with
        // synchronous=NORMAL keeps them through a crash of the process, which is what a
        // repeated call must find).
        return storage::OpenSqlite(options_.data_dir / "gateway.sqlite",
                                   {.durability = storage::Durability::kNormal});
    }
    auto c = Connect();
    if (!c) return c;
    if (auto as = bus_->ActAs(**c, kGateway); !as) return std::unexpected(as.error());
    return c;
}

storage::SqliteOptions System::DatabaseOptions() const {
    return {.durability = options_.durability};
}

storage::WalCheckpointer::Stats System::CheckpointStats() const {
    return checkpointer_ ? checkpointer_->stats() : storage::WalCheckpointer::Stats{};
}

const std::vector<std::string>& ServiceNames() {
    static const std::vector<std::string> kNames = {
        shopping::CartService::kService,          ordering::CheckoutApi::kService,
        ordering::CheckoutOrchestrator::kService, fulfilment::InventoryService::kService,
        ordering::OrderService::kService,         payments::PaymentService::kService,
        shopping::PromotionsService::kService,    fulfilment::WarehouseService::kService};
    return kNames;
}

bool System::Runs(const std::string& service) const {
    return options_.services.empty() || options_.services.contains(service);
}

Result<void> MigrateServices(storage::Connection& db) {
    for (auto* migrate :
         {&shopping::CartService::Migrate, &ordering::CheckoutApi::Migrate,
          &ordering::CheckoutOrchestrator::Migrate, &ordering::OrderService::Migrate,
          &payments::PaymentService::Migrate, &fulfilment::InventoryService::Migrate,
          &fulfilment::WarehouseService::Migrate}) {
        if (auto ok = (*migrate)(db); !ok) return ok;
    }
    return {};
}

namespace {

// The demo data, each service's part after `take(service)` agreed (false: skipped) and
// prepared the connection for it.
Result<void> SeedParts(storage::Connection& db, std::int64_t initial_stock,
                       const std::function<Result<bool>(const char* service)>& take) {
    const auto products = shopping::DemoProducts();
    auto cart = take(shopping::CartService::kService);
    if (!cart) return std::unexpected(cart.error());
    if (*cart) {
        if (auto ok = shopping::CartService::Seed(db, products); !ok) return ok;
    }
    auto inventory = take(fulfilment::InventoryService::kService);
    if (!inventory) return std::unexpected(inventory.error());
    if (!*inventory) return {};
    std::vector<fulfilment::StockLevel> stock;
    for (const auto& p : products) stock.push_back({p.sku, initial_stock, 0, 0});
    return fulfilment::InventoryService::Seed(db, stock);
}

}  // namespace

Result<void> SeedDemo(storage::Connection& db, std::int64_t initial_stock) {
    return SeedParts(db, initial_stock, [](const char*) -> Result<bool> { return true; });
}

Result<std::unique_ptr<System>> System::Open(SystemOptions options, const Clock& clock) {
    auto catalog = catalog::LoadCatalog(options.catalog_dir, {.keep_bodies = false});
    if (!catalog) return std::unexpected(catalog.error());
    auto contracts = messaging::ContractRegistry::FromCatalog(*catalog);
    if (!contracts) return std::unexpected(contracts.error());
    std::unique_ptr<System> s(new System());
    s->options_ = std::move(options);
    if (!s->options_.database_url.empty()) {
        if (!storage::IsPostgresUrl(s->options_.database_url)) {
            return MakeError(ErrorCode::kInvalidArgument, "--db takes a postgresql:// URL, not '" +
                                                              s->options_.database_url + "'");
        }
        s->options_.bus.backend = storage::Dialect::kPostgresql;
    }
    for (const std::string& name : s->options_.services) {
        const auto& known = ServiceNames();
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            return MakeError(ErrorCode::kInvalidArgument,
                             "no service '" + name + "' (services: " + list + ")");
        }
    }
    if (s->options_.service_roles) {
        if (s->options_.database_url.empty()) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "service roles are PostgreSQL's: they need --db postgresql://...");
        }
        s->options_.bus.service_roles = true;
    }
    s->contracts_ = std::make_unique<messaging::ContractRegistry>(std::move(*contracts));
    s->ids_ = std::make_unique<IdGenerator>(clock);
    s->bus_ = std::make_unique<messaging::Bus>(*s->contracts_, clock, *s->ids_, s->options_.bus);
    auto db = s->Connect();
    if (!db) return std::unexpected(db.error());
    s->db_ = std::move(*db);
    if (auto ok = s->MigrateAndSeed(); !ok) return std::unexpected(ok.error());
    s->cart_ = std::make_unique<shopping::CartService>(*s->bus_, *s->ids_);
    s->checkout_api_ = std::make_unique<ordering::CheckoutApi>();
    s->orchestrator_ = std::make_unique<ordering::CheckoutOrchestrator>(s->options_.deadlines);
    s->orders_ = std::make_unique<ordering::OrderService>(*s->ids_, s->options_.order_faults);
    // The simulated gateway keeps its ledger where ConnectGateway says.
    s->gateway_ = std::make_unique<payments::SimulatedGateway>(
        s->options_.gateway, [system = s.get()] { return system->ConnectGateway(); });
    s->payments_ =
        std::make_unique<payments::PaymentService>(*s->gateway_, *s->ids_, s->options_.payments);
    s->inventory_ = std::make_unique<fulfilment::InventoryService>(*s->ids_);
    s->warehouse_ = std::make_unique<fulfilment::WarehouseService>(s->options_.warehouse);
    const std::pair<const char*, std::function<Result<void>()>> registrations[] = {
        {shopping::PromotionsService::kService,
         [&] { return shopping::PromotionsService::Register(*s->bus_); }},
        {ordering::CheckoutApi::kService, [&] { return s->checkout_api_->Register(*s->bus_); }},
        {ordering::CheckoutOrchestrator::kService,
         [&] { return s->orchestrator_->Register(*s->bus_); }},
        {ordering::OrderService::kService, [&] { return s->orders_->Register(*s->bus_); }},
        {payments::PaymentService::kService, [&] { return s->payments_->Register(*s->bus_); }},
        {fulfilment::InventoryService::kService, [&] { return s->inventory_->Register(*s->bus_); }},
        {fulfilment::WarehouseService::kService,
         [&] { return s->warehouse_->Register(*s->bus_); }}};
    for (const auto& [service, register_it] : registrations) {
        if (!s->Runs(service)) continue;
        if (auto ok = register_it(); !ok) return std::unexpected(ok.error());
    }
    // Queries only read, and every process reaches the one database: one whose answering
    // service runs elsewhere is answered here, by that service's code, without a hop (as the
    // asker: with service roles, a service may read the tables of those it asks, roles.hpp).
    if (!s->Runs(shopping::PromotionsService::kService)) {
        if (auto ok = shopping::PromotionsService::Register(*s->bus_); !ok) {
            return std::unexpected(ok.error());
        }
    }
    if (!s->Runs(ordering::OrderService::kService)) {
        if (auto ok = ordering::OrderService::RegisterQueries(*s->bus_); !ok) {
            return std::unexpected(ok.error());
        }
    }
    // Where checkouts are accepted, admission control (--max-backlog) sees the whole work list,
    // also when the services that deliver it run in other processes.
    if (s->Runs(shopping::CartService::kService)) {
        s->bus_->WatchBacklog(shopping::CartService::kService);
    }
    return s;
}

Result<void> System::MigrateAndSeed() {
    storage::Connection& db = *db_;
    const bool roles = options_.service_roles;
    // With service roles, the login reads what was migrated as one of its services (each may
    // read schema_migrations); a pending step needs the owner, who runs `acme db roles`.
    auto explain = [&](Error e) -> Result<void> {
        if (roles && e.code == ErrorCode::kFailedPrecondition) {
            e.message +=
                " (with --service-roles the login must be a member of its services' roles, "
                "and the schema is migrated by `acme db roles`, as the database's owner, "
                "before the services start)";
        }
        return std::unexpected(std::move(e));
    };
    if (roles) {
        const std::string any = options_.services.empty()
                                    ? std::string(shopping::CartService::kService)
                                    : *options_.services.begin();
        if (auto ok = bus_->ActAs(db, any); !ok) return explain(ok.error());
    }
    if (auto ok = messaging::Bus::Migrate(db); !ok) return explain(ok.error());
    if (auto ok = MigrateServices(db); !ok) return explain(ok.error());
    // The gateway's ledger, where the payment service (its only caller) runs.
    if (Runs(payments::PaymentService::kService)) {
        auto ledger = ConnectGateway();
        if (!ledger) return explain(ledger.error());
        if (auto ok = payments::SimulatedGateway::Migrate(**ledger); !ok) {
            return explain(ok.error());
        }
    }
    if (!options_.seed) return {};
    // With roles, each service seeds its own tables, as itself, where it runs.
    return SeedParts(db, options_.initial_stock, [&](const char* service) -> Result<bool> {
        if (!roles) return true;
        if (!Runs(service)) return false;
        if (auto ok = bus_->ActAs(db, service); !ok) return std::unexpected(ok.error());
        return true;
    });
}

Result<void> System::Start() {
    if (options_.database_url.empty() && options_.background_checkpoint && !checkpointer_) {
        auto c = storage::StartWalCheckpointer(DatabasePath(), DatabaseOptions(),
                                               options_.bus.dispatcher_nice);
        if (!c) return std::unexpected(c.error());
        checkpointer_ = std::move(*c);
    }
    messaging::Bus::ListenerFactory listen;
    if (!options_.database_url.empty()) {
        listen = [this](const std::vector<std::string>& channels) {
            return storage::ListenPostgres(options_.database_url, channels);
        };
    }
    return bus_->Start([this] { return Connect(); }, listen);
}

void System::Stop() {
    if (bus_) bus_->Stop();
    checkpointer_.reset();
}

Result<std::size_t> System::RunUntilIdle() { return bus_->RunUntilIdle(*db_); }

bool AuditReport::Clean() const {
    for (const auto& c : checks) {
        if (c.violations > 0) return false;
    }
    return true;
}

Result<AuditReport> Audit(storage::Connection& db, Pending pending_ok) {
    const bool allow_pending = pending_ok == Pending::kAllowed;
    AuditReport report;
    auto count = [&](const char* sql) -> Result<std::int64_t> {
        auto rows = db.Query(sql);
        if (!rows) return std::unexpected(rows.error());
        return rows->empty() ? 0 : rows->front().Int(0);
    };
    struct Query {
        const char* name;
        const char* checked;
        const char* violations;
    };
    std::string pending_sql =
        "SELECT (SELECT count(*) FROM shop_checkout_keys k WHERE NOT EXISTS (SELECT 1 FROM "
        "ord_sagas "
        "s WHERE s.checkout_id = k.checkout_id)) + (SELECT count(*) FROM ord_sagas WHERE state NOT "
        "IN ('completed', 'rejected'))";
    const Query queries[] = {
        {"1. every checkout reaches exactly one terminal outcome",
         "SELECT count(*) FROM shop_checkout_keys",
         "SELECT count(*) FROM ord_sagas WHERE (state = 'completed' AND order_id IS NULL) OR "
         "(state = 'rejected' AND (reason IS NULL OR order_id IS NOT NULL))"},
        {"2. no order without a successful reservation and authorization",
         "SELECT count(*) FROM ord_orders",
         "SELECT count(*) FROM ord_orders o WHERE NOT EXISTS (SELECT 1 FROM inv_reservations r "
         "WHERE r.id = o.reservation_id) OR NOT EXISTS (SELECT 1 FROM pay_payments p WHERE "
         "p.authorization_id = o.authorization_id) OR NOT EXISTS (SELECT 1 FROM ord_sagas s WHERE "
         "s.checkout_id = o.checkout_id AND s.state = 'completed')"},
        {"3. every authorization is captured, voided, or attached to a live order",
         "SELECT count(*) FROM pay_payments WHERE authorization_id IS NOT NULL",
         "SELECT count(*) FROM pay_payments p WHERE p.status = 'authorized' AND NOT EXISTS (SELECT "
         "1 "
         "FROM ord_orders o WHERE o.authorization_id = p.authorization_id AND o.status NOT IN "
         "('cancelled', 'completed'))"},
        {"4c. no held reservation outlives its checkout", "SELECT count(*) FROM inv_reservations",
         allow_pending ? nullptr
                       : "SELECT count(*) FROM inv_reservations r WHERE r.status = 'held' AND NOT "
                         "EXISTS (SELECT 1 FROM ord_orders o WHERE o.reservation_id = r.id AND "
                         "o.status NOT IN ('cancelled', 'completed'))"},
        {"5a. no idempotency key produced two checkouts; one order per checkout",
         "SELECT count(*) FROM shop_checkout_keys",
         "SELECT (SELECT count(*) FROM (SELECT cart_id FROM shop_checkout_keys GROUP BY cart_id "
         "HAVING count(*) > 1) AS k) + (SELECT count(*) FROM (SELECT checkout_id FROM ord_orders "
         "GROUP BY checkout_id HAVING count(*) > 1) AS o)"},
        // A message handled twice by one consumer shows in what the handler published: the
        // same message type from the same service, caused by the same message, twice.
        {"5b. no message effect applied twice (one reaction per message and consumer)",
         "SELECT count(*) FROM bus_log WHERE causation_id <> ''",
         "SELECT count(*) FROM (SELECT 1 FROM bus_log WHERE causation_id <> '' GROUP BY "
         "causation_id, source, type HAVING count(*) > 1) AS twice"},
        {"6. a returned order is refunded once, never more than was captured",
         "SELECT count(*) FROM pay_refunds",
         allow_pending
             ? "SELECT (SELECT count(*) FROM pay_refunds r JOIN pay_payments p ON p.checkout_id = "
               "r.checkout_id WHERE r.amount > p.amount OR r.status = 'refund_failed') + (SELECT "
               "count(*) FROM ord_orders o WHERE o.status = 'refunded' AND NOT EXISTS (SELECT 1 "
               "FROM pay_refunds r WHERE r.order_id = o.id AND r.status = 'refunded'))"
             : "SELECT (SELECT count(*) FROM pay_refunds r JOIN pay_payments p ON p.checkout_id = "
               "r.checkout_id WHERE r.amount > p.amount OR r.status <> 'refunded') + (SELECT "
               "count(*) FROM ord_orders o WHERE o.status IN ('refunded', 'returned') AND NOT "
               "EXISTS (SELECT 1 FROM pay_refunds r WHERE r.order_id = o.id AND r.status = "
               "'refunded'))"},
    };
    // Stock from the inventory's own view (its reservations' items are JSON text, summed
    // there, not with a database's JSON functions).
    auto accounts = fulfilment::InventoryService::Accounts(db);
    if (!accounts) return std::unexpected(accounts.error());
    InvariantCheck on_hand{"4a. stock: on-hand = initial - committed",
                           static_cast<std::int64_t>(accounts->size()),
                           0,
                           {}};
    InvariantCheck reserved{"4b. stock: reserved = held reservations of live orders and checkouts",
                            static_cast<std::int64_t>(accounts->size()),
                            0,
                            {}};
    for (const fulfilment::StockAccount& a : *accounts) {
        const fulfilment::StockLevel& l = a.level;
        if (l.on_hand != l.initial - a.committed) ++on_hand.violations;
        if (l.reserved != a.held || l.on_hand < 0 || l.reserved < 0 || l.reserved > l.on_hand) {
            ++reserved.violations;
        }
    }
    bool stock_added = false;
    for (const Query& q : queries) {
        if (!stock_added && std::string_view(q.name).starts_with("4c.")) {
            report.checks.push_back(on_hand);
            report.checks.push_back(reserved);
            stock_added = true;
        }
        InvariantCheck c{q.name, 0, 0, {}};
        auto checked = count(q.checked);
        if (!checked) return std::unexpected(checked.error());
        c.checked = *checked;
        if (q.violations != nullptr) {
            auto v = count(q.violations);
            if (!v) return std::unexpected(v.error());
            c.violations = *v;
        }
        report.checks.push_back(std::move(c));
    }
    auto pending = count(pending_sql.c_str());
    if (!pending) return std::unexpected(pending.error());
    InvariantCheck p{"   checkouts still in flight", *pending, allow_pending ? 0 : *pending,
                     allow_pending ? "allowed (--allow-pending)" : ""};
    report.checks.push_back(std::move(p));
    auto dead = count("SELECT count(*) FROM bus_dead_letters WHERE replayed = 0");
    if (!dead) return std::unexpected(dead.error());
    report.checks.push_back({"   dead letters awaiting replay", *dead, 0, "see acme dlq list"});
    return report;
}

}  // namespace acme::runtime
