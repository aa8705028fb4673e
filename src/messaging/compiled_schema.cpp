#include "messaging/compiled_schema.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace acme::messaging {

namespace {

using nlohmann::json;

// One bit per JSON type, as draft-07 names them.
enum TypeBit : std::uint8_t {
    kNull = 1,
    kBoolean = 2,
    kInteger = 4,
    kNumber = 8,  // implies kInteger
    kString = 16,
    kArray = 32,
    kObject = 64,
    kAny = 127,
};

std::optional<std::uint8_t> TypeFromName(std::string_view name) {
    if (name == "null") return kNull;
    if (name == "boolean") return kBoolean;
    if (name == "integer") return kInteger;
    if (name == "number") return static_cast<std::uint8_t>(kNumber | kInteger);
    if (name == "string") return kString;
    if (name == "array") return kArray;
    if (name == "object") return kObject;
    return std::nullopt;
}

std::uint8_t TypeOf(const json& v) {
    switch (v.type()) {
        case json::value_t::null:
            return kNull;
        case json::value_t::boolean:
            return kBoolean;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return kInteger;
        case json::value_t::number_float:
            return kNumber;
        case json::value_t::string:
            return kString;
        case json::value_t::array:
            return kArray;
        case json::value_t::object:
            return kObject;
        default:
            return 0;  // binary, discarded: valid against nothing
    }
}

// One reference token of a JSON pointer: "~" and "/" escaped.
std::string Escape(const std::string& token) {
    std::string out;
    for (const char c : token) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

// Code points in UTF-8 text (what minLength and maxLength count).
std::uint64_t CodePoints(const std::string& s) {
    std::uint64_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    return n;
}

// The compiled nodes; node `root` is the schema itself.
struct Program {
    static constexpr int kAnything = -1;  // additionalProperties absent or true
    static constexpr int kNothing = -2;   // additionalProperties false

    struct Node {
        bool never = false;  // the schema `false`
        std::uint8_t types = kAny;
        std::vector<std::string> required;
        std::map<std::string, int, std::less<>> properties;
        int additional = kAnything;
        int items = kAnything;
        std::optional<std::uint64_t> min_items, max_items, min_length, max_length;
        std::optional<double> minimum, maximum;
    };
    std::vector<Node> nodes;
    int root = 0;

    [[nodiscard]] bool Check(int at, const json& v) const {
        if (at == kAnything) return true;
        if (at == kNothing) return false;
        const Node& n = nodes[static_cast<std::size_t>(at)];
        if (n.never) return false;
        const std::uint8_t type = TypeOf(v);
        if ((n.types & type) == 0) return false;
        switch (type) {
            case kInteger:
            case kNumber: {
                const double d = v.get<double>();
                if (n.minimum && d < *n.minimum) return false;
                if (n.maximum && d > *n.maximum) return false;
                return true;
            }
            case kString: {
                if (!n.min_length && !n.max_length) return true;
                const std::uint64_t len = CodePoints(v.get_ref<const std::string&>());
                if (n.min_length && len < *n.min_length) return false;
                if (n.max_length && len > *n.max_length) return false;
                return true;
            }
            case kArray: {
                const std::size_t size = v.size();
                if (n.min_items && size < *n.min_items) return false;
                if (n.max_items && size > *n.max_items) return false;
                if (n.items == kAnything) return true;
                return std::all_of(v.begin(), v.end(),
                                   [&](const json& item) { return Check(n.items, item); });
            }
            case kObject: {
                for (const std::string& name : n.required) {
                    if (!v.contains(name)) return false;
                }
                for (auto it = v.begin(); it != v.end(); ++it) {
                    auto p = n.properties.find(it.key());
                    const int schema = p != n.properties.end() ? p->second : n.additional;
                    if (!Check(schema, it.value())) return false;
                }
                return true;
            }
            default:
                return true;
        }
    }
};

// Compiles the schema at a JSON pointer of the document into nodes; one node per pointer, so
// a `$ref` cycle refers back to the node being built.
class Compiler {
  public:
    Compiler(const json& root, Program& out) : root_(root), out_(out) {}

    Result<int> At(const std::string& pointer) {
        if (auto it = built_.find(pointer); it != built_.end()) return it->second;
        const json* schema = nullptr;
        try {
            schema = &root_.at(json::json_pointer(pointer));
        } catch (const std::exception&) {
            return MakeError(ErrorCode::kInvalidArgument, "$ref to a missing '#" + pointer + "'");
        }
        if (schema->is_object() && schema->contains("$ref")) return Ref(pointer, *schema);
        const int index = static_cast<int>(out_.nodes.size());
        out_.nodes.emplace_back();
        built_[pointer] = index;
        if (auto ok = Fill(pointer, *schema, index); !ok) return std::unexpected(ok.error());
        return index;
    }

  private:
    using Node = Program::Node;

    Result<int> Ref(const std::string& pointer, const json& schema) {
        static const std::set<std::string, std::less<>> kBesideRef = {"$comment", "description",
                                                                      "title"};
        for (auto it = schema.begin(); it != schema.end(); ++it) {
            if (it.key() != "$ref" && !kBesideRef.contains(it.key())) {
                return Unsupported(pointer, it.key() + " beside $ref");
            }
        }
        const json& ref = schema.at("$ref");
        if (!ref.is_string() || !ref.get_ref<const std::string&>().starts_with("#")) {
            return Unsupported(pointer, "$ref outside the document");
        }
        const std::string target = ref.get<std::string>().substr(1);
        if (target == pointer) return MakeError(ErrorCode::kInvalidArgument, "$ref to itself");
        // Resolved through the chain; the pointer of the referring schema is not a node.
        if (resolving_.contains(pointer)) {
            return MakeError(ErrorCode::kInvalidArgument, "$ref cycle at '#" + pointer + "'");
        }
        resolving_.insert(pointer);
        auto index = At(target);
        resolving_.erase(pointer);
        if (index) built_[pointer] = *index;
        return index;
    }

    static std::unexpected<Error> Unsupported(const std::string& pointer, const std::string& what) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "schema keyword not compiled: " + what + " at '#" + pointer + "'");
    }

    static Result<std::optional<std::uint64_t>> Count(const json& v, const std::string& key) {
        if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
            return MakeError(ErrorCode::kInvalidArgument, key + " is not a non-negative integer");
        }
        return std::optional<std::uint64_t>(v.get<std::uint64_t>());
    }

    Result<void> Fill(const std::string& pointer, const json& schema, int index) {
        auto node = [&]() -> Node& { return out_.nodes[static_cast<std::size_t>(index)]; };
        if (schema.is_boolean()) {
            node().never = !schema.get<bool>();
            return {};
        }
        if (!schema.is_object()) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "schema at '#" + pointer + "' is not an object");
        }
        static const std::set<std::string, std::less<>> kAnnotations = {
            "$schema", "$id",         "$comment", "title",
            "default", "description", "examples", "definitions"};
        for (auto it = schema.begin(); it != schema.end(); ++it) {
            const std::string& key = it.key();
            const json& v = it.value();
            const std::string here = pointer + "/" + key;
            if (kAnnotations.contains(key)) continue;
            if (key == "type") {
                std::uint8_t types = 0;
                for (const json& name : v.is_array() ? v : json::array({v})) {
                    auto bit =
                        name.is_string() ? TypeFromName(name.get<std::string>()) : std::nullopt;
                    if (!bit) {
                        return MakeError(ErrorCode::kInvalidArgument,
                                         "unknown type at '#" + here + "'");
                    }
                    types |= *bit;
                }
                node().types = types;
            } else if (key == "required") {
                if (!v.is_array()) {
                    return MakeError(ErrorCode::kInvalidArgument, "required is not a list");
                }
                for (const json& name : v) node().required.push_back(name.get<std::string>());
            } else if (key == "properties") {
                if (!v.is_object()) {
                    return MakeError(ErrorCode::kInvalidArgument, "properties is not an object");
                }
                for (auto p = v.begin(); p != v.end(); ++p) {
                    auto child = At(here + "/" + Escape(p.key()));
                    if (!child) return std::unexpected(child.error());
                    node().properties[p.key()] = *child;
                }
            } else if (key == "additionalProperties") {
                if (v.is_boolean()) {
                    node().additional = v.get<bool>() ? Program::kAnything : Program::kNothing;
                } else {
                    auto child = At(here);
                    if (!child) return std::unexpected(child.error());
                    node().additional = *child;
                }
            } else if (key == "items") {
                if (v.is_array()) return Unsupported(pointer, "items as a list");
                auto child = At(here);
                if (!child) return std::unexpected(child.error());
                node().items = *child;
            } else if (key == "minItems" || key == "maxItems" || key == "minLength" ||
                       key == "maxLength") {
                auto n = Count(v, key);
                if (!n) return std::unexpected(n.error());
                (key == "minItems"    ? node().min_items
                 : key == "maxItems"  ? node().max_items
                 : key == "minLength" ? node().min_length
                                      : node().max_length) = *n;
            } else if (key == "minimum" || key == "maximum") {
                if (!v.is_number()) {
                    return MakeError(ErrorCode::kInvalidArgument, key + " is not a number");
                }
                (key == "minimum" ? node().minimum : node().maximum) = v.get<double>();
            } else {
                return Unsupported(pointer, key);
            }
        }
        return {};
    }

    const json& root_;
    Program& out_;
    std::map<std::string, int> built_;
    std::set<std::string> resolving_;
};

}  // namespace

struct CompiledSchema::Impl {
    Program program;
};

CompiledSchema::CompiledSchema(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledSchema::~CompiledSchema() = default;
CompiledSchema::CompiledSchema(CompiledSchema&&) noexcept = default;
CompiledSchema& CompiledSchema::operator=(CompiledSchema&&) noexcept = default;

Result<CompiledSchema> CompiledSchema::Compile(const nlohmann::json& schema) {
    auto impl = std::make_unique<Impl>();
    Compiler compiler(schema, impl->program);
    auto root = compiler.At("");
    if (!root) return std::unexpected(root.error());
    impl->program.root = *root;
    return CompiledSchema(std::move(impl));
}

bool CompiledSchema::Valid(const nlohmann::json& doc) const {
    return impl_->program.Check(impl_->program.root, doc);
}

}  // namespace acme::messaging
