#include "catalog/schema.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>

namespace acme::catalog {

namespace {

using nlohmann::json;

Result<json> ParseJson(std::string_view text) {
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return MakeError(ErrorCode::kInvalidArgument, "not valid json");
    return doc;
}

std::string Shown(const json& v) {
    std::string text = v.dump();
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return text;
}

// Checks the keywords whose shape draft 7 fixes, naming the JSON pointer of the first wrong
// one; valijson catches the rest.
std::string ShapeError(const json& s, const std::string& path) {
    if (s.is_boolean()) return {};
    if (!s.is_object()) return path + ": a schema must be an object or a boolean";
    static const std::set<std::string> kTypes = {"null",   "boolean", "object", "array",
                                                 "number", "string",  "integer"};
    if (auto t = s.find("type"); t != s.end()) {
        auto bad = [&](const json& v) {
            return !v.is_string() || !kTypes.contains(v.get<std::string>());
        };
        if (t->is_array()) {
            for (const auto& v : *t) {
                if (bad(v)) return path + "/type: unknown type " + v.dump();
            }
        } else if (bad(*t)) {
            return path + "/type: unknown type " + t->dump();
        }
    }
    if (auto r = s.find("required"); r != s.end()) {
        if (!r->is_array()) return path + "/required: must be an array of strings";
        for (const auto& v : *r) {
            if (!v.is_string()) return path + "/required: must be an array of strings";
        }
    }
    if (auto p = s.find("properties"); p != s.end()) {
        if (!p->is_object()) return path + "/properties: must be an object";
        for (const auto& [k, v] : p->items()) {
            if (auto e = ShapeError(v, path + "/properties/" + k); !e.empty()) return e;
        }
    }
    for (const char* key : {"definitions", "$defs"}) {
        if (auto d = s.find(key); d != s.end()) {
            if (!d->is_object()) return path + "/" + key + ": must be an object";
            for (const auto& [k, v] : d->items()) {
                if (auto e = ShapeError(v, path + "/" + key + "/" + k); !e.empty()) return e;
            }
        }
    }
    if (auto i = s.find("items"); i != s.end()) {
        if (i->is_array()) {
            for (std::size_t k = 0; k < i->size(); ++k) {
                if (auto e = ShapeError((*i)[k], path + "/items/" + std::to_string(k)); !e.empty())
                    return e;
            }
        } else if (auto e = ShapeError(*i, path + "/items"); !e.empty()) {
            return e;
        }
    }
    for (const char* key : {"oneOf", "anyOf", "allOf"}) {
        if (auto b = s.find(key); b != s.end()) {
            if (!b->is_array() || b->empty())
                return path + "/" + key + ": must be a non-empty array";
            for (std::size_t k = 0; k < b->size(); ++k) {
                if (auto e = ShapeError((*b)[k], path + "/" + key + "/" + std::to_string(k));
                    !e.empty())
                    return e;
            }
        }
    }
    if (auto e = s.find("enum"); e != s.end() && !e->is_array()) {
        return path + "/enum: must be an array";
    }
    for (const char* key : {"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"}) {
        if (auto v = s.find(key); v != s.end() && !v->is_number()) {
            return path + "/" + key + ": must be a number, found " + Shown(*v);
        }
    }
    if (auto v = s.find("multipleOf"); v != s.end() && (!v->is_number() || v->get<double>() <= 0)) {
        return path + "/multipleOf: must be a number greater than 0, found " + Shown(*v);
    }
    for (const char* key :
         {"maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties"}) {
        if (auto v = s.find(key); v != s.end() && !v->is_number_unsigned()) {
            return path + "/" + key + ": must be a non-negative integer, found " + Shown(*v);
        }
    }
    if (auto v = s.find("uniqueItems"); v != s.end() && !v->is_boolean()) {
        return path + "/uniqueItems: must be a boolean, found " + Shown(*v);
    }
    if (auto v = s.find("pattern"); v != s.end()) {
        if (!v->is_string()) return path + "/pattern: must be a string, found " + Shown(*v);
        try {
            const std::regex compiled(v->get<std::string>(), std::regex::ECMAScript);
            (void)compiled;
        } catch (const std::regex_error& e) {
            return path + "/pattern: not a regular expression (" + e.what() + ")";
        }
    }
    if (auto v = s.find("$ref"); v != s.end() && !v->is_string()) {
        return path + "/$ref: must be a string, found " + Shown(*v);
    }
    // Subschemas in the other places draft 7 puts them.
    for (const char* key : {"additionalProperties", "additionalItems", "not", "if", "then", "else",
                            "contains", "propertyNames"}) {
        if (auto v = s.find(key); v != s.end()) {
            if (auto e = ShapeError(*v, path + "/" + key); !e.empty()) return e;
        }
    }
    if (auto p = s.find("patternProperties"); p != s.end()) {
        if (!p->is_object()) return path + "/patternProperties: must be an object";
        for (const auto& [k, v] : p->items()) {
            if (auto e = ShapeError(v, path + "/patternProperties/" + k); !e.empty()) return e;
        }
    }
    return {};
}

// How deeply arrays and objects nest, counted without recursion (a hostile document may nest
// ten thousand levels; every recursive walk below runs only once this is bounded).
std::size_t NestingDepth(const json& doc) {
    std::size_t deepest = 0;
    std::vector<std::pair<const json*, std::size_t>> todo{{&doc, 1}};
    while (!todo.empty()) {
        auto [node, depth] = todo.back();
        todo.pop_back();
        if (!node->is_structured()) continue;
        deepest = std::max(deepest, depth);
        for (const auto& child : *node) todo.emplace_back(&child, depth + 1);
    }
    return deepest;
}

// The node a local `$ref` ("#", "#/definitions/a") names, or nullptr.
const json* LocalTarget(const json& root, const std::string& ref) {
    if (ref == "#") return &root;
    try {
        const json::json_pointer ptr(ref.substr(1));
        return root.contains(ptr) ? &root.at(ptr) : nullptr;
    } catch (const json::exception&) {
        return nullptr;
    }
}

// Every local `$ref` must name a node of this document, and following `$ref`s from one must
// reach a schema rather than come back to itself.
std::string RefError(const json& root, const json& s, const std::string& path) {
    if (s.is_array()) {
        for (std::size_t k = 0; k < s.size(); ++k) {
            if (auto e = RefError(root, s[k], path + "/" + std::to_string(k)); !e.empty()) return e;
        }
        return {};
    }
    if (!s.is_object()) return {};
    if (auto r = s.find("$ref"); r != s.end() && r->is_string()) {
        const std::string ref = r->get<std::string>();
        if (!ref.empty() && ref[0] == '#') {
            std::vector<const json*> chain{&s};
            std::string trail = ref;
            std::string next = ref;
            for (;;) {
                const json* target = LocalTarget(root, next);
                if (target == nullptr) {
                    return path + "/$ref: '" + next +
                           "' names nothing in this schema (cut out of a larger document?)";
                }
                if (std::find(chain.begin(), chain.end(), target) != chain.end()) {
                    return path + "/$ref: the references loop without reaching a schema (" + trail +
                           ")";
                }
                chain.push_back(target);
                if (!target->is_object()) break;
                auto t = target->find("$ref");
                if (t == target->end() || !t->is_string()) break;
                next = t->get<std::string>();
                if (next.empty() || next[0] != '#') break;
                trail += " -> " + next;
            }
        }
    }
    for (const auto& [k, v] : s.items()) {
        if (k == "enum" || k == "const" || k == "default" || k == "examples") continue;
        if (auto e = RefError(root, v, path + "/" + k); !e.empty()) return e;
    }
    return {};
}

bool IsRemoteRef(const std::string& ref) { return !ref.empty() && ref[0] != '#'; }

bool HasRemoteRef(const json& s) {
    if (s.is_object()) {
        if (auto r = s.find("$ref");
            r != s.end() && r->is_string() && IsRemoteRef(r->get<std::string>())) {
            return true;
        }
        for (const auto& [k, v] : s.items()) {
            if (HasRemoteRef(v)) return true;
        }
    } else if (s.is_array()) {
        for (const auto& v : s) {
            if (HasRemoteRef(v)) return true;
        }
    }
    return false;
}

// --- differ ---

class Differ {
  public:
    Differ(const json& before_root, const json& after_root)
        : before_root_(before_root), after_root_(after_root) {}

    void Diff(const json& b_in, const json& a_in, const std::string& path, int depth) {
        if (depth > 32) return;  // recursive $refs
        const json& b = Resolve(before_root_, b_in);
        const json& a = Resolve(after_root_, a_in);
        if (!b.is_object() || !a.is_object()) return;
        DiffType(b, a, path);
        DiffEnum(b, a, path);
        DiffProperties(b, a, path, depth);
        DiffAdditional(b, a, path);
        DiffBranches(b, a, path, "oneOf");
        DiffBranches(b, a, path, "anyOf");
        auto bi = b.find("items");
        auto ai = a.find("items");
        if (bi != b.end() && ai != a.end() && bi->is_object() && ai->is_object()) {
            Diff(*bi, *ai, path + "/[]", depth + 1);
        }
    }

    std::vector<SchemaChange> Take() { return std::move(changes_); }

  private:
    static const json& Resolve(const json& root, const json& s) {
        const json* cur = &s;
        for (int hops = 0; hops < 16 && cur->is_object(); ++hops) {
            auto r = cur->find("$ref");
            if (r == cur->end() || !r->is_string()) break;
            const std::string ref = r->get<std::string>();
            if (ref.empty() || ref[0] != '#') break;
            try {
                const json::json_pointer ptr(ref.substr(1));
                if (!root.contains(ptr)) break;
                cur = &root.at(ptr);
            } catch (const json::exception&) {
                break;
            }
        }
        return *cur;
    }

    void Add(SchemaChangeKind kind, const std::string& path, std::string detail, bool backward,
             bool forward) {
        changes_.push_back({kind, path.empty() ? "/" : path, std::move(detail), backward, forward});
    }

    static std::set<std::string> Types(const json& s) {
        std::set<std::string> out;
        auto t = s.find("type");
        if (t == s.end()) return out;
        if (t->is_string()) out.insert(t->get<std::string>());
        if (t->is_array()) {
            for (const auto& v : *t) {
                if (v.is_string()) out.insert(v.get<std::string>());
            }
        }
        // integer is a subset of number
        return out;
    }

    static std::string Join(const std::set<std::string>& s) {
        std::string out;
        for (const auto& v : s) out += (out.empty() ? "" : "|") + v;
        return out.empty() ? "any" : out;
    }

    static bool Covers(const std::set<std::string>& wide, const std::set<std::string>& narrow) {
        if (wide.empty()) return true;
        if (narrow.empty()) return false;
        for (const auto& t : narrow) {
            if (wide.contains(t)) continue;
            if (t == "integer" && wide.contains("number")) continue;
            return false;
        }
        return true;
    }

    void DiffType(const json& b, const json& a, const std::string& path) {
        const auto tb = Types(b);
        const auto ta = Types(a);
        if (tb == ta) return;
        // Old data valid under new: new types cover old ones. New data valid under old: reverse.
        Add(SchemaChangeKind::kTypeChanged, path, "type " + Join(tb) + " -> " + Join(ta),
            Covers(ta, tb), Covers(tb, ta));
    }

    void DiffEnum(const json& b, const json& a, const std::string& path) {
        auto eb = b.find("enum");
        auto ea = a.find("enum");
        const bool hb = eb != b.end() && eb->is_array();
        const bool ha = ea != a.end() && ea->is_array();
        if (!hb && !ha) return;
        std::set<std::string> vb, va;
        if (hb) {
            for (const auto& v : *eb) vb.insert(v.dump());
        }
        if (ha) {
            for (const auto& v : *ea) va.insert(v.dump());
        }
        if (hb && ha) {
            for (const auto& v : vb) {
                if (!va.contains(v)) {
                    Add(SchemaChangeKind::kEnumValueRemoved, path, "enum value " + v + " removed",
                        false, true);
                }
            }
            for (const auto& v : va) {
                if (!vb.contains(v)) {
                    Add(SchemaChangeKind::kEnumValueAdded, path, "enum value " + v + " added", true,
                        false);
                }
            }
            return;
        }
        if (ha) {
            Add(SchemaChangeKind::kEnumValueRemoved, path, "values restricted to an enum", false,
                true);
        } else {
            Add(SchemaChangeKind::kEnumValueAdded, path, "enum restriction dropped", true, false);
        }
    }

    static bool Closed(const json& s) {
        auto ap = s.find("additionalProperties");
        return ap != s.end() && ap->is_boolean() && !ap->get<bool>();
    }

    static std::set<std::string> Required(const json& s) {
        std::set<std::string> out;
        auto r = s.find("required");
        if (r == s.end() || !r->is_array()) return out;
        for (const auto& v : *r) {
            if (v.is_string()) out.insert(v.get<std::string>());
        }
        return out;
    }

    void DiffProperties(const json& b, const json& a, const std::string& path, int depth) {
        static const json kEmpty = json::object();
        auto pb_it = b.find("properties");
        auto pa_it = a.find("properties");
        const json& pb = pb_it != b.end() && pb_it->is_object() ? *pb_it : kEmpty;
        const json& pa = pa_it != a.end() && pa_it->is_object() ? *pa_it : kEmpty;
        const auto rb = Required(b);
        const auto ra = Required(a);
        const bool closed_b = Closed(b);
        const bool closed_a = Closed(a);
        for (const auto& [name, schema] : pb.items()) {
            const std::string p = path + "/" + name;
            if (!pa.contains(name)) {
                const bool was_required = rb.contains(name);
                // Old data carrying it is rejected only by a closed new schema; new data
                // lacking it is rejected by the old schema when it was required.
                Add(SchemaChangeKind::kPropertyRemoved, p,
                    std::string(was_required ? "required" : "optional") + " property removed",
                    !closed_a, !was_required);
                continue;
            }
            Diff(schema, pa.at(name), p, depth + 1);
            const bool req_b = rb.contains(name);
            const bool req_a = ra.contains(name);
            if (!req_b && req_a) {
                Add(SchemaChangeKind::kRequiredAdded, p, "property became required", false, true);
            } else if (req_b && !req_a) {
                Add(SchemaChangeKind::kRequiredRemoved, p, "property became optional", true, false);
            }
        }
        for (const auto& [name, schema] : pa.items()) {
            if (pb.contains(name)) continue;
            const bool required = ra.contains(name);
            Add(SchemaChangeKind::kPropertyAdded, path + "/" + name,
                std::string(required ? "required" : "optional") + " property added", !required,
                !closed_b);
        }
        // `required` naming a property not described in `properties`.
        for (const auto& name : ra) {
            if (!rb.contains(name) && !pa.contains(name)) {
                Add(SchemaChangeKind::kRequiredAdded, path + "/" + name, "property became required",
                    false, true);
            }
        }
    }

    void DiffAdditional(const json& b, const json& a, const std::string& path) {
        const bool cb = Closed(b);
        const bool ca = Closed(a);
        if (cb == ca) return;
        if (ca) {
            Add(SchemaChangeKind::kAdditionalPropertiesChanged, path,
                "additionalProperties closed (true -> false)", false, true);
        } else {
            Add(SchemaChangeKind::kAdditionalPropertiesChanged, path,
                "additionalProperties opened (false -> true)", true, false);
        }
    }

    void DiffBranches(const json& b, const json& a, const std::string& path, const char* key) {
        auto bb = b.find(key);
        auto ab = a.find(key);
        std::set<std::string> sb, sa;
        if (bb != b.end() && bb->is_array()) {
            for (const auto& v : *bb) sb.insert(Resolve(before_root_, v).dump());
        }
        if (ab != a.end() && ab->is_array()) {
            for (const auto& v : *ab) sa.insert(Resolve(after_root_, v).dump());
        }
        for (const auto& v : sb) {
            if (!sa.contains(v)) {
                Add(SchemaChangeKind::kBranchRemoved, path, std::string(key) + " branch removed",
                    false, true);
            }
        }
        for (const auto& v : sa) {
            if (!sb.contains(v)) {
                Add(SchemaChangeKind::kBranchAdded, path, std::string(key) + " branch added", true,
                    false);
            }
        }
    }

    const json& before_root_;
    const json& after_root_;
    std::vector<SchemaChange> changes_;
};

}  // namespace

Result<void> CheckJsonSchema(std::string_view text) {
    auto doc = ParseJson(text);
    if (!doc) return std::unexpected(doc.error());
    if (!doc->is_object() && !doc->is_boolean()) {
        return MakeError(ErrorCode::kInvalidArgument, "a schema must be a json object");
    }
    if (const std::size_t depth = NestingDepth(*doc); depth > kMaxSchemaDepth) {
        return MakeError(ErrorCode::kInvalidArgument, "nested " + std::to_string(depth) +
                                                          " levels deep (at most " +
                                                          std::to_string(kMaxSchemaDepth) + ")");
    }
    if (auto e = ShapeError(*doc, ""); !e.empty()) {
        return MakeError(ErrorCode::kInvalidArgument, e);
    }
    if (auto e = RefError(*doc, *doc, ""); !e.empty()) {
        return MakeError(ErrorCode::kInvalidArgument, e);
    }
    if (HasRemoteRef(*doc)) return {};  // cannot be compiled without fetching; shape checked
    try {
        valijson::Schema schema;
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(*doc);
        parser.populateSchema(adapter, schema);
    } catch (const std::exception& e) {
        return MakeError(ErrorCode::kInvalidArgument, std::string("/: ") + e.what());
    }
    return {};
}

std::string_view SchemaChangeKindName(SchemaChangeKind kind) {
    switch (kind) {
        case SchemaChangeKind::kPropertyAdded:
            return "property-added";
        case SchemaChangeKind::kPropertyRemoved:
            return "property-removed";
        case SchemaChangeKind::kRequiredAdded:
            return "required-added";
        case SchemaChangeKind::kRequiredRemoved:
            return "required-removed";
        case SchemaChangeKind::kTypeChanged:
            return "type-changed";
        case SchemaChangeKind::kEnumValueAdded:
            return "enum-value-added";
        case SchemaChangeKind::kEnumValueRemoved:
            return "enum-value-removed";
        case SchemaChangeKind::kAdditionalPropertiesChanged:
            return "additional-properties-changed";
        case SchemaChangeKind::kBranchAdded:
            return "branch-added";
        case SchemaChangeKind::kBranchRemoved:
            return "branch-removed";
    }
    return "changed";
}

Result<std::vector<SchemaChange>> DiffJsonSchemas(std::string_view before, std::string_view after) {
    auto b = ParseJson(before);
    if (!b) return MakeError(ErrorCode::kInvalidArgument, "old schema: not valid json");
    auto a = ParseJson(after);
    if (!a) return MakeError(ErrorCode::kInvalidArgument, "new schema: not valid json");
    Differ differ(*b, *a);
    differ.Diff(*b, *a, "", 0);
    auto changes = differ.Take();
    std::stable_sort(changes.begin(), changes.end(),
                     [](const SchemaChange& x, const SchemaChange& y) { return x.path < y.path; });
    return changes;
}

}  // namespace acme::catalog
