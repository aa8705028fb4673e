#include "cli/exit_codes.hpp"

#include <cstdio>

namespace acme::cli {

int ExitCodeFor(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument:
        case ErrorCode::kUnprocessable:
        case ErrorCode::kFailedPrecondition:
            return kExitUsage;
        case ErrorCode::kNotFound:
            return 3;
        case ErrorCode::kConflict:
        case ErrorCode::kUnavailable:
        case ErrorCode::kDeadlineExceeded:
        case ErrorCode::kInternal:
            return 4;
    }
    return 4;
}

int ReportError(const Error& error) {
    std::fprintf(stderr, "acme: %s\n", error.message.c_str());
    return ExitCodeFor(error.code);
}

}  // namespace acme::cli
