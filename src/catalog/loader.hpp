// Reads an EventCatalog folder into a `Catalog`.
//
// Finds every resource by the folder rules of EventCatalog (nested and `versioned/` folders,
// flat team and user files), parses the frontmatter of each file in parallel, and resolves
// every pointer (exact versions, `latest`, semver ranges) to a resource index. Problems in a
// file never stop the load: they become diagnostics naming file, line and key, and the rest
// of the catalog is still read. Only a missing or unreadable root is an error.
#pragma once

#include <filesystem>

#include "catalog/model.hpp"
#include "core/error.hpp"

namespace acme::catalog {

struct LoadOptions {
    std::size_t threads = 0;  // 0: DefaultConcurrency()
    bool keep_bodies = true;  // keep each file's Markdown body in Resource::body
    // Read a JSON Schema that sits beside its index file (`schemaPath: schema.json`) while the
    // folder is open, into Resource::schema_text: `catalog check` reads every schema anyway.
    bool read_schemas = false;
};

// kNotFound when `root` is not a directory.
[[nodiscard]] Result<Catalog> LoadCatalog(const std::filesystem::path& root,
                                          const LoadOptions& options = {});

}  // namespace acme::catalog
