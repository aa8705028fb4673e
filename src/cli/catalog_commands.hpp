// `acme catalog ...` subcommands.
#pragma once

#include <CLI/App.hpp>

namespace acme::cli {

// Registers `catalog check` and `catalog graph` on `app`. Each subcommand sets `exit_code`.
void AddCatalogCommands(CLI::App& app, int& exit_code);

}  // namespace acme::cli
