#include "core/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/thread_pool.hpp"

namespace acme {

namespace {
struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// Reads the file open as `fd` (and closes it); `path` names it in errors.
Result<std::string> ReadOpened(int fd, const std::string& path, std::size_t max_bytes);

}  // namespace

Result<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        const ErrorCode code = errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable;
        return MakeError(code, path.string() + ": " + std::strerror(errno));
    }
    return ReadOpened(fd, path.string(), max_bytes);
}

Result<std::string> ReadFileAt(int dir_fd, const char* name, std::string_view shown,
                               std::size_t max_bytes) {
    const int fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        const ErrorCode code = errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable;
        return MakeError(code, std::string(shown) + ": " + std::strerror(errno));
    }
    return ReadOpened(fd, std::string(shown), max_bytes);
}

namespace {

Result<std::string> ReadOpened(int fd, const std::string& path, std::size_t max_bytes) {
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return MakeError(ErrorCode::kUnavailable, path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return MakeError(ErrorCode::kInvalidArgument, path + ": not a regular file");
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_bytes) {
        return MakeError(ErrorCode::kInvalidArgument,
                         path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    std::string content;
    content.resize(static_cast<std::size_t>(size));
    std::size_t have = 0;
    char probe[512];
    for (;;) {
        // A regular file of a known size is read as it was when opened: one read. One that
        // says it is empty may not be (a kernel file): read on into a small buffer, within the
        // limit.
        const bool past = have == content.size();
        if (past && (size > 0 || have > max_bytes)) break;
        char* into = past ? probe : content.data() + have;
        const std::size_t room = past ? sizeof probe : content.size() - have;
        const ssize_t got = ::read(fd, into, room);
        if (got < 0) {
            if (errno == EINTR) continue;
            return MakeError(ErrorCode::kUnavailable, path + ": " + std::strerror(errno));
        }
        if (got == 0) break;
        if (past) content.append(probe, static_cast<std::size_t>(got));
        have += static_cast<std::size_t>(got);
    }
    if (have > max_bytes) {
        return MakeError(ErrorCode::kInvalidArgument,
                         path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    content.resize(have);
    return content;
}

// A directory to read, by its path from the root: holding every queued directory open would
// run out of descriptors in a folder of thousands.
struct WalkItem {
    std::string rel;  // "" at the root, else "a/b/"
    int depth = 0;
};

// Directories waiting to be read, shared by the walk's threads.
class WalkQueue {
  public:
    void Push(std::vector<WalkItem> items) {
        if (items.empty()) return;
        {
            std::lock_guard lock(mu_);
            for (auto& i : items) items_.push_back(std::move(i));
        }
        cv_.notify_all();
    }
    // Waits for a directory; false when none is left and no thread can add one.
    bool Pop(WalkItem& out) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !items_.empty() || busy_ == 0 || stopped_; });
        if (items_.empty() || stopped_) return false;
        out = std::move(items_.back());
        items_.pop_back();
        ++busy_;
        return true;
    }
    void Done() {
        {
            std::lock_guard lock(mu_);
            --busy_;
        }
        cv_.notify_all();
    }
    void Stop(std::exception_ptr error) {
        {
            std::lock_guard lock(mu_);
            if (!error_) error_ = std::move(error);
            stopped_ = true;
        }
        cv_.notify_all();
    }
    std::exception_ptr Error() const { return error_; }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<WalkItem> items_;
    int busy_ = 0;
    bool stopped_ = false;
    std::exception_ptr error_;
};

bool IsDirectoryAt(int dir_fd, const char* name, unsigned char type) {
    if (type == DT_DIR) return true;
    if (type != DT_UNKNOWN) return false;  // a link to a directory is not followed
    struct stat st {};
    return ::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

void WalkDirectory(WalkQueue& queue, int root_fd, const WalkItem& item,
                   const std::function<bool(std::string_view)>& skip_dir,
                   const std::function<void(const TreeEntry&)>& on_file) {
    const std::string at = item.rel.empty() ? "." : item.rel.substr(0, item.rel.size() - 1);
    const int fd = ::openat(root_fd, at.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    std::vector<WalkItem> subdirs;
    std::string rel;
    // getdents64 into our own buffer: readdir's fdopendir costs two more system calls a folder.
    alignas(dirent64) char buffer[16384];
    for (;;) {
        const ssize_t got = ::getdents64(fd, buffer, sizeof buffer);
        if (got <= 0) break;
        for (ssize_t off = 0; off < got;) {
            const auto* e = reinterpret_cast<const dirent64*>(buffer + off);
            off += e->d_reclen;
            const std::string_view name = e->d_name;
            if (name == "." || name == "..") continue;
            if (IsDirectoryAt(fd, e->d_name, e->d_type)) {
                if (!skip_dir(name)) {
                    subdirs.push_back({item.rel + std::string(name) + "/", item.depth + 1});
                }
                continue;
            }
            rel.assign(item.rel).append(name);
            on_file(TreeEntry{rel, name, item.depth, fd});
        }
    }
    queue.Push(std::move(subdirs));
}

}  // namespace

void WalkTree(const std::filesystem::path& root,
              const std::function<bool(std::string_view)>& skip_dir,
              const std::function<void(const TreeEntry&)>& on_file, std::size_t threads) {
    const int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) return;
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{root_fd};
    WalkQueue queue;
    queue.Push({WalkItem{"", 0}});
    auto work = [&] {
        WalkItem item;
        while (queue.Pop(item)) {
            try {
                WalkDirectory(queue, root_fd, item, skip_dir, on_file);
            } catch (...) {
                queue.Stop(std::current_exception());
            }
            queue.Done();
        }
    };
    const std::size_t n = std::max<std::size_t>(1, threads == 0 ? DefaultConcurrency() : threads);
    {
        std::vector<std::jthread> helpers;
        for (std::size_t i = 1; i < n; ++i) helpers.emplace_back(work);
        work();
    }
    if (std::exception_ptr error = queue.Error()) std::rethrow_exception(error);
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
