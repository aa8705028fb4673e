#include "catalog/loader.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <regex>
#include <unordered_set>

#include "catalog/yaml.hpp"
#include "core/files.hpp"
#include "core/thread_pool.hpp"

namespace acme::catalog {

namespace {

namespace fs = std::filesystem;

struct FoundFile {
    std::string rel;  // relative path, '/' separated
    Kind kind;
    bool versioned_copy;
};

bool SkippedDirectory(const std::string& name) {
    return name == "node_modules" || name == ".git" || name == ".eventcatalog-core" ||
           name == "dist" || name == ".astro" || name == "public";
}

std::vector<std::string> SplitPath(const std::string& rel) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= rel.size()) {
        const std::size_t slash = rel.find('/', start);
        parts.push_back(
            rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return parts;
}

// Kind of a resource file from the folders above it; nullopt when it is not a resource.
std::optional<Kind> ClassifyIndex(std::vector<std::string> dirs, bool& versioned_copy) {
    versioned_copy = false;
    if (dirs.size() >= 3 && dirs[dirs.size() - 2] == "versioned") {
        versioned_copy = true;
        dirs.resize(dirs.size() - 2);
    }
    if (dirs.size() < 2) return std::nullopt;
    const std::string& collection = dirs[dirs.size() - 2];
    if (collection == "versioned") return std::nullopt;
    if (collection == "teams" || collection == "users") return std::nullopt;
    if (auto kind = ParseKind(collection)) return kind;
    // Channels, flows, containers and diagrams may nest below their collection folder.
    for (std::size_t i = dirs.size() - 2; i-- > 0;) {
        const std::string& d = dirs[i];
        if (d == "channels") return Kind::kChannel;
        if (d == "flows") return Kind::kFlow;
        if (d == "containers") return Kind::kContainer;
        if (d == "diagrams") return Kind::kDiagram;
    }
    return std::nullopt;
}

bool IsMarkdown(std::string_view name) { return name.ends_with(".mdx") || name.ends_with(".md"); }

// Builds one Resource from a parsed frontmatter map, collecting diagnostics.
class ResourceReader {
  public:
    ResourceReader(const std::string& file, std::vector<Diagnostic>& out)
        : file_(file), out_(out) {}

    void Report(Severity severity, std::string rule, int line, std::string key,
                std::string message) {
        out_.push_back(
            {std::move(rule), severity, file_, line, std::move(key), std::move(message), {}});
    }

    // Reads a scalar; reports a type error for anything else.
    bool Scalar(const YamlNode& node, const std::string& key, std::string& out) {
        if (node.IsNull()) return false;
        if (!node.IsScalar()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, key,
                   "expected a string, found " + Describe(node));
            return false;
        }
        out = node.value;
        return true;
    }

    Pointer ReadPointer(const YamlNode& node, const std::string& key, TargetGroup group) {
        Pointer p;
        p.key = key;
        p.line = node.line;
        p.group = group;
        if (node.IsScalar()) {
            p.id = node.value;
            return p;
        }
        if (!node.IsMap()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, key,
                   "expected {id, version} or an id, found " + Describe(node));
            return p;
        }
        if (const YamlNode* id = node.Find("id")) Scalar(*id, key + ".id", p.id);
        if (p.id.empty()) {
            Report(Severity::kError, "frontmatter/required-field", node.line, key + ".id",
                   "pointer has no id");
        }
        if (const YamlNode* v = node.Find("version")) Scalar(*v, key + ".version", p.version);
        return p;
    }

    std::vector<Pointer> ReadPointerList(const YamlNode& node, const std::string& key,
                                         TargetGroup group) {
        std::vector<Pointer> out;
        if (node.IsNull()) return out;
        if (!node.IsSeq()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, key,
                   "expected a list, found " + Describe(node));
            return out;
        }
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            Pointer p = ReadPointer(node.items[i], Index(key, i), group);
            if (!p.id.empty()) out.push_back(std::move(p));
        }
        return out;
    }

    // Items that say what they point at: `{id, type, version?}` (resourceGroups items, ADRs'
    // appliesTo). A missing type points at any resource; so does an unknown one, with a
    // warning (a misspelt type would otherwise pass silently).
    void ReadTypedList(const YamlNode& node, const std::string& key, std::vector<Pointer>& out) {
        if (node.IsNull()) return;
        if (!node.IsSeq()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, key,
                   "expected a list, found " + Describe(node));
            return;
        }
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            const YamlNode& item = node.items[i];
            TargetGroup group = TargetGroup::kAny;
            if (item.IsMap()) {
                if (const YamlNode* type = item.Find("type"); type && type->IsScalar()) {
                    if (auto kind = ParseKind(type->value)) {
                        group = GroupOfKind(*kind);
                    } else {
                        Report(Severity::kWarning, "ref/unknown-type", type->line,
                               Index(key, i) + ".type",
                               "'" + type->value +
                                   "' is not a resource type (service, event, flow, ...); the "
                                   "item is matched by id against every kind");
                    }
                }
            }
            Pointer p = ReadPointer(item, Index(key, i), group);
            if (!p.id.empty()) out.push_back(std::move(p));
        }
    }

    // `resourceGroups: [{id, title, items: [{id, type, version?}]}]` on domains.
    void ReadResourceGroups(const YamlNode& node, Resource& r) {
        if (node.IsNull()) return;
        if (!node.IsSeq()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, "resourceGroups",
                   "expected a list, found " + Describe(node));
            return;
        }
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            const YamlNode& group = node.items[i];
            if (!group.IsMap()) continue;
            if (const YamlNode* items = group.Find("items")) {
                ReadTypedList(*items, Index("resourceGroups", i) + ".items", r.grouped);
            }
        }
    }

    std::vector<std::string> ReadStringList(const YamlNode& node, const std::string& key) {
        std::vector<std::string> out;
        if (node.IsNull()) return out;
        if (!node.IsSeq()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, key,
                   "expected a list of strings, found " + Describe(node));
            return out;
        }
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            std::string s;
            if (Scalar(node.items[i], Index(key, i), s)) out.push_back(std::move(s));
        }
        return out;
    }

    void ReadSends(const YamlNode& node, Resource& r) {
        if (node.IsNull()) return;
        if (!node.IsSeq()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, "sends",
                   "expected a list, found " + Describe(node));
            return;
        }
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            const YamlNode& item = node.items[i];
            Send send;
            send.message = ReadPointer(item, Index("sends", i), TargetGroup::kMessage);
            if (send.message.id.empty()) continue;
            if (const YamlNode* to = item.Find("to")) {
                send.channels =
                    ReadPointerList(*to, Index("sends", i) + ".to", TargetGroup::kChannel);
            }
            r.sends.push_back(std::move(send));
        }
    }

    void ReadReceives(const YamlNode& node, Resource& r) {
        if (node.IsNull()) return;
        if (!node.IsSeq()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, "receives",
                   "expected a list, found " + Describe(node));
            return;
        }
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            const YamlNode& item = node.items[i];
            const std::string key = Index("receives", i);
            Receive recv;
            recv.message = ReadPointer(item, key, TargetGroup::kMessage);
            if (recv.message.id.empty()) continue;
            if (const YamlNode* from = item.Find("from")) {
                recv.channels = ReadPointerList(*from, key + ".from", TargetGroup::kChannel);
            }
            if (const YamlNode* fields = item.Find("fields")) {
                recv.fields = ReadStringList(*fields, key + ".fields");
            }
            if (const YamlNode* triggers = item.Find("triggers"); triggers && !triggers->IsNull()) {
                if (!triggers->IsSeq()) {
                    Report(Severity::kError, "frontmatter/invalid-type", triggers->line,
                           key + ".triggers", "expected a list, found " + Describe(*triggers));
                } else {
                    for (std::size_t t = 0; t < triggers->items.size(); ++t) {
                        const YamlNode& trig = triggers->items[t];
                        Pointer p =
                            ReadPointer(trig, Index(key + ".triggers", t), TargetGroup::kMessage);
                        if (p.id.empty()) continue;
                        std::string condition;
                        if (const YamlNode* c = trig.Find("condition")) {
                            Scalar(*c, p.key + ".condition", condition);
                        }
                        recv.triggers.push_back(std::move(p));
                        recv.trigger_conditions.push_back(std::move(condition));
                    }
                }
            }
            r.receives.push_back(std::move(recv));
        }
    }

    void ReadSpecifications(const YamlNode& node, Resource& r) {
        if (node.IsMap()) {
            static constexpr std::pair<std::string_view, std::string_view> kKeys[] = {
                {"openapiPath", "openapi"},
                {"asyncapiPath", "asyncapi"},
                {"graphqlPath", "graphql"}};
            for (const auto& [key, type] : kKeys) {
                const YamlNode* v = node.Find(key);
                if (v == nullptr) continue;
                Specification spec;
                spec.type = std::string(type);
                spec.line = v->line;
                if (Scalar(*v, "specifications." + std::string(key), spec.path)) {
                    r.specifications.push_back(std::move(spec));
                }
            }
            return;
        }
        if (!node.IsSeq()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, "specifications",
                   "expected a map or a list, found " + Describe(node));
            return;
        }
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            const YamlNode& item = node.items[i];
            const std::string key = Index("specifications", i);
            Specification spec;
            spec.line = item.line;
            if (const YamlNode* t = item.Find("type")) Scalar(*t, key + ".type", spec.type);
            if (const YamlNode* p = item.Find("path")) Scalar(*p, key + ".path", spec.path);
            if (const YamlNode* n = item.Find("name")) Scalar(*n, key + ".name", spec.name);
            if (spec.path.empty()) {
                Report(Severity::kError, "frontmatter/required-field", item.line, key + ".path",
                       "specification has no path");
                continue;
            }
            r.specifications.push_back(std::move(spec));
        }
    }

    StepLink ReadLink(const YamlNode& node, const std::string& key) {
        StepLink link;
        link.line = node.line;
        if (node.IsScalar()) {
            link.target = node.value;
        } else if (node.IsMap()) {
            if (const YamlNode* id = node.Find("id")) Scalar(*id, key + ".id", link.target);
            if (const YamlNode* label = node.Find("label")) {
                Scalar(*label, key + ".label", link.label);
            }
        } else {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, key,
                   "expected a step id or {id, label}, found " + Describe(node));
        }
        return link;
    }

    void ReadSteps(const YamlNode& node, Resource& r) {
        if (node.IsNull()) return;
        if (!node.IsSeq()) {
            Report(Severity::kError, "frontmatter/invalid-type", node.line, "steps",
                   "expected a list of steps, found " + Describe(node));
            return;
        }
        for (std::size_t i = 0; i < node.items.size(); ++i) {
            const YamlNode& item = node.items[i];
            const std::string key = Index("steps", i);
            if (!item.IsMap()) {
                Report(Severity::kError, "frontmatter/invalid-type", item.line, key,
                       "expected a step map, found " + Describe(item));
                continue;
            }
            FlowStep step;
            step.line = item.line;
            if (const YamlNode* id = item.Find("id")) Scalar(*id, key + ".id", step.id);
            if (step.id.empty()) {
                Report(Severity::kError, "frontmatter/required-field", item.line, key + ".id",
                       "step has no id");
            }
            if (const YamlNode* t = item.Find("title")) Scalar(*t, key + ".title", step.title);
            if (const YamlNode* s = item.Find("summary")) {
                Scalar(*s, key + ".summary", step.summary);
            }
            static constexpr std::tuple<std::string_view, StepKind, TargetGroup> kPointerKinds[] = {
                {"message", StepKind::kMessage, TargetGroup::kMessage},
                {"service", StepKind::kService, TargetGroup::kService},
                {"flow", StepKind::kFlow, TargetGroup::kFlow},
                {"agent", StepKind::kAgent, TargetGroup::kAgent},
                {"container", StepKind::kContainer, TargetGroup::kContainer},
                {"dataProduct", StepKind::kDataProduct, TargetGroup::kDataProduct}};
            for (const auto& [name, kind, group] : kPointerKinds) {
                const YamlNode* p = item.Find(name);
                if (p == nullptr || p->IsNull()) continue;
                ++step.kinds_declared;
                step.kind = kind;
                step.target = ReadPointer(*p, key + "." + std::string(name), group);
            }
            if (const YamlNode* actor = item.Find("actor"); actor && !actor->IsNull()) {
                ++step.kinds_declared;
                step.kind = StepKind::kActor;
                if (const YamlNode* n = actor->Find("name")) {
                    Scalar(*n, key + ".actor.name", step.node_name);
                }
            }
            if (const YamlNode* ext = item.Find("externalSystem"); ext && !ext->IsNull()) {
                ++step.kinds_declared;
                step.kind = StepKind::kExternalSystem;
                if (const YamlNode* n = ext->Find("name")) {
                    Scalar(*n, key + ".externalSystem.name", step.node_name);
                }
            }
            if (const YamlNode* custom = item.Find("custom"); custom && !custom->IsNull()) {
                ++step.kinds_declared;
                step.kind = StepKind::kCustom;
                if (const YamlNode* t = custom->Find("title")) {
                    Scalar(*t, key + ".custom.title", step.node_name);
                }
                if (const YamlNode* t = custom->Find("type")) {
                    Scalar(*t, key + ".custom.type", step.custom_type);
                }
                if (const YamlNode* props = custom->Find("properties"); props && props->IsMap()) {
                    for (std::size_t k = 0; k < props->keys.size(); ++k) {
                        const YamlNode& v = props->items[k];
                        step.properties.emplace_back(props->keys[k],
                                                     v.IsScalar() ? v.value : v.ToFlowString());
                    }
                }
            }
            const YamlNode* next_step = item.Find("next_step");
            const YamlNode* next_steps = item.Find("next_steps");
            if (next_step != nullptr && !next_step->IsNull()) {
                step.next.push_back(ReadLink(*next_step, key + ".next_step"));
            }
            if (next_steps != nullptr && !next_steps->IsNull()) {
                if (next_steps->IsSeq()) {
                    for (std::size_t k = 0; k < next_steps->items.size(); ++k) {
                        step.next.push_back(
                            ReadLink(next_steps->items[k], Index(key + ".next_steps", k)));
                    }
                } else {
                    Report(Severity::kError, "frontmatter/invalid-type", next_steps->line,
                           key + ".next_steps", "expected a list, found " + Describe(*next_steps));
                }
            }
            step.both_link_forms = next_step != nullptr && next_steps != nullptr &&
                                   !next_step->IsNull() && !next_steps->IsNull();
            r.steps.push_back(std::move(step));
        }
    }

    static std::string Index(const std::string& key, std::size_t i) {
        return key + "[" + std::to_string(i) + "]";
    }

    static std::string Describe(const YamlNode& node) {
        switch (node.kind) {
            case YamlKind::kNull:
                return "nothing";
            case YamlKind::kScalar:
                return "'" + node.value + "'";
            case YamlKind::kMap:
                return "a map";
            case YamlKind::kSeq:
                return "a list";
        }
        return "a value";
    }

  private:
    const std::string& file_;
    std::vector<Diagnostic>& out_;
};

bool IsKnownKey(std::string_view key) {
    static const std::unordered_set<std::string_view> kKnown = {"id",
                                                                "name",
                                                                "version",
                                                                "summary",
                                                                "owners",
                                                                "badges",
                                                                "schemaPath",
                                                                "specifications",
                                                                "deprecated",
                                                                "draft",
                                                                "repository",
                                                                "sends",
                                                                "receives",
                                                                "producers",
                                                                "consumers",
                                                                "services",
                                                                "domains",
                                                                "systems",
                                                                "flows",
                                                                "entities",
                                                                "steps",
                                                                "members",
                                                                "sidebar",
                                                                "styles",
                                                                "hidden",
                                                                "editUrl",
                                                                "resourceGroups",
                                                                "visualiser",
                                                                "attachments",
                                                                "diagrams",
                                                                "channels",
                                                                "schemas",
                                                                "operation",
                                                                "detailsPanel",
                                                                "address",
                                                                "protocols",
                                                                "parameters",
                                                                "routes",
                                                                "messages",
                                                                "deliveryGuarantee",
                                                                "aggregateRoot",
                                                                "identifier",
                                                                "properties",
                                                                "email",
                                                                "role",
                                                                "avatarUrl",
                                                                "slackDirectMessageUrl",
                                                                "msTeamsDirectMessageUrl",
                                                                "ownedDomains",
                                                                "ownedServices",
                                                                "ownedEvents",
                                                                "ownedCommands",
                                                                "ownedQueries",
                                                                "ownedAgents",
                                                                "associatedTeams",
                                                                "source",
                                                                "readOnly",
                                                                "writesTo",
                                                                "readsFrom",
                                                                "externalSystem",
                                                                "agents",
                                                                "data-products",
                                                                "dataProducts",
                                                                "relationships",
                                                                "actors",
                                                                "type",
                                                                "technology",
                                                                "container_type",
                                                                "authoritative",
                                                                "access_mode",
                                                                "classification",
                                                                "residency",
                                                                "retention",
                                                                "inputs",
                                                                "outputs",
                                                                "appliesTo",
                                                                "containers",
                                                                "status",
                                                                "date",
                                                                "decisionMakers",
                                                                "contract",
                                                                "ubiquitousLanguage"};
    return kKnown.contains(key) || key.starts_with("x-");
}

// "1" -> "1.0.0" (a YAML integer, as EventCatalog coerces it); anything else as it is. A
// float such as 1.0 or 1.10 stays a not-semver finding: YAML reads 1.10 as 1.1.
std::string CoerceNumber(const std::string& version) {
    if (version.empty() || version.size() > 9) return version;
    for (const char c : version) {
        if (c < '0' || c > '9') return version;
    }
    return version + ".0.0";
}

// The `users: [{id, name, role}]` of an EventCatalog 0.x/1.x eventcatalog.config.js, read as
// text (the file is JavaScript: only this array of literals is looked at).
struct ConfigUser {
    std::string id;
    std::string name;
    int line = 0;
};

std::vector<ConfigUser> ReadConfigUsers(const std::string& js) {
    std::vector<ConfigUser> out;
    static const std::regex kUsers(R"(\busers\s*:\s*\[)");
    std::smatch m;
    if (!std::regex_search(js, m, kUsers)) return out;
    auto line_of = [&](std::size_t pos) {
        return 1 +
               static_cast<int>(std::count(js.begin(), js.begin() + static_cast<long>(pos), '\n'));
    };
    // `key: 'value'` (any quote, the key maybe quoted too) inside one object literal.
    auto field_pattern = [](const char* key) {
        return std::regex(std::string(R"((?:^|[\s,{]))") + key +
                          R"(['"]?\s*:\s*(['"`])((?:(?!\1).)*)\1)");
    };
    static const std::regex kId = field_pattern("id");
    static const std::regex kName = field_pattern("name");
    auto field = [](const std::string& object, const std::regex& re) -> std::string {
        std::smatch f;
        return std::regex_search(object, f, re) ? f[2].str() : std::string();
    };
    std::size_t pos = static_cast<std::size_t>(m.position(0) + m.length(0));
    int depth = 0;
    std::size_t start = 0;
    char quote = 0;
    for (; pos < js.size(); ++pos) {
        const char c = js[pos];
        if (quote != 0) {
            if (c == '\\') {
                ++pos;
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '\'' || c == '"' || c == '`') {
            quote = c;
        } else if (c == '{') {
            if (depth++ == 0) start = pos;
        } else if (c == '}') {
            if (--depth == 0) {
                const std::string object = js.substr(start, pos - start + 1);
                ConfigUser u{field(object, kId), field(object, kName), line_of(start)};
                if (!u.id.empty()) out.push_back(std::move(u));
            }
        } else if (c == ']' && depth == 0) {
            break;
        }
    }
    return out;
}

struct ParsedFile {
    std::optional<Resource> resource;
    std::vector<Diagnostic> diagnostics;
};

// Parses one index file; `Resource::file` is left for the caller to set.
ParsedFile ParseFile(const FoundFile& found, const Result<std::string>& content, bool keep_body) {
    ParsedFile out;
    ResourceReader reader(found.rel, out.diagnostics);
    if (!content) {
        reader.Report(Severity::kError, "file/unreadable", 0, {}, content.error().message);
        return out;
    }
    const Frontmatter fm = SplitFrontmatter(*content);
    if (!fm.present) {
        reader.Report(Severity::kError, "frontmatter/missing", 1, {},
                      "no yaml frontmatter between '---' lines");
        return out;
    }
    auto doc = ParseYaml(fm.yaml, fm.yaml_first_line);
    if (!doc) {
        reader.Report(Severity::kError, "yaml/syntax", doc.error().line, {},
                      doc.error().message + " (column " + std::to_string(doc.error().column) + ")");
        return out;
    }
    for (const YamlIssue& issue : doc->issues) {
        reader.Report(Severity::kError, "yaml/duplicate-key", issue.line, issue.key, issue.message);
    }
    const YamlNode& root_node = doc->root;
    if (!root_node.IsMap()) {
        reader.Report(Severity::kError, "frontmatter/invalid-type", fm.yaml_first_line, {},
                      "frontmatter is not a map of keys");
        return out;
    }

    Resource r;
    r.kind = found.kind;
    r.versioned_copy = found.versioned_copy;
    const std::size_t slash = found.rel.rfind('/');
    r.dir = slash == std::string::npos ? std::string() : found.rel.substr(0, slash);
    if (keep_body) r.body = std::string(fm.body);
    for (std::size_t i = 0; i < root_node.keys.size(); ++i) {
        const std::string& key = root_node.keys[i];
        const YamlNode& v = root_node.items[i];
        r.key_lines.emplace_back(key, root_node.key_lines[i]);
        if (key == "id") {
            reader.Scalar(v, key, r.id);
        } else if (key == "name") {
            reader.Scalar(v, key, r.name);
        } else if (key == "version") {
            reader.Scalar(v, key, r.version);
            // `version: 1` (a YAML integer) is 1.0.0, as EventCatalog coerces it; a quoted "1"
            // stays as written.
            if (v.IsScalar() && v.style == ScalarStyle::kPlain) r.version = CoerceNumber(r.version);
        } else if (key == "summary") {
            reader.Scalar(v, key, r.summary);
        } else if (key == "owners") {
            r.owners = reader.ReadPointerList(v, key, TargetGroup::kOwner);
        } else if (key == "sends") {
            reader.ReadSends(v, r);
        } else if (key == "receives") {
            reader.ReadReceives(v, r);
        } else if (key == "producers") {
            r.producers = reader.ReadPointerList(v, key, TargetGroup::kService);
        } else if (key == "consumers") {
            r.consumers = reader.ReadPointerList(v, key, TargetGroup::kService);
        } else if (key == "services" && r.kind != Kind::kEntity) {
            r.services = reader.ReadPointerList(v, key, TargetGroup::kService);
        } else if (key == "domains" && r.kind == Kind::kDomain) {
            r.subdomains = reader.ReadPointerList(v, key, TargetGroup::kDomain);
        } else if (key == "systems") {
            r.systems = reader.ReadPointerList(v, key, TargetGroup::kSystem);
        } else if (key == "flows") {
            r.flows = reader.ReadPointerList(v, key, TargetGroup::kFlow);
        } else if (key == "entities") {
            r.entities = reader.ReadPointerList(v, key, TargetGroup::kEntity);
        } else if (key == "containers" && (r.kind == Kind::kDomain || r.kind == Kind::kSystem)) {
            r.containers = reader.ReadPointerList(v, key, TargetGroup::kContainer);
        } else if ((key == "data-products" || key == "dataProducts") &&
                   (r.kind == Kind::kDomain || r.kind == Kind::kSystem)) {
            r.data_products = reader.ReadPointerList(v, key, TargetGroup::kDataProduct);
        } else if (key == "writesTo") {
            r.writes_to = reader.ReadPointerList(v, key, TargetGroup::kContainer);
        } else if (key == "readsFrom") {
            r.reads_from = reader.ReadPointerList(v, key, TargetGroup::kContainer);
        } else if (key == "inputs" && r.kind == Kind::kDataProduct) {
            r.inputs = reader.ReadPointerList(v, key, TargetGroup::kAny);
        } else if (key == "outputs" && r.kind == Kind::kDataProduct) {
            r.outputs = reader.ReadPointerList(v, key, TargetGroup::kAny);
        } else if (key == "routes" && r.kind == Kind::kChannel) {
            r.routes = reader.ReadPointerList(v, key, TargetGroup::kChannel);
        } else if (key == "resourceGroups") {
            reader.ReadResourceGroups(v, r);
        } else if (key == "appliesTo" && r.kind == Kind::kAdr) {
            reader.ReadTypedList(v, key, r.applies_to);
        } else if (key == "members" && r.kind == Kind::kTeam) {
            r.members = reader.ReadPointerList(v, key, TargetGroup::kUser);
        } else if (key == "schemaPath") {
            reader.Scalar(v, key, r.schema_path);
            r.schema_line = root_node.key_lines[i];
        } else if (key == "specifications") {
            reader.ReadSpecifications(v, r);
        } else if (key == "steps") {
            reader.ReadSteps(v, r);
        } else if (key == "deprecated") {
            r.deprecated = v.IsMap() || v.IsTrue();
        } else if (key == "draft") {
            r.draft = v.IsMap() || v.IsTrue();
        } else if (!IsKnownKey(key)) {
            r.extra_keys.push_back({key, v.ToFlowString(), root_node.key_lines[i]});
        }
    }
    if (r.id.empty() && !r.name.empty() && r.kind != Kind::kTeam && r.kind != Kind::kUser) {
        // EventCatalog 0.x/1.x: resources are identified by name (with spaces, as written).
        r.id = r.name;
        r.named_only = true;
    }
    if (r.kind == Kind::kTeam || r.kind == Kind::kUser) {
        if (r.id.empty()) {
            // EventCatalog falls back to the file name for teams and users.
            const std::size_t dot = found.rel.rfind('.');
            r.id = found.rel.substr(slash + 1, dot - slash - 1);
        }
    }
    if (!r.version.empty()) r.semver = Semver::Parse(r.version);
    out.resource = std::move(r);
    return out;
}

// What a file found in the catalog's tree is: a resource's index file (and its kind), a
// changelog (of the folder it is in), or nothing the engine reads.
std::optional<FoundFile> Classify(const TreeEntry& e, std::unordered_set<std::string>& changelogs,
                                  std::mutex& mu) {
    if (!IsMarkdown(e.name)) return std::nullopt;
    std::string rel(e.rel);
    if (e.depth == 1) {
        const std::string top = rel.substr(0, rel.find('/'));
        if (top == "teams" || top == "users") {
            return FoundFile{std::move(rel), top == "teams" ? Kind::kTeam : Kind::kUser, false};
        }
    }
    const std::size_t slash = rel.rfind('/');
    if (e.name == "changelog.mdx" || e.name == "changelog.md") {
        std::lock_guard lock(mu);
        changelogs.insert(slash == std::string::npos ? std::string() : rel.substr(0, slash));
        return std::nullopt;
    }
    if (e.name != "index.mdx" && e.name != "index.md") return std::nullopt;
    std::vector<std::string> dirs = SplitPath(rel);
    dirs.pop_back();
    bool versioned = false;
    if (auto kind = ClassifyIndex(std::move(dirs), versioned)) {
        return FoundFile{std::move(rel), *kind, versioned};
    }
    return std::nullopt;
}

// The schema beside an index file, read through the open folder. A failure is left for the
// linter, which reads the file again and reports it.
void ReadSiblingSchema(const TreeEntry& e, Resource& r) {
    const std::string& name = r.schema_path;
    if (!name.ends_with(".json") || name.find('/') != std::string::npos) return;
    auto text = ReadFileAt(e.dir_fd, name.c_str(), name);
    if (!text) return;
    r.schema_text = std::move(*text);
    r.schema_loaded = true;
}

struct LoadedFile {
    FoundFile found;
    ParsedFile parsed;
};

// Walks the tree once, reading and parsing each index file on the thread that finds it (the
// file is opened relative to its directory), in the order of the relative paths whatever the
// file system returns.
std::vector<std::unique_ptr<LoadedFile>> LoadFiles(const fs::path& root, const LoadOptions& options,
                                                   std::unordered_set<std::string>& changelogs) {
    std::mutex mu;
    std::vector<std::unique_ptr<LoadedFile>> loaded;
    WalkTree(
        root, [](std::string_view name) { return SkippedDirectory(std::string(name)); },
        [&](const TreeEntry& e) {
            std::optional<FoundFile> found = Classify(e, changelogs, mu);
            if (!found) return;
            const std::string name(e.name);
            const auto content = ReadFileAt(e.dir_fd, name.c_str(), (root / found->rel).string());
            ParsedFile parsed = ParseFile(*found, content, options.keep_bodies);
            if (options.read_schemas && parsed.resource) ReadSiblingSchema(e, *parsed.resource);
            auto file = std::make_unique<LoadedFile>(std::move(*found), std::move(parsed));
            std::lock_guard lock(mu);
            loaded.push_back(std::move(file));
        },
        options.threads);
    // Sorted by pointer: a parsed resource is large to move.
    std::sort(loaded.begin(), loaded.end(),
              [](const std::unique_ptr<LoadedFile>& a, const std::unique_ptr<LoadedFile>& b) {
                  return a->found.rel < b->found.rel;
              });
    return loaded;
}

void ResolvePointer(const Catalog& c, Pointer& p) {
    if (p.id.empty()) return;
    auto it = c.by_id.find(p.id);
    if (it == c.by_id.end()) {
        p.resolution = Resolution::kUnknownId;
        return;
    }
    auto range = VersionRange::Parse(p.version);
    ResourceIndex best = kNoResource;
    bool any_of_kind = false;
    for (ResourceIndex i : it->second) {
        const Resource& r = c.resources[static_cast<std::size_t>(i)];
        if (!KindInGroup(r.kind, p.group)) continue;
        any_of_kind = true;
        if (range && range->IsLatest()) {
            if (c.is_latest[static_cast<std::size_t>(i)] && best == kNoResource) best = i;
            continue;
        }
        bool match = false;
        if (range && r.semver) {
            match = range->Matches(*r.semver);
        } else {
            match = r.version == p.version;  // non-semver versions compare as text
        }
        if (!match) continue;
        const Resource* current =
            best == kNoResource ? nullptr : &c.resources[static_cast<std::size_t>(best)];
        if (current == nullptr || (r.semver && current->semver && *r.semver > *current->semver)) {
            best = i;
        }
    }
    if (!any_of_kind) {
        p.resolution = Resolution::kUnknownId;
        return;
    }
    if (best == kNoResource) {
        p.resolution = range ? Resolution::kUnknownVersion : Resolution::kBadVersion;
        return;
    }
    p.resolution = Resolution::kResolved;
    p.target = best;
}

void Index(Catalog& c) {
    c.by_id.reserve(c.resources.size());
    for (std::size_t i = 0; i < c.resources.size(); ++i) {
        c.by_id[c.resources[i].id].push_back(static_cast<ResourceIndex>(i));
    }
    // The latest of each (kind, id): the highest semver; without semver, the unversioned copy.
    c.is_latest.assign(c.resources.size(), false);
    for (auto& [id, list] : c.by_id) {
        for (int k = 0; k < kKindCount; ++k) {
            ResourceIndex best = kNoResource;
            for (ResourceIndex i : list) {
                const Resource& r = c.resources[static_cast<std::size_t>(i)];
                if (static_cast<int>(r.kind) != k) continue;
                if (best == kNoResource) {
                    best = i;
                    continue;
                }
                const Resource& b = c.resources[static_cast<std::size_t>(best)];
                const bool better = (r.semver && b.semver)
                                        ? *r.semver > *b.semver
                                        : (!r.versioned_copy && b.versioned_copy);
                if (better) best = i;
            }
            if (best != kNoResource) c.is_latest[static_cast<std::size_t>(best)] = true;
        }
    }
}

void LinkSteps(Resource& flow) {
    std::unordered_map<std::string, std::int32_t> by_step_id;
    for (std::size_t i = 0; i < flow.steps.size(); ++i) {
        by_step_id.emplace(flow.steps[i].id, static_cast<std::int32_t>(i));
    }
    for (auto& step : flow.steps) {
        for (auto& link : step.next) {
            auto it = by_step_id.find(link.target);
            if (it != by_step_id.end()) link.step = it->second;
        }
    }
}

}  // namespace

Result<Catalog> LoadCatalog(const fs::path& root, const LoadOptions& options) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
        return MakeError(ErrorCode::kNotFound, root.string() + ": not a catalog directory");
    }
    Catalog catalog;
    catalog.root = root;
    std::unordered_set<std::string> changelogs;
    std::vector<std::unique_ptr<LoadedFile>> loaded = LoadFiles(root, options, changelogs);
    catalog.files.reserve(loaded.size());
    catalog.resources.reserve(loaded.size());
    for (std::size_t i = 0; i < loaded.size(); ++i) {
        catalog.files.push_back(std::move(loaded[i]->found.rel));
        ParsedFile& parsed = loaded[i]->parsed;
        for (auto& d : parsed.diagnostics) catalog.diagnostics.push_back(std::move(d));
        if (!parsed.resource) continue;
        Resource& r = *parsed.resource;
        r.file = static_cast<std::uint32_t>(i);
        r.has_changelog = changelogs.contains(r.dir);
        catalog.resources.push_back(std::move(r));
    }
    // Users declared in eventcatalog.config.js (EventCatalog 0.x/1.x) are users like those in
    // users/: owners may name them.
    for (const char* config :
         {"eventcatalog.config.js", "eventcatalog.config.cjs", "eventcatalog.config.mjs"}) {
        auto js = ReadFile(root / config);
        if (!js) continue;
        for (ConfigUser& u : ReadConfigUsers(*js)) {
            Resource r;
            r.kind = Kind::kUser;
            r.id = std::move(u.id);
            r.name = u.name.empty() ? r.id : std::move(u.name);
            r.file = static_cast<std::uint32_t>(catalog.files.size());
            r.key_lines.emplace_back("id", u.line);
            catalog.resources.push_back(std::move(r));
        }
        catalog.files.emplace_back(config);
        break;
    }
    Index(catalog);
    ParallelFor(
        catalog.resources.size(),
        [&](std::size_t i) {
            Resource& r = catalog.resources[i];
            ForEachPointer(r, [&](Pointer& p) { ResolvePointer(catalog, p); });
            if (r.kind == Kind::kFlow) LinkSteps(r);
        },
        options.threads);
    return catalog;
}

}  // namespace acme::catalog
