// End-to-end scenarios of the Place an Order journey on real SQLite, every service wired as
// in `acme serve`, driven step by step with a manual clock. Every scenario ends with the audit.
#include "runtime/system.hpp"

#include "messaging/dead_letters.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "catalog/graph.hpp"
#include "catalog/loader.hpp"
#include "storage/testing/backends.hpp"

namespace acme::runtime {
namespace {

using storage::Value;

std::filesystem::path SourceDir() {
    const char* src = std::getenv("ACME_SOURCE_DIR");
    return src != nullptr ? src : ".";
}

class SystemTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    void SetUp() override {
        if (GetParam() == storage::Dialect::kPostgresql) {
            ACME_TEST_DATABASE_OR_SKIP(database_, GetParam());
            options_.database_url = database_->Locator();
        }
    }
    SystemTest() {
        std::random_device rd;
        data_ = std::filesystem::temp_directory_path() / ("acme-sys-" + std::to_string(rd()));
        options_.data_dir = data_;
        options_.catalog_dir = SourceDir() / "catalog";
        options_.bus.strict_contracts = true;  // a contract violation fails the test
        options_.bus.retry_base_ms = 10;
        options_.warehouse = {100, 100, 100, 10};
        options_.deadlines = {5'000, 3'000, 5'000, 10};
    }
    ~SystemTest() override {
        system_.reset();
        std::filesystem::remove_all(data_);
    }

    void Open() {
        auto s = System::Open(options_, clock_);
        ASSERT_TRUE(s.has_value()) << s.error().message;
        system_ = std::move(*s);
    }

    std::string Checkout(const std::string& token, const std::string& sku = "SKU-MUG",
                         std::int64_t qty = 2, const std::string& customer = "cust-1",
                         const std::string& key = "") {
        auto& db = system_->db();
        auto cart = system_->cart().Create(db, customer);
        EXPECT_TRUE(cart.has_value());
        auto added = system_->cart().AddItem(db, cart->id, sku, qty);
        EXPECT_TRUE(added.has_value()) << added.error().message;
        auto accepted = system_->cart().Checkout(db, cart->id, token, key);
        EXPECT_TRUE(accepted.has_value()) << accepted.error().message;
        return accepted->checkout_id;
    }

    // Runs until idle, advancing the clock `steps` times by `ms`.
    void Drive(int steps = 0, std::int64_t ms = 100) {
        auto n = system_->RunUntilIdle();
        ASSERT_TRUE(n.has_value()) << n.error().message;
        for (int i = 0; i < steps; ++i) {
            clock_.Advance(ms);
            n = system_->RunUntilIdle();
            ASSERT_TRUE(n.has_value()) << n.error().message;
        }
    }

    ordering::CheckoutView View(const std::string& id) {
        auto v = ordering::CheckoutOrchestrator::Get(system_->db(), id);
        EXPECT_TRUE(v.has_value());
        return v.value_or(ordering::CheckoutView{});
    }

    void ExpectAuditClean() {
        auto report = Audit(system_->db(), Pending::kViolation);
        ASSERT_TRUE(report.has_value()) << report.error().message;
        for (const auto& c : report->checks) {
            EXPECT_EQ(c.violations, 0) << c.name << " (" << c.checked << " checked)";
        }
    }

    // A view's value (a failure fails the test).
    template <typename T>
    static T Ok(Result<T> r) {
        EXPECT_TRUE(r.has_value()) << r.error().message;
        return r.value_or(T{});
    }
    // The services' public views (nothing below reads a service's tables).
    fulfilment::StockLevel Stock(const std::string& sku) {
        auto stock = fulfilment::InventoryService::Stock(system_->db());
        EXPECT_TRUE(stock.has_value());
        for (const auto& l : stock.value_or(std::vector<fulfilment::StockLevel>{})) {
            if (l.sku == sku) return l;
        }
        ADD_FAILURE() << "no stock of " << sku;
        return {};
    }
    std::int64_t Available(const std::string& sku) {
        const auto l = Stock(sku);
        return l.on_hand - l.reserved;
    }
    std::string PaymentStatus(const std::string& checkout) {
        auto p = payments::PaymentService::Get(system_->db(), checkout);
        return p ? p->status : "";
    }
    std::string ReservationStatus(const std::string& checkout) {
        auto r = fulfilment::InventoryService::ReservationFor(system_->db(), checkout);
        return r ? r->status : "";
    }
    std::size_t Orders() { return ordering::OrderService::List(system_->db())->size(); }
    std::vector<messaging::Envelope> Messages(const std::string& subject, const std::string& type) {
        auto m = messaging::ReadMessages(system_->db(), {subject, type});
        EXPECT_TRUE(m.has_value());
        return m.value_or(std::vector<messaging::Envelope>{});
    }
    std::size_t Count(const std::string& type) { return Messages("", type).size(); }
    // Every stored message handed to its receivers again, as after a lost offset (SQL log)
    // or rows put back on the work list (SQL queue).
    void RedeliverEverything() {
        if (GetParam() == storage::Dialect::kSqlite) {
            ASSERT_TRUE(system_->db().Execute("DELETE FROM bus_offsets"));
            return;
        }
        for (const auto& m : Messages("", "")) {
            const Value v[] = {m.seq, m.subject, system_->contracts().ReceiversOf(m.type)};
            ASSERT_TRUE(system_->db().Execute(
                "INSERT INTO bus_deliveries(consumer, seq, subject) SELECT c, ?, ? FROM "
                "unnest(string_to_array(?, ',')) AS c ON CONFLICT DO NOTHING",
                v));
        }
    }
    std::optional<ordering::StepView> Step(const std::string& checkout, const std::string& step) {
        for (auto& v : Ok(ordering::CheckoutOrchestrator::Steps(system_->db(), checkout))) {
            if (v.step == step) return v;
        }
        return std::nullopt;
    }

    ManualClock clock_;
    std::filesystem::path data_;
    std::unique_ptr<storage::testing::TestDatabase> database_;  // PostgreSQL: a schema
    SystemOptions options_;
    std::unique_ptr<System> system_;
};

INSTANTIATE_TEST_SUITE_P(Backends, SystemTest, storage::testing::AllBackends(),
                         storage::testing::BackendName);

TEST_P(SystemTest, HappyPathReachesOrderCompleted) {
    Open();
    const std::int64_t before = Available("SKU-MUG");
    const std::string id = Checkout("tok_visa");
    Drive();
    const auto view = View(id);
    EXPECT_EQ(view.state, "completed");
    ASSERT_FALSE(view.order_id.empty());
    EXPECT_EQ(ordering::OrderService::Get(system_->db(), view.order_id)->status, "created");
    EXPECT_EQ(Available("SKU-MUG"), before - 2);
    Drive(4);  // pick, pack, ship on the warehouse schedule
    EXPECT_EQ(ordering::OrderService::Get(system_->db(), view.order_id)->status, "completed");
    EXPECT_EQ(PaymentStatus(id), "captured");
    EXPECT_EQ(Stock("SKU-MUG").on_hand, 98);
    EXPECT_EQ(Stock("SKU-MUG").reserved, 0);
    // The whole chain is correlated by the checkout id.
    std::set<std::string> correlations;
    for (const auto& m : Messages(id, "")) correlations.insert(m.correlation_id);
    EXPECT_EQ(correlations, (std::set<std::string>{id}));
    ExpectAuditClean();
}

TEST_P(SystemTest, AuditCatchesAMessageWhoseEffectWasAppliedTwice) {
    Open();
    const std::string id = Checkout("tok_visa");
    Drive();
    ASSERT_EQ(View(id).state, "completed");
    auto clean = Audit(system_->db(), Pending::kViolation);
    ASSERT_TRUE(clean.has_value());
    auto check_5b = [](const AuditReport& r) {
        for (const auto& c : r.checks) {
            if (c.name.starts_with("5b.")) return c;
        }
        return InvariantCheck{};
    };
    const InvariantCheck once = check_5b(*clean);
    EXPECT_GT(once.checked, 5);  // every message a handler published
    EXPECT_EQ(once.violations, 0);
    // What a second run of the inventory's handler for reserve-inventory would leave: its
    // reaction (inventory-reserved, caused by the same command) twice.
    ASSERT_TRUE(system_->db().ExecuteScript(
        "INSERT INTO bus_log(id, type, source, subject, dataschema, correlation_id, "
        "causation_id, traceparent, data, time, created_ms) SELECT id || '-again', type, source, "
        "subject, dataschema, correlation_id, causation_id, traceparent, data, time, created_ms "
        "FROM bus_log WHERE type = 'inventory-reserved'"));
    auto twice = Audit(system_->db(), Pending::kViolation);
    ASSERT_TRUE(twice.has_value());
    EXPECT_EQ(check_5b(*twice).violations, 1);
    EXPECT_FALSE(twice->Clean());
}

TEST_P(SystemTest, EveryAuditLineFailsWhenItsInvariantIsBroken) {
    Open();
    const std::string done = Checkout("tok_visa");
    Drive(4);                               // completed, shipped, captured
    Checkout("tok_visa", "SKU-MUG", 1000);  // rejected: out of stock
    Drive();
    ExpectAuditClean();
    struct Tamper {
        const char* check;  // the audit line's number
        const char* sql;
    };
    const Tamper tampers[] = {
        {"1.", "UPDATE ord_sagas SET order_id = NULL WHERE state = 'completed'"},
        {"2.", "UPDATE ord_orders SET reservation_id = 'no-such-reservation'"},
        {"3.", "UPDATE pay_payments SET status = 'authorized' WHERE status = 'captured'"},
        {"4a.", "UPDATE inv_stock SET on_hand = on_hand - 1 WHERE sku = 'SKU-MUG'"},
        {"4b.", "UPDATE inv_stock SET reserved = reserved + 1 WHERE sku = 'SKU-MUG'"},
        {"4c.",
         "INSERT INTO inv_reservations(id, checkout_id, status, items, updated_ms) VALUES "
         "('r-stray', 'c-stray', 'held', '[]', 0)"},
        {"5a.",
         "INSERT INTO shop_checkout_keys(idempotency_key, cart_id, checkout_id) SELECT "
         "'k-again', cart_id, 'c-again' FROM shop_checkout_keys LIMIT 1"},
        {"   checkouts still in flight",
         "UPDATE ord_sagas SET state = 'authorizing' WHERE state = 'rejected'"},
    };
    for (const Tamper& t : tampers) {
        SCOPED_TRACE(t.check);
        auto& db = system_->db();
        ASSERT_TRUE(db.Begin());
        ASSERT_TRUE(db.ExecuteScript(t.sql));
        auto report = Audit(db, Pending::kViolation);
        db.Rollback();
        ASSERT_TRUE(report.has_value());
        std::int64_t broken = -1;
        for (const auto& c : report->checks) {
            if (c.name.starts_with(t.check)) broken = c.violations;
        }
        EXPECT_GE(broken, 1);
        EXPECT_FALSE(report->Clean());
    }
    ExpectAuditClean();  // every tamper rolled back
    EXPECT_EQ(View(done).state, "completed");
}

TEST_P(SystemTest, ReturnRefundsTheCapturedPaymentOnce) {
    Open();
    const std::string id = Checkout("tok_visa");
    Drive(4);
    const std::string order = View(id).order_id;
    ASSERT_EQ(ordering::OrderService::Get(system_->db(), order)->status, "completed");
    // Only a completed order can be returned; the first request is accepted, a repeat is a
    // conflict naming the order's status.
    const std::string other = Checkout("tok_visa");
    Drive();
    auto early =
        ordering::OrderService::RequestReturn(system_->db(), system_->bus(), View(other).order_id);
    ASSERT_FALSE(early.has_value());
    EXPECT_EQ(early.error().code, ErrorCode::kConflict);
    ASSERT_TRUE(ordering::OrderService::RequestReturn(system_->db(), system_->bus(), order));
    auto again = ordering::OrderService::RequestReturn(system_->db(), system_->bus(), order);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kConflict);
    EXPECT_NE(again.error().message.find("requested already; the order is completed"),
              std::string::npos)
        << again.error().message;
    Drive(4);
    auto late = ordering::OrderService::RequestReturn(system_->db(), system_->bus(), order);
    ASSERT_FALSE(late.has_value());
    EXPECT_NE(late.error().message.find("is refunded"), std::string::npos) << late.error().message;
    EXPECT_EQ(ordering::OrderService::Get(system_->db(), order)->status, "refunded");
    EXPECT_EQ(PaymentStatus(id), "refunded");
    EXPECT_EQ(payments::PaymentService::GetRefund(system_->db(), order)->amount,
              payments::PaymentService::Get(system_->db(), id)->amount);
    EXPECT_EQ(Count("payment-refunded"), 1u);
    EXPECT_EQ(Count("refund-payment"), 1u);
    ExpectAuditClean();
}

TEST_P(SystemTest, RefundGatewayErrorsAreRetriedThenLeftForAnOperator) {
    options_.gateway.refund_error_rate = 1.0;
    Open();
    const std::string id = Checkout("tok_visa");
    Drive(4);
    const std::string order = View(id).order_id;
    ASSERT_TRUE(ordering::OrderService::RequestReturn(system_->db(), system_->bus(), order));
    Drive(20);
    EXPECT_EQ(payments::PaymentService::GetRefund(system_->db(), order)->status, "refund_failed");
    EXPECT_EQ(payments::PaymentService::GetRefund(system_->db(), order)->attempts, 3);
    EXPECT_EQ(ordering::OrderService::Get(system_->db(), order)->status, "returned");
    EXPECT_EQ(PaymentStatus(id), "captured");
    // The audit names it: money is owed to the customer.
    auto report = Audit(system_->db(), Pending::kAllowed);
    ASSERT_TRUE(report.has_value());
    std::int64_t violations = 0;
    for (const auto& c : report->checks) {
        if (c.name.starts_with("6.")) violations = c.violations;
    }
    EXPECT_EQ(violations, 1);
}

TEST_P(SystemTest, OutOfStockRejectsWithoutOrder) {
    options_.initial_stock = 3;
    Open();
    const std::string id = Checkout("tok_visa", "SKU-MUG", 5);
    Drive();
    const auto view = View(id);
    EXPECT_EQ(view.state, "rejected");
    EXPECT_EQ(view.reason, "out_of_stock");
    EXPECT_TRUE(view.order_id.empty());
    EXPECT_EQ(Orders(), 0u);
    EXPECT_TRUE(payments::PaymentService::List(system_->db())->empty());  // payment never asked
    EXPECT_EQ(Available("SKU-MUG"), 3);
    ExpectAuditClean();
}

TEST_P(SystemTest, PaymentDeclinedReleasesTheReservation) {
    Open();
    const std::string id = Checkout("tok_decline");
    Drive();
    const auto view = View(id);
    EXPECT_EQ(view.state, "rejected");
    EXPECT_EQ(view.reason, "payment_declined:card_declined");
    EXPECT_EQ(ReservationStatus(id), "released");
    EXPECT_EQ(Available("SKU-MUG"), 100);
    EXPECT_EQ(Orders(), 0u);
    ExpectAuditClean();
}

TEST_P(SystemTest, OrderCreationFailureCompensatesInReverse) {
    Open();
    const std::string id = Checkout("tok_visa", "SKU-MUG", 1, "fail-order-7");
    Drive();
    const auto view = View(id);
    EXPECT_EQ(view.state, "rejected");
    EXPECT_EQ(view.reason, "order_failed:order_store_rejected");
    EXPECT_EQ(PaymentStatus(id), "voided");
    EXPECT_EQ(ReservationStatus(id), "released");
    // Reverse order: void-payment was published before release-inventory.
    std::vector<std::string> undo;
    for (const auto& m : Messages(id, "")) {
        if (m.type == "void-payment" || m.type == "release-inventory") undo.push_back(m.type);
    }
    EXPECT_EQ(undo, (std::vector<std::string>{"void-payment", "release-inventory"}));
    EXPECT_EQ(Orders(), 0u);
    ExpectAuditClean();
}

TEST_P(SystemTest, PaymentTimeoutThenLateSuccessIsVoided) {
    options_.payments.late_answer_ms = 10'000;
    Open();
    const std::string id = Checkout("tok_timeout");
    Drive();
    EXPECT_EQ(View(id).state, "pending");
    Drive(31);  // past the 3 s authorization deadline
    auto view = View(id);
    EXPECT_EQ(view.state, "rejected");
    EXPECT_EQ(view.reason, "payment_timeout");
    EXPECT_EQ(Available("SKU-MUG"), 100);
    Drive(80);  // the gateway answers at 10 s: too late
    EXPECT_EQ(PaymentStatus(id), "voided");
    EXPECT_EQ(View(id).state, "rejected");
    EXPECT_EQ(Orders(), 0u);
    ExpectAuditClean();
}

TEST_P(SystemTest, SagaStepsAreRecordedOnceWhenTheyFinish) {
    Open();
    const std::string id = Checkout("tok_timeout");
    Drive();
    // reserve-inventory finished; authorize-payment runs, its start kept on the saga.
    auto steps = ordering::CheckoutOrchestrator::Steps(system_->db(), id);
    ASSERT_TRUE(steps.has_value());
    ASSERT_EQ(steps->size(), 1u);
    EXPECT_EQ((*steps)[0].step, "reserve-inventory");
    EXPECT_EQ((*steps)[0].outcome, "ok");
    const std::int64_t started = View(id).step_started_ms;
    EXPECT_GT(started, 0);
    Drive(31);  // past the 3 s authorization deadline
    const auto authorize = Step(id, "authorize-payment");
    ASSERT_TRUE(authorize.has_value());
    EXPECT_EQ(authorize->outcome, "timeout");
    EXPECT_EQ(authorize->started_ms, started);
    EXPECT_EQ(authorize->finished_ms - authorize->started_ms,
              3000);  // the authorization deadline, on the test's clock
}

TEST_P(SystemTest, SagaInFlightAcrossTheStepColumnUpgradeKeepsItsStepRow) {
    if (GetParam() != storage::Dialect::kSqlite) {
        GTEST_SKIP() << "databases from before versioned migrations are SQLite ones";
    }
    Open();
    const std::string id = Checkout("tok_timeout");
    Drive();
    // The database as the previous version left it: no step_started_ms, and a row for the
    // running step, started but not finished.
    system_.reset();
    {
        auto db = storage::OpenSqlite(data_ / "acme.sqlite");
        ASSERT_TRUE(db.has_value());
        ASSERT_TRUE((*db)->ExecuteScript(
            "ALTER TABLE ord_sagas DROP COLUMN step_started_ms; DELETE FROM schema_migrations; "
            "INSERT INTO ord_saga_steps(checkout_id, step, started_ms) SELECT checkout_id, "
            "'authorize-payment', 42 FROM ord_sagas"));
    }
    Open();
    EXPECT_EQ(View(id).step_started_ms, 0);  // not recorded before the upgrade
    Drive(31);
    EXPECT_EQ(View(id).reason, "payment_timeout");
    const auto step = Step(id, "authorize-payment");
    ASSERT_TRUE(step.has_value());
    EXPECT_EQ(step->started_ms, 42);
    EXPECT_EQ(step->outcome, "timeout");
    ExpectAuditClean();
}

TEST_P(SystemTest, IdempotencyKeyReturnsTheSameCheckout) {
    Open();
    auto& db = system_->db();
    auto cart = system_->cart().Create(db, "cust-2");
    ASSERT_TRUE(system_->cart().AddItem(db, cart->id, "SKU-BEANS", 1));
    auto first = system_->cart().Checkout(db, cart->id, "tok_visa", "key-123");
    auto again = system_->cart().Checkout(db, cart->id, "tok_visa", "key-123");
    ASSERT_TRUE(first && again);
    EXPECT_EQ(first->checkout_id, again->checkout_id);
    EXPECT_TRUE(again->replayed);
    auto other_key = system_->cart().Checkout(db, cart->id, "tok_visa", "key-456");
    ASSERT_FALSE(other_key.has_value());
    EXPECT_EQ(other_key.error().code, ErrorCode::kConflict);
    // The key of a refused checkout is not kept: it is free for the next cart.
    auto empty = system_->cart().Create(db, "cust-3");
    auto refused = system_->cart().Checkout(db, empty->id, "tok_visa", "key-789");
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::kConflict);  // empty cart
    EXPECT_EQ(system_->cart().Get(db, empty->id)->status, "open");
    auto unknown = system_->cart().Checkout(db, "no-such-cart", "tok_visa", "key-789");
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
    auto second = system_->cart().Create(db, "cust-4");
    ASSERT_TRUE(system_->cart().AddItem(db, second->id, "SKU-BEANS", 1));
    auto reused = system_->cart().Checkout(db, second->id, "tok_visa", "key-123");
    ASSERT_FALSE(reused.has_value());
    EXPECT_EQ(reused.error().code, ErrorCode::kUnprocessable);  // the key is another cart's
    EXPECT_EQ(system_->cart().Get(db, second->id)->status, "open");
    for (const char* key : {"key-456", "key-789"}) {
        EXPECT_EQ(shopping::CartService::CheckoutForKey(db, key).error().code,
                  ErrorCode::kNotFound);
    }
    auto fresh = system_->cart().Checkout(db, second->id, "tok_visa", "key-456");
    ASSERT_TRUE(fresh.has_value()) << fresh.error().message;
    EXPECT_FALSE(fresh->replayed);
    Drive();
    EXPECT_EQ(ordering::CheckoutOrchestrator::List(db)->size(), 2u);
    EXPECT_EQ(Orders(), 2u);
    ExpectAuditClean();
}

TEST_P(SystemTest, DuplicatedAndLateDeliveryHasNoSecondEffect) {
    Open();
    const std::string id = Checkout("tok_visa");
    Drive(4);
    ASSERT_EQ(View(id).state, "completed");
    // The whole log is delivered again. The SQL log's inbox skips it; on the SQL queue the
    // work list is the inbox, so the handlers run again and must see for themselves that
    // they acted before.
    RedeliverEverything();
    Drive(4);
    EXPECT_EQ(Orders(), 1u);
    EXPECT_EQ(Stock("SKU-MUG").on_hand, 98);
    if (GetParam() == storage::Dialect::kSqlite) {
        EXPECT_GT(system_->bus().Stats().duplicates, 10);
    }
    // A second, different authorization for the finished checkout arrives out of order.
    ASSERT_TRUE(storage::InTransaction(system_->db(), [&] {
        return system_->bus().Publish(
            system_->db(), "payment-service", "payment-authorized", id,
            R"({"checkoutId":")" + id +
                R"(","authorizationId":"auth-stray","amount":{"amount":2500,"currency":"EUR"}})");
    }));
    Drive();
    std::size_t stray_voids = 0;
    for (const auto& m : Messages("", "void-payment")) {
        if (m.data.find("auth-stray") != std::string::npos) ++stray_voids;
    }
    EXPECT_EQ(stray_voids, 1u);
    EXPECT_EQ(View(id).state, "completed");
    ExpectAuditClean();
}

TEST_P(SystemTest, CancelBeforeShipmentReleasesStockAndVoidsPayment) {
    Open();
    const std::string id = Checkout("tok_visa");
    Drive();
    const std::string order = View(id).order_id;
    auto cancel = ordering::OrderService::RequestCancel(system_->db(), system_->bus(), order);
    ASSERT_TRUE(cancel.has_value()) << cancel.error().message;
    Drive(5);
    EXPECT_EQ(ordering::OrderService::Get(system_->db(), order)->status, "cancelled");
    EXPECT_EQ(PaymentStatus(id), "voided");
    EXPECT_EQ(Available("SKU-MUG"), 100);
    EXPECT_EQ(*fulfilment::WarehouseService::ShipmentState(system_->db(), order), "cancelled");
    auto again = ordering::OrderService::RequestCancel(system_->db(), system_->bus(), order);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kConflict);
    ExpectAuditClean();
}

TEST_P(SystemTest, CancelRacingTheShipmentLosesCleanly) {
    Open();
    const std::string id = Checkout("tok_visa");
    Drive(2);  // picked, then packed
    const std::string order = View(id).order_id;
    ASSERT_EQ(ordering::OrderService::Get(system_->db(), order)->status, "packed");
    // The customer cancels while the parcel is leaving: the request is accepted (packed),
    // then the warehouse ships in the same round, before it sees the cancellation.
    clock_.Advance(100);
    ASSERT_TRUE(ordering::OrderService::RequestCancel(system_->db(), system_->bus(), order));
    Drive(3);
    // The warehouse decided: shipped, so no Shipment Cancelled; the order completes.
    EXPECT_EQ(ordering::OrderService::Get(system_->db(), order)->status, "completed");
    EXPECT_EQ(Count("order-cancelled"), 1u);
    EXPECT_EQ(Count("shipment-cancelled"), 0u);
    EXPECT_EQ(PaymentStatus(id), "captured");
    EXPECT_EQ(Stock("SKU-MUG").on_hand, 98);
    EXPECT_TRUE(messaging::ListDeadLetters(system_->db(), messaging::Replayed::kExclude)->empty());
    ExpectAuditClean();
}

TEST_P(SystemTest, ConcurrentCheckoutsNeverOversellTheLastUnit) {
    options_.initial_stock = 1;
    options_.warehouse = {5, 5, 5, 5};
    options_.background_checkpoint = true;  // started and stopped with the system
    SystemClock real;
    auto s = System::Open(options_, real);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    system_ = std::move(*s);
    ASSERT_TRUE(system_->Start());
    std::vector<std::string> ids(6);
    std::vector<std::thread> buyers;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        buyers.emplace_back([&, i] {
            auto db = system_->Connect();
            ASSERT_TRUE(db.has_value());
            auto cart = system_->cart().Create(**db, "racer-" + std::to_string(i));
            ASSERT_TRUE(system_->cart().AddItem(**db, cart->id, "SKU-GRINDER", 1));
            auto accepted = system_->cart().Checkout(**db, cart->id, "tok_visa", "");
            ASSERT_TRUE(accepted.has_value()) << accepted.error().message;
            ids[i] = accepted->checkout_id;
            system_->bus().Notify();
        });
    }
    for (auto& t : buyers) t.join();
    auto finished = [&] {
        auto& db = system_->db();
        std::size_t ended = 0;
        for (const auto& v : Ok(ordering::CheckoutOrchestrator::List(db))) {
            ended += v.state != "pending" ? 1u : 0u;
        }
        bool orders_done = true;
        for (const auto& o : Ok(ordering::OrderService::List(db))) {
            orders_done = orders_done && o.status == "completed";
        }
        // order-completed reaches the inventory one round after the order's status
        bool none_held = true;
        for (const auto& r : Ok(fulfilment::InventoryService::Reservations(db))) {
            none_held = none_held && r.status != "held";
        }
        return ended == 6 && orders_done && none_held;
    };
    for (int i = 0; i < 500 && !finished(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    system_->Stop();
    ASSERT_TRUE(finished());
    std::map<std::string, int> ends;
    for (const auto& v : Ok(ordering::CheckoutOrchestrator::List(system_->db()))) {
        ++ends[v.state == "completed" ? "completed" : v.reason];
    }
    EXPECT_EQ(ends["completed"], 1);
    EXPECT_EQ(ends["out_of_stock"], 5);
    EXPECT_EQ(Stock("SKU-GRINDER").on_hand, 0);
    ExpectAuditClean();
}

TEST_P(SystemTest, GatewayFaultsByRateAllEndCleanly) {
    // A third of the gateway's answers are errors (retried, then left unanswered), timeouts
    // (the deadline compensates) or declines; every checkout still ends and the audit holds.
    options_.gateway = {.decline_rate = 0.1, .error_rate = 0.1, .timeout_rate = 0.1, .seed = 42};
    options_.bus.max_attempts = 3;
    Open();
    std::vector<std::string> ids;
    for (int i = 0; i < 60; ++i) ids.push_back(Checkout("tok_visa", "SKU-FILTER", 1));
    Drive(60);
    std::map<std::string, int> outcomes;
    for (const auto& id : ids) {
        const auto v = View(id);
        ++outcomes[v.state == "rejected" ? v.reason.substr(0, v.reason.find(':')) : v.state];
    }
    EXPECT_EQ(outcomes["pending"], 0);
    EXPECT_GT(outcomes["completed"], 30);
    EXPECT_GT(outcomes["payment_declined"], 0);
    EXPECT_GT(outcomes["payment_timeout"], 0);
    // Gateway errors are retried by the payment worker, outside any transaction.
    std::size_t retried = 0;
    for (const auto& p : Ok(payments::PaymentService::List(system_->db()))) {
        retried += p.attempts > 0 ? 1u : 0u;
    }
    EXPECT_GT(retried, 0u);
    ExpectAuditClean();
}

TEST_P(SystemTest, MalformedMessageIsDeadLetteredAndTheRestFlows) {
    options_.bus.max_attempts = 2;
    Open();
    // A row that bypassed the contract check: reserve-inventory without items.
    ASSERT_TRUE(system_->db().Execute(
        "INSERT INTO bus_log(id, type, source, subject, dataschema, correlation_id, causation_id, "
        "traceparent, data, time, created_ms) VALUES ('bad-1', 'reserve-inventory', "
        "'checkout-orchestrator', 'x', 'reserve-inventory@1.0.0', 'x', '', '', "
        "'{\"checkoutId\":\"x\"}', '', 0)"));
    if (GetParam() == storage::Dialect::kPostgresql) {  // and on the receiver's work list
        ASSERT_TRUE(system_->db().Execute(
            "INSERT INTO bus_deliveries(consumer, seq, subject) SELECT 'inventory-service', seq, "
            "subject FROM bus_log WHERE id = 'bad-1'"));
    }
    const std::string id = Checkout("tok_visa");
    Drive(20);
    EXPECT_EQ(View(id).state, "completed");
    auto dead = messaging::ListDeadLetters(system_->db(), messaging::Replayed::kExclude);
    ASSERT_TRUE(dead.has_value());
    ASSERT_EQ(dead->size(), 1u);
    EXPECT_EQ(dead->front().type, "reserve-inventory");
    EXPECT_EQ(dead->front().consumer, "inventory-service");
    EXPECT_NE(dead->front().reason.find("items"), std::string::npos) << dead->front().reason;
}

TEST(CheckoutSagaTest, DefinitionMatchesTheCatalogFlow) {
    auto catalog = catalog::LoadCatalog(SourceDir() / "catalog");
    ASSERT_TRUE(catalog.has_value());
    const catalog::Graph graph(*catalog);
    const auto problems = saga::CheckAgainstFlow(saga::CheckoutSaga(), graph, "checkout-saga");
    for (const auto& p : problems) ADD_FAILURE() << p;
    // And a definition that disagrees is caught.
    auto wrong = saga::CheckoutSaga();
    std::swap(wrong.steps[0], wrong.steps[1]);
    EXPECT_FALSE(saga::CheckAgainstFlow(wrong, graph, "checkout-saga").empty());
    auto no_undo = saga::CheckoutSaga();
    no_undo.steps[0].compensation = "forget-inventory";
    EXPECT_FALSE(saga::CheckAgainstFlow(no_undo, graph, "checkout-saga").empty());
}

}  // namespace
}  // namespace acme::runtime
