// Small filesystem helpers.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

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

// ReadFile for `name` in the directory open as `dir_fd`: no lookup of the whole path, which is
// what makes reading thousands of files cheap. `shown` is the path errors name.
[[nodiscard]] Result<std::string> ReadFileAt(int dir_fd, const char* name, std::string_view shown,
                                             std::size_t max_bytes = kReadFileLimit);

// An entry WalkTree found: its path relative to the root ('/'-separated, "a/b/index.mdx"), its
// name, the depth of its directory (0: the root) and that directory, open for ReadFileAt while
// the callback runs.
struct TreeEntry {
    std::string_view rel;
    std::string_view name;
    int depth = 0;
    int dir_fd = -1;
};

// Walks the tree under `root` with up to `threads` threads (0: DefaultConcurrency()), sharing
// directories between them, and calls `on_file` for every entry that is not a directory —
// regular files, and anything else (a FIFO, a dangling or looping symbolic link) for the reader
// to refuse — concurrently and in no particular order. Directories named so that
// `skip_dir(name)` is true are not entered; symbolic links to directories are not followed, so
// the walk ends whatever the links; directories that cannot be opened are skipped. The first
// exception `on_file` throws is rethrown here once the walk has stopped.
void WalkTree(const std::filesystem::path& root,
              const std::function<bool(std::string_view name)>& skip_dir,
              const std::function<void(const TreeEntry& entry)>& on_file, std::size_t threads = 0);

// Writes `content` to `path`, replacing it. kUnavailable on I/O errors.
[[nodiscard]] Result<void> WriteFile(const std::filesystem::path& path, std::string_view content);

}  // namespace acme
