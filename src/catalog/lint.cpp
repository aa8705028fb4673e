#include "catalog/lint.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "catalog/schema.hpp"
#include "core/files.hpp"
#include "core/thread_pool.hpp"

namespace acme::catalog {

namespace {

constexpr RuleInfo kRules[] = {
    {"command/multiple-receivers", Severity::kWarning,
     "a command is received by more than one service"},
    {"file/unreadable", Severity::kError, "a resource file cannot be read"},
    {"flow/cycle-without-exit", Severity::kError, "steps loop forever with no way out"},
    {"flow/duplicate-step-id", Severity::kError, "two steps of a flow share an id"},
    {"flow/next-step-conflict", Severity::kError, "a step has both next_step and next_steps"},
    {"flow/step-kind-conflict", Severity::kError, "a step names more than one node kind"},
    {"flow/undeclared-edge", Severity::kWarning,
     "a flow edge service -> message -> service that no sends/receives declares (drift)"},
    {"flow/unknown-step", Severity::kError, "a next_step target is not a step of the flow"},
    {"flow/unreachable-step", Severity::kWarning, "no step leads to this step"},
    {"frontmatter/invalid-type", Severity::kError, "a key holds the wrong type of value"},
    {"frontmatter/missing", Severity::kError, "the file has no yaml frontmatter"},
    {"frontmatter/required-field", Severity::kError, "id, name or version is missing"},
    {"message/no-consumer", Severity::kWarning, "a message has a producer but no consumer"},
    {"message/no-producer", Severity::kWarning, "a message has a consumer but no producer"},
    {"owner/missing", Severity::kWarning, "a domain, service, message or flow has no owner"},
    {"owner/unknown", Severity::kError, "an owner is not a team or user of the catalog"},
    {"ref/unknown-resource", Severity::kError, "a pointer names a resource that does not exist"},
    {"ref/unknown-type", Severity::kWarning,
     "a typed pointer (resourceGroups item, ADR appliesTo) names a type that is not a resource "
     "kind"},
    {"ref/unknown-version", Severity::kError,
     "a pointer names a version (or range) no resource has"},
    {"resource/duplicate", Severity::kError, "two files declare the same kind, id and version"},
    {"schema/invalid", Severity::kError, "a schema file is not valid JSON Schema"},
    {"schema/missing-file", Severity::kError, "a schemaPath names a file that does not exist"},
    {"spec/missing-file", Severity::kError, "a specification names a file that does not exist"},
    {"version/breaking-without-major", Severity::kError,
     "a message schema changed in a breaking way without a major version bump"},
    {"version/not-semver", Severity::kError, "a version is not a semantic version"},
    {"yaml/duplicate-key", Severity::kError, "a key appears twice in the same map"},
    {"yaml/syntax", Severity::kError, "the frontmatter is not valid yaml"},
};

Severity SeverityOf(std::string_view rule) {
    for (const RuleInfo& r : kRules) {
        if (r.id == rule) return r.severity;
    }
    return Severity::kError;
}

std::size_t U(ResourceIndex i) { return static_cast<std::size_t>(i); }

class Linter {
  public:
    Linter(const Catalog& c, const Graph& g) : c_(c), g_(g) {}

    std::vector<Diagnostic> Run() {
        for (std::size_t i = 0; i < c_.resources.size(); ++i) {
            const auto ri = static_cast<ResourceIndex>(i);
            const Resource& r = c_.resources[i];
            CheckRequired(r);
            CheckPointers(r);
            if (r.kind == Kind::kFlow) CheckFlow(r);
            if (c_.is_latest[i]) {
                CheckOwnersPresent(r);
                if (IsMessage(r.kind)) CheckMessageEnds(ri);
            }
        }
        CheckDuplicates();
        CheckFiles();
        return std::move(out_);
    }

    std::vector<Diagnostic> RunFlow(ResourceIndex flow) {
        CheckFlow(g_.at(flow));
        return std::move(out_);
    }

  private:
    void Report(const Resource& r, std::string_view rule, int line, std::string key,
                std::string message) {
        std::lock_guard lock(mutex_);
        out_.push_back({std::string(rule), SeverityOf(rule), c_.files[r.file], line, std::move(key),
                        std::move(message), r.Label()});
    }

    void CheckRequired(const Resource& r) {
        const bool people = r.kind == Kind::kTeam || r.kind == Kind::kUser;
        if (r.id.empty()) Report(r, "frontmatter/required-field", 1, "id", "missing required key");
        if (r.name.empty()) {
            Report(r, "frontmatter/required-field", r.LineOf("id"), "name", "missing required key");
        }
        if (people) return;
        // EventCatalog 0.x/1.x services and domains carry no version.
        const bool unversioned_ok =
            r.named_only && (r.kind == Kind::kService || r.kind == Kind::kDomain);
        if (r.version.empty() && unversioned_ok) return;
        if (r.version.empty()) {
            Report(r, "frontmatter/required-field", r.LineOf("id"), "version",
                   "missing required key");
        } else if (!r.semver) {
            Report(r, "version/not-semver", r.LineOf("version"), "version",
                   "'" + r.version + "' is not a semantic version (expected MAJOR.MINOR.PATCH)");
        }
    }

    std::string Describe(const Pointer& p) const {
        std::string what(TargetGroupName(p.group));
        return what + " '" + p.id + "'";
    }

    void CheckPointer(const Resource& r, const Pointer& p) {
        switch (p.resolution) {
            case Resolution::kResolved:
            case Resolution::kPending:
                return;
            case Resolution::kUnknownId: {
                const std::string_view rule =
                    p.group == TargetGroup::kOwner ? "owner/unknown" : "ref/unknown-resource";
                std::string message = "no " + Describe(p) + " in the catalog";
                // Say so when the id exists with another kind: a common slip.
                if (auto it = c_.by_id.find(p.id); it != c_.by_id.end()) {
                    const Resource& other = c_.resources[U(it->second.front())];
                    message += " (a " + std::string(KindName(other.kind)) + " has that id)";
                }
                Report(r, rule, p.line, p.key, message);
                return;
            }
            case Resolution::kUnknownVersion:
            case Resolution::kBadVersion: {
                std::string have;
                for (ResourceIndex i : c_.FindAll(p.group, p.id)) {
                    if (!have.empty()) have += ", ";
                    have += c_.resources[U(i)].version;
                }
                Report(r, "ref/unknown-version", p.line, p.key + ".version",
                       Describe(p) + " has no version matching '" + p.version +
                           "' (versions: " + have + ")");
                return;
            }
        }
    }

    void CheckPointers(const Resource& r) {
        ForEachPointer(r, [&](const Pointer& p) { CheckPointer(r, p); });
    }

    void CheckOwnersPresent(const Resource& r) {
        const bool needs_owner = r.kind == Kind::kDomain || r.kind == Kind::kService ||
                                 IsMessage(r.kind) || r.kind == Kind::kFlow;
        if (needs_owner && r.owners.empty()) {
            Report(r, "owner/missing", r.LineOf("id"), "owners",
                   std::string(KindName(r.kind)) + " '" + r.id + "' has no owners");
        }
    }

    // Producers and consumers of a message id, over all its versions.
    void CheckMessageEnds(ResourceIndex m) {
        std::set<std::string> producers, consumers;
        for (ResourceIndex v : g_.Versions(m)) {
            for (ResourceIndex p : g_.Producers(v)) producers.insert(g_.at(p).id);
            for (ResourceIndex s : g_.Consumers(v)) consumers.insert(g_.at(s).id);
        }
        const Resource& r = g_.at(m);
        if (!producers.empty() && consumers.empty()) {
            Report(r, "message/no-consumer", r.LineOf("id"), "id",
                   std::string(KindName(r.kind)) + " '" + r.id + "' is sent by " +
                       JoinSet(producers) + " but no service receives it");
        }
        if (producers.empty() && !consumers.empty()) {
            Report(r, "message/no-producer", r.LineOf("id"), "id",
                   std::string(KindName(r.kind)) + " '" + r.id + "' is received by " +
                       JoinSet(consumers) + " but no service sends it");
        }
        if (r.kind == Kind::kCommand && consumers.size() > 1) {
            Report(r, "command/multiple-receivers", r.LineOf("id"), "id",
                   "command '" + r.id + "' is received by " + JoinSet(consumers) +
                       "; a command should have one handler");
        }
    }

    static std::string JoinSet(const std::set<std::string>& s) {
        std::string out;
        for (const auto& v : s) out += (out.empty() ? "" : ", ") + v;
        return out;
    }

    void CheckFlow(const Resource& flow) {
        const auto& steps = flow.steps;
        std::unordered_map<std::string, std::size_t> seen;
        std::vector<int> incoming(steps.size(), 0);
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const FlowStep& s = steps[i];
            const std::string key = "steps[" + std::to_string(i) + "]";
            if (!s.id.empty()) {
                auto [it, fresh] = seen.emplace(s.id, i);
                if (!fresh) {
                    Report(flow, "flow/duplicate-step-id", s.line, key + ".id",
                           "step id '" + s.id + "' is also used by step on line " +
                               std::to_string(steps[it->second].line));
                }
            }
            if (s.kinds_declared > 1) {
                Report(flow, "flow/step-kind-conflict", s.line, key,
                       "step '" + s.id + "' names " + std::to_string(s.kinds_declared) +
                           " node kinds; a step is one message, service, flow, actor, "
                           "externalSystem or custom node");
            }
            if (s.both_link_forms) {
                Report(flow, "flow/next-step-conflict", s.line, key,
                       "step '" + s.id + "' has both next_step and next_steps");
            }
            for (const StepLink& link : s.next) {
                if (link.step < 0) {
                    Report(flow, "flow/unknown-step", link.line, key + ".next_step",
                           "step '" + s.id + "' leads to '" + link.target +
                               "', which is not a step of flow '" + flow.id + "'");
                    continue;
                }
                ++incoming[static_cast<std::size_t>(link.step)];
                CheckDrift(flow, s, steps[static_cast<std::size_t>(link.step)], link.line, key);
            }
        }
        if (steps.empty()) return;
        // Reachability from the first step and from every other step nothing leads to.
        std::vector<bool> reached(steps.size(), false);
        std::vector<std::size_t> stack = {0};
        for (std::size_t i = 1; i < steps.size(); ++i) {
            if (incoming[i] == 0) {
                Report(flow, "flow/unreachable-step", steps[i].line,
                       "steps[" + std::to_string(i) + "]",
                       "no step leads to step '" + steps[i].id +
                           "' and it is not the flow's first step");
                stack.push_back(i);
            }
        }
        Walk(steps, stack, reached);
        for (std::size_t i = 0; i < steps.size(); ++i) {
            if (!reached[i]) {
                Report(flow, "flow/unreachable-step", steps[i].line,
                       "steps[" + std::to_string(i) + "]",
                       "step '" + steps[i].id + "' cannot be reached from the flow's start");
            }
        }
        CheckCycles(flow);
    }

    static void Walk(const std::vector<FlowStep>& steps, std::vector<std::size_t> stack,
                     std::vector<bool>& reached) {
        while (!stack.empty()) {
            const std::size_t i = stack.back();
            stack.pop_back();
            if (reached[i]) continue;
            reached[i] = true;
            for (const StepLink& l : steps[i].next) {
                if (l.step >= 0) stack.push_back(static_cast<std::size_t>(l.step));
            }
        }
    }

    // A step on a cycle from which no step without successors can be reached loops forever.
    void CheckCycles(const Resource& flow) {
        const auto& steps = flow.steps;
        const std::size_t n = steps.size();
        std::vector<bool> can_exit(n, false);
        for (std::size_t i = 0; i < n; ++i) {
            bool has_next = false;
            for (const StepLink& l : steps[i].next) has_next = has_next || l.step >= 0;
            if (!has_next) can_exit[i] = true;
        }
        for (bool changed = true; changed;) {
            changed = false;
            for (std::size_t i = 0; i < n; ++i) {
                if (can_exit[i]) continue;
                for (const StepLink& l : steps[i].next) {
                    if (l.step >= 0 && can_exit[static_cast<std::size_t>(l.step)]) {
                        can_exit[i] = true;
                        changed = true;
                        break;
                    }
                }
            }
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (can_exit[i]) continue;
            Report(flow, "flow/cycle-without-exit", steps[i].line,
                   "steps[" + std::to_string(i) + "]",
                   "step '" + steps[i].id + "' is on a cycle that never reaches a final step");
            return;  // one report per flow is enough to find the loop
        }
    }

    enum class Direction { kSends, kReceives };

    static bool DeclaresMessage(const Resource& service, const std::string& message_id,
                                Direction direction) {
        if (direction == Direction::kSends) {
            return std::any_of(service.sends.begin(), service.sends.end(),
                               [&](const Send& s) { return s.message.id == message_id; });
        }
        return std::any_of(service.receives.begin(), service.receives.end(),
                           [&](const Receive& r) { return r.message.id == message_id; });
    }

    bool OldStyleDeclares(ResourceIndex message, const std::string& service_id,
                          Direction direction) {
        const Resource& m = g_.at(message);
        const auto& list = direction == Direction::kSends ? m.producers : m.consumers;
        return std::any_of(list.begin(), list.end(),
                           [&](const Pointer& p) { return p.id == service_id; });
    }

    void CheckDrift(const Resource& flow, const FlowStep& from, const FlowStep& to, int line,
                    const std::string& key) {
        const bool from_service = from.kind == StepKind::kService;
        const bool to_service = to.kind == StepKind::kService;
        const bool from_message = from.kind == StepKind::kMessage;
        const bool to_message = to.kind == StepKind::kMessage;
        if (from_service && to_message) {
            if (from.target.target == kNoResource || to.target.target == kNoResource) return;
            const Resource& service = g_.at(from.target.target);
            if (DeclaresMessage(service, to.target.id, Direction::kSends) ||
                OldStyleDeclares(to.target.target, service.id, Direction::kSends))
                return;
            Report(flow, "flow/undeclared-edge", line, key,
                   "flow says service '" + service.id + "' sends '" + to.target.id +
                       "' but the service does not declare it in sends");
        } else if (from_message && to_service) {
            if (from.target.target == kNoResource || to.target.target == kNoResource) return;
            const Resource& service = g_.at(to.target.target);
            if (DeclaresMessage(service, from.target.id, Direction::kReceives) ||
                OldStyleDeclares(from.target.target, service.id, Direction::kReceives))
                return;
            Report(flow, "flow/undeclared-edge", line, key,
                   "flow says service '" + service.id + "' receives '" + from.target.id +
                       "' but the service does not declare it in receives");
        }
    }

    void CheckDuplicates() {
        std::map<std::tuple<Kind, std::string, std::string>, ResourceIndex> seen;
        for (std::size_t i = 0; i < c_.resources.size(); ++i) {
            const Resource& r = c_.resources[i];
            if (r.id.empty()) continue;
            auto [it, fresh] = seen.emplace(std::make_tuple(r.kind, r.id, r.version),
                                            static_cast<ResourceIndex>(i));
            if (fresh) continue;
            Report(r, "resource/duplicate", r.LineOf("id"), "id",
                   r.Label() + " is also declared in " + c_.files[g_.at(it->second).file]);
        }
    }

    // Schema and specification files: exist, parse, and do not break without a major bump.
    void CheckFiles() {
        std::vector<std::size_t> with_files;
        for (std::size_t i = 0; i < c_.resources.size(); ++i) {
            const Resource& r = c_.resources[i];
            if (!r.schema_path.empty() || !r.specifications.empty()) with_files.push_back(i);
        }
        schemas_.resize(c_.resources.size());
        ParallelFor(with_files.size(), [&](std::size_t k) {
            const std::size_t i = with_files[k];
            const Resource& r = c_.resources[i];
            for (const Specification& spec : r.specifications) {
                std::error_code ec;
                if (!std::filesystem::exists(c_.root / r.dir / spec.path, ec)) {
                    Report(r, "spec/missing-file", spec.line, "specifications",
                           spec.type + " document '" + spec.path + "' does not exist beside " +
                               c_.files[r.file]);
                }
            }
            if (r.schema_path.empty()) return;
            auto text = r.schema_loaded ? Result<std::string>(r.schema_text)
                                        : ReadFile(c_.root / r.dir / r.schema_path);
            if (!text) {
                Report(r, "schema/missing-file", r.schema_line, "schemaPath",
                       "schema '" + r.schema_path + "' does not exist beside " + c_.files[r.file]);
                return;
            }
            if (!r.schema_path.ends_with(".json")) return;  // avro, proto...: existence only
            if (auto ok = CheckJsonSchema(*text); !ok) {
                Report(r, "schema/invalid", r.schema_line, "schemaPath",
                       r.schema_path + ": " + ok.error().message);
                return;
            }
            schemas_[i] = std::move(*text);
        });
        CheckBreakingVersions();
    }

    void CheckBreakingVersions() {
        for (std::size_t i = 0; i < c_.resources.size(); ++i) {
            const Resource& r = c_.resources[i];
            if (!IsMessage(r.kind) || !c_.is_latest[i]) continue;
            const auto versions = g_.Versions(static_cast<ResourceIndex>(i));
            for (std::size_t k = 1; k < versions.size(); ++k) {
                const Resource& older = g_.at(versions[k - 1]);
                const Resource& newer = g_.at(versions[k]);
                const std::string& before = schemas_[U(versions[k - 1])];
                const std::string& after = schemas_[U(versions[k])];
                if (before.empty() || after.empty() || !older.semver || !newer.semver) continue;
                if (newer.semver->major != older.semver->major) continue;
                auto changes = DiffJsonSchemas(before, after);
                if (!changes) continue;
                std::string breaking;
                for (const SchemaChange& ch : *changes) {
                    if (!ch.Breaking()) continue;
                    if (!breaking.empty()) breaking += "; ";
                    breaking += ch.path + ": " + ch.detail;
                }
                if (breaking.empty()) continue;
                Report(newer, "version/breaking-without-major", newer.LineOf("version"), "version",
                       "schema changed in a breaking way since " + older.version + " (" + breaking +
                           ") but the major version did not change; expected " +
                           older.semver->NextMajor().ToString());
            }
        }
    }

    const Catalog& c_;
    const Graph& g_;
    std::mutex mutex_;
    std::vector<Diagnostic> out_;
    std::vector<std::string> schemas_;
};

}  // namespace

std::span<const RuleInfo> LintRules() { return kRules; }

std::vector<Diagnostic> LintFlow(const Catalog& catalog, const Graph& graph, ResourceIndex flow) {
    auto out = Linter(catalog, graph).RunFlow(flow);
    std::sort(out.begin(), out.end());
    return out;
}

LintReport Lint(const Catalog& catalog, const Graph& graph) {
    LintReport report;
    report.diagnostics = catalog.diagnostics;
    for (Diagnostic& d : report.diagnostics) d.severity = SeverityOf(d.rule);
    auto found = Linter(catalog, graph).Run();
    report.diagnostics.insert(report.diagnostics.end(), std::make_move_iterator(found.begin()),
                              std::make_move_iterator(found.end()));
    std::sort(report.diagnostics.begin(), report.diagnostics.end());
    for (const Diagnostic& d : report.diagnostics) {
        switch (d.severity) {
            case Severity::kError:
                ++report.errors;
                break;
            case Severity::kWarning:
                ++report.warnings;
                break;
            case Severity::kInfo:
                ++report.infos;
                break;
        }
    }
    report.resources = catalog.resources.size();
    report.files = catalog.files.size();
    return report;
}

}  // namespace acme::catalog
