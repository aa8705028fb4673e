// The one mapping from error codes to process exit statuses.
//
// 0 success, 1 the command found problems (lint errors), 2 bad usage or input,
// 3 something named does not exist, 4 any other failure.
#pragma once

#include "core/error.hpp"

namespace acme::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitUsage = 2;

[[nodiscard]] int ExitCodeFor(ErrorCode code);
// Prints "acme: <message>" to stderr and returns the exit code for the error.
int ReportError(const Error& error);

}  // namespace acme::cli
