#include "catalog/graph.hpp"

#include <algorithm>

namespace acme::catalog {

namespace {
std::size_t U(ResourceIndex i) { return static_cast<std::size_t>(i); }

void SortUnique(std::vector<ResourceIndex>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}
}  // namespace

void Graph::AddEdge(Adjacency& forward, Adjacency& reverse, ResourceIndex from, ResourceIndex to) {
    if (from == kNoResource || to == kNoResource) return;
    forward[U(from)].push_back(to);
    reverse[U(to)].push_back(from);
}

Graph::Graph(const Catalog& catalog) : catalog_(catalog) {
    const std::size_t n = catalog.resources.size();
    for (Adjacency* a :
         {&sends_, &producers_, &receives_, &consumers_, &owners_, &owned_, &domains_, &members_}) {
        a->assign(n, {});
    }
    triggers_.assign(n, {});
    flow_refs_.assign(n, {});
    out_.assign(kRelationCount, Adjacency(n));
    in_.assign(kRelationCount, Adjacency(n));
    auto relate = [&](Relation rel, ResourceIndex from, ResourceIndex to) {
        AddEdge(out_[static_cast<std::size_t>(rel)], in_[static_cast<std::size_t>(rel)], from, to);
    };
    auto resolved = [](const Pointer& p) {
        return p.resolution == Resolution::kResolved ? p.target : kNoResource;
    };
    for (std::size_t i = 0; i < n; ++i) {
        const Resource& r = catalog.resources[i];
        const auto self = static_cast<ResourceIndex>(i);
        // Owners and flow steps are read from every version: an old flow still names steps.
        for (const Pointer& o : r.owners) AddEdge(owners_, owned_, self, resolved(o));
        if (r.kind == Kind::kFlow && catalog.is_latest[i]) {
            for (std::size_t s = 0; s < r.steps.size(); ++s) {
                const ResourceIndex t = resolved(r.steps[s].target);
                if (t != kNoResource) {
                    flow_refs_[U(t)].push_back({self, static_cast<std::int32_t>(s)});
                }
            }
        }
        if (!catalog.is_latest[i]) continue;
        for (const Send& s : r.sends) {
            const ResourceIndex m = resolved(s.message);
            AddEdge(sends_, producers_, self, m);
            for (const Pointer& ch : s.channels) {
                relate(Relation::kSendsTo, self, resolved(ch));
                relate(Relation::kCarries, resolved(ch), m);
            }
        }
        for (const Receive& rc : r.receives) {
            const ResourceIndex m = resolved(rc.message);
            AddEdge(receives_, consumers_, self, m);
            for (const Pointer& ch : rc.channels) {
                relate(Relation::kReceivesFrom, self, resolved(ch));
                relate(Relation::kCarries, resolved(ch), m);
            }
            for (const Pointer& t : rc.triggers) {
                const ResourceIndex e = resolved(t);
                if (m != kNoResource && e != kNoResource) triggers_[i].push_back({self, m, e});
            }
        }
        // Old style: the message lists its producers and consumers.
        for (const Pointer& p : r.producers) AddEdge(sends_, producers_, resolved(p), self);
        for (const Pointer& p : r.consumers) AddEdge(receives_, consumers_, resolved(p), self);
        if (r.kind == Kind::kDomain || r.kind == Kind::kSystem) {
            for (const auto* list : {&r.services, &r.subdomains, &r.systems, &r.flows, &r.entities,
                                     &r.containers, &r.data_products}) {
                for (const Pointer& p : *list) AddEdge(members_, domains_, self, resolved(p));
            }
        }
        const std::pair<Relation, const std::vector<Pointer>*> lists[] = {
            {Relation::kWrites, &r.writes_to}, {Relation::kReads, &r.reads_from},
            {Relation::kInputs, &r.inputs},    {Relation::kOutputs, &r.outputs},
            {Relation::kRoutes, &r.routes},    {Relation::kAppliesTo, &r.applies_to},
            {Relation::kGroups, &r.grouped}};
        for (const auto& [rel, list] : lists) {
            for (const Pointer& p : *list) relate(rel, self, resolved(p));
        }
    }
    for (Adjacency* a :
         {&sends_, &producers_, &receives_, &consumers_, &owners_, &owned_, &domains_, &members_}) {
        for (auto& list : *a) SortUnique(list);
    }
    for (auto* rels : {&out_, &in_}) {
        for (Adjacency& a : *rels) {
            for (auto& list : a) SortUnique(list);
        }
    }
}

std::span<const ResourceIndex> Graph::Out(Relation rel, ResourceIndex from) const {
    return out_[static_cast<std::size_t>(rel)][U(from)];
}
std::span<const ResourceIndex> Graph::In(Relation rel, ResourceIndex to) const {
    return in_[static_cast<std::size_t>(rel)][U(to)];
}

std::span<const ResourceIndex> Graph::Producers(ResourceIndex m) const { return producers_[U(m)]; }
std::span<const ResourceIndex> Graph::Consumers(ResourceIndex m) const { return consumers_[U(m)]; }
std::span<const ResourceIndex> Graph::Sends(ResourceIndex s) const { return sends_[U(s)]; }
std::span<const ResourceIndex> Graph::Receives(ResourceIndex s) const { return receives_[U(s)]; }
std::span<const TriggerEdge> Graph::Triggers(ResourceIndex s) const { return triggers_[U(s)]; }
std::span<const ResourceIndex> Graph::Owners(ResourceIndex r) const { return owners_[U(r)]; }
std::span<const ResourceIndex> Graph::Owned(ResourceIndex o) const { return owned_[U(o)]; }
std::span<const ResourceIndex> Graph::Domains(ResourceIndex r) const { return domains_[U(r)]; }
std::span<const ResourceIndex> Graph::Members(ResourceIndex d) const { return members_[U(d)]; }
std::span<const FlowRef> Graph::FlowRefs(ResourceIndex r) const { return flow_refs_[U(r)]; }

ResourceIndex Graph::DomainOf(ResourceIndex r) const {
    const Resource& res = at(r);
    if (IsMessage(res.kind)) {
        for (const auto* ends : {&producers_, &consumers_}) {
            for (ResourceIndex v : Versions(r)) {
                for (ResourceIndex s : (*ends)[U(v)]) {
                    if (ResourceIndex d = DomainOf(s); d != kNoResource) return d;
                }
            }
        }
        return kNoResource;
    }
    // Walk up through systems (a system sits in a domain) a few levels at most.
    ResourceIndex at_node = r;
    for (int level = 0; level < 4; ++level) {
        const auto& parents = domains_[U(at_node)];
        for (ResourceIndex p : parents) {
            if (at(p).kind == Kind::kDomain) return p;
        }
        if (parents.empty()) break;
        at_node = parents.front();  // a system
    }
    // A data store no domain or system lists, or a channel: the domain of who uses it.
    std::pair<Relation, Relation> users{Relation::kWrites, Relation::kReads};
    if (res.kind == Kind::kChannel) users = {Relation::kSendsTo, Relation::kReceivesFrom};
    if (res.kind == Kind::kContainer || res.kind == Kind::kChannel) {
        for (Relation rel : {users.first, users.second}) {
            for (ResourceIndex u : In(rel, r)) {
                if (at(u).kind == Kind::kChannel || at(u).kind == Kind::kContainer) continue;
                if (ResourceIndex d = DomainOf(u); d != kNoResource) return d;
            }
        }
    }
    if (!catalog_.is_latest[U(r)]) {
        for (ResourceIndex v : Versions(r)) {
            if (catalog_.is_latest[U(v)]) return DomainOf(v);
        }
    }
    return kNoResource;
}

std::vector<ResourceIndex> Graph::Versions(ResourceIndex r) const {
    const Resource& res = at(r);
    std::vector<ResourceIndex> out;
    auto it = catalog_.by_id.find(res.id);
    if (it == catalog_.by_id.end()) return out;
    for (ResourceIndex i : it->second) {
        if (at(i).kind == res.kind) out.push_back(i);
    }
    std::sort(out.begin(), out.end(), [&](ResourceIndex a, ResourceIndex b) {
        const Resource& ra = at(a);
        const Resource& rb = at(b);
        if (ra.semver && rb.semver) return *ra.semver < *rb.semver;
        return ra.versioned_copy && !rb.versioned_copy;
    });
    return out;
}

}  // namespace acme::catalog
