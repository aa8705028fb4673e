#include "saga/saga_definition.hpp"

#include <algorithm>
#include <set>

#include "catalog/graph_view.hpp"

namespace acme::saga {

int SagaDefinition::StepOf(std::string_view message) const {
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const SagaStep& s = steps[i];
        if (s.command == message || s.success == message || s.failure == message) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

std::vector<std::string> SagaDefinition::Handles() const {
    std::vector<std::string> out{start};
    for (const SagaStep& s : steps) {
        for (const std::string* m : {&s.success, &s.failure, &s.compensated}) {
            if (!m->empty() && std::find(out.begin(), out.end(), *m) == out.end()) {
                out.push_back(*m);
            }
        }
    }
    return out;
}

std::string SagaDefinition::StateName(SagaState state) const {
    switch (state.phase) {
        case Phase::kRunning:
            return state.step >= 0 && static_cast<std::size_t>(state.step) < steps.size()
                       ? steps[static_cast<std::size_t>(state.step)].state
                       : std::string();
        case Phase::kCompensating:
            return "compensating";
        case Phase::kCompleted:
            return "completed";
        case Phase::kRejected:
            return "rejected";
    }
    return {};
}

std::optional<SagaState> SagaDefinition::ParseState(std::string_view stored) const {
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (steps[i].state == stored) return SagaState{Phase::kRunning, static_cast<int>(i)};
    }
    if (stored == "compensating") return SagaState{Phase::kCompensating, -1};
    if (stored == "completed") return SagaState{Phase::kCompleted, -1};
    if (stored == "rejected") return SagaState{Phase::kRejected, -1};
    return std::nullopt;
}

namespace {

using catalog::FlowStep;
using catalog::StepKind;

std::size_t U(std::int32_t i) { return static_cast<std::size_t>(i); }

// Steps reachable from `from` (excluding it) within `limit` hops.
std::vector<std::int32_t> Ahead(const catalog::Resource& flow, std::int32_t from, int limit) {
    std::vector<std::int32_t> out;
    std::set<std::int32_t> seen{from};
    std::vector<std::int32_t> frontier{from};
    for (int hop = 0; hop < limit && !frontier.empty(); ++hop) {
        std::vector<std::int32_t> next;
        for (std::int32_t at : frontier) {
            for (const catalog::StepLink& l : flow.steps[U(at)].next) {
                if (l.step < 0 || !seen.insert(l.step).second) continue;
                out.push_back(l.step);
                next.push_back(l.step);
            }
        }
        frontier = std::move(next);
    }
    return out;
}

bool IsMessage(const FlowStep& s, const std::string& id) {
    return s.kind == StepKind::kMessage && s.target.id == id;
}

}  // namespace

std::vector<std::string> CheckAgainstFlow(const SagaDefinition& def, const catalog::Graph& graph,
                                          const std::string& flow_id) {
    std::vector<std::string> problems;
    const catalog::ResourceIndex fi =
        graph.catalog().FindLatest(catalog::TargetGroup::kFlow, flow_id);
    if (fi == catalog::kNoResource) return {"no flow '" + flow_id + "' in the catalog"};
    const catalog::Resource& flow = graph.at(fi);
    // The orchestrator's command steps, in flow order along the happy path.
    std::vector<std::int32_t> commands;
    std::set<std::string> command_ids;
    for (const SagaStep& s : def.steps) command_ids.insert(s.command);
    for (std::size_t i = 0; i < flow.steps.size(); ++i) {
        const FlowStep& s = flow.steps[i];
        if (s.kind == StepKind::kMessage && command_ids.contains(s.target.id)) {
            commands.push_back(static_cast<std::int32_t>(i));
        }
    }
    std::size_t at = 0;
    for (std::size_t k = 0; k < def.steps.size(); ++k) {
        const SagaStep& step = def.steps[k];
        // First occurrence of the command after the previous one.
        std::int32_t found = -1;
        for (; at < commands.size(); ++at) {
            if (IsMessage(flow.steps[U(commands[at])], step.command)) {
                found = commands[at];
                ++at;
                break;
            }
        }
        if (found < 0) {
            problems.push_back("step " + std::to_string(k + 1) + " '" + step.command +
                               "' is not in flow " + flow_id + " after the previous step");
            continue;
        }
        const auto ahead = Ahead(flow, found, 3);
        auto has = [&](const std::string& id) {
            for (std::int32_t a : ahead) {
                if (IsMessage(flow.steps[U(a)], id)) return a;
            }
            return -1;
        };
        if (has(step.success) < 0) {
            problems.push_back("flow " + flow_id + ": '" + step.success + "' does not follow '" +
                               step.command + "'");
        }
        const std::int32_t failure = has(step.failure);
        if (failure < 0) {
            problems.push_back("flow " + flow_id + ": failure '" + step.failure +
                               "' does not follow '" + step.command + "'");
            continue;
        }
        // The failure leads to a Compensation node naming the undo actions, newest first.
        std::int32_t comp = -1;
        for (std::int32_t a : Ahead(flow, failure, 4)) {
            const FlowStep& s = flow.steps[U(a)];
            if (s.kind == StepKind::kCustom && catalog::IsFailureNodeType(s.custom_type)) {
                comp = a;
                break;
            }
        }
        if (comp < 0) {
            problems.push_back("flow " + flow_id + ": failure '" + step.failure +
                               "' does not lead to a Compensation node");
            continue;
        }
        std::string actions;
        for (const auto& [key, value] : flow.steps[U(comp)].properties) actions += value + "\n";
        std::size_t last = 0;
        for (std::size_t j = k; j-- > 0;) {
            const std::string& undo = def.steps[j].compensation;
            if (undo.empty()) continue;
            const std::size_t pos = actions.find(undo);
            if (pos == std::string::npos) {
                problems.push_back("flow " + flow_id + ": compensation after '" + step.failure +
                                   "' does not list '" + undo + "'");
            } else if (pos < last) {
                problems.push_back("flow " + flow_id + ": compensation after '" + step.failure +
                                   "' lists '" + undo + "' out of reverse order");
            } else {
                last = pos;
            }
        }
    }
    return problems;
}

}  // namespace acme::saga
