#include "core/files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace acme {

namespace {
struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;
}  // namespace

Result<std::string> ReadFile(const std::filesystem::path& path) {
    FilePtr file(std::fopen(path.c_str(), "rb"));
    if (!file) {
        const ErrorCode code = errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable;
        return MakeError(code, path.string() + ": " + std::strerror(errno));
    }
    std::string content;
    char buffer[16384];
    for (;;) {
        const std::size_t got = std::fread(buffer, 1, sizeof buffer, file.get());
        content.append(buffer, got);
        if (got < sizeof buffer) break;
    }
    if (std::ferror(file.get()) != 0) {
        return MakeError(ErrorCode::kUnavailable, path.string() + ": read error");
    }
    return content;
}

Result<void> WriteFile(const std::filesystem::path& path, std::string_view content) {
    FilePtr file(std::fopen(path.c_str(), "wb"));
    if (!file) {
        return MakeError(ErrorCode::kUnavailable, path.string() + ": " + std::strerror(errno));
    }
    if (std::fwrite(content.data(), 1, content.size(), file.get()) != content.size()) {
        return MakeError(ErrorCode::kUnavailable, path.string() + ": write error");
    }
    return {};
}

}  // namespace acme
