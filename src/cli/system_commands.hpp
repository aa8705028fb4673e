// `acme serve`, `acme audit` and `acme dlq`: the running system's commands.
#pragma once

#include <CLI/App.hpp>

namespace acme::cli {

void AddSystemCommands(CLI::App& app, int& exit_code);

}  // namespace acme::cli
