// JSON Schema checks for message schemas: validity, and compatibility between two versions.
//
// The differ walks two schemas side by side (local `$ref`s resolved, `properties`,
// `required`, `type`, `enum`, `items`, `oneOf`/`anyOf`, `additionalProperties`) and
// classifies each difference the way schema registries do:
//   BACKWARD: data written with the old schema is valid under the new one;
//   FORWARD:  data written with the new schema is valid under the old one;
//   FULL:     both. A difference that is not FULL compatible breaks some consumer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace acme::catalog {

// Schemas nesting deeper than this are refused (the checks and valijson recurse).
inline constexpr std::size_t kMaxSchemaDepth = 256;

// Ok when `text` is JSON and a usable draft-7 JSON Schema; otherwise kInvalidArgument with
// the JSON pointer of the offending keyword and the reason ("/properties/a/maximum: must be a
// number, found \"x\""). Local `$ref`s must name a node of the document and must not loop;
// remote ones are not fetched. Never throws.
[[nodiscard]] Result<void> CheckJsonSchema(std::string_view text);

enum class SchemaChangeKind {
    kPropertyAdded,
    kPropertyRemoved,
    kRequiredAdded,
    kRequiredRemoved,
    kTypeChanged,
    kEnumValueAdded,
    kEnumValueRemoved,
    kAdditionalPropertiesChanged,
    kBranchAdded,
    kBranchRemoved,
};
[[nodiscard]] std::string_view SchemaChangeKindName(SchemaChangeKind kind);

struct SchemaChange {
    SchemaChangeKind kind;
    std::string path;    // JSON-pointer-like path of the field, e.g. "/items/[]/sku"
    std::string detail;  // what changed, e.g. "type string -> integer"
    bool backward = true;
    bool forward = true;

    [[nodiscard]] bool Breaking() const { return !(backward && forward); }
};

// Differences from `before` to `after`, sorted by path. kInvalidArgument when either is not JSON.
[[nodiscard]] Result<std::vector<SchemaChange>> DiffJsonSchemas(std::string_view before,
                                                                std::string_view after);

}  // namespace acme::catalog
