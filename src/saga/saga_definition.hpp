// A saga's shape: ordered steps, each a command with its success and failure replies, a
// deadline, and the command that compensates it. Orchestrators drive their state machine from
// a definition, and `CheckAgainstFlow` proves the definition matches the catalog's flow (same
// steps, same order, same failure branches), so the documented saga is the one that runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/graph.hpp"
#include "core/error.hpp"

namespace acme::saga {

struct SagaStep {
    std::string name;          // e.g. "reserve-inventory"
    std::string command;       // message sent to run the step
    std::string success;       // reply that completes the step
    std::string failure;       // reply that fails it
    std::string compensation;  // command that undoes it; empty when nothing to undo
    std::int64_t deadline_ms = 0;
};

struct SagaDefinition {
    std::string name;
    std::string orchestrator;  // service id that sends the step commands
    std::vector<SagaStep> steps;

    // Index of the step whose command, success or failure is `message`, or -1.
    [[nodiscard]] int StepOf(const std::string& message) const;
};

// Checks `definition` against flow `flow_id` of the catalog: the orchestrator's command steps
// appear in the flow in the definition's order, each step's success and failure replies
// follow the command in the flow, the failure reply (or its branch) reaches a custom
// Compensation node, and that node's actions name the compensations of the steps already
// done, in reverse order. Returns every mismatch, one per line, or nothing when they agree.
[[nodiscard]] std::vector<std::string> CheckAgainstFlow(const SagaDefinition& definition,
                                                        const catalog::Graph& graph,
                                                        const std::string& flow_id);

}  // namespace acme::saga
