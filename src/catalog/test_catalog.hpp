// Test helper: writes a small catalog from in-memory files into a fresh temporary folder.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

namespace acme::catalog::testing {

class TempCatalog {
  public:
    explicit TempCatalog(const std::map<std::string, std::string>& files) {
        std::random_device rd;
        root_ = std::filesystem::temp_directory_path() /
                ("acme-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(root_);
        for (const auto& [path, content] : files) {
            const auto full = root_ / path;
            std::filesystem::create_directories(full.parent_path());
            std::ofstream(full) << content;
        }
    }
    ~TempCatalog() {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
    TempCatalog(const TempCatalog&) = delete;
    TempCatalog& operator=(const TempCatalog&) = delete;

    [[nodiscard]] const std::filesystem::path& root() const { return root_; }

  private:
    std::filesystem::path root_;
};

}  // namespace acme::catalog::testing
