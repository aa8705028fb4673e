// Markdown and JSON renderings of an ImpactReport; both read the same struct.
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "catalog/impact.hpp"

namespace acme::catalog {

namespace {

std::string Side(const std::string& service, const std::string& domain, const std::string& team) {
    std::string out = service;
    if (!domain.empty() || !team.empty()) {
        out += " (" + (domain.empty() ? std::string("-") : domain) + "/" +
               (team.empty() ? std::string("-") : team) + ")";
    }
    return out;
}

std::string JoinList(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (const auto& i : items) {
        if (!out.empty()) out += sep;
        out += i;
    }
    return out;
}

}  // namespace

namespace {

std::string ChangeLine(const ImpactChange& c) {
    std::string out = "- [ ] " + c.resource + " " + c.change;
    if (c.before_version == c.after_version && !c.before_version.empty()) {
        out += " (at " + c.before_version + ")";
    } else if (!c.before_version.empty() || !c.after_version.empty()) {
        out += " (" + (c.before_version.empty() ? std::string("none") : c.before_version) + " -> " +
               (c.after_version.empty() ? std::string("none") : c.after_version) + ")";
    }
    if (c.breaking) out += " BREAKING";
    if (!c.detail.empty()) out += ": " + c.detail;
    out += "\n";
    for (const std::string& d : c.details) out += "  - " + d + "\n";
    return out;
}

std::string ContractTail(const ImpactContract& c) {
    std::string out = " — " + c.direction + ", hop " + std::to_string(c.hop);
    if (c.crosses_domain) out += ", crosses domain boundary";
    if (c.crosses_team) out += ", crosses team boundary";
    return out;
}

std::string FailurePointLine(const ImpactFailurePoint& f) {
    std::string out =
        "- [ ] " + f.flow + "/" + f.step + " \"" + f.title + "\" on " + JoinList(f.branches, ", ") +
        " -> " + (f.compensation.empty() ? std::string("no compensation node") : f.compensation);
    if (!f.actions.empty()) out += " (" + JoinList(f.actions, "; ") + ")";
    out += std::string("; compensation path touched: ") + (f.touches_compensation ? "yes" : "no");
    return out;
}

std::string TeamReasons(const ImpactTeam& t, int depth, bool with_hops) {
    std::string out;
    for (const ImpactTeamReason& why : t.reasons) {
        if (why.hop > depth) continue;
        if (!out.empty()) out += "; ";
        out += why.reason;
        if (with_hops && why.hop > 1) out += " (hop " + std::to_string(why.hop) + ")";
        out += ": " + JoinList(why.items, ", ");
    }
    return out;
}

// The whole report, one line per item, every item with its hop.
std::string RenderFull(const ImpactReport& r) {
    std::string out = "# Impact checklist: " + r.title + "\n\n## Summary\n\n" + r.summary + "\n";
    out += "\n## Changes\n\n";
    for (const ImpactChange& c : r.changes) out += ChangeLine(c);
    out += "\n## Flows\n\n";
    if (r.flows.empty()) out += "- none touched\n";
    for (const ImpactFlow& f : r.flows) {
        out +=
            "- [ ] " + f.flow + " \"" + f.name + "\" (owners: " + JoinList(f.owners, ", ") + ")\n";
        for (const ImpactStep& s : f.steps) {
            out += "  - [ ] " + s.id + ": " + s.title + " [" + s.target + "] hop " +
                   std::to_string(s.hop);
            if (!s.marks.empty()) out += " — " + JoinList(s.marks, "; ");
            out += "\n";
        }
    }
    out += "\n## Boundaries\n\n";
    if (r.boundaries.empty()) out += "- none\n";
    for (const ImpactContract& c : r.boundaries) {
        out += "- [ ] " + Side(c.producer, c.producer_domain, c.producer_team) + " -> " +
               c.message + " -> " + Side(c.consumer, c.consumer_domain, c.consumer_team) +
               ContractTail(c) + "\n";
    }
    out += "\n## Failure points\n\n";
    if (r.failure_points.empty()) out += "- none on the affected path\n";
    for (const ImpactFailurePoint& f : r.failure_points) {
        out += FailurePointLine(f) + "; hop " + std::to_string(f.hop) + "\n";
    }
    out += "\n## Teams\n\n";
    for (const ImpactTeam& t : r.teams) {
        out += "- [ ] " + t.team + " — " + TeamReasons(t, 1 << 30, true) + "\n";
    }
    out += "\n## Risks\n\n";
    if (r.risks.empty()) out += "- none found\n";
    for (const ImpactRisk& k : r.risks) {
        out += "- [ ] " + std::string(RiskLevelName(k.level)) + ": " + k.reason + " (hop " +
               std::to_string(k.hop) + ")\n";
    }
    out += "\n## Catalog updates\n\n";
    if (r.catalog_updates.empty()) out += "- none\n";
    for (const ImpactUpdate& u : r.catalog_updates) {
        out += "- [ ] " + u.resource + ": " + u.action + "\n";
    }
    return out;
}

std::string Count(std::size_t n, std::string_view what) {
    return std::to_string(n) + " " + std::string(what) + (n == 1 ? "" : "s");
}

std::string Short(const std::string& ref) { return ref.substr(ref.find(':') + 1); }

// Hops up to `depth` in full, grouped so that one line says one thing to check; each further
// hop in one line.
std::string RenderConcise(const ImpactReport& r, int depth) {
    std::string out = "# Impact checklist: " + r.title + "\n\n## Summary\n\n" + r.summary + "\n";
    out += "\n## Changes\n\n";
    for (const ImpactChange& c : r.changes) out += ChangeLine(c);

    out += "\n## Flows\n\n";
    bool any = false;
    for (const ImpactFlow& f : r.flows) {
        if (f.hop > depth) continue;
        any = true;
        std::vector<std::string> changed;
        std::vector<std::string> upstream;
        std::map<int, std::vector<std::string>> by_hop;
        std::size_t further = 0;
        for (const ImpactStep& s : f.steps) {
            if (s.hop > depth) {
                ++further;
            } else if (s.changed) {
                changed.push_back(s.id);
            } else if (s.upstream) {
                upstream.push_back(s.id);
            } else {
                by_hop[s.hop].push_back(s.id);
            }
        }
        out += "- [ ] " + f.flow + " \"" + f.name + "\" (owners: " + JoinList(f.owners, ", ") +
               "): " + std::to_string(f.steps.size() - further) + " steps to re-check";
        if (further > 0) out += ", " + std::to_string(further) + " more at further hops";
        out += "\n";
        if (!changed.empty()) out += "  - changed: " + JoinList(changed, ", ") + "\n";
        for (const auto& [hop, ids] : by_hop) {
            out += "  - hop " + std::to_string(hop) + ": " + JoinList(ids, ", ") + "\n";
        }
        if (!upstream.empty()) out += "  - upstream: " + JoinList(upstream, ", ") + "\n";
    }
    if (!any) out += "- none touched\n";

    // Contracts between the same two services in the same direction: one line.
    out += "\n## Boundaries\n\n";
    std::map<std::tuple<std::string, int, std::string, std::string>, std::size_t> group;
    std::vector<std::pair<const ImpactContract*, std::vector<std::string>>> grouped;
    for (const ImpactContract& c : r.boundaries) {
        if (c.hop > depth) continue;
        const auto key = std::make_tuple(c.direction, c.hop, c.producer, c.consumer);
        auto [it, fresh] = group.try_emplace(key, grouped.size());
        if (fresh) grouped.push_back({&c, {}});
        grouped[it->second].second.push_back(c.message);
    }
    if (grouped.empty()) out += "- none\n";
    for (const auto& [c, messages] : grouped) {
        out += "- [ ] " + Side(c->producer, c->producer_domain, c->producer_team) + " -> " +
               JoinList(messages, ", ") + " -> " +
               Side(c->consumer, c->consumer_domain, c->consumer_team) + ContractTail(*c) + "\n";
    }

    // Failure points that lead to the same compensation: one line.
    out += "\n## Failure points\n\n";
    std::map<std::pair<std::string, std::string>, std::vector<const ImpactFailurePoint*>> points;
    for (const ImpactFailurePoint& f : r.failure_points) {
        if (f.hop <= depth) points[{f.flow, f.compensation}].push_back(&f);
    }
    if (points.empty()) out += "- none on the affected path\n";
    for (const auto& [key, list] : points) {
        std::string where;
        bool touches = false;
        for (const ImpactFailurePoint* f : list) {
            if (!where.empty()) where += ", ";
            where += f->step + " (" + JoinList(f->branches, ", ") + ")";
            touches = touches || f->touches_compensation;
        }
        const ImpactFailurePoint& first = *list.front();
        out +=
            "- [ ] " + key.first + ": " + where + " -> " +
            (first.compensation.empty() ? std::string("no compensation node") : first.compensation);
        if (!first.actions.empty()) out += " (" + JoinList(first.actions, "; ") + ")";
        out += touches ? " — compensation path touched: high risk, re-test it\n"
                       : " — compensation path not touched\n";
    }

    out += "\n## Teams\n\n";
    for (const ImpactTeam& t : r.teams) {
        if (t.hop > depth) continue;
        out += "- [ ] " + t.team + " — " + TeamReasons(t, depth, true) + "\n";
    }

    // Failure points' risks are said on their lines above.
    out += "\n## Risks\n\n";
    any = false;
    for (const ImpactRisk& k : r.risks) {
        if (k.hop > depth || k.category == "compensation" || k.category == "failure-point")
            continue;
        any = true;
        out += "- [ ] " + std::string(RiskLevelName(k.level)) + ": " + k.reason + "\n";
    }
    if (!any) out += "- none found\n";

    out += "\n## Catalog updates\n\n";
    any = false;
    for (const ImpactUpdate& u : r.catalog_updates) {
        if (u.hop > depth) continue;
        any = true;
        out += "- [ ] " + u.resource + ": " + u.action + "\n";
    }
    if (!any) out += "- none\n";

    // Further hops: what each reaches, in one line.
    struct Reach {
        std::set<std::string> contracts, services, teams;
        std::size_t failure_points = 0, risks = 0, updates = 0;
    };
    std::map<int, Reach> reach;
    for (const ImpactContract& c : r.boundaries) {
        if (c.hop <= depth) continue;
        Reach& h = reach[c.hop];
        h.contracts.insert(Short(c.message) + " (" + c.producer + " -> " + c.consumer +
                           (c.direction == "upstream" ? ", upstream)" : ")"));
        for (const std::string* s : {&c.producer, &c.consumer}) {
            if (!s->starts_with("(")) h.services.insert(*s);
        }
    }
    for (const ImpactTeam& t : r.teams) {
        for (const ImpactTeamReason& why : t.reasons) {
            if (why.hop > depth) reach[why.hop].teams.insert(t.team);
        }
    }
    for (const ImpactFailurePoint& f : r.failure_points) {
        if (f.hop > depth) ++reach[f.hop].failure_points;
    }
    for (const ImpactRisk& k : r.risks) {
        if (k.hop > depth) ++reach[k.hop].risks;
    }
    for (const ImpactUpdate& u : r.catalog_updates) {
        if (u.hop > depth) ++reach[u.hop].updates;
    }
    if (!reach.empty()) {
        out += "\n## Further hops (--depth N or --detail full to expand)\n\n";
        for (const auto& [hop, h] : reach) {
            std::string line = "- hop " + std::to_string(hop) + ":";
            std::string sep = " ";
            auto part = [&](std::string text) {
                line += sep + text;
                sep = "; ";
            };
            if (!h.contracts.empty())
                part("contracts " + JoinList({h.contracts.begin(), h.contracts.end()}, ", "));
            if (!h.services.empty())
                part("services " + JoinList({h.services.begin(), h.services.end()}, ", "));
            if (!h.teams.empty()) part("teams " + JoinList({h.teams.begin(), h.teams.end()}, ", "));
            if (h.failure_points > 0) part(Count(h.failure_points, "failure point"));
            if (h.risks > 0) part(Count(h.risks, "risk"));
            if (h.updates > 0) part(Count(h.updates, "catalog update"));
            out += line + "\n";
        }
    }
    return out;
}

}  // namespace

std::string RenderImpactMarkdown(const ImpactReport& r, const ImpactRenderOptions& options) {
    return options.full ? RenderFull(r) : RenderConcise(r, options.depth);
}

std::string RenderImpactJson(const ImpactReport& r) {
    using J = nlohmann::ordered_json;
    J doc;
    doc["summary"] = r.summary;
    J& changes = doc["changes"] = J::array();
    for (const ImpactChange& c : r.changes) {
        changes.push_back({{"resource", c.resource},
                           {"change", c.change},
                           {"before", c.before_version},
                           {"after", c.after_version},
                           {"versionBumped", c.version_bumped},
                           {"breaking", c.breaking},
                           {"detail", c.detail},
                           {"details", c.details},
                           {"hop", 0}});
    }
    J& flows = doc["flows"] = J::array();
    for (const ImpactFlow& f : r.flows) {
        J steps = J::array();
        for (const ImpactStep& s : f.steps) {
            steps.push_back({{"id", s.id},
                             {"title", s.title},
                             {"target", s.target},
                             {"marks", s.marks},
                             {"hop", s.hop},
                             {"changed", s.changed},
                             {"upstream", s.upstream}});
        }
        flows.push_back({{"flow", f.flow},
                         {"name", f.name},
                         {"owners", f.owners},
                         {"hop", f.hop},
                         {"steps", steps}});
    }
    J& boundaries = doc["boundaries"] = J::array();
    for (const ImpactContract& c : r.boundaries) {
        boundaries.push_back({{"producer", c.producer},
                              {"producerDomain", c.producer_domain},
                              {"producerTeam", c.producer_team},
                              {"message", c.message},
                              {"consumer", c.consumer},
                              {"consumerDomain", c.consumer_domain},
                              {"consumerTeam", c.consumer_team},
                              {"direction", c.direction},
                              {"hop", c.hop},
                              {"crossesDomain", c.crosses_domain},
                              {"crossesTeam", c.crosses_team}});
    }
    J& failures = doc["failure_points"] = J::array();
    for (const ImpactFailurePoint& f : r.failure_points) {
        failures.push_back({{"flow", f.flow},
                            {"step", f.step},
                            {"title", f.title},
                            {"branches", f.branches},
                            {"compensation", f.compensation},
                            {"actions", f.actions},
                            {"touchesCompensation", f.touches_compensation},
                            {"hop", f.hop}});
    }
    J& teams = doc["teams"] = J::array();
    for (const ImpactTeam& t : r.teams) {
        J reasons = J::array();
        for (const ImpactTeamReason& why : t.reasons) {
            reasons.push_back({{"reason", why.reason}, {"hop", why.hop}, {"items", why.items}});
        }
        teams.push_back({{"team", t.team}, {"hop", t.hop}, {"reasons", reasons}});
    }
    J& risks = doc["risks"] = J::array();
    for (const ImpactRisk& k : r.risks) {
        risks.push_back({{"level", RiskLevelName(k.level)},
                         {"reason", k.reason},
                         {"hop", k.hop},
                         {"category", k.category}});
    }
    J& updates = doc["catalog_updates"] = J::array();
    for (const ImpactUpdate& u : r.catalog_updates) {
        updates.push_back({{"resource", u.resource}, {"action", u.action}, {"hop", u.hop}});
    }
    // Names and paths come from files written by others: bytes that are not UTF-8 become U+FFFD.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace acme::catalog
