#include "catalog/graph_view.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

namespace acme::catalog {

namespace {

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string NodeId(const Resource& r) { return std::string(KindName(r.kind)) + ":" + r.id; }

class ViewBuilder {
  public:
    explicit ViewBuilder(const Graph& g) : g_(g), c_(g.catalog()) {}

    GraphView Build() {
        for (std::size_t i = 0; i < c_.resources.size(); ++i) {
            if (!c_.is_latest[i]) continue;
            const auto ri = static_cast<ResourceIndex>(i);
            const Resource& r = c_.resources[i];
            // Domains and systems are the clusters; every other resource is a node, with or
            // without edges.
            if (r.kind == Kind::kDomain || r.kind == Kind::kSystem) continue;
            Node(ri);
            if (r.kind == Kind::kService || r.kind == Kind::kAgent) AddServiceEdges(ri);
            if (r.kind == Kind::kFlow) AddFlowEdges(r);
            AddRelationEdges(ri);
        }
        GraphView view;
        for (auto& [id, node] : nodes_) view.nodes.push_back(node);
        for (ViewEdge& e : edges_) {
            const std::string& da = nodes_[e.from].domain;
            const std::string& db = nodes_[e.to].domain;
            e.crosses_domain = !da.empty() && !db.empty() && da != db;
        }
        std::sort(edges_.begin(), edges_.end(), [](const ViewEdge& a, const ViewEdge& b) {
            return std::tie(a.from, a.to, a.kind, a.flow, a.label) <
                   std::tie(b.from, b.to, b.kind, b.flow, b.label);
        });
        edges_.erase(std::unique(edges_.begin(), edges_.end(),
                                 [](const ViewEdge& a, const ViewEdge& b) {
                                     return std::tie(a.from, a.to, a.kind, a.flow, a.label) ==
                                            std::tie(b.from, b.to, b.kind, b.flow, b.label);
                                 }),
                     edges_.end());
        view.edges = std::move(edges_);
        return view;
    }

  private:
    std::string DomainOf(ResourceIndex r) {
        const ResourceIndex d = g_.DomainOf(r);
        return d == kNoResource ? std::string() : g_.at(d).id;
    }

    const std::string& Node(ResourceIndex r) {
        const Resource& res = g_.at(r);
        std::string id = NodeId(res);
        auto it = nodes_.find(id);
        if (it != nodes_.end()) return it->first;
        ViewNode node{id,
                      std::string(KindName(res.kind)),
                      res.name.empty() ? res.id : res.name,
                      DomainOf(r),
                      {},
                      SystemOf(r)};
        return nodes_.emplace(id, std::move(node)).first->first;
    }

    // The system a resource sits in, directly: the systems are clusters inside domains.
    std::string SystemOf(ResourceIndex r) const {
        for (ResourceIndex p : g_.Domains(r)) {
            if (g_.at(p).kind == Kind::kSystem) return g_.at(p).id;
        }
        return {};
    }

    static ResourceIndex Resolved(const Pointer& p) {
        return p.resolution == Resolution::kResolved ? p.target : kNoResource;
    }

    // Sends and receives; a message that travels on a channel goes through the channel's node
    // (producer -> message -> channel -> consumer).
    void AddServiceEdges(ResourceIndex s) {
        const std::string from = Node(s);
        const Resource& r = g_.at(s);
        for (const Send& send : r.sends) {
            const ResourceIndex m = Resolved(send.message);
            if (m == kNoResource) continue;
            edges_.push_back({from, Node(m), "sends", {}, {}});
            for (const Pointer& ch : send.channels) {
                if (Resolved(ch) != kNoResource) {
                    edges_.push_back({Node(m), Node(Resolved(ch)), "to", {}, {}});
                }
            }
        }
        for (const Receive& rc : r.receives) {
            const ResourceIndex m = Resolved(rc.message);
            if (m == kNoResource) continue;
            bool via_channel = false;
            for (const Pointer& ch : rc.channels) {
                if (Resolved(ch) == kNoResource) continue;
                edges_.push_back({Node(m), Node(Resolved(ch)), "to", {}, {}});
                edges_.push_back({Node(Resolved(ch)), from, "from", {}, {}});
                via_channel = true;
            }
            if (!via_channel) edges_.push_back({Node(m), from, "receives", {}, {}});
        }
        // Old style: the message names its producers and consumers (edges no send or
        // receive above declared).
        auto declares = [&](const auto& list, ResourceIndex m) {
            return std::any_of(list.begin(), list.end(),
                               [&](const auto& x) { return Resolved(x.message) == m; });
        };
        for (ResourceIndex m : g_.Sends(s)) {
            if (!declares(r.sends, m)) edges_.push_back({from, Node(m), "sends", {}, {}});
        }
        for (ResourceIndex m : g_.Receives(s)) {
            if (!declares(r.receives, m)) edges_.push_back({Node(m), from, "receives", {}, {}});
        }
        for (const TriggerEdge& t : g_.Triggers(s)) {
            edges_.push_back({Node(t.received), Node(t.emitted), "triggers", "triggers", {}});
        }
    }

    // Data stores, data products, channel routes, ADRs: the 3.x/4.x relations.
    void AddRelationEdges(ResourceIndex r) {
        struct Drawn {
            Relation rel;
            const char* kind;
            bool reverse;  // drawn from the target to `r`
        };
        static constexpr Drawn kDrawn[] = {
            {Relation::kWrites, "writes", false}, {Relation::kReads, "reads", true},
            {Relation::kInputs, "input", true},   {Relation::kOutputs, "output", false},
            {Relation::kRoutes, "routes", false}, {Relation::kAppliesTo, "applies-to", false}};
        for (const Drawn& d : kDrawn) {
            for (ResourceIndex t : g_.Out(d.rel, r)) {
                const Kind k = g_.at(t).kind;
                if (k == Kind::kDomain || k == Kind::kSystem) continue;  // clusters, not nodes
                const std::string& self = Node(r);
                const std::string& other = Node(t);
                edges_.push_back(d.reverse ? ViewEdge{other, self, d.kind, {}, {}}
                                           : ViewEdge{self, other, d.kind, {}, {}});
            }
        }
    }

    std::string StepNode(const Resource& flow, const FlowStep& step) {
        if (step.target.target != kNoResource) return Node(step.target.target);
        std::string id = "flow:" + flow.id + "/" + step.id;
        if (!nodes_.contains(id)) {
            ViewNode node;
            node.id = id;
            node.kind = std::string(StepKindName(step.kind));
            node.label = !step.node_name.empty() ? step.node_name
                         : !step.title.empty()   ? step.title
                                                 : step.id;
            if (!step.target.id.empty()) node.label += " (missing)";
            node.custom_type = step.custom_type;
            nodes_.emplace(id, std::move(node));
        }
        return id;
    }

    void AddFlowEdges(const Resource& flow) {
        for (const FlowStep& step : flow.steps) {
            const std::string from = StepNode(flow, step);
            for (const StepLink& link : step.next) {
                if (link.step < 0) continue;
                const FlowStep& target = flow.steps[static_cast<std::size_t>(link.step)];
                ViewEdge e{from, StepNode(flow, target), "flow", link.label, flow.id};
                e.failure = IsFailureBranch(flow, step, link);
                edges_.push_back(std::move(e));
            }
        }
    }

    const Graph& g_;
    const Catalog& c_;
    std::map<std::string, ViewNode> nodes_;
    std::vector<ViewEdge> edges_;
};

// Keeps what lies within `depth` edges of the focus nodes.
void Focus(GraphView& view, const std::vector<std::string>& focus, int depth) {
    std::map<std::string, std::vector<std::string>> adjacent;
    for (const ViewEdge& e : view.edges) {
        adjacent[e.from].push_back(e.to);
        adjacent[e.to].push_back(e.from);
    }
    std::map<std::string, int> dist;
    for (const std::string& f : focus) dist.emplace(f, 0);
    std::vector<std::string> frontier = focus;
    for (int d = 0; !frontier.empty() && (depth < 0 || d < depth); ++d) {
        std::vector<std::string> next;
        for (const auto& n : frontier) {
            for (const auto& m : adjacent[n]) {
                if (dist.emplace(m, d + 1).second) next.push_back(m);
            }
        }
        frontier = std::move(next);
    }
    std::erase_if(view.nodes, [&](const ViewNode& n) { return !dist.contains(n.id); });
    std::erase_if(view.edges, [&](const ViewEdge& e) {
        return !dist.contains(e.from) || !dist.contains(e.to);
    });
}

std::string Quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    out += '"';
    return out;
}

std::string NodeAttributes(const ViewNode& n) {
    std::string shape = "box";
    std::string fill = "#ffffff";
    if (n.kind == "service" || n.kind == "agent") {
        shape = "box";
        fill = "#e8f0fe";
    } else if (n.kind == "event") {
        shape = "ellipse";
        fill = "#fde7c8";
    } else if (n.kind == "command") {
        shape = "ellipse";
        fill = "#d7ecff";
    } else if (n.kind == "query") {
        shape = "ellipse";
        fill = "#dff5e1";
    } else if (n.kind == "flow") {
        shape = "folder";
        fill = "#f3e8fd";
    } else if (n.kind == "actor") {
        shape = "plaintext";
    } else if (n.kind == "externalSystem") {
        shape = "box3d";
    } else if (n.kind == "custom") {
        shape = "note";
        fill = IsFailureNodeType(n.custom_type) ? "#fdd8d8" : "#f5f5f5";
    }
    std::string label = n.label;
    if (n.kind == "custom" && !n.custom_type.empty())
        label += "\n(" + n.custom_type + ")";
    else if (n.kind != "actor")
        label += "\n" + n.kind;
    return "[label=" + Quote(label) + ", shape=" + shape +
           ", style=\"filled\", fillcolor=" + Quote(fill) + "]";
}

}  // namespace

bool IsFailureBranch(const Resource& flow, const FlowStep& from, const StepLink& link) {
    if (link.step < 0) return false;
    const FlowStep& target = flow.steps[static_cast<std::size_t>(link.step)];
    if (target.kind == StepKind::kCustom && IsFailureNodeType(target.custom_type)) return true;
    if (from.next.size() < 2) return false;  // not a branch: part of a chain
    // How many links lead into each step: a step more than one link reaches is where paths
    // rejoin, so the walk stops there (what follows is not this branch's own).
    std::vector<int> incoming(flow.steps.size(), 0);
    for (const FlowStep& s : flow.steps) {
        for (const StepLink& l : s.next) {
            if (l.step >= 0) ++incoming[static_cast<std::size_t>(l.step)];
        }
    }
    std::int32_t at = link.step;
    for (std::size_t hops = 0; hops <= flow.steps.size() && at >= 0; ++hops) {
        const FlowStep& s = flow.steps[static_cast<std::size_t>(at)];
        if (s.kind == StepKind::kCustom && IsFailureNodeType(s.custom_type)) return true;
        if (hops > 0 && incoming[static_cast<std::size_t>(at)] > 1) return false;
        if (s.next.size() != 1) return false;
        at = s.next.front().step;
    }
    return false;
}

bool IsFailureNodeType(std::string_view type) {
    const std::string t = Lower(type);
    return t == "compensation" || t == "exception" || t == "failure" || t == "error";
}

Result<GraphView> BuildGraphView(const Graph& graph, const ViewOptions& options) {
    GraphView view = ViewBuilder(graph).Build();
    if (!options.focus) return view;
    std::string focus = *options.focus;
    const bool has_kind = focus.find(':') != std::string::npos;
    auto match = std::find_if(view.nodes.begin(), view.nodes.end(), [&](const ViewNode& n) {
        if (has_kind) return n.id == focus;
        return n.id.substr(n.id.find(':') + 1) == focus;
    });
    if (match == view.nodes.end()) {
        // A resource with no edges still deserves a node of its own.
        const Catalog& c = graph.catalog();
        for (std::size_t i = 0; i < c.resources.size(); ++i) {
            const Resource& r = c.resources[i];
            if (!c.is_latest[i]) continue;
            if (has_kind ? NodeId(r) == focus : r.id == focus) {
                return GraphView{{{NodeId(r),
                                   std::string(KindName(r.kind)),
                                   r.name.empty() ? r.id : r.name,
                                   {},
                                   {},
                                   {}}},
                                 {}};
            }
        }
        return MakeError(ErrorCode::kNotFound, "no resource '" + focus + "' in the catalog");
    }
    // A flow is its steps: focused, it shows them all and what lies around them.
    std::vector<std::string> focus_nodes{match->id};
    if (match->kind == "flow") {
        const std::string flow = match->id.substr(match->id.find(':') + 1);
        for (const ViewEdge& e : view.edges) {
            if (e.kind != "flow" || e.flow != flow) continue;
            focus_nodes.push_back(e.from);
            focus_nodes.push_back(e.to);
        }
    }
    Focus(view, focus_nodes, options.depth);
    return view;
}

std::string RenderDot(const GraphView& view) {
    std::string out =
        "digraph catalog {\n"
        "  rankdir=LR;\n"
        "  graph [fontname=\"Helvetica\", fontsize=11, compound=true];\n"
        "  node [fontname=\"Helvetica\", fontsize=10];\n"
        "  edge [fontname=\"Helvetica\", fontsize=9];\n";
    // Teams, users, flows and diagrams are drawn only when an edge reaches them (a flow is
    // drawn as its steps); the JSON keeps every node.
    std::set<std::string> linked;
    for (const ViewEdge& e : view.edges) {
        linked.insert(e.from);
        linked.insert(e.to);
    }
    std::map<std::string, std::map<std::string, std::vector<const ViewNode*>>> by_domain;
    for (const ViewNode& n : view.nodes) {
        const bool quiet =
            n.kind == "team" || n.kind == "user" || n.kind == "flow" || n.kind == "diagram";
        if (quiet && !linked.contains(n.id)) continue;
        by_domain[n.domain][n.system].push_back(&n);
    }
    for (const auto& [domain, systems] : by_domain) {
        const std::string indent = domain.empty() ? "  " : "    ";
        if (!domain.empty()) {
            out += "  subgraph " + Quote("cluster_" + domain) + " {\n";
            out += "    label=" + Quote("domain: " + domain) +
                   "; style=\"rounded,dashed\"; color=\"#7a7a7a\";\n";
        }
        for (const auto& [system, nodes] : systems) {
            const std::string inner = system.empty() ? indent : indent + "  ";
            if (!system.empty()) {
                out += indent + "subgraph " + Quote("cluster_" + domain + "_" + system) + " {\n";
                out += inner + "label=" + Quote("system: " + system) +
                       "; style=\"rounded\"; color=\"#a0a0a0\";\n";
            }
            for (const ViewNode* n : nodes)
                out += inner + Quote(n->id) + " " + NodeAttributes(*n) + ";\n";
            if (!system.empty()) out += indent + "}\n";
        }
        if (!domain.empty()) out += "  }\n";
    }
    for (const ViewEdge& e : view.edges) {
        std::string attrs;
        auto add = [&](const std::string& a) { attrs += (attrs.empty() ? "" : ", ") + a; };
        if (!e.label.empty()) add("label=" + Quote(e.label));
        if (e.kind == "flow") add("style=dashed");
        if (e.kind == "triggers") add("style=dotted");
        if (e.failure) {
            add("color=\"#d93025\", fontcolor=\"#d93025\", penwidth=2");
        } else if (e.crosses_domain) {
            add("color=\"#e37400\", penwidth=1.6");
        }
        out += "  " + Quote(e.from) + " -> " + Quote(e.to);
        if (!attrs.empty()) out += " [" + attrs + "]";
        out += ";\n";
    }
    out += "}\n";
    return out;
}

std::string RenderViewJson(const GraphView& view) {
    nlohmann::ordered_json doc;
    auto& nodes = doc["nodes"] = nlohmann::ordered_json::array();
    for (const ViewNode& n : view.nodes) {
        nlohmann::ordered_json j = {{"id", n.id}, {"kind", n.kind}, {"label", n.label}};
        if (!n.domain.empty()) j["domain"] = n.domain;
        if (!n.system.empty()) j["system"] = n.system;
        if (!n.custom_type.empty()) j["customType"] = n.custom_type;
        nodes.push_back(std::move(j));
    }
    auto& edges = doc["edges"] = nlohmann::ordered_json::array();
    for (const ViewEdge& e : view.edges) {
        nlohmann::ordered_json j = {{"from", e.from}, {"to", e.to}, {"kind", e.kind}};
        if (!e.label.empty()) j["label"] = e.label;
        if (!e.flow.empty()) j["flow"] = e.flow;
        j["failure"] = e.failure;
        j["crossesDomain"] = e.crosses_domain;
        edges.push_back(std::move(j));
    }
    // Names and paths come from files written by others: bytes that are not UTF-8 become U+FFFD.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace acme::catalog
