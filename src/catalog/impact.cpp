#include "catalog/impact.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <set>
#include <tuple>

#include "catalog/graph_view.hpp"
#include "catalog/lint.hpp"
#include "core/files.hpp"

namespace acme::catalog {

namespace {

std::size_t U(ResourceIndex i) { return static_cast<std::size_t>(i); }

std::string Join(const std::set<std::string>& items, std::string_view sep = ", ") {
    std::string out;
    for (const auto& i : items) {
        if (!out.empty()) out += sep;
        out += i;
    }
    return out;
}

std::string Ref(const Resource& r) { return std::string(KindName(r.kind)) + ":" + r.id; }

class Analyzer {
  public:
    Analyzer(const Graph& g, const ImpactOptions& options)
        : g_(g), c_(g.catalog()), depth_(options.depth) {}

    ImpactReport Run(std::span<const ResourceIndex> seeds, std::vector<ImpactChange> changes) {
        for (ResourceIndex s : seeds) AddSeed(Latest(s));
        WalkDownstream();
        WalkUpstream();
        ComputeHops();
        ImpactReport report;
        report.changes = std::move(changes);
        CollectFlows(report);
        CollectContracts(report);
        CollectTeams(report);
        CollectRisks(report);
        CollectUpdates(report);
        report.services = services_.size();
        return report;
    }

  private:
    // --- the walk ---------------------------------------------------------------------

    ResourceIndex Latest(ResourceIndex r) const {
        if (r == kNoResource || c_.is_latest[U(r)]) return r;
        for (ResourceIndex v : g_.Versions(r)) {
            if (c_.is_latest[U(v)]) return v;
        }
        return r;
    }

    void AddSeed(ResourceIndex r) {
        const Resource& res = g_.at(r);
        if (!seeds_.insert(r).second) return;
        switch (res.kind) {
            case Kind::kDomain:
            case Kind::kSystem:
                for (ResourceIndex m : g_.Members(r)) AddSeed(Latest(m));
                return;
            case Kind::kTeam:
            case Kind::kUser:
                for (ResourceIndex o : g_.Owned(r)) {
                    const Kind k = g_.at(o).kind;
                    if (k == Kind::kService || IsMessage(k) || k == Kind::kFlow) AddSeed(Latest(o));
                }
                return;
            case Kind::kService:
            case Kind::kAgent:
            case Kind::kDataProduct:
                services_.insert(r);
                touched_.insert(r);
                for (ResourceIndex m : ActorSends(r)) Push(down_, {Latest(m), r, 1, "downstream"});
                for (ResourceIndex m : ActorReceives(r)) {
                    touched_.insert(Latest(m));
                    received_by_seed_.insert(Latest(m));
                    Push(up_, {Latest(m), r, 1, "upstream"});
                }
                return;
            case Kind::kEvent:
            case Kind::kCommand:
            case Kind::kQuery:
            case Kind::kContainer:
            case Kind::kChannel:
                touched_.insert(r);
                for (ResourceIndex v : g_.Versions(r)) {
                    const std::vector<ResourceIndex> producers = CarrierProducers(v);
                    for (ResourceIndex p : producers) {
                        Push(down_, {r, Latest(p), 1, "changed"});
                        for (ResourceIndex m : Feeding(Latest(p), r)) {
                            Push(up_, {m, Latest(p), 1, "upstream"});
                        }
                    }
                    if (producers.empty()) Push(down_, {r, kNoResource, 1, "changed"});
                }
                return;
            default:
                touched_.insert(r);
                return;
        }
    }

    struct Hop {
        ResourceIndex message;
        ResourceIndex service;  // downstream: the producer; upstream: the consumer
        int hop;
        std::string direction;
    };

    void Push(std::deque<Hop>& queue, Hop hop) {
        if (depth_ >= 0 && hop.hop > depth_) return;
        queue.push_back(std::move(hop));
    }

    bool DeclaresTriggers(ResourceIndex service) const {
        const Resource& s = g_.at(service);
        return std::any_of(s.receives.begin(), s.receives.end(),
                           [](const Receive& r) { return !r.triggers.empty(); });
    }

    // What carries a change between services: a message, a data store (writers to readers),
    // a channel (who sends on it to who receives from it).
    static bool IsCarrier(Kind k) {
        return IsMessage(k) || k == Kind::kContainer || k == Kind::kChannel;
    }

    static void Append(std::vector<ResourceIndex>& out, std::span<const ResourceIndex> more) {
        out.insert(out.end(), more.begin(), more.end());
    }

    // Who puts something on carrier `v` (that version): senders, writers, data products.
    std::vector<ResourceIndex> CarrierProducers(ResourceIndex v) const {
        std::vector<ResourceIndex> out;
        const Kind k = g_.at(v).kind;
        if (IsMessage(k)) Append(out, g_.Producers(v));
        if (k == Kind::kContainer) Append(out, g_.In(Relation::kWrites, v));
        if (k == Kind::kChannel) Append(out, g_.In(Relation::kSendsTo, v));
        Append(out, g_.In(Relation::kOutputs, v));
        return out;
    }

    // Who takes something off carrier `v`: receivers, readers, data products it feeds.
    std::vector<ResourceIndex> CarrierConsumers(ResourceIndex v) const {
        std::vector<ResourceIndex> out;
        const Kind k = g_.at(v).kind;
        if (IsMessage(k)) Append(out, g_.Consumers(v));
        if (k == Kind::kContainer) Append(out, g_.In(Relation::kReads, v));
        if (k == Kind::kChannel) {
            // And who receives from the channels it routes on to, however far.
            std::set<ResourceIndex> seen{v};
            std::vector<ResourceIndex> channels{v};
            while (!channels.empty()) {
                const ResourceIndex ch = channels.back();
                channels.pop_back();
                Append(out, g_.In(Relation::kReceivesFrom, ch));
                for (ResourceIndex next : g_.Out(Relation::kRoutes, ch)) {
                    if (seen.insert(next).second) channels.push_back(next);
                }
            }
        }
        Append(out, g_.In(Relation::kInputs, v));
        return out;
    }

    // The carriers a service (agent, data product) puts things on / takes things off.
    std::vector<ResourceIndex> ActorSends(ResourceIndex s) const {
        std::vector<ResourceIndex> out(g_.Sends(s).begin(), g_.Sends(s).end());
        for (Relation rel : {Relation::kWrites, Relation::kOutputs}) {
            for (ResourceIndex c : g_.Out(rel, s)) {
                if (IsCarrier(g_.at(c).kind)) out.push_back(c);
            }
        }
        return out;
    }
    std::vector<ResourceIndex> ActorReceives(ResourceIndex s) const {
        std::vector<ResourceIndex> out(g_.Receives(s).begin(), g_.Receives(s).end());
        for (Relation rel : {Relation::kReads, Relation::kInputs}) {
            for (ResourceIndex c : g_.Out(rel, s)) {
                if (IsCarrier(g_.at(c).kind)) out.push_back(c);
            }
        }
        return out;
    }

    // What `service` emits after receiving `message`: what its triggers say, or (none declared,
    // or a data store or channel received) everything it sends and writes.
    std::vector<ResourceIndex> Emitted(ResourceIndex service, ResourceIndex message) const {
        std::vector<ResourceIndex> out;
        if (!DeclaresTriggers(service) || !IsMessage(g_.at(message).kind)) {
            for (ResourceIndex m : ActorSends(service)) out.push_back(Latest(m));
            return out;
        }
        for (const TriggerEdge& t : g_.Triggers(service)) {
            if (Latest(t.received) == message) out.push_back(Latest(t.emitted));
        }
        return out;
    }

    // What `service` receives or reads that leads it to send `message`.
    std::vector<ResourceIndex> Feeding(ResourceIndex service, ResourceIndex message) const {
        std::vector<ResourceIndex> out;
        if (!DeclaresTriggers(service) || !IsMessage(g_.at(message).kind)) {
            for (ResourceIndex m : ActorReceives(service)) out.push_back(Latest(m));
            return out;
        }
        for (const TriggerEdge& t : g_.Triggers(service)) {
            if (Latest(t.emitted) == message) out.push_back(Latest(t.received));
        }
        return out;
    }

    void AddContract(ResourceIndex producer, ResourceIndex message, ResourceIndex consumer,
                     const std::string& direction, int hop) {
        const auto key = std::make_tuple(producer, message, consumer);
        auto it = contracts_.find(key);
        if (it != contracts_.end()) {
            // Keep the most specific direction (changed > downstream > upstream) and nearest hop.
            auto rank = [](const std::string& d) {
                return d == "changed" ? 0 : d == "downstream" ? 1 : 2;
            };
            if (rank(direction) < rank(it->second.first)) it->second.first = direction;
            it->second.second = std::min(it->second.second, hop);
            return;
        }
        contracts_.emplace(key, std::make_pair(direction, hop));
    }

    void WalkDownstream() {
        std::set<std::pair<ResourceIndex, ResourceIndex>> seen;
        while (!down_.empty()) {
            Hop h = down_.front();
            down_.pop_front();
            if (!seen.insert({h.message, h.service}).second) continue;
            touched_.insert(h.message);
            messages_.insert(h.message);
            down_messages_.insert(h.message);
            bool any_consumer = false;
            for (ResourceIndex v : g_.Versions(h.message)) {
                for (ResourceIndex consumer_any : CarrierConsumers(v)) {
                    const ResourceIndex consumer = Latest(consumer_any);
                    any_consumer = true;
                    AddContract(h.service, h.message, consumer, h.direction, h.hop);
                    touched_.insert(consumer);
                    services_.insert(consumer);
                    for (ResourceIndex e : Emitted(consumer, h.message)) {
                        Push(down_, {e, consumer, h.hop + 1, "downstream"});
                    }
                }
            }
            if (!any_consumer) AddContract(h.service, h.message, kNoResource, h.direction, h.hop);
            if (h.service != kNoResource) services_.insert(h.service);
        }
    }

    void WalkUpstream() {
        std::set<std::pair<ResourceIndex, ResourceIndex>> seen;
        while (!up_.empty()) {
            Hop h = up_.front();
            up_.pop_front();
            if (!seen.insert({h.message, h.service}).second) continue;
            messages_.insert(h.message);
            bool any_producer = false;
            for (ResourceIndex v : g_.Versions(h.message)) {
                for (ResourceIndex producer_any : CarrierProducers(v)) {
                    const ResourceIndex producer = Latest(producer_any);
                    any_producer = true;
                    AddContract(producer, h.message, h.service, "upstream", h.hop);
                    services_.insert(producer);
                    upstream_.insert(h.message);
                    upstream_.insert(producer);
                    upstream_producers_.insert(producer);
                    if (seeds_.contains(producer)) continue;
                    for (ResourceIndex m : Feeding(producer, h.message)) {
                        Push(up_, {m, producer, h.hop + 1, "upstream"});
                    }
                }
            }
            if (!any_producer) AddContract(kNoResource, h.message, h.service, "upstream", h.hop);
        }
    }

    // --- hops ----------------------------------------------------------------------------

    // The change itself is hop 0; every resource on a contract takes the contract's hop, the
    // nearest when it is on several.
    void ComputeHops() {
        for (ResourceIndex s : seeds_) hop_[s] = 0;
        for (const auto& [key, value] : contracts_) {
            const auto& [producer, message, consumer] = key;
            for (ResourceIndex r : {producer, message, consumer}) Nearer(r, value.second);
            for (ResourceIndex svc : {producer, consumer}) {
                auto [it, fresh] = pair_hop_.try_emplace({message, svc}, value.second);
                if (!fresh) it->second = std::min(it->second, value.second);
            }
        }
    }

    void Nearer(ResourceIndex r, int hop) {
        if (r == kNoResource) return;
        auto [it, fresh] = hop_.try_emplace(r, hop);
        if (!fresh) it->second = std::min(it->second, hop);
    }

    int HopOf(ResourceIndex r) const {
        if (r == kNoResource) return -1;
        auto it = hop_.find(Latest(r));
        return it == hop_.end() ? -1 : it->second;
    }

    // --- flows and failure points --------------------------------------------------------

    bool TargetIn(const FlowStep& s, const std::set<ResourceIndex>& set) const {
        return s.target.target != kNoResource && set.contains(Latest(s.target.target));
    }

    // A step is touched when it names a changed resource, a message on the changed or
    // downstream path (or one a changed service receives), or a service that consumes or
    // produces such a message right next to it in the flow. A service that merely appears on
    // the path elsewhere does not make all of its steps touched.
    // Flow steps that carry a change (a message, a data store) and that act on it.
    static bool CarrierStep(StepKind k) {
        return k == StepKind::kMessage || k == StepKind::kContainer;
    }
    static bool ActorStep(StepKind k) {
        return k == StepKind::kService || k == StepKind::kAgent || k == StepKind::kDataProduct;
    }

    std::vector<bool> TouchedSteps(const Resource& flow) const {
        const std::size_t n = flow.steps.size();
        std::vector<std::vector<std::int32_t>> preds(n);
        for (std::size_t i = 0; i < n; ++i) {
            for (const StepLink& l : flow.steps[i].next) {
                if (l.step >= 0) preds[U(l.step)].push_back(static_cast<std::int32_t>(i));
            }
        }
        std::vector<bool> out(n, false);
        for (std::size_t i = 0; i < n; ++i) {
            const FlowStep& s = flow.steps[i];
            if (TargetIn(s, seeds_)) {
                out[i] = true;
            } else if (CarrierStep(s.kind)) {
                out[i] = TargetIn(s, down_messages_) || TargetIn(s, received_by_seed_);
            } else if (ActorStep(s.kind)) {
                for (std::int32_t p : preds[i]) {
                    const FlowStep& ps = flow.steps[U(p)];
                    if (CarrierStep(ps.kind) && TargetIn(ps, down_messages_)) out[i] = true;
                }
                for (const StepLink& l : s.next) {
                    if (l.step < 0) continue;
                    const FlowStep& ns = flow.steps[U(l.step)];
                    if (CarrierStep(ns.kind) && TargetIn(ns, down_messages_) &&
                        TargetIn(s, services_)) {
                        out[i] = true;
                    }
                }
            }
        }
        return out;
    }
    // Upstream: a message that feeds the change, or its producer right before it.
    bool Upstream(const Resource& flow, const FlowStep& s) const {
        if (s.kind == StepKind::kMessage) return TargetIn(s, upstream_);
        if (!TargetIn(s, upstream_producers_)) return false;
        return std::any_of(s.next.begin(), s.next.end(), [&](const StepLink& l) {
            return l.step >= 0 && flow.steps[U(l.step)].kind == StepKind::kMessage &&
                   TargetIn(flow.steps[U(l.step)], upstream_);
        });
    }

    // Steps before the change in the flow's order, with their hop: the number of message steps
    // between them and the changed step (at least 1); -1 for every other step. A step that also
    // comes after a changed step (a saga's loop back to its orchestrator) is not upstream.
    std::vector<int> BeforeTheChange(const Resource& flow) const {
        const std::size_t n = flow.steps.size();
        std::vector<int> dist(n, -1);
        std::vector<std::vector<std::int32_t>> preds(n);
        std::vector<std::int32_t> changed;
        for (std::size_t i = 0; i < n; ++i) {
            for (const StepLink& l : flow.steps[i].next) {
                if (l.step >= 0) preds[U(l.step)].push_back(static_cast<std::int32_t>(i));
            }
            if (TargetIn(flow.steps[i], seeds_)) changed.push_back(static_cast<std::int32_t>(i));
        }
        if (changed.empty()) return dist;
        std::set<std::int32_t> after;
        for (std::int32_t c : changed) after.merge(Reach(flow, c));
        // 0-1 breadth-first search backwards: entering a message step costs one hop.
        std::deque<std::int32_t> queue(changed.begin(), changed.end());
        for (std::int32_t c : changed) dist[U(c)] = 0;
        while (!queue.empty()) {
            const std::int32_t at = queue.front();
            queue.pop_front();
            for (std::int32_t p : preds[U(at)]) {
                const bool message = flow.steps[U(p)].kind == StepKind::kMessage;
                const int d = dist[U(at)] + (message ? 1 : 0);
                if (dist[U(p)] >= 0 && dist[U(p)] <= d) continue;
                dist[U(p)] = d;
                if (message) {
                    queue.push_back(p);
                } else {
                    queue.push_front(p);
                }
            }
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (after.contains(static_cast<std::int32_t>(i))) {
                dist[i] = -1;
            } else if (dist[i] == 0) {
                dist[i] = 1;
            }
        }
        return dist;
    }

    static bool FailureLink(const Resource& flow, const FlowStep& from, const StepLink& l) {
        return IsFailureBranch(flow, from, l);
    }

    // Follows a failure branch to the first custom failure-handling node (a few hops at most).
    std::int32_t CompensationAfter(const Resource& flow, std::int32_t at) const {
        for (int hops = 0; hops < 6 && at >= 0; ++hops) {
            const FlowStep& s = flow.steps[U(at)];
            if (s.kind == StepKind::kCustom && IsFailureNodeType(s.custom_type)) return at;
            at = s.next.empty() ? -1 : s.next.front().step;
        }
        return -1;
    }

    std::set<std::int32_t> Reach(const Resource& flow, std::int32_t from) const {
        std::set<std::int32_t> seen;
        std::vector<std::int32_t> stack{from};
        while (!stack.empty()) {
            const std::int32_t at = stack.back();
            stack.pop_back();
            if (at < 0 || !seen.insert(at).second) continue;
            for (const StepLink& l : flow.steps[U(at)].next) stack.push_back(l.step);
        }
        return seen;
    }

    static std::vector<std::int32_t> FlowOrder(const Resource& flow) {
        std::vector<std::int32_t> order;
        std::vector<bool> seen(flow.steps.size(), false);
        std::deque<std::int32_t> queue;
        for (std::size_t start = 0; start < flow.steps.size(); ++start) {
            if (seen[start]) continue;
            queue.push_back(static_cast<std::int32_t>(start));
            seen[start] = true;
            while (!queue.empty()) {
                const std::int32_t at = queue.front();
                queue.pop_front();
                order.push_back(at);
                for (const StepLink& l : flow.steps[U(at)].next) {
                    if (l.step >= 0 && !seen[U(l.step)]) {
                        seen[U(l.step)] = true;
                        queue.push_back(l.step);
                    }
                }
            }
        }
        return order;
    }

    static std::string StepTarget(const FlowStep& s) {
        if (!s.target.id.empty()) return std::string(StepKindName(s.kind)) + ":" + s.target.id;
        if (s.kind == StepKind::kCustom)
            return "custom:" + (s.custom_type.empty() ? "node" : s.custom_type);
        return std::string(StepKindName(s.kind)) + (s.node_name.empty() ? "" : ":" + s.node_name);
    }

    // A compensation node's actions often name the compensating messages ("void-payment —
    // void the authorization"): the change reaches them when it changes one of those messages
    // or a service that sends or handles them.
    bool ActionsMentionChange(const std::vector<std::string>& actions) const {
        for (ResourceIndex m : messages_) {
            const std::string& id = g_.at(m).id;
            bool changed = seeds_.contains(m);
            for (ResourceIndex v : g_.Versions(m)) {
                for (ResourceIndex p : g_.Producers(v))
                    changed = changed || seeds_.contains(Latest(p));
                for (ResourceIndex cs : g_.Consumers(v))
                    changed = changed || seeds_.contains(Latest(cs));
            }
            if (!changed) continue;
            for (const std::string& a : actions) {
                if (MentionsWord(a, id)) return true;
            }
        }
        return false;
    }

    static bool MentionsWord(std::string_view text, std::string_view word) {
        auto is_word = [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_';
        };
        for (std::size_t at = text.find(word); at != std::string_view::npos;
             at = text.find(word, at + 1)) {
            const bool start_ok = at == 0 || !is_word(text[at - 1]);
            const std::size_t end = at + word.size();
            const bool end_ok = end >= text.size() || !is_word(text[end]);
            if (start_ok && end_ok) return true;
        }
        return false;
    }

    static std::vector<std::string> Actions(const FlowStep& s) {
        std::vector<std::string> out;
        for (const auto& [k, v] : s.properties) out.push_back(v);
        return out;
    }

    void CollectFlows(ImpactReport& report) {
        for (std::size_t i = 0; i < c_.resources.size(); ++i) {
            const Resource& flow = c_.resources[i];
            if (flow.kind != Kind::kFlow || !c_.is_latest[i]) continue;
            const auto fi = static_cast<ResourceIndex>(i);
            const bool flow_changed = seeds_.contains(fi);
            // Compensation nodes and what they lead to.
            std::set<std::int32_t> compensation_path;
            std::set<std::int32_t> listed;
            std::vector<std::int32_t> touched_steps;
            const std::vector<bool> touched = TouchedSteps(flow);
            const std::vector<int> before = BeforeTheChange(flow);
            std::map<std::int32_t, int> hops;  // listed step -> hop
            // A service step is as far as the messages next to it in the flow: a service on
            // several contracts has steps at several hops.
            std::vector<std::vector<std::int32_t>> preds(flow.steps.size());
            for (std::size_t s = 0; s < flow.steps.size(); ++s) {
                for (const StepLink& l : flow.steps[s].next) {
                    if (l.step >= 0) preds[U(l.step)].push_back(static_cast<std::int32_t>(s));
                }
            }
            auto step_hop = [&](std::int32_t s) {
                if (flow_changed) return 0;
                const FlowStep& step = flow.steps[U(s)];
                if (step.target.target != kNoResource &&
                    seeds_.contains(Latest(step.target.target)))
                    return 0;
                if (step.kind == StepKind::kService || step.kind == StepKind::kAgent) {
                    int nearest = -1;
                    auto consider = [&](std::int32_t n) {
                        const FlowStep& ns = flow.steps[U(n)];
                        if (ns.kind != StepKind::kMessage || ns.target.target == kNoResource ||
                            step.target.target == kNoResource)
                            return;
                        auto it =
                            pair_hop_.find({Latest(ns.target.target), Latest(step.target.target)});
                        if (it == pair_hop_.end()) return;
                        if (nearest < 0 || it->second < nearest) nearest = it->second;
                    };
                    for (std::int32_t p : preds[U(s)]) consider(p);
                    for (const StepLink& l : step.next) {
                        if (l.step >= 0) consider(l.step);
                    }
                    if (nearest >= 0) return nearest;
                }
                if (const int h = HopOf(step.target.target); h >= 0) return h;
                return before[U(s)] >= 0 ? before[U(s)] : 1;
            };
            for (std::size_t s = 0; s < flow.steps.size(); ++s) {
                const FlowStep& step = flow.steps[s];
                const auto si = static_cast<std::int32_t>(s);
                if (step.kind == StepKind::kCustom && IsFailureNodeType(step.custom_type)) {
                    for (std::int32_t r : Reach(flow, si)) compensation_path.insert(r);
                }
                if (flow_changed || touched[s]) {
                    touched_steps.push_back(si);
                    hops[si] = step_hop(si);
                } else if (Upstream(flow, step) || before[s] >= 0) {
                    listed.insert(si);
                    hops[si] = step_hop(si);
                    if (before[s] >= 0 && !Upstream(flow, step))
                        FlowUpstream(flow, step, before[s]);
                }
            }
            if (touched_steps.empty()) continue;
            touched_flows_.insert(fi);
            listed.insert(touched_steps.begin(), touched_steps.end());
            // Failure points: touched steps with failure branches.
            for (std::int32_t s : touched_steps) {
                const FlowStep& step = flow.steps[U(s)];
                std::set<std::string> labels;
                std::int32_t comp = -1;
                for (const StepLink& l : step.next) {
                    if (!FailureLink(flow, step, l)) continue;
                    labels.insert(l.label.empty() ? flow.steps[U(l.step)].title : l.label);
                    if (comp < 0) comp = CompensationAfter(flow, l.step);
                }
                if (labels.empty()) continue;
                ImpactFailurePoint fp;
                fp.flow = flow.id;
                fp.step = step.id;
                fp.title = step.title;
                fp.hop = hops[s];
                fp.branches.assign(labels.begin(), labels.end());
                if (comp >= 0) {
                    const FlowStep& node = flow.steps[U(comp)];
                    fp.compensation = node.node_name.empty() ? node.title : node.node_name;
                    fp.actions = Actions(node);
                    listed.insert(comp);
                    // The compensation follows the failure: one hop past a changed step.
                    const int comp_hop = std::max(fp.hop, 1);
                    auto [at, fresh] = hops.try_emplace(comp, comp_hop);
                    if (!fresh) at->second = std::min(at->second, comp_hop);
                    fp.touches_compensation = ActionsMentionChange(fp.actions);
                    for (std::int32_t r : Reach(flow, comp)) {
                        if (touched[U(r)]) fp.touches_compensation = true;
                    }
                    CheckCompensation(flow, node, fp.hop);
                }
                report.failure_points.push_back(std::move(fp));
            }
            ImpactFlow out;
            out.flow = flow.Label();
            out.name = flow.name;
            out.hop = -1;
            for (const Pointer& o : flow.owners) out.owners.push_back(o.id);
            for (std::int32_t s : FlowOrder(flow)) {
                if (!listed.contains(s)) continue;
                const FlowStep& step = flow.steps[U(s)];
                ImpactStep is;
                is.id = step.id;
                is.title = step.title;
                is.target = StepTarget(step);
                is.hop = hops.contains(s) ? hops[s] : step_hop(s);
                if (step.target.target != kNoResource &&
                    seeds_.contains(Latest(step.target.target))) {
                    is.marks.push_back("changed");
                    is.changed = true;
                } else if (!flow_changed && !touched[U(s)] && Upstream(flow, step)) {
                    is.marks.push_back("upstream, feeds the change");
                    is.upstream = true;
                } else if (!flow_changed && !touched[U(s)] && before[U(s)] >= 0) {
                    is.marks.push_back("upstream, before the change in the flow");
                    is.upstream = true;
                }
                for (const StepLink& l : step.next) {
                    if (FailureLink(flow, step, l)) {
                        is.marks.push_back("failure branch '" + l.label + "' -> " +
                                           flow.steps[U(l.step)].id);
                    }
                }
                if (step.kind == StepKind::kCustom && IsFailureNodeType(step.custom_type)) {
                    std::string actions;
                    for (const auto& a : Actions(step))
                        actions += (actions.empty() ? "" : "; ") + a;
                    is.marks.push_back(Lower(step.custom_type) + ": " + actions);
                } else if (compensation_path.contains(s)) {
                    is.marks.push_back("on compensation path");
                }
                out.hop = out.hop < 0 ? is.hop : std::min(out.hop, is.hop);
                out.steps.push_back(std::move(is));
            }
            flow_hop_[fi] = out.hop;
            report.flows.push_back(std::move(out));
        }
        std::sort(report.flows.begin(), report.flows.end(),
                  [](const ImpactFlow& a, const ImpactFlow& b) { return a.flow < b.flow; });
        std::sort(report.failure_points.begin(), report.failure_points.end(),
                  [](const ImpactFailurePoint& a, const ImpactFailurePoint& b) {
                      return std::tie(a.flow, a.step) < std::tie(b.flow, b.step);
                  });
    }

    // A step before the change that no declaration links to it: its service (or the producer
    // of its message) is upstream all the same, and its team is told so.
    void FlowUpstream(const Resource& flow, const FlowStep& step, int hop) {
        const ResourceIndex t = step.target.target;
        if (t == kNoResource || seeds_.contains(Latest(t))) return;
        const Kind k = g_.at(t).kind;
        if (k != Kind::kService && k != Kind::kAgent && !IsMessage(k)) return;
        auto [it, fresh] = flow_upstream_.try_emplace(Latest(t), hop, std::set<std::string>{});
        if (!fresh) it->second.first = std::min(it->second.first, hop);
        it->second.second.insert(step.id + " in " + flow.id);
        if (k == Kind::kService || k == Kind::kAgent) services_.insert(Latest(t));
    }

    // --- undeclared compensation ---------------------------------------------------------

    // Lower-case words of `text`, a plural's trailing 's' dropped ("reservations").
    static std::vector<std::string> Words(std::string_view text) {
        std::vector<std::string> out;
        std::string word;
        auto flush = [&] {
            if (word.size() > 3 && word.back() == 's' && word[word.size() - 2] != 's') {
                word.pop_back();
            }
            if (!word.empty()) out.push_back(std::move(word));
            word.clear();
        };
        for (char ch : text) {
            if (std::isalnum(static_cast<unsigned char>(ch)) != 0) {
                word += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            } else {
                flush();
            }
        }
        flush();
        return out;
    }

    static bool UndoVerb(std::string_view w) {
        static constexpr std::string_view kVerbs[] = {
            "release",  "void",   "refund",  "cancel",    "undo",       "revert",  "reverse",
            "rollback", "roll",   "restock", "unreserve", "compensate", "return",  "credit",
            "delete",   "remove", "unlock",  "restore",   "reimburse",  "retract", "withdraw"};
        return std::find(std::begin(kVerbs), std::end(kVerbs), w) != std::end(kVerbs);
    }

    static bool Filler(std::string_view w) {
        static constexpr std::string_view kFiller[] = {
            "the",   "a",    "an",  "of",   "if",      "one",   "was",    "for",
            "to",    "and",  "or",  "it",   "any",     "that",  "this",   "its",
            "their", "when", "all", "back", "command", "event", "message"};
        return std::find(std::begin(kFiller), std::end(kFiller), w) != std::end(kFiller);
    }

    // True when `message` carries `action`: the action names it, or starts with the verb its
    // id starts with and names something its id, name or summary names ("release reservation"
    // and release-inventory, "Command to release a stock reservation").
    bool Carries(const Resource& message, std::string_view action,
                 const std::vector<std::string>& words) const {
        if (MentionsWord(action, message.id)) return true;
        const std::vector<std::string> id = Words(message.id);
        if (id.empty() || words.empty() || id.front() != words.front()) return false;
        std::vector<std::string> known = id;
        for (std::string_view text :
             {std::string_view(message.name), std::string_view(message.summary)}) {
            for (std::string& w : Words(text)) known.push_back(std::move(w));
        }
        for (std::size_t i = 1; i < words.size(); ++i) {
            if (Filler(words[i])) continue;
            if (std::find(known.begin(), known.end(), words[i]) != known.end()) return true;
        }
        return false;
    }

    // A compensation node's actions that undo something ("void authorization") must be carried
    // by a message a service on the path (or in the flow) sends; one that is not is a risk.
    void CheckCompensation(const Resource& flow, const FlowStep& node, int hop) {
        std::set<ResourceIndex> senders = services_;
        for (const FlowStep& s : flow.steps) {
            if (s.target.target != kNoResource) senders.insert(Latest(s.target.target));
        }
        for (const std::string& action : Actions(node)) {
            std::vector<std::string> words = Words(action);
            // The verb is the first word, or the second after a message id ("void-payment — …").
            auto verb = std::find_if(words.begin(), words.end(),
                                     [](const std::string& w) { return UndoVerb(w); });
            if (verb == words.end() || verb - words.begin() > 2) continue;
            words.erase(words.begin(), verb);
            std::set<std::string> carriers;
            bool sent = false;
            for (std::size_t m = 0; m < c_.resources.size(); ++m) {
                const Resource& message = c_.resources[m];
                if (!IsMessage(message.kind) || !c_.is_latest[m]) continue;
                if (!Carries(message, action, words)) continue;
                carriers.insert(message.id);
                for (ResourceIndex v : g_.Versions(static_cast<ResourceIndex>(m))) {
                    for (ResourceIndex p : g_.Producers(v))
                        sent = sent || senders.contains(Latest(p));
                }
            }
            if (sent) continue;
            const std::string where = "'" + (node.node_name.empty() ? node.title : node.node_name) +
                                      "' in flow " + flow.id + " says '" + action + "'";
            undeclared_.push_back({flow.id, hop, where,
                                   carriers.empty()
                                       ? "no message in the catalog carries it"
                                       : "no service on the path sends " + Join(carriers),
                                   c_.files[flow.file]});
        }
    }

    static std::string Lower(std::string s) {
        for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return s;
    }

    // --- contracts, teams, risks, updates --------------------------------------------------

    std::string DomainName(ResourceIndex r) const {
        if (r == kNoResource) return {};
        const ResourceIndex d = g_.DomainOf(r);
        return d == kNoResource ? std::string() : g_.at(d).id;
    }

    std::string TeamName(ResourceIndex r) const {
        if (r == kNoResource) return {};
        std::set<std::string> owners;
        for (const Pointer& o : g_.at(r).owners) owners.insert(o.id);
        return Join(owners, "+");
    }

    // "service@version" for every producer of another version of `message`'s message.
    std::set<std::string> OtherVersionsProduced(ResourceIndex message) const {
        std::set<std::string> out;
        for (ResourceIndex v : g_.Versions(message)) {
            if (v == message) continue;
            for (ResourceIndex p : g_.Producers(v))
                out.insert(g_.at(p).id + " sends " + g_.at(v).version);
        }
        return out;
    }

    // The producer column of a contract nobody produces: say why when it is version skew.
    std::string NoProducer(ResourceIndex message) const {
        const auto others = OtherVersionsProduced(message);
        if (others.empty()) return "(no producer)";
        return "(no producer of " + g_.at(message).version + ": " + Join(others) + ")";
    }

    void CollectContracts(ImpactReport& report) {
        for (const auto& [key, value] : contracts_) {
            const auto& [producer, message, consumer] = key;
            ImpactContract ct;
            ct.producer = producer == kNoResource ? NoProducer(message) : g_.at(producer).id;
            ct.message = Ref(g_.at(message));
            ct.consumer = consumer == kNoResource ? "(no consumer)" : g_.at(consumer).id;
            ct.producer_domain = DomainName(producer);
            ct.consumer_domain = DomainName(consumer);
            ct.producer_team = TeamName(producer);
            ct.consumer_team = TeamName(consumer);
            ct.direction = value.first;
            ct.hop = value.second;
            ct.crosses_domain = !ct.producer_domain.empty() && !ct.consumer_domain.empty() &&
                                ct.producer_domain != ct.consumer_domain;
            ct.crosses_team = !ct.producer_team.empty() && !ct.consumer_team.empty() &&
                              ct.producer_team != ct.consumer_team;
            report.boundaries.push_back(std::move(ct));
        }
        auto rank = [](const std::string& d) {
            return d == "changed" ? 0 : d == "downstream" ? 1 : 2;
        };
        std::sort(report.boundaries.begin(), report.boundaries.end(),
                  [&](const ImpactContract& a, const ImpactContract& b) {
                      return std::make_tuple(rank(a.direction), a.hop, a.producer, a.message,
                                             a.consumer) < std::make_tuple(rank(b.direction), b.hop,
                                                                           b.producer, b.message,
                                                                           b.consumer);
                  });
    }

    void CollectTeams(ImpactReport& report) {
        // The order reasons are listed in; each reason then by hop.
        static constexpr std::string_view kOrder[] = {"owner of the change",
                                                      "owner of the domain",
                                                      "consumer of a changed contract",
                                                      "producer of a changed contract",
                                                      "producer of a message the change receives",
                                                      "producer upstream",
                                                      "upstream in a flow",
                                                      "reached downstream",
                                                      "owner of a touched flow"};
        auto rank = [](std::string_view why) {
            return static_cast<int>(std::find(std::begin(kOrder), std::end(kOrder), why) -
                                    std::begin(kOrder));
        };
        std::map<std::string, std::map<std::tuple<int, int, std::string>, std::set<std::string>>>
            reasons;
        auto add = [&](ResourceIndex r, std::string_view why, int hop, const std::string& what) {
            if (r == kNoResource) return;
            for (const Pointer& o : g_.at(r).owners) {
                reasons[o.id][{rank(why), hop, std::string(why)}].insert(what);
            }
        };
        for (ResourceIndex s : seeds_) {
            add(s, "owner of the change", 0, Ref(g_.at(s)));
            if (const ResourceIndex d = g_.DomainOf(s); d != kNoResource) {
                add(d, "owner of the domain", 0, "domain:" + g_.at(d).id);
            }
        }
        for (const auto& [key, value] : contracts_) {
            const auto& [producer, message, consumer] = key;
            const auto& [direction, hop] = value;
            const std::string m = g_.at(message).id;
            const bool changed_message = seeds_.contains(message);
            const bool from_change = seeds_.contains(producer) || changed_message;
            if (producer != kNoResource && !seeds_.contains(producer)) {
                const std::string what = m + " from " + g_.at(producer).id;
                if (changed_message) {
                    add(producer, "producer of a changed contract", hop, what);
                } else if (hop == 1 && seeds_.contains(consumer)) {
                    add(producer, "producer of a message the change receives", hop, what);
                } else if (direction == "upstream") {
                    add(producer, "producer upstream", hop, what);
                }
            }
            if (consumer == kNoResource || seeds_.contains(consumer) || direction == "upstream") {
                continue;
            }
            const std::string what = m + " in " + g_.at(consumer).id;
            if (hop == 1 && from_change) {
                add(consumer, "consumer of a changed contract", hop, what);
            } else {
                add(consumer, "reached downstream", hop, what);
            }
        }
        for (const auto& [r, where] : flow_upstream_) {
            for (const std::string& w : where.second) add(r, "upstream in a flow", where.first, w);
        }
        for (ResourceIndex f : touched_flows_) {
            add(f, "owner of a touched flow", flow_hop_[f], g_.at(f).id);
        }
        for (auto& [team, why] : reasons) {
            ImpactTeam t;
            t.team = team;
            t.hop = std::get<1>(why.begin()->first);
            for (auto& [k, items] : why) {
                const auto& [order, hop, name] = k;
                t.hop = std::min(t.hop, hop);
                t.reasons.push_back({name, hop, {items.begin(), items.end()}});
            }
            report.teams.push_back(std::move(t));
        }
    }

    void CollectRisks(ImpactReport& report) {
        std::map<std::pair<RiskLevel, std::string>, int> risks;  // -> nearest hop
        std::map<std::pair<RiskLevel, std::string>, std::string> categories;
        auto risk = [&](RiskLevel level, std::string reason, int hop, std::string_view category) {
            categories[{level, reason}] = category;
            auto [it, fresh] = risks.try_emplace({level, std::move(reason)}, hop);
            if (!fresh) it->second = std::min(it->second, hop);
        };
        // Breaking contract changes with live consumers.
        for (const ImpactChange& ch : report.changes) {
            const bool is_message = ch.resource.starts_with("event:") ||
                                    ch.resource.starts_with("command:") ||
                                    ch.resource.starts_with("query:");
            if (!ch.breaking || !is_message) continue;
            std::set<std::string> consumers;
            for (const auto& [key, value] : contracts_) {
                const auto& [producer, message, consumer] = key;
                if (Ref(g_.at(message)) == ch.resource && consumer != kNoResource) {
                    consumers.insert(g_.at(consumer).id);
                }
            }
            if (consumers.empty()) {
                risk(RiskLevel::kMedium,
                     "breaking change to " + ch.resource + " (no live consumer found)", 0,
                     "breaking");
            } else {
                risk(RiskLevel::kHigh,
                     "breaking change to " + ch.resource +
                         " with live consumers: " + Join(consumers),
                     0, "breaking");
            }
            const auto before = Semver::Parse(ch.before_version);
            const auto after = Semver::Parse(ch.after_version);
            const bool major_bumped = before && after && after->major > before->major;
            if (ch.change == "modified" && !major_bumped) {
                risk(RiskLevel::kHigh,
                     ch.resource + " breaks its contract without a major version bump", 0,
                     "breaking");
            }
        }
        for (const ImpactFailurePoint& fp : report.failure_points) {
            const std::string where =
                "'" + fp.title + "' in flow " + fp.flow + " (" +
                Join(std::set<std::string>(fp.branches.begin(), fp.branches.end())) + ")";
            if (fp.touches_compensation) {
                risk(RiskLevel::kHigh,
                     "compensation path touched after " + where + ": re-test " + fp.compensation,
                     fp.hop, "compensation");
            } else {
                risk(RiskLevel::kMedium, "failure point on the affected path: " + where, fp.hop,
                     "failure-point");
            }
        }
        // Hand-offs across domains, one line per pair of domains and hop: at hop 1 the contract
        // changes; further on the change only reaches it (the nearest such hop is kept).
        struct Handoff {
            std::set<std::string> messages;
            int hop = 0;
        };
        std::map<std::tuple<bool, std::string, std::string>, Handoff> handoffs;
        for (const ImpactContract& ct : report.boundaries) {
            if (ct.direction == "upstream" || !ct.crosses_domain) continue;
            auto [it, fresh] = handoffs.try_emplace(
                {ct.hop > 1, ct.producer_domain, ct.consumer_domain}, Handoff{{}, ct.hop});
            it->second.messages.insert(ct.message.substr(ct.message.find(':') + 1));
            it->second.hop = std::min(it->second.hop, ct.hop);
        }
        for (const auto& [key, handoff] : handoffs) {
            const auto& [further, from, to] = key;
            const bool fulfilment = to.find("fulfil") != std::string::npos;
            const std::string what =
                std::string(fulfilment ? "fulfilment hand-off" : "cross-domain hand-off") + " " +
                from + " -> " + to;
            if (further) {
                risk(RiskLevel::kLow, what + " reached downstream: " + Join(handoff.messages),
                     handoff.hop, "hand-off");
            } else {
                risk(RiskLevel::kMedium, what + " changes: " + Join(handoff.messages), 1,
                     "hand-off");
            }
        }
        // Consumers pinned to an old version of a message on the path.
        for (ResourceIndex m : messages_) {
            if (!IsMessage(g_.at(m).kind)) continue;
            for (ResourceIndex v : g_.Versions(m)) {
                if (c_.is_latest[U(v)]) continue;
                for (ResourceIndex consumer : g_.Consumers(v)) {
                    risk(RiskLevel::kMedium,
                         g_.at(consumer).id + " is pinned to " + g_.at(v).id + "@" +
                             g_.at(v).version + " (latest " + g_.at(m).version + ")",
                         HopOf(m), "pinned");
                }
            }
            if (g_.Consumers(m).empty() && Unconsumed(m)) {
                risk(RiskLevel::kLow, Ref(g_.at(m)) + " has no consumer", HopOf(m), "no-consumer");
            }
            if (Unproduced(m))
                risk(RiskLevel::kLow, Ref(g_.at(m)) + " has no producer", HopOf(m), "no-producer");
            // Version skew: consumers of a version nobody sends while another version is sent.
            for (ResourceIndex v : g_.Versions(m)) {
                if (!g_.Producers(v).empty() || g_.Consumers(v).empty()) continue;
                const auto others = OtherVersionsProduced(v);
                if (others.empty()) continue;
                for (ResourceIndex consumer : g_.Consumers(v)) {
                    risk(RiskLevel::kHigh,
                         "version skew: " + g_.at(consumer).id + " receives " + g_.at(v).id + "@" +
                             g_.at(v).version + ", which no producer sends (" + Join(others) + ")",
                         HopOf(m), "version-skew");
                }
            }
        }
        for (ResourceIndex f : touched_flows_) {
            for (const Diagnostic& d : LintFlow(c_, g_, f)) {
                if (d.rule != "flow/undeclared-edge") continue;
                drift_.push_back({g_.at(f).id, d.message, flow_hop_[f]});
                risk(RiskLevel::kMedium, "drift in flow " + g_.at(f).id + ": " + d.message,
                     flow_hop_[f], "drift");
            }
        }
        for (const Undeclared& u : undeclared_) {
            risk(RiskLevel::kHigh, "undeclared compensation: " + u.where + ", but " + u.why, u.hop,
                 "undeclared-compensation");
        }
        for (auto& [key, hop] : risks)
            report.risks.push_back({key.first, key.second, hop, categories[key]});
    }

    bool Unconsumed(ResourceIndex m) const {
        for (ResourceIndex v : g_.Versions(m)) {
            if (!g_.Consumers(v).empty()) return false;
        }
        return true;
    }
    bool Unproduced(ResourceIndex m) const {
        for (ResourceIndex v : g_.Versions(m)) {
            if (!g_.Producers(v).empty()) return false;
        }
        return true;
    }

    void CollectUpdates(ImpactReport& report) {
        std::set<std::pair<std::string, std::string>> updates;  // hop 0: the change's own
        std::map<std::string, const ImpactChange*> change_of;
        for (const ImpactChange& ch : report.changes) change_of[ch.resource] = &ch;
        for (ResourceIndex s : seeds_) {
            const Resource& r = g_.at(s);
            if (r.kind == Kind::kTeam || r.kind == Kind::kUser) continue;
            const std::string ref = Ref(r);
            const ImpactChange* ch = change_of.contains(ref) ? change_of[ref] : nullptr;
            if (ch != nullptr && ch->change == "removed") continue;
            if (r.semver) {
                const bool breaking = ch != nullptr && ch->breaking;
                const bool bumped = ch != nullptr && ch->version_bumped;
                if (breaking && !(bumped && ch->after_version != ch->before_version &&
                                  Semver::Parse(ch->after_version) &&
                                  Semver::Parse(ch->after_version)->major >
                                      Semver::Parse(ch->before_version).value_or(Semver{}).major)) {
                    updates.insert({ref, "bump version " + r.version + " -> " +
                                             r.semver->NextMajor().ToString() +
                                             " (major: the contract breaks)"});
                } else if (!bumped && !(ch != nullptr && ch->change == "added")) {
                    updates.insert({ref, "bump version " + r.version + " -> " +
                                             r.semver->NextMinor().ToString() + " (minor; " +
                                             r.semver->NextMajor().ToString() +
                                             " if a contract breaks)"});
                }
            }
            updates.insert({ref, std::string(r.has_changelog ? "add a changelog entry to "
                                                             : "create changelog entry ") +
                                     (r.dir.empty() ? "" : r.dir + "/") + "changelog.mdx"});
            if (IsMessage(r.kind) && !r.schema_path.empty()) {
                updates.insert({ref, "update the schema " + r.dir + "/" + r.schema_path +
                                         " and keep it draft-07 valid"});
            }
            for (const Specification& spec : r.specifications) {
                updates.insert(
                    {ref, "review the " + spec.type + " document " + r.dir + "/" + spec.path});
            }
            if (IsMessage(r.kind)) {
                for (ResourceIndex v : g_.Versions(s)) {
                    for (ResourceIndex svc : Concat(g_.Producers(v), g_.Consumers(v))) {
                        for (const Specification& spec : g_.at(svc).specifications) {
                            // Only a document that names the message needs its update.
                            if (!SpecMentions(g_.at(svc), spec, r)) continue;
                            updates.insert({Ref(g_.at(svc)), "update the " + spec.type +
                                                                 " document " + g_.at(svc).dir +
                                                                 "/" + spec.path + " for " + r.id});
                        }
                    }
                }
            }
            PinnedPointers(s, updates);
        }
        for (auto& [resource, action] : updates)
            report.catalog_updates.push_back({resource, action, 0});
        std::map<std::pair<std::string, std::string>, int> further;
        for (const Drift& d : drift_)
            further.try_emplace({"flow:" + d.flow, "fix drift: " + d.message}, d.hop);
        for (const Undeclared& u : undeclared_) {
            further.try_emplace(
                {"flow:" + u.flow,
                 "declare the message that carries " + u.where.substr(u.where.find(" says ") + 6) +
                     " and the service on the path that sends it (" + u.file + ")"},
                u.hop);
        }
        for (auto& [key, hop] : further) {
            if (updates.contains(key)) continue;
            report.catalog_updates.push_back({key.first, key.second, hop});
        }
        std::sort(report.catalog_updates.begin(), report.catalog_updates.end(),
                  [](const ImpactUpdate& a, const ImpactUpdate& b) {
                      return std::tie(a.resource, a.action) < std::tie(b.resource, b.action);
                  });
    }

    static std::vector<ResourceIndex> Concat(std::span<const ResourceIndex> a,
                                             std::span<const ResourceIndex> b) {
        std::vector<ResourceIndex> out(a.begin(), a.end());
        out.insert(out.end(), b.begin(), b.end());
        return out;
    }

    // Pointers elsewhere that pin `seed`'s current version exactly: they stay on the old
    // version after the bump unless updated.
    void PinnedPointers(ResourceIndex seed,
                        std::set<std::pair<std::string, std::string>>& updates) {
        const Resource& r = g_.at(seed);
        auto pinned = [&](const Pointer& p) {
            return p.resolution == Resolution::kResolved && p.target == seed &&
                   !p.version.empty() && p.version != "latest" &&
                   VersionRange::Parse(p.version).value_or(VersionRange{}).IsExact();
        };
        for (std::size_t i = 0; i < c_.resources.size(); ++i) {
            if (!c_.is_latest[i]) continue;
            const Resource& other = c_.resources[i];
            std::set<std::string> keys;
            for (const Send& s : other.sends) {
                if (pinned(s.message)) keys.insert(s.message.key);
            }
            for (const Receive& rc : other.receives) {
                if (pinned(rc.message)) keys.insert(rc.message.key);
                for (const Pointer& t : rc.triggers) {
                    if (pinned(t)) keys.insert(t.key);
                }
            }
            for (const auto* list :
                 {&other.services, &other.flows, &other.subdomains, &other.systems,
                  &other.producers, &other.consumers, &other.containers, &other.data_products,
                  &other.writes_to, &other.reads_from, &other.inputs, &other.outputs, &other.routes,
                  &other.grouped, &other.applies_to}) {
                for (const Pointer& p : *list) {
                    if (pinned(p)) keys.insert(p.key);
                }
            }
            std::set<std::string> steps;
            for (const FlowStep& s : other.steps) {
                if (pinned(s.target)) steps.insert(s.id);
            }
            if (!keys.empty()) {
                updates.insert({Ref(other), "move " + Join(keys) + " off " + r.id + "@" +
                                                r.version + " when it is bumped (" +
                                                c_.files[other.file] + ")"});
            }
            if (!steps.empty()) {
                updates.insert({Ref(other), "flow steps pinned to " + r.id + "@" + r.version +
                                                ": " + Join(steps) + " (" + c_.files[other.file] +
                                                ")"});
            }
        }
    }

    // True when the specification document of `service` names `message` (its id, or its name)
    // as a whole word; documents are read once per analysis.
    bool SpecMentions(const Resource& service, const Specification& spec, const Resource& message) {
        const std::string path = (service.dir.empty() ? "" : service.dir + "/") + spec.path;
        auto [it, fresh] = spec_texts_.try_emplace(path);
        if (fresh) it->second = ReadFile(c_.root / path).value_or("");
        const std::string& text = it->second;
        return (!message.id.empty() && MentionsWord(text, message.id)) ||
               (!message.name.empty() && MentionsWord(text, message.name));
    }

    std::map<std::string, std::string> spec_texts_;
    const Graph& g_;
    const Catalog& c_;
    int depth_;
    std::set<ResourceIndex> seeds_;
    std::set<ResourceIndex> touched_;
    std::set<ResourceIndex> services_;
    std::set<ResourceIndex> messages_;
    std::set<ResourceIndex> upstream_producers_;
    std::set<ResourceIndex> upstream_;          // messages and producers that feed the change
    std::set<ResourceIndex> down_messages_;     // changed messages and those downstream
    std::set<ResourceIndex> received_by_seed_;  // messages a changed service receives
    std::set<ResourceIndex> touched_flows_;
    std::deque<Hop> down_, up_;
    std::map<std::tuple<ResourceIndex, ResourceIndex, ResourceIndex>, std::pair<std::string, int>>
        contracts_;
    struct Drift {
        std::string flow;
        std::string message;
        int hop = 0;
    };
    struct Undeclared {
        std::string flow;
        int hop = 0;
        std::string where;  // "'Compensate X' in flow f says 'void authorization'"
        std::string why;
        std::string file;
    };
    std::vector<Drift> drift_;
    std::vector<Undeclared> undeclared_;
    std::map<ResourceIndex, int> hop_;
    std::map<std::pair<ResourceIndex, ResourceIndex>, int> pair_hop_;  // (message, service)
    std::map<ResourceIndex, int> flow_hop_;
    // Services and messages only a flow's order puts before the change: hop, "step in flow".
    std::map<ResourceIndex, std::pair<int, std::set<std::string>>> flow_upstream_;
};

void Summarize(ImpactReport& report) {
    std::set<std::string> teams;
    for (const ImpactTeam& t : report.teams) teams.insert(t.team);
    std::size_t crossing = 0;
    for (const ImpactContract& c : report.boundaries) crossing += c.crosses_domain ? 1 : 0;
    std::string what;
    for (const ImpactChange& ch : report.changes) {
        if (!what.empty()) what += ", ";
        what += ch.resource + " " + ch.change;
    }
    if (what.empty()) what = "no change";
    std::string highest = "none";
    for (RiskLevel level : {RiskLevel::kLow, RiskLevel::kMedium, RiskLevel::kHigh}) {
        if (report.HasRisk(level)) highest = std::string(RiskLevelName(level));
    }
    report.summary =
        what + ": " + std::to_string(report.flows.size()) + " flows, " +
        std::to_string(report.services) + " services, " + std::to_string(teams.size()) +
        " teams, " + std::to_string(report.boundaries.size()) + " contracts (" +
        std::to_string(crossing) + " cross a domain boundary); highest risk: " + highest +
        (report.HasBreakingChange() ? "; breaking contract change" : "");
}

}  // namespace

std::string_view RiskLevelName(RiskLevel level) {
    switch (level) {
        case RiskLevel::kHigh:
            return "high";
        case RiskLevel::kMedium:
            return "medium";
        case RiskLevel::kLow:
            return "low";
    }
    return "low";
}

bool ImpactReport::HasBreakingChange() const {
    return std::any_of(changes.begin(), changes.end(),
                       [](const ImpactChange& c) { return c.breaking; });
}

bool ImpactReport::HasRisk(RiskLevel level) const {
    return std::any_of(risks.begin(), risks.end(),
                       [&](const ImpactRisk& r) { return r.level == level; });
}

Result<ResourceIndex> ResolveResourceSpec(const Catalog& catalog, std::string_view spec) {
    std::string_view id = spec;
    std::string version;
    std::optional<Kind> kind;
    if (const std::size_t at = id.rfind('@'); at != std::string_view::npos) {
        version = std::string(id.substr(at + 1));
        id = id.substr(0, at);
    }
    if (const std::size_t colon = id.find(':'); colon != std::string_view::npos) {
        kind = ParseKind(id.substr(0, colon));
        if (!kind) {
            return MakeError(ErrorCode::kInvalidArgument, "unknown kind '" +
                                                              std::string(id.substr(0, colon)) +
                                                              "' in '" + std::string(spec) + "'");
        }
        id = id.substr(colon + 1);
    }
    auto it = catalog.by_id.find(std::string(id));
    if (it == catalog.by_id.end()) {
        // By name when no id matches ("Order Service" for order-service): unique names only.
        std::set<std::string> ids;
        for (std::size_t i = 0; i < catalog.resources.size(); ++i) {
            const Resource& r = catalog.resources[i];
            if (r.name == id && catalog.is_latest[i] && (!kind || r.kind == *kind))
                ids.insert(r.id);
        }
        if (ids.size() == 1) it = catalog.by_id.find(*ids.begin());
        if (ids.size() > 1) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "'" + std::string(id) + "' names several resources: " + Join(ids));
        }
    }
    if (it == catalog.by_id.end()) {
        return MakeError(ErrorCode::kNotFound,
                         "no resource '" + std::string(id) + "' in the catalog");
    }
    std::set<Kind> kinds;
    ResourceIndex found = kNoResource;
    for (ResourceIndex i : it->second) {
        const Resource& r = catalog.resources[U(i)];
        if (kind && r.kind != *kind) continue;
        const bool match = version.empty() ? catalog.is_latest[U(i)] : r.version == version;
        if (!match) continue;
        kinds.insert(r.kind);
        found = i;
    }
    if (found == kNoResource) {
        return MakeError(ErrorCode::kNotFound, "no resource matches '" + std::string(spec) + "'");
    }
    if (kinds.size() > 1) {
        std::set<std::string> names;
        for (Kind k : kinds) names.insert(std::string(KindName(k)) + ":" + std::string(id));
        return MakeError(ErrorCode::kInvalidArgument,
                         "'" + std::string(spec) + "' is ambiguous: " + Join(names));
    }
    return found;
}

ImpactReport AnalyzeImpact(const Graph& graph, std::span<const ResourceIndex> seeds,
                           std::vector<ImpactChange> changes, const ImpactOptions& options) {
    ImpactReport report = Analyzer(graph, options).Run(seeds, std::move(changes));
    std::string title;
    for (const ImpactChange& ch : report.changes)
        title += (title.empty() ? "" : ", ") + ch.resource;
    report.title = title;
    Summarize(report);
    return report;
}

void MergeImpact(ImpactReport& into, ImpactReport other) {
    auto append = [](auto& a, auto& b) {
        a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
    };
    append(into.changes, other.changes);
    append(into.flows, other.flows);
    append(into.boundaries, other.boundaries);
    append(into.failure_points, other.failure_points);
    append(into.risks, other.risks);
    append(into.catalog_updates, other.catalog_updates);
    // Teams: one entry per team, reasons merged by (reason, hop) in the order they came.
    std::map<std::string, ImpactTeam> teams;
    for (auto* list : {&into.teams, &other.teams}) {
        for (ImpactTeam& t : *list) {
            auto [it, fresh] = teams.try_emplace(t.team, ImpactTeam{t.team, t.hop, {}});
            ImpactTeam& merged = it->second;
            merged.hop = std::min(merged.hop, t.hop);
            for (ImpactTeamReason& r : t.reasons) {
                auto same = std::find_if(merged.reasons.begin(), merged.reasons.end(),
                                         [&](const ImpactTeamReason& m) {
                                             return m.reason == r.reason && m.hop == r.hop;
                                         });
                if (same == merged.reasons.end()) {
                    merged.reasons.push_back(std::move(r));
                    continue;
                }
                std::set<std::string> items(same->items.begin(), same->items.end());
                items.insert(r.items.begin(), r.items.end());
                same->items.assign(items.begin(), items.end());
            }
        }
    }
    into.teams.clear();
    for (auto& [team, t] : teams) into.teams.push_back(std::move(t));
    into.services += other.services;
    auto dedupe = [](auto& v, auto key) {
        std::stable_sort(v.begin(), v.end(),
                         [&](const auto& a, const auto& b) { return key(a) < key(b); });
        v.erase(std::unique(v.begin(), v.end(),
                            [&](const auto& a, const auto& b) { return key(a) == key(b); }),
                v.end());
    };
    dedupe(into.changes, [](const ImpactChange& c) { return c.resource + " " + c.change; });
    dedupe(into.flows, [](const ImpactFlow& f) { return f.flow; });
    dedupe(into.boundaries, [](const ImpactContract& c) {
        return std::make_tuple(c.direction == "changed"      ? 0
                               : c.direction == "downstream" ? 1
                                                             : 2,
                               c.hop, c.producer, c.message, c.consumer);
    });
    dedupe(into.failure_points,
           [](const ImpactFailurePoint& f) { return std::make_tuple(f.flow, f.step); });
    // The nearest hop of a risk both reports raise survives.
    std::stable_sort(into.risks.begin(), into.risks.end(),
                     [](const ImpactRisk& a, const ImpactRisk& b) { return a.hop < b.hop; });
    dedupe(into.risks, [](const ImpactRisk& r) { return std::make_pair(r.level, r.reason); });
    dedupe(into.catalog_updates,
           [](const ImpactUpdate& u) { return std::make_pair(u.resource, u.action); });
    std::string title;
    for (const ImpactChange& ch : into.changes) title += (title.empty() ? "" : ", ") + ch.resource;
    into.title = title;
    Summarize(into);
}

}  // namespace acme::catalog
