// What changed between two versions of a catalog, resource by resource.
//
// Resources are matched by (kind, id) on their latest versions. A change lists its
// field-level differences: version, owners, `sends`/`receives` edges and `triggers`, domain
// membership, flow steps (added, removed, re-pointed, relinked), specification documents and
// message schemas, the last classified by `DiffJsonSchemas` as breaking or compatible.
// The result feeds impact analysis (`--base`).
#pragma once

#include <string>
#include <vector>

#include "catalog/graph.hpp"
#include "catalog/impact.hpp"

namespace acme::catalog {

enum class ChangeKind { kAdded, kRemoved, kModified };

struct ResourceDiff {
    ChangeKind change = ChangeKind::kModified;
    Kind kind = Kind::kService;
    std::string id;
    ResourceIndex before = kNoResource;  // latest version in the base catalog
    ResourceIndex after = kNoResource;   // latest version in the current catalog
    std::string before_version;
    std::string after_version;
    std::vector<std::string> details;  // one line each
    bool breaking = false;
};

// Differences from `before` to `after`, sorted by kind then id.
[[nodiscard]] std::vector<ResourceDiff> DiffCatalogs(const Graph& before, const Graph& after);

// The impact of those differences: removed resources are analysed in the base catalog, the
// rest in the current one, and the two reports merged; change-specific risks (no version
// bump, new consumers, re-pointed flow steps, removed producers) are added.
[[nodiscard]] ImpactReport AnalyzeCatalogChange(const Graph& before, const Graph& after,
                                                const ImpactOptions& options);

}  // namespace acme::catalog
