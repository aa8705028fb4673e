#include "catalog/model.hpp"

#include <array>
#include <tuple>

namespace acme::catalog {

namespace {
constexpr std::array<std::string_view, kKindCount> kKindNames = {
    "domain", "system",    "service",      "event", "command", "query",   "channel", "flow",
    "entity", "container", "data-product", "agent", "adr",     "diagram", "team",    "user",
};
}  // namespace

std::string_view KindName(Kind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

std::optional<Kind> ParseKind(std::string_view name) {
    for (std::size_t i = 0; i < kKindNames.size(); ++i) {
        if (name == kKindNames[i]) return static_cast<Kind>(i);
    }
    struct Alias {
        std::string_view name;
        Kind kind;
    };
    static constexpr Alias kAliases[] = {
        {"domains", Kind::kDomain},
        {"subdomain", Kind::kDomain},
        {"subdomains", Kind::kDomain},
        {"systems", Kind::kSystem},
        {"services", Kind::kService},
        {"events", Kind::kEvent},
        {"commands", Kind::kCommand},
        {"queries", Kind::kQuery},
        {"channels", Kind::kChannel},
        {"flows", Kind::kFlow},
        {"entities", Kind::kEntity},
        {"containers", Kind::kContainer},
        {"dataStore", Kind::kContainer},
        {"dataStores", Kind::kContainer},
        {"data-products", Kind::kDataProduct},
        {"dataProduct", Kind::kDataProduct},
        {"dataProducts", Kind::kDataProduct},
        {"agents", Kind::kAgent},
        {"adrs", Kind::kAdr},
        {"diagrams", Kind::kDiagram},
        {"teams", Kind::kTeam},
        {"users", Kind::kUser},
    };
    for (const Alias& alias : kAliases) {
        if (alias.name == name) return alias.kind;
    }
    return std::nullopt;
}

bool IsMessage(Kind kind) {
    return kind == Kind::kEvent || kind == Kind::kCommand || kind == Kind::kQuery;
}

std::string_view TargetGroupName(TargetGroup group) {
    switch (group) {
        case TargetGroup::kMessage:
            return "message";
        case TargetGroup::kService:
            return "service";
        case TargetGroup::kDomain:
            return "domain";
        case TargetGroup::kSystem:
            return "system";
        case TargetGroup::kFlow:
            return "flow";
        case TargetGroup::kEntity:
            return "entity";
        case TargetGroup::kChannel:
            return "channel";
        case TargetGroup::kAgent:
            return "agent";
        case TargetGroup::kContainer:
            return "container";
        case TargetGroup::kDataProduct:
            return "data-product";
        case TargetGroup::kOwner:
            return "team or user";
        case TargetGroup::kUser:
            return "user";
        case TargetGroup::kAny:
            return "resource";
    }
    return "resource";
}

bool KindInGroup(Kind kind, TargetGroup group) {
    switch (group) {
        case TargetGroup::kMessage:
            return IsMessage(kind);
        case TargetGroup::kService:
            return kind == Kind::kService;
        case TargetGroup::kDomain:
            return kind == Kind::kDomain;
        case TargetGroup::kSystem:
            return kind == Kind::kSystem;
        case TargetGroup::kFlow:
            return kind == Kind::kFlow;
        case TargetGroup::kEntity:
            return kind == Kind::kEntity;
        case TargetGroup::kChannel:
            return kind == Kind::kChannel;
        case TargetGroup::kAgent:
            return kind == Kind::kAgent;
        case TargetGroup::kContainer:
            return kind == Kind::kContainer;
        case TargetGroup::kDataProduct:
            return kind == Kind::kDataProduct;
        case TargetGroup::kOwner:
            return kind == Kind::kTeam || kind == Kind::kUser;
        case TargetGroup::kUser:
            return kind == Kind::kUser;
        case TargetGroup::kAny:
            return true;
    }
    return false;
}

TargetGroup GroupOfKind(Kind kind) {
    switch (kind) {
        case Kind::kDomain:
            return TargetGroup::kDomain;
        case Kind::kSystem:
            return TargetGroup::kSystem;
        case Kind::kService:
            return TargetGroup::kService;
        case Kind::kEvent:
        case Kind::kCommand:
        case Kind::kQuery:
            return TargetGroup::kMessage;
        case Kind::kChannel:
            return TargetGroup::kChannel;
        case Kind::kFlow:
            return TargetGroup::kFlow;
        case Kind::kEntity:
            return TargetGroup::kEntity;
        case Kind::kContainer:
            return TargetGroup::kContainer;
        case Kind::kDataProduct:
            return TargetGroup::kDataProduct;
        case Kind::kAgent:
            return TargetGroup::kAgent;
        case Kind::kTeam:
        case Kind::kUser:
            return TargetGroup::kOwner;
        case Kind::kAdr:
        case Kind::kDiagram:
            return TargetGroup::kAny;
    }
    return TargetGroup::kAny;
}

std::string_view StepKindName(StepKind kind) {
    switch (kind) {
        case StepKind::kNone:
            return "none";
        case StepKind::kMessage:
            return "message";
        case StepKind::kService:
            return "service";
        case StepKind::kFlow:
            return "flow";
        case StepKind::kAgent:
            return "agent";
        case StepKind::kContainer:
            return "container";
        case StepKind::kDataProduct:
            return "dataProduct";
        case StepKind::kActor:
            return "actor";
        case StepKind::kExternalSystem:
            return "externalSystem";
        case StepKind::kCustom:
            return "custom";
    }
    return "none";
}

int Resource::LineOf(std::string_view key) const {
    for (const auto& [key_name, line] : key_lines) {
        if (key_name == key) return line;
    }
    for (const auto& [key_name, line] : key_lines) {
        if (key_name == "id") return line;
    }
    return 1;
}

std::string Resource::Label() const {
    std::string label(KindName(kind));
    label += ':';
    label += id;
    if (!version.empty()) {
        label += '@';
        label += version;
    }
    return label;
}

std::string_view SeverityName(Severity severity) {
    switch (severity) {
        case Severity::kError:
            return "error";
        case Severity::kWarning:
            return "warning";
        case Severity::kInfo:
            return "info";
    }
    return "error";
}

bool Diagnostic::operator<(const Diagnostic& other) const {
    return std::tie(file, line, rule, key, message) <
           std::tie(other.file, other.line, other.rule, other.key, other.message);
}

std::vector<ResourceIndex> Catalog::FindAll(TargetGroup group, std::string_view id) const {
    std::vector<ResourceIndex> out;
    auto it = by_id.find(std::string(id));
    if (it == by_id.end()) return out;
    for (ResourceIndex i : it->second) {
        if (KindInGroup(resources[static_cast<std::size_t>(i)].kind, group)) out.push_back(i);
    }
    return out;
}

ResourceIndex Catalog::FindLatest(TargetGroup group, std::string_view id) const {
    for (ResourceIndex i : FindAll(group, id)) {
        if (is_latest[static_cast<std::size_t>(i)]) return i;
    }
    return kNoResource;
}

}  // namespace acme::catalog
