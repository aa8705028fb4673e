#include "cli/git_snapshot.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace acme::cli {

namespace {

std::string ShellQuote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

// Runs a shell command; returns its stdout, or an error with its exit status.
Result<std::string> Run(const std::string& command) {
    FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
    if (pipe == nullptr) return MakeError(ErrorCode::kUnavailable, "cannot run: " + command);
    std::string out;
    std::array<char, 4096> buffer{};
    while (std::size_t got = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
        out.append(buffer.data(), got);
    }
    const int status = pclose(pipe);
    if (status != 0) {
        return MakeError(
            ErrorCode::kNotFound,
            "command failed (status " + std::to_string(WEXITSTATUS(status)) + "): " + command);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

}  // namespace

TempDir::TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("acme-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

Result<std::filesystem::path> ExtractCatalogAtRevision(const std::filesystem::path& catalog_dir,
                                                       const std::string& rev,
                                                       const std::filesystem::path& into) {
    const std::string dir = ShellQuote(std::filesystem::absolute(catalog_dir).string());
    auto top = Run("git -C " + dir + " rev-parse --show-toplevel");
    if (!top) {
        return MakeError(
            ErrorCode::kNotFound,
            catalog_dir.string() + " is not in a git work tree, and '" + rev + "' is not a folder");
    }
    auto prefix = Run("git -C " + dir + " rev-parse --show-prefix");
    if (!prefix) return std::unexpected(prefix.error());
    if (auto ok = Run("git -C " + ShellQuote(*top) + " rev-parse --verify --quiet " +
                      ShellQuote(rev + "^{commit}"));
        !ok) {
        return MakeError(ErrorCode::kNotFound, "no git revision '" + rev + "'");
    }
    std::string path = *prefix;
    if (path.empty()) path = ".";
    auto archived = Run("git -C " + ShellQuote(*top) + " archive --format=tar " + ShellQuote(rev) +
                        " -- " + ShellQuote(path) + " | tar -x -C " + ShellQuote(into.string()));
    if (!archived) {
        return MakeError(ErrorCode::kNotFound, "the catalog folder '" + *prefix +
                                                   "' does not exist at revision '" + rev + "'");
    }
    return into / *prefix;
}

}  // namespace acme::cli
