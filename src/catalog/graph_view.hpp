// The drawable view of a catalog: every resource but domains and systems (the clusters, systems
// inside domains) as a node, flow nodes, the edges between them, optionally cut down to the
// neighbourhood of one resource (of a flow: its steps and what lies around them). Rendered as DOT,
// JSON or SVG (through Graphviz). Failure branches of flows are marked; edges that cross a
// domain boundary are marked.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/graph.hpp"
#include "core/error.hpp"

namespace acme::catalog {

struct ViewNode {
    std::string id;    // "service:cart-api", or "flow:checkout-saga/step-id" for inline nodes
    std::string kind;  // resource kind, or actor / externalSystem / custom
    std::string label;
    std::string domain;       // owning domain id, empty when none
    std::string custom_type;  // for custom flow nodes
    std::string system;       // the system it sits in (a cluster inside the domain), or empty
};

struct ViewEdge {
    std::string from;
    std::string to;
    // sends, receives, triggers, flow; to / from (a channel), writes / reads (a data store),
    // input / output (a data product), routes (channel to channel), applies-to (an ADR)
    std::string kind;
    std::string label;
    std::string flow;  // flow id for flow edges
    bool failure = false;
    bool crosses_domain = false;
};

struct GraphView {
    std::vector<ViewNode> nodes;  // sorted by id
    std::vector<ViewEdge> edges;  // sorted
};

struct ViewOptions {
    std::optional<std::string> focus;  // a resource id, or kind:id
    int depth = -1;                    // hops from the focus; -1: unlimited
};

// kNotFound when the focus names no resource.
[[nodiscard]] Result<GraphView> BuildGraphView(const Graph& graph, const ViewOptions& options);

// True for custom node types that handle failure (Compensation, Exception, Failure, Error).
[[nodiscard]] bool IsFailureNodeType(std::string_view type);
// True when `link`, one of `from`'s next steps in `flow`, is a failure branch, told by the
// flow's structure and never by the words of its label: it leads into a failure-handling
// custom node, or it is one way of several out of `from` and leads to such a node along a
// chain of steps with one way on (a message, the service that handles it...) before the flow
// branches again or rejoins a step reachable another way.
[[nodiscard]] bool IsFailureBranch(const Resource& flow, const FlowStep& from,
                                   const StepLink& link);

[[nodiscard]] std::string RenderDot(const GraphView& view);
[[nodiscard]] std::string RenderViewJson(const GraphView& view);
// Lays the DOT out with Graphviz and renders SVG. kInternal when Graphviz fails.
[[nodiscard]] Result<std::string> RenderSvg(const std::string& dot);

}  // namespace acme::catalog
