// Markdown and JSON renderings of an ImpactReport; both read the same struct.
#include <nlohmann/json.hpp>

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

std::string RenderImpactMarkdown(const ImpactReport& r) {
    std::string out = "# Impact checklist: " + r.title + "\n\n## Summary\n\n" + r.summary + "\n";
    out += "\n## Changes\n\n";
    for (const ImpactChange& c : r.changes) {
        out += "- [ ] " + c.resource + " " + c.change;
        if (c.before_version == c.after_version && !c.before_version.empty()) {
            out += " (at " + c.before_version + ")";
        } else if (!c.before_version.empty() || !c.after_version.empty()) {
            out += " (" + (c.before_version.empty() ? std::string("none") : c.before_version) +
                   " -> " + (c.after_version.empty() ? std::string("none") : c.after_version) + ")";
        }
        if (c.breaking) out += " BREAKING";
        if (!c.detail.empty()) out += ": " + c.detail;
        out += "\n";
        for (const std::string& d : c.details) out += "  - " + d + "\n";
    }
    out += "\n## Flows\n\n";
    if (r.flows.empty()) out += "- none touched\n";
    for (const ImpactFlow& f : r.flows) {
        out +=
            "- [ ] " + f.flow + " \"" + f.name + "\" (owners: " + JoinList(f.owners, ", ") + ")\n";
        for (const ImpactStep& s : f.steps) {
            out += "  - [ ] " + s.id + ": " + s.title + " [" + s.target + "]";
            if (!s.marks.empty()) out += " — " + JoinList(s.marks, "; ");
            out += "\n";
        }
    }
    out += "\n## Boundaries\n\n";
    if (r.boundaries.empty()) out += "- none\n";
    for (const ImpactContract& c : r.boundaries) {
        out += "- [ ] " + Side(c.producer, c.producer_domain, c.producer_team) + " -> " +
               c.message + " -> " + Side(c.consumer, c.consumer_domain, c.consumer_team) + " — " +
               c.direction + ", hop " + std::to_string(c.hop);
        if (c.crosses_domain) out += ", crosses domain boundary";
        if (c.crosses_team) out += ", crosses team boundary";
        out += "\n";
    }
    out += "\n## Failure points\n\n";
    if (r.failure_points.empty()) out += "- none on the affected path\n";
    for (const ImpactFailurePoint& f : r.failure_points) {
        out += "- [ ] " + f.flow + "/" + f.step + " \"" + f.title + "\" on " +
               JoinList(f.branches, ", ") + " -> " +
               (f.compensation.empty() ? std::string("no compensation node") : f.compensation);
        if (!f.actions.empty()) out += " (" + JoinList(f.actions, "; ") + ")";
        out += std::string("; compensation path touched: ") +
               (f.touches_compensation ? "yes" : "no") + "\n";
    }
    out += "\n## Teams\n\n";
    for (const ImpactTeam& t : r.teams) {
        out += "- [ ] " + t.team + " — " + JoinList(t.reasons, "; ") + "\n";
    }
    out += "\n## Risks\n\n";
    if (r.risks.empty()) out += "- none found\n";
    for (const ImpactRisk& k : r.risks) {
        out += "- [ ] " + std::string(RiskLevelName(k.level)) + ": " + k.reason + "\n";
    }
    out += "\n## Catalog updates\n\n";
    if (r.catalog_updates.empty()) out += "- none\n";
    for (const ImpactUpdate& u : r.catalog_updates) {
        out += "- [ ] " + u.resource + ": " + u.action + "\n";
    }
    return out;
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
                           {"details", c.details}});
    }
    J& flows = doc["flows"] = J::array();
    for (const ImpactFlow& f : r.flows) {
        J steps = J::array();
        for (const ImpactStep& s : f.steps) {
            steps.push_back(
                {{"id", s.id}, {"title", s.title}, {"target", s.target}, {"marks", s.marks}});
        }
        flows.push_back(
            {{"flow", f.flow}, {"name", f.name}, {"owners", f.owners}, {"steps", steps}});
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
                            {"touchesCompensation", f.touches_compensation}});
    }
    J& teams = doc["teams"] = J::array();
    for (const ImpactTeam& t : r.teams) teams.push_back({{"team", t.team}, {"reasons", t.reasons}});
    J& risks = doc["risks"] = J::array();
    for (const ImpactRisk& k : r.risks) {
        risks.push_back({{"level", RiskLevelName(k.level)}, {"reason", k.reason}});
    }
    J& updates = doc["catalog_updates"] = J::array();
    for (const ImpactUpdate& u : r.catalog_updates) {
        updates.push_back({{"resource", u.resource}, {"action", u.action}});
    }
    // Names and paths come from files written by others: bytes that are not UTF-8 become U+FFFD.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace acme::catalog
