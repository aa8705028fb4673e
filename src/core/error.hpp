// Error values shared by every subsystem.
//
// Expected failures are values: functions return `Result<T>` (a `std::expected<T, Error>`).
// Exceptions are kept for what aborts the whole operation. One switch maps an `ErrorCode` to
// a CLI exit status (in `cli/`) and, later, one to an HTTP status (in `http/`).
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace acme {

enum class ErrorCode {
    kInvalidArgument,
    kNotFound,
    kConflict,
    // Well-formed, but contradicting what the same request said before (an Idempotency-Key
    // reused with another payload).
    kUnprocessable,
    kFailedPrecondition,
    kUnavailable,
    kDeadlineExceeded,
    kInternal,
};

struct Error {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

// Builds an `std::unexpected<Error>` to return from a function that yields `Result<T>`.
[[nodiscard]] std::unexpected<Error> MakeError(ErrorCode code, std::string message);

// Lower-case name of a code, e.g. "not_found"; used in logs and JSON output.
[[nodiscard]] std::string_view ErrorCodeName(ErrorCode code);

}  // namespace acme
