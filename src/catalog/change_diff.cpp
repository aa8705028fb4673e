#include "catalog/change_diff.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "catalog/graph_view.hpp"
#include "catalog/schema.hpp"
#include "core/files.hpp"

namespace acme::catalog {

namespace {

std::string Ref(Kind kind, const std::string& id) { return std::string(KindName(kind)) + ":" + id; }

std::string PointerText(const Pointer& p) {
    return p.id + (p.version.empty() ? "" : "@" + p.version);
}

std::map<std::pair<Kind, std::string>, ResourceIndex> LatestByKey(const Catalog& c) {
    std::map<std::pair<Kind, std::string>, ResourceIndex> out;
    for (std::size_t i = 0; i < c.resources.size(); ++i) {
        if (c.is_latest[i] && !c.resources[i].id.empty()) {
            out[{c.resources[i].kind, c.resources[i].id}] = static_cast<ResourceIndex>(i);
        }
    }
    return out;
}

void DiffSet(const std::set<std::string>& before, const std::set<std::string>& after,
             const std::string& what, std::vector<std::string>& out) {
    for (const auto& b : before) {
        if (!after.contains(b)) out.push_back(what + " removed: " + b);
    }
    for (const auto& a : after) {
        if (!before.contains(a)) out.push_back(what + " added: " + a);
    }
}

std::set<std::string> Pointers(const std::vector<Pointer>& list) {
    std::set<std::string> out;
    for (const Pointer& p : list) out.insert(PointerText(p));
    return out;
}

std::string StepShape(const FlowStep& s) {
    std::string target = std::string(StepKindName(s.kind));
    if (!s.target.id.empty()) target += ":" + PointerText(s.target);
    if (!s.node_name.empty()) target += ":" + s.node_name;
    return target;
}

std::string StepLinks(const FlowStep& s) {
    std::string out;
    for (const StepLink& l : s.next) {
        out += (out.empty() ? "" : ", ") + l.target + (l.label.empty() ? "" : " (" + l.label + ")");
    }
    return out.empty() ? "end" : out;
}

class Differ {
  public:
    Differ(const Graph& before, const Graph& after) : b_(before), a_(after) {}

    std::vector<ResourceDiff> Run() {
        const auto before = LatestByKey(b_.catalog());
        const auto after = LatestByKey(a_.catalog());
        std::vector<ResourceDiff> out;
        for (const auto& [key, bi] : before) {
            auto it = after.find(key);
            ResourceDiff d;
            d.kind = key.first;
            d.id = key.second;
            d.before = bi;
            d.before_version = b_.at(bi).version;
            if (it == after.end()) {
                d.change = ChangeKind::kRemoved;
                d.details.push_back("removed (was " + b_.catalog().files[b_.at(bi).file] + ")");
                d.breaking = IsMessage(d.kind) || d.kind == Kind::kService;
                out.push_back(std::move(d));
                continue;
            }
            d.after = it->second;
            d.after_version = a_.at(it->second).version;
            Compare(b_.at(bi), a_.at(it->second), d);
            if (!d.details.empty()) out.push_back(std::move(d));
        }
        for (const auto& [key, ai] : after) {
            if (before.contains(key)) continue;
            ResourceDiff d;
            d.change = ChangeKind::kAdded;
            d.kind = key.first;
            d.id = key.second;
            d.after = ai;
            d.after_version = a_.at(ai).version;
            d.details.push_back("added in " + a_.catalog().files[a_.at(ai).file]);
            out.push_back(std::move(d));
        }
        std::sort(out.begin(), out.end(), [](const ResourceDiff& x, const ResourceDiff& y) {
            return std::make_pair(x.kind, x.id) < std::make_pair(y.kind, y.id);
        });
        return out;
    }

  private:
    void Compare(const Resource& b, const Resource& a, ResourceDiff& d) {
        auto& out = d.details;
        if (b.version != a.version) out.push_back("version " + b.version + " -> " + a.version);
        if (b.name != a.name) out.push_back("name changed");
        if (b.summary != a.summary) out.push_back("summary changed");
        DiffSet(Pointers(b.owners), Pointers(a.owners), "owner", out);
        std::set<std::string> sb, sa, rb, ra;
        for (const Send& s : b.sends) sb.insert(PointerText(s.message));
        for (const Send& s : a.sends) sa.insert(PointerText(s.message));
        for (const Receive& r : b.receives) {
            rb.insert(PointerText(r.message));
            for (const Pointer& t : r.triggers)
                rb.insert(PointerText(r.message) + " triggers " + PointerText(t));
        }
        for (const Receive& r : a.receives) {
            ra.insert(PointerText(r.message));
            for (const Pointer& t : r.triggers)
                ra.insert(PointerText(r.message) + " triggers " + PointerText(t));
        }
        DiffSet(sb, sa, "sends", out);
        DiffSet(rb, ra, "receives", out);
        DiffSet(Pointers(b.producers), Pointers(a.producers), "producer", out);
        DiffSet(Pointers(b.consumers), Pointers(a.consumers), "consumer", out);
        DiffSet(Pointers(b.services), Pointers(a.services), "service", out);
        DiffSet(Pointers(b.subdomains), Pointers(a.subdomains), "subdomain", out);
        DiffSet(Pointers(b.flows), Pointers(a.flows), "flow", out);
        CompareSteps(b, a, out);
        CompareFiles(b, a, d);
    }

    static void CompareSteps(const Resource& b, const Resource& a, std::vector<std::string>& out) {
        std::map<std::string, const FlowStep*> bs, as;
        for (const FlowStep& s : b.steps) bs[s.id] = &s;
        for (const FlowStep& s : a.steps) as[s.id] = &s;
        for (const auto& [id, s] : bs) {
            auto it = as.find(id);
            if (it == as.end()) {
                out.push_back("step removed: " + id + " (" + StepShape(*s) + ")");
                continue;
            }
            if (StepShape(*s) != StepShape(*it->second)) {
                out.push_back("step re-pointed: " + id + " " + StepShape(*s) + " -> " +
                              StepShape(*it->second));
            }
            if (StepLinks(*s) != StepLinks(*it->second)) {
                out.push_back("step relinked: " + id + " next " + StepLinks(*s) + " -> " +
                              StepLinks(*it->second));
            }
        }
        for (const auto& [id, s] : as) {
            if (!bs.contains(id)) out.push_back("step added: " + id + " (" + StepShape(*s) + ")");
        }
    }

    void CompareFiles(const Resource& b, const Resource& a, ResourceDiff& d) {
        const Catalog& cb = b_.catalog();
        const Catalog& ca = a_.catalog();
        if (!b.schema_path.empty() || !a.schema_path.empty()) {
            auto tb = b.schema_path.empty() ? Result<std::string>(std::string())
                                            : ReadFile(cb.root / b.dir / b.schema_path);
            auto ta = a.schema_path.empty() ? Result<std::string>(std::string())
                                            : ReadFile(ca.root / a.dir / a.schema_path);
            const std::string before = tb ? *tb : std::string();
            const std::string after = ta ? *ta : std::string();
            if (before != after) {
                auto changes =
                    DiffJsonSchemas(before.empty() ? "{}" : before, after.empty() ? "{}" : after);
                if (!changes) {
                    d.details.push_back(
                        "schema changed (not comparable: " + changes.error().message + ")");
                } else if (changes->empty()) {
                    d.details.push_back("schema changed (no contract difference)");
                }
                for (const SchemaChange& ch : changes.value_or(std::vector<SchemaChange>{})) {
                    std::string compat = ch.backward && ch.forward ? "compatible"
                                         : ch.forward              ? "breaks BACKWARD"
                                         : ch.backward             ? "breaks FORWARD"
                                                                   : "breaks BACKWARD and FORWARD";
                    d.details.push_back("schema " + ch.path + ": " + ch.detail + " (" + compat +
                                        (ch.Breaking() ? ", breaking" : "") + ")");
                    d.breaking = d.breaking || ch.Breaking();
                }
            }
        }
        std::map<std::string, std::string> specs_before, specs_after;
        for (const Specification& s : b.specifications) {
            specs_before[s.type + " " + s.path] = ReadFile(cb.root / b.dir / s.path).value_or("");
        }
        for (const Specification& s : a.specifications) {
            specs_after[s.type + " " + s.path] = ReadFile(ca.root / a.dir / s.path).value_or("");
        }
        for (const auto& [key, text] : specs_after) {
            auto it = specs_before.find(key);
            if (it == specs_before.end()) {
                d.details.push_back("specification added: " + key);
            } else if (it->second != text) {
                d.details.push_back("specification document changed: " + key);
            }
        }
        for (const auto& [key, text] : specs_before) {
            if (!specs_after.contains(key)) d.details.push_back("specification removed: " + key);
        }
    }

    const Graph& b_;
    const Graph& a_;
};

std::string ChangeName(ChangeKind k) {
    switch (k) {
        case ChangeKind::kAdded:
            return "added";
        case ChangeKind::kRemoved:
            return "removed";
        case ChangeKind::kModified:
            return "modified";
    }
    return "modified";
}

bool VersionBumped(const ResourceDiff& d) {
    auto b = Semver::Parse(d.before_version);
    auto a = Semver::Parse(d.after_version);
    if (b && a) return *a > *b;
    return d.before_version != d.after_version;
}

ImpactChange ToImpactChange(const ResourceDiff& d) {
    ImpactChange ch;
    ch.resource = Ref(d.kind, d.id);
    ch.change = ChangeName(d.change);
    ch.before_version = d.before_version;
    ch.after_version = d.after_version;
    if (d.change == ChangeKind::kModified) ch.details = d.details;
    ch.breaking = d.breaking;
    ch.version_bumped = d.change == ChangeKind::kModified && VersionBumped(d);
    ch.detail = d.change == ChangeKind::kModified
                    ? std::to_string(d.details.size()) + " difference" +
                          (d.details.size() == 1 ? "" : "s") +
                          (ch.version_bumped ? "" : ", version not bumped")
                    : d.details.front();
    return ch;
}

void ChangeRisks(const Graph& before, const Graph& after, const std::vector<ResourceDiff>& diffs,
                 ImpactReport& report) {
    auto add = [&](RiskLevel level, std::string reason) {
        report.risks.push_back({level, std::move(reason), 0, ""});
    };
    for (const ResourceDiff& d : diffs) {
        const std::string ref = Ref(d.kind, d.id);
        // A breaking change without a major bump is already a high risk of its own.
        if (d.change == ChangeKind::kModified && !VersionBumped(d) && !d.breaking &&
            d.kind != Kind::kTeam && d.kind != Kind::kUser) {
            add(RiskLevel::kMedium,
                ref + " changed without a version bump (still " + d.after_version + ")");
        }
        for (const std::string& line : d.details) {
            if (line.starts_with("receives added: ") &&
                line.find(" triggers ") == std::string::npos) {
                const std::string pointer = line.substr(16);
                std::set<std::string> owners;
                const ResourceIndex m = after.catalog().FindLatest(
                    TargetGroup::kMessage, pointer.substr(0, pointer.find('@')));
                if (m != kNoResource) {
                    for (ResourceIndex v : after.Versions(m)) {
                        for (ResourceIndex p : after.Producers(v)) {
                            for (const Pointer& o : after.at(p).owners) owners.insert(o.id);
                        }
                    }
                }
                std::string who;
                for (const auto& o : owners) who += (who.empty() ? "" : ", ") + o;
                add(RiskLevel::kLow, "new consumer: " + d.id + " now receives " + pointer +
                                         (who.empty() ? std::string("; it has no producer")
                                                      : "; tell its producers' owners: " + who));
            }
            if (line.starts_with("sends added: ")) {
                add(RiskLevel::kLow, "new producer: " + d.id + " now sends " + line.substr(13));
            }
            if (line.starts_with("step re-pointed: ") || line.starts_with("step removed: ")) {
                add(RiskLevel::kMedium,
                    "flow " + d.id + " " + line +
                        ": re-check the flow's path and its declared sends/receives");
            }
        }
        if (d.change != ChangeKind::kRemoved) continue;
        const Resource& gone = before.at(d.before);
        if (gone.kind == Kind::kService) {
            for (ResourceIndex m : before.Sends(d.before)) {
                const ResourceIndex now =
                    after.catalog().FindLatest(TargetGroup::kMessage, before.at(m).id);
                if (now == kNoResource) continue;
                std::set<std::string> consumers;
                bool other_producer = false;
                for (ResourceIndex v : after.Versions(now)) {
                    for (ResourceIndex c : after.Consumers(v)) consumers.insert(after.at(c).id);
                    other_producer = other_producer || !after.Producers(v).empty();
                }
                if (!consumers.empty() && !other_producer) {
                    std::string list;
                    for (const auto& c : consumers) list += (list.empty() ? "" : ", ") + c;
                    add(RiskLevel::kHigh, "removing " + ref + " leaves " + before.at(m).id +
                                              " without a producer; still consumed by " + list);
                }
            }
        }
        // Anything in the current catalog that still points at the removed resource.
        std::set<std::string> referrers;
        const Catalog& ca = after.catalog();
        for (std::size_t i = 0; i < ca.resources.size(); ++i) {
            const Resource& r = ca.resources[i];
            if (!ca.is_latest[i]) continue;
            auto names = [&](const Pointer& p) {
                return p.id == d.id && p.resolution != Resolution::kResolved &&
                       KindInGroup(gone.kind, p.group);
            };
            bool hit = false;
            for (const Send& s : r.sends) hit = hit || names(s.message);
            for (const Receive& rc : r.receives) hit = hit || names(rc.message);
            for (const auto* list : {&r.services, &r.flows, &r.owners}) {
                for (const Pointer& p : *list) hit = hit || names(p);
            }
            for (const FlowStep& s : r.steps) hit = hit || names(s.target);
            if (hit) referrers.insert(Ref(r.kind, r.id));
        }
        if (!referrers.empty()) {
            std::string list;
            for (const auto& x : referrers) list += (list.empty() ? "" : ", ") + x;
            add(RiskLevel::kHigh, ref + " was removed but is still referenced by " + list);
            for (const auto& x : referrers) {
                report.catalog_updates.push_back(
                    {x, "remove or replace the pointer to removed " + ref});
            }
        }
    }
}

}  // namespace

std::vector<ResourceDiff> DiffCatalogs(const Graph& before, const Graph& after) {
    return Differ(before, after).Run();
}

ImpactReport AnalyzeCatalogChange(const Graph& before, const Graph& after,
                                  const ImpactOptions& options) {
    const std::vector<ResourceDiff> diffs = DiffCatalogs(before, after);
    std::vector<ResourceIndex> now_seeds, gone_seeds;
    std::vector<ImpactChange> now_changes, gone_changes;
    for (const ResourceDiff& d : diffs) {
        if (d.change == ChangeKind::kRemoved) {
            gone_seeds.push_back(d.before);
            gone_changes.push_back(ToImpactChange(d));
        } else {
            now_seeds.push_back(d.after);
            now_changes.push_back(ToImpactChange(d));
        }
    }
    ImpactReport report = AnalyzeImpact(after, now_seeds, std::move(now_changes), options);
    if (!gone_seeds.empty()) {
        ImpactReport gone = AnalyzeImpact(before, gone_seeds, std::move(gone_changes), options);
        // Updates computed in the base catalog point at files that may be gone; keep the rest.
        std::erase_if(gone.catalog_updates, [](const ImpactUpdate& u) {
            return u.action.starts_with("bump version") ||
                   u.action.find("changelog") != std::string::npos;
        });
        MergeImpact(report, std::move(gone));
    }
    ChangeRisks(before, after, diffs, report);
    MergeImpact(report, ImpactReport{});
    if (diffs.empty()) report.summary = "no catalog changes against the base";
    return report;
}

}  // namespace acme::catalog
