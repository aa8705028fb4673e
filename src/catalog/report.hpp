// Renders a lint report as text (one line per finding), JSON, SARIF 2.1.0 (for code scanning
// tools: GitHub, GitLab, Azure DevOps) or GitHub Actions workflow commands (annotations inline
// on a pull request).
#pragma once

#include <string>
#include <string_view>

#include "catalog/lint.hpp"

namespace acme::catalog {

// `file:line: severity [rule] key: message`, then a summary line.
[[nodiscard]] std::string RenderLintText(const LintReport& report);
// {"summary": {...}, "diagnostics": [{file, line, severity, rule, key, resource, message}]}
[[nodiscard]] std::string RenderLintJson(const LintReport& report);
// One SARIF 2.1.0 run: every rule of LintRules() with its default level, one result per
// finding. `path_prefix` (the catalog folder as given, e.g. "catalog") is put before each
// file so locations are relative to where the command ran, as code scanning expects.
[[nodiscard]] std::string RenderLintSarif(const LintReport& report, std::string_view path_prefix);
// `::error file=…,line=…,title=rule::message` (warning, notice) per finding, escaped as the
// workflow-command syntax requires, then the summary line as a notice.
[[nodiscard]] std::string RenderLintGithub(const LintReport& report, std::string_view path_prefix);

}  // namespace acme::catalog
