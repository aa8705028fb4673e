#include "core/error.hpp"

namespace acme {

std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
    return std::unexpected(Error{code, std::move(message)});
}

std::string_view ErrorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return "invalid_argument";
        case ErrorCode::kNotFound:
            return "not_found";
        case ErrorCode::kConflict:
            return "conflict";
        case ErrorCode::kUnprocessable:
            return "unprocessable";
        case ErrorCode::kFailedPrecondition:
            return "failed_precondition";
        case ErrorCode::kUnavailable:
            return "unavailable";
        case ErrorCode::kDeadlineExceeded:
            return "deadline_exceeded";
        case ErrorCode::kInternal:
            return "internal";
    }
    return "internal";
}

}  // namespace acme
