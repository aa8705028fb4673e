// Small filesystem helpers.
#pragma once

#include <filesystem>
#include <string>

#include "core/error.hpp"

namespace acme {

// Reads a whole file into memory. kNotFound when it does not exist, kUnavailable on I/O errors.
[[nodiscard]] Result<std::string> ReadFile(const std::filesystem::path& path);

// Writes `content` to `path`, replacing it. kUnavailable on I/O errors.
[[nodiscard]] Result<void> WriteFile(const std::filesystem::path& path, std::string_view content);

}  // namespace acme
