// A small in-process harness for one service's business rules (tests only): a fresh database
// (an SQLite file, or a schema of its own on the PostgreSQL test server: storage::testing), the
// contracts of the repository's own catalog, a bus with strict contracts and the transport of
// that backend, and a manual clock. A test migrates and registers the service under test, publishes
// the messages its neighbours would send (as those neighbours: checked against the catalog), runs
// the handlers, and reads what the service published and its public views. Nothing here names a
// table of the service.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "messaging/bus.hpp"
#include "messaging/contracts.hpp"
#include "storage/database.hpp"
#include "storage/testing/backends.hpp"

namespace acme::messaging::testing {

class ServiceHarness {
  public:
    // On `backend`. Without that backend here (no PostgreSQL server) the harness is not
    // `ready()`: the fixture skips in SetUp with `why()`; ids(), clock() and bus() work
    // regardless (for members built from them), db() only when ready.
    explicit ServiceHarness(storage::Dialect backend = storage::Dialect::kSqlite);
    ~ServiceHarness();

    [[nodiscard]] bool ready() const { return db_ != nullptr; }
    [[nodiscard]] const std::string& why() const { return why_; }
    ServiceHarness(const ServiceHarness&) = delete;
    ServiceHarness& operator=(const ServiceHarness&) = delete;

    [[nodiscard]] storage::Connection& db() { return *db_; }
    // Another connection to the harness's database (a second "process").
    [[nodiscard]] Result<std::unique_ptr<storage::Connection>> Connect() const {
        return database_->Connect();
    }
    [[nodiscard]] Bus& bus() { return *bus_; }
    [[nodiscard]] ManualClock& clock() { return clock_; }
    [[nodiscard]] IdGenerator& ids() { return *ids_; }

    // Publishes `type` as service `from` with `data` (committed), as a neighbour would.
    [[nodiscard]] Result<void> Publish(const std::string& from, const std::string& type,
                                       const std::string& subject, nlohmann::json data);
    // Runs every handler, ticker and worker until nothing is left; the messages handled.
    [[nodiscard]] Result<std::size_t> Run();
    // Moves the clock by `ms` and runs.
    [[nodiscard]] Result<std::size_t> Advance(std::int64_t ms);

    // The payloads of the messages of `type` published so far, oldest first.
    [[nodiscard]] std::vector<nlohmann::json> Published(const std::string& type);
    // The last one (a null value when there is none).
    [[nodiscard]] nlohmann::json Last(const std::string& type);

  private:
    std::unique_ptr<storage::testing::TestDatabase> database_;
    std::string why_;
    ManualClock clock_;
    std::unique_ptr<ContractRegistry> contracts_;
    std::unique_ptr<IdGenerator> ids_;
    std::unique_ptr<storage::Connection> db_;
    std::unique_ptr<Bus> bus_;
};

}  // namespace acme::messaging::testing
