// A saga's shape, as one table: ordered steps, each a command with its success and failure
// replies, a deadline, the command that compensates it and the reply that says it was undone,
// and where every field of those commands comes from. The orchestrator runs it (saga_machine.hpp
// decides each transition from it) and `CheckAgainstFlow` proves it matches the catalog's flow
// (same steps, same order, same failure branches): one definition, used twice, so the
// documented saga is the one that runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/graph.hpp"
#include "core/error.hpp"

namespace acme::saga {

// Where a field of a command the saga sends comes from.
struct Field {
    enum class From {
        kSagaId,  // the saga's id
        kStart,   // `key` of the payload that started the saga
        kResult,  // what step `step` produced (its success reply's `result_key`)
        kReason,  // why the saga is compensating
    };
    std::string name;  // the key in the command's payload
    From from = From::kSagaId;
    std::string key;
    int step = 0;
};

struct SagaStep {
    std::string name;     // e.g. "reserve-inventory"
    std::string state;    // the saga's stored state while the step runs, e.g. "reserving"
    std::string command;  // message sent to run the step
    std::vector<Field> command_fields;   // its payload
    std::string success;                 // reply that completes the step
    std::string result_key;              // key of `success` naming what the step made
    std::string failure;                 // reply that fails it
    std::string failure_outcome;         // the step's recorded outcome then ("failed")
    std::string failure_reason_prefix;   // the saga's reason: prefix + the reply's "reason"
    std::string failure_reason_default;  // ... or this when the reply gives none
    std::string timeout_reason;          // the saga's reason when the deadline passes
    std::int64_t deadline_ms = 0;
    // When the step's outcome is decided by its receiver alone (a step that cannot be undone,
    // like creating the order), its deadline does not fail it: the saga sends this command
    // instead, and waits without a deadline for the receiver's success or failure reply (the
    // receiver answers failure unless the step had already succeeded). Empty: the deadline
    // fails the step with `timeout_reason`.
    std::string deadline_command;
    std::vector<Field> deadline_command_fields;
    // Undoing the step; empty `compensation` when there is nothing to undo.
    std::string compensation;                // command that undoes it
    std::vector<Field> compensation_fields;  // its payload
    std::string compensated;                 // reply that says it was undone (by result_key)
    std::string late_reason;  // the reason sent when undoing a success that came too late
};

// Where a saga is: running step `step`, compensating, or finished.
enum class Phase { kRunning, kCompensating, kCompleted, kRejected };
struct SagaState {
    Phase phase = Phase::kRunning;
    int step = 0;  // kRunning: the step; kCompensating: the step being undone, -1 unknown
    friend bool operator==(const SagaState&, const SagaState&) = default;
};

struct SagaDefinition {
    std::string name;
    std::string orchestrator;  // service id that sends the step commands
    std::string start;         // the message that starts a saga
    std::string id_key;        // key of every message naming the saga (e.g. "checkoutId")
    std::vector<SagaStep> steps;

    // Index of the step whose command, success or failure is `message`, or -1.
    [[nodiscard]] int StepOf(std::string_view message) const;
    // The messages the orchestrator handles: the start, every success, failure and
    // compensated reply.
    [[nodiscard]] std::vector<std::string> Handles() const;
    // The stored name of a state ("reserving", "compensating", "completed", "rejected") and
    // back; nullopt for a name the definition does not have.
    [[nodiscard]] std::string StateName(SagaState state) const;
    [[nodiscard]] std::optional<SagaState> ParseState(std::string_view stored) const;
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
