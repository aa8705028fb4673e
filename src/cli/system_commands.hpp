// `acme serve`, `acme audit` and `acme dlq`: the running system's commands.
#pragma once

#include <CLI/App.hpp>
#include <string>

namespace acme::cli {

void AddSystemCommands(CLI::App& app, int& exit_code);

// `--checkpoint writer|thread` for commands that run the system (serve, bench); `value`
// starts as the default, "writer".
void AddCheckpointOption(CLI::App& cmd, std::string& value);

}  // namespace acme::cli
