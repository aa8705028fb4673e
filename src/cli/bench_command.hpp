// `acme bench`: a load generator that drives checkouts through the real HTTP API.
#pragma once

#include <CLI/App.hpp>

namespace acme::cli {

void AddBenchCommand(CLI::App& app, int& exit_code);

}  // namespace acme::cli
