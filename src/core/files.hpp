// Small filesystem helpers.
#pragma once

#include <filesystem>
#include <string>

#include "core/error.hpp"

namespace acme {

// Files larger than this are refused by ReadFile unless the caller allows more.
inline constexpr std::size_t kReadFileLimit = std::size_t{64} << 20;

// Reads a whole regular file into memory. kNotFound when it does not exist; kInvalidArgument
// when it is not a regular file (a FIFO, a device, a directory: reading one could block or
// never end) or is larger than `max_bytes`; kUnavailable on other I/O errors. Never blocks on
// opening a FIFO.
[[nodiscard]] Result<std::string> ReadFile(const std::filesystem::path& path,
                                           std::size_t max_bytes = kReadFileLimit);

// Writes `content` to `path`, replacing it. kUnavailable on I/O errors.
[[nodiscard]] Result<void> WriteFile(const std::filesystem::path& path, std::string_view content);

}  // namespace acme
