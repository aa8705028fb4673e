#include "core/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace acme {

namespace {
struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;
}  // namespace

Result<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        const ErrorCode code = errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable;
        return MakeError(code, path.string() + ": " + std::strerror(errno));
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return MakeError(ErrorCode::kUnavailable, path.string() + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return MakeError(ErrorCode::kInvalidArgument, path.string() + ": not a regular file");
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_bytes) {
        return MakeError(ErrorCode::kInvalidArgument,
                         path.string() + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    std::string content;
    content.resize(static_cast<std::size_t>(size));
    std::size_t have = 0;
    for (;;) {
        if (have == content.size()) {
            // The file may have grown since fstat; read on, within the limit.
            if (content.size() >= max_bytes + 1) break;
            content.resize(std::min(max_bytes + 1, std::max<std::size_t>(4096, have * 2)));
        }
        const ssize_t got = ::read(fd, content.data() + have, content.size() - have);
        if (got < 0) {
            if (errno == EINTR) continue;
            return MakeError(ErrorCode::kUnavailable, path.string() + ": " + std::strerror(errno));
        }
        if (got == 0) break;
        have += static_cast<std::size_t>(got);
    }
    if (have > max_bytes) {
        return MakeError(ErrorCode::kInvalidArgument,
                         path.string() + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    content.resize(have);
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
