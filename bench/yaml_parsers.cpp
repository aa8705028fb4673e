// Measures the frontmatter parsers we could use, on every resource file of a catalog:
// our tree built from libyaml events (catalog/yaml.hpp) and yaml-cpp's YAML::Load.
//
//   acme-bench-yaml DIR [ROUNDS]
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "catalog/yaml.hpp"
#include "core/files.hpp"

namespace {

template <typename Fn>
double BestMs(int rounds, Fn&& fn) {
    double best = 1e300;
    for (int r = 0; r < rounds; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: acme-bench-yaml DIR [ROUNDS]\n");
        return 2;
    }
    const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    std::vector<std::string> texts;
    std::size_t bytes = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[1])) {
        if (!entry.is_regular_file() || entry.path().extension() != ".mdx") continue;
        auto content = acme::ReadFile(entry.path());
        if (!content) continue;
        const auto fm = acme::catalog::SplitFrontmatter(*content);
        if (!fm.present) continue;
        texts.emplace_back(fm.yaml);
        bytes += fm.yaml.size();
    }
    std::size_t sink = 0;
    const double ours = BestMs(rounds, [&] {
        for (const auto& t : texts) {
            auto doc = acme::catalog::ParseYaml(t);
            if (doc) sink += doc->root.keys.size();
        }
    });
    const double yaml_cpp = BestMs(rounds, [&] {
        for (const auto& t : texts) {
            YAML::Node node = YAML::Load(t);
            sink += node.size();
        }
    });
    std::printf("%zu frontmatters, %.1f KiB, best of %d rounds, one thread\n", texts.size(),
                static_cast<double>(bytes) / 1024.0, rounds);
    std::printf("libyaml events -> acme tree : %8.1f ms  (%.1f us/file)\n", ours,
                1000.0 * ours / static_cast<double>(texts.size()));
    std::printf("yaml-cpp YAML::Load         : %8.1f ms  (%.1f us/file)\n", yaml_cpp,
                1000.0 * yaml_cpp / static_cast<double>(texts.size()));
    std::printf("(checksum %zu)\n", sink);
    return 0;
}
