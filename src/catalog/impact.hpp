// Impact analysis: turns "these resources change" into a concise review checklist.
//
// From the changed resources the analyzer walks the graph downstream (sends -> consumers ->
// `triggers`, or all sends of a service that declares no triggers) and upstream (producers
// that feed the change, and the steps before the change in a flow's order) to `depth` hops,
// then reports, in this order: what changes, the flows and steps touched (failure branches and
// compensation nodes marked), the contracts on the path with domain and team on each side,
// failure points and whether the change reaches the compensation path, the teams that must
// review and why, risks with a level, and the catalog updates the change requires.
//
// Every item carries its hop: 0 is the change itself, 1 the contracts the changed resources
// send or receive (the contracts that change), 2 and further what those reach. Every section is
// sorted; the Markdown and JSON renderers read the same struct, so they cannot disagree. The
// Markdown checklist shows hops up to `ImpactRenderOptions::depth` in full and one summary line
// per further hop; the JSON keeps everything.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/graph.hpp"
#include "core/error.hpp"

namespace acme::catalog {

enum class RiskLevel { kHigh, kMedium, kLow };
[[nodiscard]] std::string_view RiskLevelName(RiskLevel level);

struct ImpactChange {
    std::string resource;              // "service:checkout-orchestrator"
    std::string change;                // changed | added | removed | modified
    std::string before_version;        // empty when added
    std::string after_version;         // empty when removed
    std::string detail;                // one line
    std::vector<std::string> details;  // field-level differences, one per line
    bool breaking = false;
    bool version_bumped = false;
};

struct ImpactStep {
    std::string id;
    std::string title;
    std::string target;  // "message:reserve-inventory", or the custom node type
    std::vector<std::string> marks;
    int hop = 0;
    bool changed = false;   // names a changed resource
    bool upstream = false;  // before the change: feeds it, or precedes it in the flow's order
};

struct ImpactFlow {
    std::string flow;  // "flow:checkout-saga@1.0.0"
    std::string name;
    std::vector<std::string> owners;
    std::vector<ImpactStep> steps;  // in flow order
    int hop = 0;                    // the nearest of its steps
};

struct ImpactContract {
    std::string producer;
    std::string message;
    std::string consumer;
    std::string producer_domain;
    std::string producer_team;
    std::string consumer_domain;
    std::string consumer_team;
    std::string direction;  // changed | downstream | upstream
    int hop = 0;
    bool crosses_domain = false;
    bool crosses_team = false;
};

struct ImpactFailurePoint {
    std::string flow;
    std::string step;
    std::string title;
    std::vector<std::string> branches;  // failure labels
    std::string compensation;           // compensation node title
    std::vector<std::string> actions;
    bool touches_compensation = false;
    int hop = 0;
};

struct ImpactTeamReason {
    std::string reason;  // "consumer of a changed contract", "reached downstream", ...
    int hop = 0;
    std::vector<std::string> items;  // "authorize-payment in payment-service", sorted
};

struct ImpactTeam {
    std::string team;
    int hop = 0;                            // the nearest of its reasons
    std::vector<ImpactTeamReason> reasons;  // in a fixed order of reasons, then by hop
};

struct ImpactRisk {
    RiskLevel level = RiskLevel::kLow;
    std::string reason;
    int hop = 0;
    // What raised it: breaking, compensation, failure-point, hand-off, pinned, version-skew,
    // no-consumer, no-producer, drift, undeclared-compensation; empty for a change's own risks
    // (`acme impact --base`).
    std::string category;
};

struct ImpactUpdate {
    std::string resource;
    std::string action;
    int hop = 0;
};

struct ImpactReport {
    std::string title;
    std::string summary;
    std::vector<ImpactChange> changes;
    std::vector<ImpactFlow> flows;
    std::vector<ImpactContract> boundaries;
    std::vector<ImpactFailurePoint> failure_points;
    std::vector<ImpactTeam> teams;
    std::vector<ImpactRisk> risks;
    std::vector<ImpactUpdate> catalog_updates;
    std::size_t services = 0;

    [[nodiscard]] bool HasBreakingChange() const;
    [[nodiscard]] bool HasRisk(RiskLevel level) const;
};

struct ImpactOptions {
    int depth = -1;  // hops downstream and upstream; -1: all
};

// Resolves `id`, `kind:id`, `id@version` or `kind:id@version` to a resource (the latest
// version when none is given). kNotFound when nothing matches; kInvalidArgument when a bare
// id names resources of several kinds (the message lists them).
[[nodiscard]] Result<ResourceIndex> ResolveResourceSpec(const Catalog& catalog,
                                                        std::string_view spec);

// Analyzes the change of `seeds` (domains and teams expand to what they hold). `changes`
// describes each seed for the `changes` section and the risks; pass one entry per seed.
[[nodiscard]] ImpactReport AnalyzeImpact(const Graph& graph, std::span<const ResourceIndex> seeds,
                                         std::vector<ImpactChange> changes,
                                         const ImpactOptions& options);

// Adds `other`'s items to `into` (union, deduplicated, re-sorted) and recomputes the summary.
void MergeImpact(ImpactReport& into, ImpactReport other);

struct ImpactRenderOptions {
    int depth = 1;      // hops shown in full; each further hop is one summary line
    bool full = false;  // every item of every hop, one line each
};

[[nodiscard]] std::string RenderImpactMarkdown(const ImpactReport& report,
                                               const ImpactRenderOptions& options = {});
[[nodiscard]] std::string RenderImpactJson(const ImpactReport& report);

}  // namespace acme::catalog
