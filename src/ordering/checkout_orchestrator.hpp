// The Checkout Orchestrator (Ordering): runs the checkout saga (saga/checkout_saga.hpp) —
// reserve inventory -> authorize payment -> create order — by its definition. Each saga's state
// is stored per checkout (`ord_sagas`) and every transition commits together with the commands
// it sends (outbox). Each step has a deadline checked by a ticker; a reply that arrives after
// the saga moved on is harmless: a late reservation is released, a late authorization voided.
// On failure the saga compensates in reverse (void the authorization, release the
// reservation) and ends `rejected` with a reason. A transition is stored only if the saga is
// still in the state it was read in, so two instances handling replies of one checkout at once
// cannot overwrite each other (the second fails with kConflict and is retried).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "messaging/recent_payloads.hpp"
#include "saga/checkout_saga.hpp"
#include "saga/saga_definition.hpp"
#include "storage/database.hpp"

namespace acme::ordering {

using SagaDeadlines = saga::CheckoutDeadlines;

struct CheckoutView {
    std::string id;
    std::string state;       // pending | completed | rejected
    std::string saga_state;  // the definition's state name (reserving, ..., rejected)
    std::string order_id;
    std::string reason;
    std::int64_t step_started_ms = 0;  // when the running step started (0: not recorded)
};

// How many sagas ended each way (pending: still running), and the finished steps' totals.
struct SagaTotals {
    std::int64_t pending = 0;
    std::int64_t completed = 0;
    std::int64_t rejected = 0;
    struct Step {
        std::string step;
        std::int64_t count = 0;
        std::int64_t total_ms = 0;  // sum of finished - started
    };
    std::vector<Step> steps;  // by step name
};

// A finished step of a saga (the running one is only on CheckoutView::step_started_ms).
struct StepView {
    std::string step;
    std::int64_t started_ms = 0;
    std::int64_t finished_ms = 0;  // 0: recorded before finish times were
    std::string outcome;           // ok | failed | declined | timeout
};

class CheckoutOrchestrator {
  public:
    static constexpr const char* kService = "checkout-orchestrator";

    explicit CheckoutOrchestrator(SagaDeadlines deadlines = {});

    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);
    // The checkout's state; kNotFound when the saga has not started (see CheckoutApi).
    [[nodiscard]] static Result<CheckoutView> Get(storage::Connection& db, const std::string& id);
    // The metrics' view: outcomes and step latencies over every saga.
    [[nodiscard]] static Result<SagaTotals> Totals(storage::Connection& db);
    // Every saga, and the steps of one, in the order they finished.
    [[nodiscard]] static Result<std::vector<CheckoutView>> List(storage::Connection& db);
    [[nodiscard]] static Result<std::vector<StepView>> Steps(storage::Connection& db,
                                                             const std::string& id);
    // The saga this orchestrator runs (its deadlines included).
    [[nodiscard]] const saga::SagaDefinition& definition() const { return *definition_; }

  private:
    SagaDeadlines deadlines_;
    std::shared_ptr<const saga::SagaDefinition> definition_;
    // The start-checkout payloads of sagas started lately, by checkout id: the steps that
    // need them (authorize, create the order) read them here instead of parsing the stored
    // text again.
    std::shared_ptr<messaging::RecentPayloads> saga_data_ =
        std::make_shared<messaging::RecentPayloads>(4096);
};

}  // namespace acme::ordering
