#include "messaging/testing/service_harness.hpp"

#include <cstdlib>
#include <stdexcept>

#include "catalog/loader.hpp"

namespace acme::messaging::testing {

namespace {

std::filesystem::path SourceDir() {
    const char* src = std::getenv("ACME_SOURCE_DIR");
    return src != nullptr ? src : ".";
}

template <typename T>
T Must(Result<T> r, const char* what) {
    if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
    return std::move(*r);
}

}  // namespace

ServiceHarness::ServiceHarness(storage::Dialect backend) {
    auto catalog =
        Must(catalog::LoadCatalog(SourceDir() / "catalog", {.keep_bodies = false}), "catalog");
    contracts_ = std::make_unique<ContractRegistry>(
        Must(ContractRegistry::FromCatalog(catalog), "contracts"));
    ids_ = std::make_unique<IdGenerator>(clock_);
    bus_ = std::make_unique<Bus>(
        *contracts_, clock_, *ids_,
        BusOptions{.retry_base_ms = 10, .strict_contracts = true, .backend = backend});
    auto database = storage::testing::MakeTestDatabase(backend);
    if (!database) {
        if (database.error().code != ErrorCode::kNotFound) {
            throw std::runtime_error(database.error().message);
        }
        why_ = database.error().message;
        return;
    }
    database_ = std::move(*database);
    db_ = Must(database_->Connect(), "database");
    if (auto ok = Bus::Migrate(*db_); !ok) throw std::runtime_error(ok.error().message);
}

ServiceHarness::~ServiceHarness() {
    bus_.reset();
    db_.reset();
    database_.reset();
}

Result<void> ServiceHarness::Publish(const std::string& from, const std::string& type,
                                     const std::string& subject, nlohmann::json data) {
    return storage::InTransaction(
        *db_, [&] { return bus_->Publish(*db_, from, type, subject, std::move(data)); });
}

Result<std::size_t> ServiceHarness::Run() { return bus_->RunUntilIdle(*db_); }

Result<std::size_t> ServiceHarness::Advance(std::int64_t ms) {
    clock_.Advance(ms);
    return Run();
}

std::vector<nlohmann::json> ServiceHarness::Published(const std::string& type) {
    const storage::Value t[] = {type};
    auto rows = db_->Query("SELECT data FROM bus_log WHERE type = ? ORDER BY seq", t);
    std::vector<nlohmann::json> out;
    if (!rows) return out;
    for (const auto& r : *rows) out.push_back(nlohmann::json::parse(r.Text(0)));
    return out;
}

nlohmann::json ServiceHarness::Last(const std::string& type) {
    auto all = Published(type);
    return all.empty() ? nlohmann::json() : all.back();
}

}  // namespace acme::messaging::testing
