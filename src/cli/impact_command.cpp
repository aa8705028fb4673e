#include "cli/impact_command.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "catalog/change_diff.hpp"
#include "catalog/graph.hpp"
#include "catalog/impact.hpp"
#include "catalog/loader.hpp"
#include "cli/exit_codes.hpp"
#include "cli/git_snapshot.hpp"

namespace acme::cli {

namespace {

constexpr int kExitFailOn = kExitFindings;  // like `catalog check`: 2 is bad usage

struct ImpactArgs {
    std::string catalog = "catalog";
    std::string base;
    std::string format = "md";
    std::string fail_on;
    int depth = 1;
    std::string detail = "concise";
    std::vector<std::string> resources;
};

int Finish(const catalog::ImpactReport& report, const ImpactArgs& args);

int RunImpact(const ImpactArgs& args) {
    if (args.base.empty() && args.resources.empty()) {
        return ReportError({ErrorCode::kInvalidArgument,
                            "name the resources that change, or give --base REV|DIR"});
    }
    auto catalog = catalog::LoadCatalog(args.catalog, {.keep_bodies = false});
    if (!catalog) return ReportError(catalog.error());
    const catalog::Graph graph(*catalog);
    catalog::ImpactReport report;
    if (!args.base.empty()) {
        std::error_code ec;
        TempDir temp;
        std::filesystem::path base_dir = args.base;
        if (!std::filesystem::is_directory(base_dir, ec)) {
            auto extracted = ExtractCatalogAtRevision(args.catalog, args.base, temp.path());
            if (!extracted) return ReportError(extracted.error());
            base_dir = *extracted;
        }
        auto base = catalog::LoadCatalog(base_dir, {.keep_bodies = false});
        if (!base) return ReportError(base.error());
        const catalog::Graph base_graph(*base);
        report = catalog::AnalyzeCatalogChange(base_graph, graph, {});
        return Finish(report, args);
    }
    std::vector<catalog::ResourceIndex> seeds;
    std::vector<catalog::ImpactChange> changes;
    for (const std::string& spec : args.resources) {
        auto r = catalog::ResolveResourceSpec(*catalog, spec);
        if (!r) return ReportError(r.error());
        const catalog::Resource& res = graph.at(*r);
        seeds.push_back(*r);
        changes.push_back({std::string(catalog::KindName(res.kind)) + ":" + res.id,
                           "changed",
                           res.version,
                           res.version,
                           "proposed change",
                           {},
                           false,
                           false});
    }
    report = catalog::AnalyzeImpact(graph, seeds, std::move(changes), {});
    return Finish(report, args);
}

int Finish(const catalog::ImpactReport& report, const ImpactArgs& args) {
    const std::string text =
        args.format == "json" ? catalog::RenderImpactJson(report)
                              : catalog::RenderImpactMarkdown(
                                    report, {.depth = args.depth, .full = args.detail == "full"});
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (args.fail_on == "breaking" && report.HasBreakingChange()) return kExitFailOn;
    if (args.fail_on == "high" &&
        (report.HasRisk(catalog::RiskLevel::kHigh) || report.HasBreakingChange())) {
        return kExitFailOn;
    }
    return kExitOk;
}

}  // namespace

void AddImpactCommand(CLI::App& app, int& exit_code) {
    auto args = std::make_shared<ImpactArgs>();
    CLI::App* cmd = app.add_subcommand(
        "impact", "review checklist for a change: flows, contracts, failure points, teams, risks");
    cmd->add_option("resources", args->resources,
                    "resources that change: id, kind:id, id@version (services, messages, flows, "
                    "domains, teams)");
    cmd->add_option("--catalog", args->catalog, "catalog folder (default ./catalog)");
    cmd->add_option("--base", args->base,
                    "compare with the catalog at a git revision or in another folder");
    cmd->add_option("--depth", args->depth,
                    "hops shown in full in the Markdown checklist; each further hop is one "
                    "summary line (default 1; JSON always has every hop)")
        ->check(CLI::Range(0, 1000));
    cmd->add_option("--detail", args->detail,
                    "concise: grouped, further hops summarized; full: every item on its own line")
        ->check(CLI::IsMember({"concise", "full"}));
    cmd->add_option("--format", args->format, "output format")
        ->check(CLI::IsMember({"md", "json"}));
    cmd->add_option("--fail-on", args->fail_on,
                    "exit 1 on a breaking contract change, or on any high risk")
        ->check(CLI::IsMember({"breaking", "high"}));
    cmd->callback([&exit_code, args] { exit_code = RunImpact(*args); });
}

}  // namespace acme::cli
