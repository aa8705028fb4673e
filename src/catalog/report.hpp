// Renders a lint report as text (one line per finding) or JSON.
#pragma once

#include <string>

#include "catalog/lint.hpp"

namespace acme::catalog {

// `file:line: severity [rule] key: message`, then a summary line.
[[nodiscard]] std::string RenderLintText(const LintReport& report);
// {"summary": {...}, "diagnostics": [{file, line, severity, rule, key, resource, message}]}
[[nodiscard]] std::string RenderLintJson(const LintReport& report);

}  // namespace acme::catalog
