// Forward and reverse edges over a loaded `Catalog`, as integer adjacency lists.
//
// Built once from the resolved pointers; every query after that is a walk over integers.
// Edges come from the latest version of the resource that declares them (older versions are
// history) and point at the exact version the pointer resolved to. Thread-safe to read.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "catalog/model.hpp"

namespace acme::catalog {

struct FlowRef {
    ResourceIndex flow = kNoResource;
    std::int32_t step = -1;
};

struct TriggerEdge {
    ResourceIndex service = kNoResource;
    ResourceIndex received = kNoResource;  // the command or event the service receives
    ResourceIndex emitted = kNoResource;   // the event it leads to
};

// The EventCatalog 3.x/4.x relations beside sends/receives, each a set of edges from -> to.
enum class Relation : std::uint8_t {
    kWrites,        // service, domain or agent -> container it writes to (`writesTo`)
    kReads,         // service, domain or agent -> container it reads from (`readsFrom`)
    kInputs,        // data product -> what feeds it (`inputs`)
    kOutputs,       // data product -> what it produces (`outputs`)
    kSendsTo,       // service -> channel it sends messages to (`sends[].to`)
    kReceivesFrom,  // service -> channel it receives messages from (`receives[].from`)
    kCarries,       // channel -> message sent to it or received from it
    kRoutes,        // channel -> channel it routes on to (`routes`)
    kAppliesTo,     // ADR -> what it applies to (`appliesTo`)
    kGroups,        // domain -> resource in one of its `resourceGroups`
};
inline constexpr int kRelationCount = 10;

class Graph {
  public:
    explicit Graph(const Catalog& catalog);

    [[nodiscard]] const Catalog& catalog() const { return catalog_; }
    [[nodiscard]] const Resource& at(ResourceIndex i) const {
        return catalog_.resources[static_cast<std::size_t>(i)];
    }

    // Services (and domains, agents) that send / receive message `m` (that exact version).
    [[nodiscard]] std::span<const ResourceIndex> Producers(ResourceIndex m) const;
    [[nodiscard]] std::span<const ResourceIndex> Consumers(ResourceIndex m) const;
    // Messages that `s` sends / receives.
    [[nodiscard]] std::span<const ResourceIndex> Sends(ResourceIndex s) const;
    [[nodiscard]] std::span<const ResourceIndex> Receives(ResourceIndex s) const;
    // `triggers` edges declared by service `s`.
    [[nodiscard]] std::span<const TriggerEdge> Triggers(ResourceIndex s) const;
    // Teams and users owning `r`; resources a team or user owns.
    [[nodiscard]] std::span<const ResourceIndex> Owners(ResourceIndex r) const;
    [[nodiscard]] std::span<const ResourceIndex> Owned(ResourceIndex owner) const;
    // Domains a service (or subdomain, flow) belongs to; members of a domain.
    [[nodiscard]] std::span<const ResourceIndex> Domains(ResourceIndex r) const;
    [[nodiscard]] std::span<const ResourceIndex> Members(ResourceIndex domain) const;
    // The nearest domain holding `r`: directly, or through its system; for a message, the
    // domain of its first producer (else consumer). Falls back to the latest version of the
    // same id for an old version. kNoResource when none.
    [[nodiscard]] ResourceIndex DomainOf(ResourceIndex r) const;
    // Flow steps that reference `r`.
    [[nodiscard]] std::span<const FlowRef> FlowRefs(ResourceIndex r) const;
    // Edges of a 3.x/4.x relation out of `from` / into `to` (exact versions, sorted).
    [[nodiscard]] std::span<const ResourceIndex> Out(Relation rel, ResourceIndex from) const;
    [[nodiscard]] std::span<const ResourceIndex> In(Relation rel, ResourceIndex to) const;
    // Every version of the same (kind, id) as `r`, `r` included, oldest first.
    [[nodiscard]] std::vector<ResourceIndex> Versions(ResourceIndex r) const;

  private:
    using Adjacency = std::vector<std::vector<ResourceIndex>>;
    static void AddEdge(Adjacency& forward, Adjacency& reverse, ResourceIndex from,
                        ResourceIndex to);

    const Catalog& catalog_;
    Adjacency sends_, producers_, receives_, consumers_;
    Adjacency owners_, owned_, domains_, members_;
    std::vector<std::vector<TriggerEdge>> triggers_;
    std::vector<Adjacency> out_, in_;  // by Relation
    std::vector<std::vector<FlowRef>> flow_refs_;
};

}  // namespace acme::catalog
