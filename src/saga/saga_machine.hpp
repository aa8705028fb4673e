// The transitions of a saga run by its definition, as pure functions: given where a saga is
// and what arrived (the start, a reply, its deadline), what it becomes, which step finished
// and how, and which commands it sends. No database, no bus: the orchestrator loads the saga,
// asks here, then stores the result and publishes the commands in one transaction (outbox).
//
// The rules, for every definition:
// - A step's success while it runs records its result and starts the next step (or completes
//   the saga after the last); the same success again is a no-op; another success of a step
//   that no longer runs (a reply after its deadline or after a failure elsewhere) is undone
//   at once with the step's compensation and its `late_reason`.
// - A step's deadline, for a step with a `deadline_command`, sends that command and leaves
//   the step running without a deadline: its receiver decides with the step's own replies.
// - A step's failure while it runs, or its deadline, fails it and starts compensation: the
//   steps done so far are undone newest first, one at a time, each after the previous one's
//   `compensated` reply (matched by result); with nothing left to undo the saga is rejected
//   with the first reason it was given.
// - Anything else (a failure of a step not running, a compensated reply for another result,
//   a message for a finished saga) changes nothing.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "saga/saga_definition.hpp"

namespace acme::saga {

struct SagaInstance {
    std::string id;
    SagaState state;
    std::vector<std::string> results;  // per step: what it produced, empty until it succeeded
    std::string reason;                // why it is compensating or was rejected
};

struct Outgoing {
    std::string type;
    std::shared_ptr<nlohmann::json> data;
};

struct Transition {
    SagaInstance next;
    bool save = false;            // store `next` (state, results or reason changed)
    int finished_step = -1;       // a step that finished now, with `outcome`
    std::string outcome;          // "ok", the step's failure_outcome, or "timeout"
    bool started_step = false;    // next.state.step started now (its deadline runs from now)
    bool deadline_asked = false;  // the step's deadline_command was sent: no deadline any more
    std::vector<Outgoing> send;
};

// The payload that started the saga, parsed only when a command needs a field of it.
using StartPayload = std::function<const nlohmann::json&()>;

[[nodiscard]] Transition Start(const SagaDefinition& def, const std::string& id,
                               const StartPayload& start);
// `reply` of type `type` for saga `saga`. Throws nlohmann's exception when a success reply
// lacks its result key (a malformed message: the handler's caller fails it).
[[nodiscard]] Transition OnReply(const SagaDefinition& def, const SagaInstance& saga,
                                 const std::string& type, const nlohmann::json& reply,
                                 const StartPayload& start);
// The running step's deadline passed (for a saga not running, `save` only: its deadline goes).
[[nodiscard]] Transition OnDeadline(const SagaDefinition& def, const SagaInstance& saga,
                                    const StartPayload& start);

}  // namespace acme::saga
