// The catalog linter: every rule from catalog-format.md's "things real catalogs get wrong".
//
// Each rule has a stable id and a severity. `Lint` returns the loader's diagnostics plus the
// rules' findings, sorted by file, line and rule, so output is deterministic.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "catalog/graph.hpp"
#include "catalog/model.hpp"

namespace acme::catalog {

struct RuleInfo {
    std::string_view id;
    Severity severity;
    std::string_view summary;
};

// Every rule the linter (and the loader) can report, sorted by id.
[[nodiscard]] std::span<const RuleInfo> LintRules();

struct LintReport {
    std::vector<Diagnostic> diagnostics;
    std::size_t errors = 0;
    std::size_t warnings = 0;
    std::size_t infos = 0;
    std::size_t resources = 0;
    std::size_t files = 0;
};

[[nodiscard]] LintReport Lint(const Catalog& catalog, const Graph& graph);

// The flow rules (unknown steps, reachability, cycles, drift) for one flow only.
[[nodiscard]] std::vector<Diagnostic> LintFlow(const Catalog& catalog, const Graph& graph,
                                               ResourceIndex flow);

}  // namespace acme::catalog
