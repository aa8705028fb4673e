// `acme impact`: the review checklist for a proposed change.
#pragma once

#include <CLI/App.hpp>

namespace acme::cli {

// Registers `impact` on `app`; the subcommand sets `exit_code`.
void AddImpactCommand(CLI::App& app, int& exit_code);

}  // namespace acme::cli
