// acme: the Acme Commerce command line. Wires the subcommands; each lives with its subsystem.
#include <CLI/CLI.hpp>

#include "cli/bench_command.hpp"
#include "cli/catalog_commands.hpp"
#include "cli/exit_codes.hpp"
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
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 prints the message (or --help, --version: success); any refusal is bad usage,
        // exit status 2 as exit_codes.hpp says, not CLI11's own 100-odd codes.
        return app.exit(e) == 0 ? acme::cli::kExitOk : acme::cli::kExitUsage;
    } catch (const std::exception& e) {
        // A last net: every adapter turns its library's exceptions into errors, so reaching
        // this is a bug, reported as one rather than as an abort.
        return acme::cli::ReportError(
            acme::Error{acme::ErrorCode::kInternal, std::string("internal error: ") + e.what()});
    }
    return exit_code;
}
