// A small YAML document tree with line numbers, built on libyaml's event parser.
//
// The catalog loader parses each file's frontmatter into a `YamlNode`, copies what it needs
// into the model's plain structs and drops the tree. Every node records the 1-based line it
// starts on, so diagnostics can name file, line and key. Anchors, aliases and merge keys
// (`<<`) are resolved while parsing; scalars stay strings and remember whether they were
// quoted, so `version: 1.0` and `version: "1.0"` can be told apart when it matters.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace acme::catalog {

enum class YamlKind { kNull, kScalar, kMap, kSeq };
enum class ScalarStyle { kPlain, kQuoted, kBlock };

struct YamlNode {
    YamlKind kind = YamlKind::kNull;
    ScalarStyle style = ScalarStyle::kPlain;
    int line = 0;
    std::string value;              // scalar text
    std::vector<std::string> keys;  // map keys, parallel to `items`
    std::vector<int> key_lines;     // map key lines, parallel to `keys`
    std::vector<YamlNode> items;    // sequence items, or map values

    [[nodiscard]] bool IsMap() const { return kind == YamlKind::kMap; }
    [[nodiscard]] bool IsSeq() const { return kind == YamlKind::kSeq; }
    [[nodiscard]] bool IsScalar() const { return kind == YamlKind::kScalar; }
    // True for an absent value: an empty node, or a plain `~`, `null` or empty scalar.
    [[nodiscard]] bool IsNull() const;
    // True for a plain `true`/`True`/`TRUE` scalar.
    [[nodiscard]] bool IsTrue() const;
    // The value stored under `key` in a map, or nullptr (also when this is not a map).
    [[nodiscard]] const YamlNode* Find(std::string_view key) const;
    // Compact flow-style rendering, for keeping unknown keys and for messages.
    [[nodiscard]] std::string ToFlowString() const;
};

struct YamlIssue {
    int line = 0;
    std::string key;
    std::string message;
};

struct YamlDocument {
    YamlNode root;
    std::vector<YamlIssue> issues;  // non-fatal findings such as duplicate keys
};

struct YamlError {
    int line = 0;
    int column = 0;
    std::string message;
};

// Parses one YAML document. `first_line` is the file line of the text's first line, so node
// lines are file lines. An empty text gives a null root.
[[nodiscard]] std::expected<YamlDocument, YamlError> ParseYaml(std::string_view text,
                                                               int first_line = 1);

// The parts of a Markdown/MDX file: YAML frontmatter between `---` lines, then the body.
struct Frontmatter {
    bool present = false;
    std::string_view yaml;
    int yaml_first_line = 0;  // file line of the first YAML line
    std::string_view body;
};

// Splits `content` at its frontmatter fences; a file without an opening fence is all body,
// and an opening fence without a closing one is reported as absent frontmatter.
[[nodiscard]] Frontmatter SplitFrontmatter(std::string_view content);

}  // namespace acme::catalog
