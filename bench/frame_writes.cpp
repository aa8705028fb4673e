// What one WAL frame costs to write as SQLite writes it (a 24-byte header, then the 4 KiB
// page: two pwrite calls) and gathered with others into one call, as the storage layer's VFS
// shim writes it. Appends 100,000 frames to a file in the given folder, 3 rounds.
//   build/bench/acme-bench-frames [DIR]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    const std::string path = std::string(argc > 1 ? argv[1] : ".") + "/acme-frames.bin";
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        std::perror(path.c_str());
        return 1;
    }
    constexpr int kFrames = 100'000;
    constexpr int kPerCall = 30;  // frames per gathered write (< the unix VFS's 128 KiB)
    constexpr off_t kWrap = off_t{64} << 20;
    const std::vector<char> header(24, 'h'), page(4096, 'p');
    const std::vector<char> gathered((24 + 4096) * kPerCall, 'g');
    auto per_frame = [](auto from, auto to) {
        return std::chrono::duration<double, std::micro>(to - from).count() / kFrames;
    };
    bool ok = true;
    for (int round = 0; round < 3; ++round) {
        (void)!ftruncate(fd, 0);
        off_t at = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < kFrames; ++i) {
            ok &= pwrite(fd, header.data(), header.size(), at) == 24;
            ok &= pwrite(fd, page.data(), page.size(), at + 24) == 4096;
            at = at + 4120 > kWrap ? 0 : at + 4120;
        }
        const auto t1 = std::chrono::steady_clock::now();
        (void)!ftruncate(fd, 0);
        at = 0;
        for (int i = 0; i < kFrames / kPerCall; ++i) {
            ok &= pwrite(fd, gathered.data(), gathered.size(), at) ==
                  static_cast<ssize_t>(gathered.size());
            at = at + static_cast<off_t>(gathered.size()) > kWrap
                     ? 0
                     : at + static_cast<off_t>(gathered.size());
        }
        const auto t2 = std::chrono::steady_clock::now();
        std::printf("per frame: header + page %.2f us, %d frames per call %.2f us\n",
                    per_frame(t0, t1), kPerCall, per_frame(t1, t2));
    }
    close(fd);
    unlink(path.c_str());
    return ok ? 0 : 1;
}
