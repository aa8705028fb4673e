// acme: the Acme Commerce command line. Wires the subcommands; each lives with its subsystem.
#include <CLI/CLI.hpp>

#include "cli/bench_command.hpp"
#include "cli/catalog_commands.hpp"
#include "cli/impact_command.hpp"
#include "cli/system_commands.hpp"

#ifndef ACME_VERSION
#define ACME_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
    CLI::App app{"acme: Acme Commerce's catalog engine and order system", "acme"};
    app.set_version_flag("--version", std::string("acme ") + ACME_VERSION);
    app.require_subcommand(1);
    int exit_code = 0;
    acme::cli::AddCatalogCommands(app, exit_code);
    acme::cli::AddImpactCommand(app, exit_code);
    acme::cli::AddSystemCommands(app, exit_code);
    acme::cli::AddBenchCommand(app, exit_code);
    CLI11_PARSE(app, argc, argv);
    return exit_code;
}
