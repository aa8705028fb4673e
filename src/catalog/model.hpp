// The in-memory model of an EventCatalog catalog: plain structs, no YAML.
//
// A `Catalog` owns every resource found under its root, flat in one vector; resources refer
// to each other through `Pointer`s, which the loader resolves once to resource indexes
// (`Pointer::target`). Keys the model does not know are kept in `Resource::extra_keys`.
// A loaded `Catalog` is immutable and safe to read from many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/semver.hpp"

namespace acme::catalog {

using ResourceIndex = std::int32_t;
inline constexpr ResourceIndex kNoResource = -1;

enum class Kind : std::uint8_t {
    kDomain,
    kSystem,
    kService,
    kEvent,
    kCommand,
    kQuery,
    kChannel,
    kFlow,
    kEntity,
    kContainer,
    kDataProduct,
    kAgent,
    kAdr,
    kDiagram,
    kTeam,
    kUser,
};
inline constexpr int kKindCount = 16;

// Singular lower-case name: "domain", "data-product", ...
[[nodiscard]] std::string_view KindName(Kind kind);
// Accepts singular and plural names and EventCatalog's aliases ("dataStore", "dataProducts").
[[nodiscard]] std::optional<Kind> ParseKind(std::string_view name);
[[nodiscard]] bool IsMessage(Kind kind);

// What a pointer may point at.
enum class TargetGroup : std::uint8_t {
    kMessage,  // event, command or query
    kService,
    kDomain,
    kSystem,
    kFlow,
    kEntity,
    kChannel,
    kAgent,
    kContainer,
    kDataProduct,
    kOwner,  // team or user
    kUser,
    kAny,  // any resource (data product inputs/outputs, typed items of an unknown type)
};
[[nodiscard]] std::string_view TargetGroupName(TargetGroup group);

enum class Resolution : std::uint8_t {
    kPending,
    kResolved,
    kUnknownId,       // no resource of the right kind has this id
    kUnknownVersion,  // the id exists, no version satisfies the pointer
    kBadVersion,      // the pointer's version is not a version or range
};

struct Pointer {
    std::string id;
    std::string version;  // as written; empty means latest
    std::string key;      // where it was written, e.g. "sends[2]"
    int line = 0;
    TargetGroup group = TargetGroup::kMessage;
    Resolution resolution = Resolution::kPending;
    ResourceIndex target = kNoResource;
};

struct Receive {
    Pointer message;
    std::vector<Pointer> triggers;                // events the received message leads to
    std::vector<std::string> trigger_conditions;  // parallel to `triggers`; may be empty
    std::vector<std::string> fields;              // schema fields the consumer reads
    std::vector<Pointer> channels;                // `from`
};

struct Send {
    Pointer message;
    std::vector<Pointer> channels;  // `to`
};

enum class StepKind : std::uint8_t {
    kNone,
    kMessage,
    kService,
    kFlow,
    kAgent,
    kContainer,
    kDataProduct,
    kActor,
    kExternalSystem,
    kCustom,
};
[[nodiscard]] std::string_view StepKindName(StepKind kind);

struct StepLink {
    std::string target;  // step id as written
    std::string label;
    int line = 0;
    std::int32_t step = -1;  // index into Resource::steps, or -1 when it names no step
};

struct FlowStep {
    std::string id;
    std::string title;
    std::string summary;
    int line = 0;
    StepKind kind = StepKind::kNone;
    int kinds_declared = 0;        // node kinds written on the step (more than one is an error)
    bool both_link_forms = false;  // `next_step` and `next_steps` both present
    Pointer target;                // for message/service/flow/agent/container/dataProduct
    std::string node_name;         // actor or external system name, custom node title
    std::string custom_type;       // custom node `type`, e.g. Compensation
    std::vector<std::pair<std::string, std::string>> properties;  // custom node properties
    std::vector<StepLink> next;
};

struct Specification {
    std::string type;  // openapi, asyncapi, graphql, ...
    std::string path;
    std::string name;
    int line = 0;
};

struct ExtraKey {
    std::string key;
    std::string value;  // compact flow-style YAML
    int line = 0;
};

struct Resource {
    Kind kind = Kind::kService;
    std::string id;
    std::string name;
    std::string version;  // as written
    std::optional<Semver> semver;
    std::string summary;
    std::uint32_t file = 0;       // index into Catalog::files
    std::string dir;              // folder of the file, relative to the catalog root
    bool versioned_copy = false;  // found under `versioned/`
    bool deprecated = false;
    bool draft = false;
    bool has_changelog = false;
    // Identified by `name`, as EventCatalog 0.x/1.x catalogs are (no `id`): `id` is the name.
    bool named_only = false;

    std::vector<std::pair<std::string, int>> key_lines;  // top-level key -> line
    std::vector<Pointer> owners;
    std::vector<Send> sends;
    std::vector<Receive> receives;
    std::vector<Pointer> producers;  // old style, on messages
    std::vector<Pointer> consumers;  // old style, on messages
    std::vector<Pointer> services;   // domains and systems
    std::vector<Pointer> subdomains;
    std::vector<Pointer> systems;
    std::vector<Pointer> flows;
    std::vector<Pointer> entities;
    std::vector<Pointer> members;  // teams: users
    // EventCatalog 3.x/4.x relations.
    std::vector<Pointer> containers;     // domains, systems: their data stores
    std::vector<Pointer> data_products;  // domains, systems: `data-products` / `dataProducts`
    std::vector<Pointer> writes_to;      // services, domains, agents: containers written
    std::vector<Pointer> reads_from;     // services, domains, agents: containers read
    std::vector<Pointer> inputs;         // data products: what feeds them (any resource)
    std::vector<Pointer> outputs;        // data products: what they produce (any resource)
    std::vector<Pointer> routes;         // channels: the channels they route messages on to
    std::vector<Pointer> grouped;        // domains: `resourceGroups[].items`, by their `type`
    std::vector<Pointer> applies_to;     // ADRs: `appliesTo`, by their `type`
    std::string schema_path;
    int schema_line = 0;
    // The schema file's text when the loader read it (LoadOptions::read_schemas); empty when it
    // did not, or could not: then read it from `dir`/`schema_path` and report what fails.
    std::string schema_text;
    bool schema_loaded = false;
    std::vector<Specification> specifications;
    std::vector<FlowStep> steps;
    std::vector<ExtraKey> extra_keys;
    std::string body;

    // Line of a top-level key, or the line of `id` (then 1) when the key is absent.
    [[nodiscard]] int LineOf(std::string_view key) const;
    // "service:cart-api@1.0.0"
    [[nodiscard]] std::string Label() const;
};

enum class Severity : std::uint8_t { kError, kWarning, kInfo };
[[nodiscard]] std::string_view SeverityName(Severity severity);

struct Diagnostic {
    std::string rule;
    Severity severity = Severity::kError;
    std::string file;  // relative to the catalog root
    int line = 0;
    std::string key;
    std::string message;
    std::string resource;  // Label() of the resource, when there is one

    [[nodiscard]] bool operator<(const Diagnostic& other) const;
};

struct Catalog {
    std::filesystem::path root;
    std::vector<std::string> files;  // relative paths, indexed by Resource::file
    std::vector<Resource> resources;
    std::vector<Diagnostic> diagnostics;  // found while loading (parse errors, bad fields)

    // Every resource with this id whose kind belongs to `group`, any version.
    [[nodiscard]] std::vector<ResourceIndex> FindAll(TargetGroup group, std::string_view id) const;
    // The latest version of a resource of this kind group and id, or kNoResource.
    [[nodiscard]] ResourceIndex FindLatest(TargetGroup group, std::string_view id) const;
    // Index by id, filled by the loader.
    std::unordered_map<std::string, std::vector<ResourceIndex>> by_id;
    // Whether resource `i` is the latest version of its (kind, id).
    std::vector<bool> is_latest;
};

[[nodiscard]] bool KindInGroup(Kind kind, TargetGroup group);
// The narrowest group holding `kind` (events, commands, queries: kMessage; ADRs, diagrams:
// kAny), for pointers whose item says its `type`.
[[nodiscard]] TargetGroup GroupOfKind(Kind kind);

// Calls `fn(pointer)` for every pointer `r` holds: owners, sends and receives (with their
// channels and triggers), every list of pointers, flow steps. `R` is Resource or const Resource.
template <typename R, typename Fn>
void ForEachPointer(R& r, Fn&& fn) {
    for (auto& p : r.owners) fn(p);
    for (auto& s : r.sends) {
        fn(s.message);
        for (auto& ch : s.channels) fn(ch);
    }
    for (auto& rc : r.receives) {
        fn(rc.message);
        for (auto& t : rc.triggers) fn(t);
        for (auto& ch : rc.channels) fn(ch);
    }
    for (auto* list :
         {&r.producers, &r.consumers, &r.services, &r.subdomains, &r.systems, &r.flows, &r.entities,
          &r.members, &r.containers, &r.data_products, &r.writes_to, &r.reads_from, &r.inputs,
          &r.outputs, &r.routes, &r.grouped, &r.applies_to}) {
        for (auto& p : *list) fn(p);
    }
    for (auto& step : r.steps) {
        if (!step.target.id.empty()) fn(step.target);
    }
}

}  // namespace acme::catalog
