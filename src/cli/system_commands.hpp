// `acme serve`, `acme audit` and `acme dlq`: the running system's commands.
#pragma once

#include <CLI/App.hpp>
#include <string>

namespace acme::cli {

void AddSystemCommands(CLI::App& app, int& exit_code);

// `--checkpoint thread|writer` and `--writer-nice N` for commands that run the system
// (serve, bench); the values start as the defaults ("thread", -10).
void AddWriterOptions(CLI::App& cmd, std::string& value, int& writer_nice);

}  // namespace acme::cli
