// Materialises the catalog as it was at a git revision, for `acme impact --base REV`.
#pragma once

#include <filesystem>
#include <string>

#include "core/error.hpp"

namespace acme::cli {

// A temporary folder removed when the object dies.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// Writes the files of `catalog_dir` at git revision `rev` under `into` and returns the folder
// that holds them. kNotFound when `catalog_dir` is not in a git work tree or the revision
// does not exist; kUnavailable when git cannot be run.
[[nodiscard]] Result<std::filesystem::path> ExtractCatalogAtRevision(
    const std::filesystem::path& catalog_dir, const std::string& rev,
    const std::filesystem::path& into);

}  // namespace acme::cli
