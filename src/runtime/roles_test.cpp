// Least privilege on the PostgreSQL test server: the roles `acme db roles` creates, what each
// may do, and the whole journey with every service's work running as its own role.
#include "runtime/roles.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <regex>

#include "catalog/loader.hpp"
#include "messaging/bus.hpp"
#include "runtime/system.hpp"
#include "storage/testing/backends.hpp"

namespace acme::runtime {
namespace {

std::filesystem::path SourceDir() {
    const char* src = std::getenv("ACME_SOURCE_DIR");
    return src != nullptr ? src : ".";
}

class RolesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ACME_TEST_DATABASE_OR_SKIP(database_, storage::Dialect::kPostgresql);
        auto owner = database_->Connect();
        ASSERT_TRUE(owner.has_value()) << owner.error().message;
        owner_ = std::move(*owner);
        auto catalog = catalog::LoadCatalog(SourceDir() / "catalog", {.keep_bodies = false});
        ASSERT_TRUE(catalog.has_value()) << catalog.error().message;
        catalog_ = std::move(*catalog);
        // Roles are the server's, not the database's: a name of this test's own.
        std::random_device rd;
        suffix_ = std::to_string(rd() % 1'000'000'000);
    }
    void TearDown() override {
        for (const std::string& login : made_) {
            (void)owner_->ExecuteScript("DROP ROLE IF EXISTS " + login);
        }
    }

    std::string LoginName(const std::string& what) {
        std::string name = "t_" + what + "_" + suffix_;
        made_.push_back(name);
        return name;
    }

    Result<std::vector<std::string>> Setup(const std::vector<Login>& logins) {
        return SetUpRoles(*owner_, catalog_, logins);
    }

    // The test database's URL, connecting as `login`.
    std::string UrlAs(const std::string& login) const {
        static const std::regex kUser(R"(^(postgres(ql)?://)([^@/]*@)?)");
        return std::regex_replace(database_->Locator(), kUser, "$1" + login + "@",
                                  std::regex_constants::format_first_only);
    }

    std::unique_ptr<storage::Connection> ConnectAs(const std::string& login) {
        auto c = storage::OpenPostgres(UrlAs(login));
        EXPECT_TRUE(c.has_value()) << c.error().message;
        return c ? std::move(*c) : nullptr;
    }

    std::unique_ptr<storage::testing::TestDatabase> database_;
    std::unique_ptr<storage::Connection> owner_;
    catalog::Catalog catalog_;
    std::string suffix_;
    std::vector<std::string> made_;
};

// A statement refused for want of a privilege.
void ExpectDenied(const Result<std::vector<storage::Row>>& rows, const std::string& what);
void ExpectDenied(const Result<void>& r, const std::string& what) {
    ASSERT_FALSE(r.has_value()) << what << " was allowed";
    EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition) << r.error().message;
    EXPECT_NE(r.error().message.find("permission denied"), std::string::npos)
        << what << ": " << r.error().message;
}

void ExpectDenied(const Result<std::vector<storage::Row>>& rows, const std::string& what) {
    ExpectDenied(rows ? Result<void>{} : Result<void>(std::unexpected(rows.error())), what);
}

TEST_F(RolesTest, CartApisRoleCannotReadOrChangePaymentsTables) {
    const std::string login = LoginName("cart");
    ASSERT_TRUE(Setup({{login, {"cart-api"}}}));
    const std::string order = "INSERT INTO pay_payments(checkout_id, status) VALUES ('c', 'x')";
    // Something the payment service owns, for the cart to try to see.
    ASSERT_TRUE(owner_->Execute(
        "INSERT INTO pay_payments(checkout_id, status, amount, currency, token, updated_ms) "
        "VALUES ('c1', 'authorized', 100, 'EUR', 'tok_visa', 0)"));

    auto db = ConnectAs(login);
    ASSERT_NE(db, nullptr);
    // The login alone (NOINHERIT) can do nothing, not even see the tables' schema: every
    // piece of work names its service.
    auto alone = db->Query("SELECT count(*) FROM shop_carts");
    ASSERT_FALSE(alone.has_value()) << "the login alone read shop_carts";
    EXPECT_NE(alone.error().message.find("does not exist"), std::string::npos)
        << alone.error().message;

    ASSERT_TRUE(db->ActAs(messaging::ServiceRole("cart-api")));
    EXPECT_TRUE(db->Query("SELECT count(*) FROM shop_carts").has_value());
    ExpectDenied(db->Query("SELECT count(*) FROM pay_payments"), "cart-api reading pay_payments");
    ExpectDenied(db->Execute("UPDATE pay_payments SET status = 'voided'"),
                 "cart-api updating pay_payments");
    ExpectDenied(db->Execute("DELETE FROM pay_refunds"), "cart-api deleting pay_refunds");
    ExpectDenied(db->Execute(order), "cart-api inserting into pay_payments");
    ExpectDenied(db->Query("SELECT count(*) FROM gw_ledger"),
                 "cart-api reading the gateway's ledger");
    // It may not become the payment service either.
    auto become = db->ActAs(messaging::ServiceRole("payment-service"));
    ASSERT_FALSE(become.has_value());
    EXPECT_NE(become.error().message.find("permission denied to set role"), std::string::npos)
        << become.error().message;
    // What it owns and the message tables it may use.
    ASSERT_TRUE(db->ActAs(messaging::ServiceRole("cart-api")));
    ASSERT_TRUE(db->Begin());
    EXPECT_TRUE(
        db->Execute("INSERT INTO shop_carts(id, customer_id, status, created_ms) VALUES "
                    "('k', 'c', 'open', 0)"));
    EXPECT_TRUE(
        db->Execute("INSERT INTO bus_deliveries(consumer, seq, subject) VALUES ('x', 1, 's')"));
    db->Rollback();

    // Nothing changed on the payment's side.
    auto status = owner_->Query("SELECT status FROM pay_payments WHERE checkout_id = 'c1'");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->front().Text(0), "authorized");
}

TEST_F(RolesTest, ALoginMayActAsItsServicesOnlyAndARerunTightensIt) {
    const std::string login = LoginName("pay");
    auto report = Setup({{login, {"payment-service", "cart-api"}}});
    ASSERT_TRUE(report.has_value()) << report.error().message;
    // One line per role saying what it may do; the login's names its services' roles, and the
    // gateway's (the payment service calls it).
    const std::string last = report->back();
    EXPECT_NE(last.find(login), std::string::npos) << last;
    EXPECT_NE(last.find("acme_payment_service"), std::string::npos) << last;
    EXPECT_NE(last.find("acme_simulated_gateway"), std::string::npos) << last;
    EXPECT_EQ(last.find("acme_order_service"), std::string::npos) << last;

    auto db = ConnectAs(login);
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->ActAs(messaging::ServiceRole("payment-service")));
    EXPECT_TRUE(db->Query("SELECT count(*) FROM pay_payments").has_value());
    ExpectDenied(db->Query("SELECT count(*) FROM ord_orders"),
                 "payment-service reading ord_orders");
    EXPECT_FALSE(db->ActAs(messaging::ServiceRole("order-service")).has_value());

    // Set up again with a smaller list: the membership it lost is gone.
    ASSERT_TRUE(Setup({{login, {"cart-api"}}}));
    auto again = ConnectAs(login);
    ASSERT_NE(again, nullptr);
    EXPECT_FALSE(again->ActAs(messaging::ServiceRole("payment-service")).has_value());
    EXPECT_TRUE(again->ActAs(messaging::ServiceRole("cart-api")).has_value());

    // Bad requests say what is wrong and change nothing.
    auto unknown = Setup({{login, {"cart-apj"}}});
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(unknown.error().message.find("no service 'cart-apj'"), std::string::npos);
    EXPECT_FALSE(Setup({{"Robert'); DROP", {"cart-api"}}}).has_value());
    EXPECT_FALSE(Setup({{"acme_cart_api", {"cart-api"}}}).has_value());
}

TEST_F(RolesTest, EveryTableHasOneOwnerAndItsGrants) {
    ASSERT_TRUE(Setup({}));
    auto tables = owner_->Query(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1");
    ASSERT_TRUE(tables.has_value()) << tables.error().message;
    std::map<std::string, int> owners;
    for (const TableOwner& o : TableOwners()) {
        for (const std::string& t : o.tables) ++owners[t];
    }
    ASSERT_FALSE(tables->empty());
    for (const auto& row : *tables) {
        const std::string t = row.Text(0);
        if (t == "schema_migrations") continue;
        EXPECT_EQ(owners[t], 1) << "table " << t
                                << " has no owner in TableOwners() (roles.cpp): no service "
                                   "role may use it";
    }
    // The owners' roles hold their grants (the privileges PostgreSQL reports).
    const storage::Value v[] = {std::string("acme_payment_service"), std::string("pay_payments")};
    auto can = owner_->Query(
        "SELECT has_table_privilege(?, to_regclass(?)::oid, 'SELECT, INSERT, UPDATE, DELETE')", v);
    ASSERT_TRUE(can.has_value()) << can.error().message;
    EXPECT_EQ(can->front().Int(0), 1);
    const storage::Value w[] = {std::string("acme_cart_api"), std::string("pay_payments")};
    auto cannot = owner_->Query(
        "SELECT has_table_privilege(?, to_regclass(?)::oid, 'SELECT') OR "
        "has_table_privilege(?, to_regclass(?)::oid, 'UPDATE')",
        std::vector<storage::Value>{w[0], w[1], w[0], w[1]});
    ASSERT_TRUE(cannot.has_value()) << cannot.error().message;
    EXPECT_EQ(cannot->front().Int(0), 0);
}

TEST_F(RolesTest, TheJourneyRunsWithEveryServiceAsItsOwnRole) {
    std::vector<std::string> every = ServiceNames();
    every.push_back("storefront");
    const std::string login = LoginName("all");
    ASSERT_TRUE(Setup({{login, every}}));

    ManualClock clock;
    SystemOptions options;
    options.database_url = UrlAs(login);
    options.service_roles = true;
    options.catalog_dir = SourceDir() / "catalog";
    options.bus.strict_contracts = true;
    options.warehouse = {100, 100, 100, 10};
    auto opened = System::Open(options, clock);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    System& system = **opened;
    storage::Connection& db = system.db();

    auto cart = system.cart().Create(db, "cust-1");
    ASSERT_TRUE(cart.has_value()) << cart.error().message;
    ASSERT_TRUE(system.cart().AddItem(db, cart->id, "SKU-MUG", 2).has_value());
    auto accepted = system.cart().Checkout(db, cart->id, "tok_visa", "");
    ASSERT_TRUE(accepted.has_value()) << accepted.error().message;
    auto declined_cart = system.cart().Create(db, "cust-2");
    ASSERT_TRUE(declined_cart.has_value());
    ASSERT_TRUE(system.cart().AddItem(db, declined_cart->id, "SKU-MUG", 1).has_value());
    auto declined = system.cart().Checkout(db, declined_cart->id, "tok_decline", "");
    ASSERT_TRUE(declined.has_value()) << declined.error().message;
    for (int i = 0; i < 6; ++i) {
        auto n = system.RunUntilIdle();
        ASSERT_TRUE(n.has_value()) << n.error().message;
        clock.Advance(100);
    }
    // Read as the owner: every service did its part, as itself.
    auto sagas = owner_->Query("SELECT state FROM ord_sagas ORDER BY state");
    ASSERT_TRUE(sagas.has_value()) << sagas.error().message;
    ASSERT_EQ(sagas->size(), 2u);
    EXPECT_EQ(sagas->at(0).Text(0), "completed");
    EXPECT_EQ(sagas->at(1).Text(0), "rejected");
    auto orders = owner_->Query("SELECT status FROM ord_orders");
    ASSERT_TRUE(orders.has_value());
    ASSERT_EQ(orders->size(), 1u);
    EXPECT_EQ(orders->front().Text(0), "completed");
    auto dead = owner_->Query("SELECT count(*) FROM bus_dead_letters");
    ASSERT_TRUE(dead.has_value());
    EXPECT_EQ(dead->front().Int(0), 0);
    auto report = Audit(*owner_, Pending::kViolation);
    ASSERT_TRUE(report.has_value()) << report.error().message;
    for (const auto& c : report->checks) EXPECT_EQ(c.violations, 0) << c.name;
}

TEST_F(RolesTest, ServiceRolesNeedTheSchemaMigratedByTheOwner) {
    // The roles exist (another database on the server set them up) but this one is empty.
    const std::string login = LoginName("early");
    {
        auto other = storage::testing::MakeTestDatabase(storage::Dialect::kPostgresql);
        ASSERT_TRUE(other.has_value());
        auto c = (*other)->Connect();
        ASSERT_TRUE(c.has_value());
        ASSERT_TRUE(
            SetUpRoles(**c, catalog_, std::vector<Login>{{login, {"cart-api", "storefront"}}}));
    }
    ASSERT_TRUE(owner_->ExecuteScript("GRANT USAGE ON SCHEMA " +
                                      owner_->Query("SELECT current_schema()")->front().Text(0) +
                                      " TO acme_cart_api"));
    ManualClock clock;
    SystemOptions options;
    options.database_url = UrlAs(login);
    options.service_roles = true;
    options.services = {"cart-api"};
    options.catalog_dir = SourceDir() / "catalog";
    auto opened = System::Open(options, clock);
    ASSERT_FALSE(opened.has_value());
    EXPECT_NE(opened.error().message.find("acme db roles"), std::string::npos)
        << opened.error().message;

    // On SQLite there are no roles to run as.
    SystemOptions embedded;
    embedded.service_roles = true;
    embedded.catalog_dir = options.catalog_dir;
    embedded.data_dir = std::filesystem::temp_directory_path() / ("acme-roles-" + suffix_);
    auto refused = System::Open(embedded, clock);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    std::filesystem::remove_all(embedded.data_dir);
}

}  // namespace
}  // namespace acme::runtime
