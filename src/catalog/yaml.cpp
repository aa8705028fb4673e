#include "catalog/yaml.hpp"

#include <yaml.h>

#include <unordered_map>
#include <utility>

namespace acme::catalog {

namespace {

// Limits that keep a hostile document from exhausting memory or the stack: the nodes a
// document may expand to through aliases ("billion laughs"), and how deeply it may nest.
constexpr std::size_t kMaxNodes = 1'000'000;
constexpr std::size_t kMaxNesting = 1'000;

struct Frame {
    YamlNode node;
    std::size_t size = 1;  // nodes in the subtree, aliases counted as what they copy
    std::string anchor;
    bool expecting_key = true;
    std::string pending_key;
    int pending_key_line = 0;
};

class TreeBuilder {
  public:
    TreeBuilder(int first_line, YamlDocument& doc) : first_line_(first_line), doc_(doc) {}

    // False (and nothing opened) when the document nests deeper than kMaxNesting.
    [[nodiscard]] bool Open(YamlKind kind, int line, std::string anchor) {
        if (stack_.size() >= kMaxNesting) return false;
        Frame frame;
        frame.node.kind = kind;
        frame.node.line = line;
        frame.anchor = std::move(anchor);
        stack_.push_back(std::move(frame));
        return true;
    }

    void Close() {
        Frame frame = std::move(stack_.back());
        stack_.pop_back();
        Complete(std::move(frame.node), frame.anchor, frame.size);
    }

    // False once the document has expanded to more than kMaxNodes nodes.
    [[nodiscard]] bool Count(std::size_t nodes) {
        total_ += nodes;
        return total_ <= kMaxNodes;
    }

    void Complete(YamlNode node, const std::string& anchor, std::size_t size = 1) {
        if (!anchor.empty()) anchors_[anchor] = {node, size};
        if (stack_.empty()) {
            doc_.root = std::move(node);
            return;
        }
        Frame& parent = stack_.back();
        parent.size += size;
        if (parent.node.kind == YamlKind::kSeq) {
            parent.node.items.push_back(std::move(node));
            return;
        }
        if (parent.expecting_key) {
            parent.pending_key =
                node.kind == YamlKind::kScalar ? std::move(node.value) : node.ToFlowString();
            parent.pending_key_line = node.line;
            parent.expecting_key = false;
            return;
        }
        parent.expecting_key = true;
        if (parent.pending_key == "<<" && (node.IsMap() || node.IsSeq())) {
            Merge(parent.node, node);
            return;
        }
        AddEntry(parent.node, std::move(parent.pending_key), parent.pending_key_line,
                 std::move(node));
    }

    enum class AliasResult { kDone, kUnknown, kTooLarge };
    AliasResult Alias(const std::string& name, int line) {
        auto it = anchors_.find(name);
        if (it == anchors_.end()) return AliasResult::kUnknown;
        const auto& [node, size] = it->second;
        if (!Count(size)) return AliasResult::kTooLarge;  // before copying anything
        YamlNode copy = node;
        copy.line = line;
        Complete(std::move(copy), {}, size);
        return AliasResult::kDone;
    }

    int Line(const yaml_mark_t& mark) const { return first_line_ + static_cast<int>(mark.line); }

  private:
    void AddEntry(YamlNode& map, std::string key, int key_line, YamlNode value) {
        for (std::size_t i = 0; i < map.keys.size(); ++i) {
            if (map.keys[i] != key) continue;
            doc_.issues.push_back({key_line, key,
                                   "duplicate key '" + key + "' (first on line " +
                                       std::to_string(map.key_lines[i]) + ")"});
            map.items[i] = std::move(value);
            return;
        }
        map.keys.push_back(std::move(key));
        map.key_lines.push_back(key_line);
        map.items.push_back(std::move(value));
    }

    // `<<: *base` copies the keys of `base` that the map does not set itself.
    static void Merge(YamlNode& map, const YamlNode& source) {
        if (source.IsSeq()) {
            for (const auto& item : source.items) Merge(map, item);
            return;
        }
        for (std::size_t i = 0; i < source.keys.size(); ++i) {
            if (map.Find(source.keys[i]) != nullptr) continue;
            map.keys.push_back(source.keys[i]);
            map.key_lines.push_back(source.key_lines[i]);
            map.items.push_back(source.items[i]);
        }
    }

    int first_line_;
    YamlDocument& doc_;
    std::vector<Frame> stack_;
    std::unordered_map<std::string, std::pair<YamlNode, std::size_t>> anchors_;
    std::size_t total_ = 0;
};

std::string AnchorOf(const yaml_char_t* anchor) {
    return anchor == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(anchor));
}

void AppendFlow(const YamlNode& node, std::string& out) {
    switch (node.kind) {
        case YamlKind::kNull:
            out += "null";
            return;
        case YamlKind::kScalar:
            if (node.style == ScalarStyle::kPlain) {
                out += node.value;
            } else {
                out += '"';
                out += node.value;
                out += '"';
            }
            return;
        case YamlKind::kSeq:
            out += '[';
            for (std::size_t i = 0; i < node.items.size(); ++i) {
                if (i != 0) out += ", ";
                AppendFlow(node.items[i], out);
            }
            out += ']';
            return;
        case YamlKind::kMap:
            out += '{';
            for (std::size_t i = 0; i < node.keys.size(); ++i) {
                if (i != 0) out += ", ";
                out += node.keys[i];
                out += ": ";
                AppendFlow(node.items[i], out);
            }
            out += '}';
            return;
    }
}

}  // namespace

bool YamlNode::IsNull() const {
    if (kind == YamlKind::kNull) return true;
    if (kind != YamlKind::kScalar || style != ScalarStyle::kPlain) return false;
    return value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL";
}

bool YamlNode::IsTrue() const {
    return kind == YamlKind::kScalar && style == ScalarStyle::kPlain &&
           (value == "true" || value == "True" || value == "TRUE");
}

const YamlNode* YamlNode::Find(std::string_view key) const {
    if (kind != YamlKind::kMap) return nullptr;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (keys[i] == key) return &items[i];
    }
    return nullptr;
}

std::string YamlNode::ToFlowString() const {
    std::string out;
    AppendFlow(*this, out);
    return out;
}

std::expected<YamlDocument, YamlError> ParseYaml(std::string_view text, int first_line) {
    YamlDocument doc;
    yaml_parser_t parser;
    if (yaml_parser_initialize(&parser) == 0) {
        return std::unexpected(YamlError{first_line, 0, "cannot initialise the yaml parser"});
    }
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    TreeBuilder builder(first_line, doc);
    std::expected<YamlDocument, YamlError> result;
    bool done = false;
    bool seen_document = false;
    while (!done) {
        yaml_event_t event;
        if (yaml_parser_parse(&parser, &event) == 0) {
            // For an unclosed construct the context mark (where it started) is the useful line.
            const yaml_mark_t& mark =
                parser.context != nullptr ? parser.context_mark : parser.problem_mark;
            std::string message = parser.problem != nullptr ? parser.problem : "invalid yaml";
            if (parser.context != nullptr) message = std::string(parser.context) + ": " + message;
            result = std::unexpected(
                YamlError{builder.Line(mark), static_cast<int>(mark.column) + 1, message});
            break;
        }
        const int line = builder.Line(event.start_mark);
        // Ends the parse with a finding at this event.
        auto refuse = [&](std::string message) {
            result = std::unexpected(
                YamlError{line, static_cast<int>(event.start_mark.column) + 1, std::move(message)});
            done = true;
        };
        const std::string too_many = "more than " + std::to_string(kMaxNodes) + " nodes";
        switch (event.type) {
            case YAML_DOCUMENT_START_EVENT:
                if (seen_document) done = true;  // only the first document counts
                seen_document = true;
                break;
            case YAML_MAPPING_START_EVENT:
            case YAML_SEQUENCE_START_EVENT: {
                const bool map = event.type == YAML_MAPPING_START_EVENT;
                if (!builder.Count(1)) {
                    refuse(too_many);
                } else if (!builder.Open(map ? YamlKind::kMap : YamlKind::kSeq, line,
                                         AnchorOf(map ? event.data.mapping_start.anchor
                                                      : event.data.sequence_start.anchor))) {
                    refuse("nested more than " + std::to_string(kMaxNesting) + " levels deep");
                }
                break;
            }
            case YAML_MAPPING_END_EVENT:
            case YAML_SEQUENCE_END_EVENT:
                builder.Close();
                break;
            case YAML_SCALAR_EVENT: {
                YamlNode node;
                node.kind = YamlKind::kScalar;
                node.line = line;
                node.value.assign(reinterpret_cast<const char*>(event.data.scalar.value),
                                  event.data.scalar.length);
                switch (event.data.scalar.style) {
                    case YAML_SINGLE_QUOTED_SCALAR_STYLE:
                    case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
                        node.style = ScalarStyle::kQuoted;
                        break;
                    case YAML_LITERAL_SCALAR_STYLE:
                    case YAML_FOLDED_SCALAR_STYLE:
                        node.style = ScalarStyle::kBlock;
                        break;
                    default:
                        node.style = ScalarStyle::kPlain;
                        break;
                }
                if (!builder.Count(1)) {
                    refuse(too_many);
                    break;
                }
                builder.Complete(std::move(node), AnchorOf(event.data.scalar.anchor));
                break;
            }
            case YAML_ALIAS_EVENT: {
                const std::string name = AnchorOf(event.data.alias.anchor);
                const auto aliased = builder.Alias(name, line);
                if (aliased == TreeBuilder::AliasResult::kUnknown) {
                    refuse("unknown alias '*" + name + "'");
                } else if (aliased == TreeBuilder::AliasResult::kTooLarge) {
                    refuse("aliases expand the document past " + std::to_string(kMaxNodes) +
                           " nodes (at '*" + name + "')");
                }
                break;
            }
            case YAML_STREAM_END_EVENT:
                done = true;
                break;
            default:
                break;
        }
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    if (!result.has_value()) return result;
    return doc;
}

Frontmatter SplitFrontmatter(std::string_view content) {
    Frontmatter fm;
    if (content.starts_with("\xEF\xBB\xBF")) content.remove_prefix(3);
    auto line_end = [&](std::size_t pos) {
        const std::size_t nl = content.find('\n', pos);
        return nl == std::string_view::npos ? content.size() : nl;
    };
    auto is_fence = [&](std::size_t begin, std::size_t end) {
        std::string_view line = content.substr(begin, end - begin);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        return line == "---";
    };
    const std::size_t first_end = line_end(0);
    if (!is_fence(0, first_end)) {
        fm.body = content;
        return fm;
    }
    std::size_t pos = first_end + 1;
    int line = 2;
    while (pos <= content.size()) {
        const std::size_t end = line_end(pos);
        if (is_fence(pos, end)) {
            fm.present = true;
            fm.yaml = content.substr(first_end + 1, pos - (first_end + 1));
            fm.yaml_first_line = 2;
            fm.body = end < content.size() ? content.substr(end + 1) : std::string_view();
            return fm;
        }
        if (end >= content.size()) break;
        pos = end + 1;
        ++line;
    }
    fm.body = content;
    return fm;
}

}  // namespace acme::catalog
