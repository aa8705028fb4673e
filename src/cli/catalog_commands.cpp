#include "cli/catalog_commands.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "catalog/graph.hpp"
#include "catalog/graph_view.hpp"
#include "catalog/lint.hpp"
#include "catalog/loader.hpp"
#include "catalog/report.hpp"
#include "cli/exit_codes.hpp"
#include "core/files.hpp"

namespace acme::cli {

namespace {

struct CatalogArgs {
    std::string dir;          // positional
    std::string catalog_opt;  // --catalog
    std::string format;
    std::string focus;
    int depth = -1;
    std::string output;

    [[nodiscard]] std::string Dir() const {
        if (!catalog_opt.empty()) return catalog_opt;
        if (!dir.empty()) return dir;
        return "catalog";
    }
};

void AddCatalogOption(CLI::App& cmd, CatalogArgs& args) {
    cmd.add_option("dir", args.dir, "catalog folder (default ./catalog)");
    cmd.add_option("--catalog", args.catalog_opt, "catalog folder (default ./catalog)");
}

int Emit(const std::string& text, const std::string& output) {
    if (output.empty() || output == "-") {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return kExitOk;
    }
    if (auto ok = WriteFile(output, text); !ok) return ReportError(ok.error());
    return kExitOk;
}

int RunCheck(const CatalogArgs& args) {
    auto catalog = catalog::LoadCatalog(args.Dir());
    if (!catalog) return ReportError(catalog.error());
    const catalog::Graph graph(*catalog);
    const catalog::LintReport report = catalog::Lint(*catalog, graph);
    const std::string text =
        args.format == "json" ? catalog::RenderLintJson(report) : catalog::RenderLintText(report);
    if (int rc = Emit(text, args.output); rc != kExitOk) return rc;
    return report.errors > 0 ? kExitFindings : kExitOk;
}

int RunGraph(const CatalogArgs& args) {
    auto catalog = catalog::LoadCatalog(args.Dir(), {.keep_bodies = false});
    if (!catalog) return ReportError(catalog.error());
    const catalog::Graph graph(*catalog);
    catalog::ViewOptions options;
    if (!args.focus.empty()) options.focus = args.focus;
    options.depth = args.depth;
    auto view = catalog::BuildGraphView(graph, options);
    if (!view) return ReportError(view.error());
    if (args.format == "json") return Emit(catalog::RenderViewJson(*view), args.output);
    const std::string dot = catalog::RenderDot(*view);
    if (args.format == "dot") return Emit(dot, args.output);
    auto svg = catalog::RenderSvg(dot);
    if (!svg) return ReportError(svg.error());
    return Emit(*svg, args.output);
}

}  // namespace

void AddCatalogCommands(CLI::App& app, int& exit_code) {
    CLI::App* catalog =
        app.add_subcommand("catalog", "read, lint and draw an EventCatalog catalog");
    catalog->require_subcommand(1);

    auto check_args = std::make_shared<CatalogArgs>();
    check_args->format = "text";
    CLI::App* check =
        catalog->add_subcommand("check", "lint a catalog; exit status 1 when any error is found");
    AddCatalogOption(*check, *check_args);
    check->add_option("--format", check_args->format, "output format")
        ->check(CLI::IsMember({"text", "json"}));
    check->add_option("-o,--output", check_args->output, "write to a file instead of stdout");
    check->callback([&exit_code, check_args] { exit_code = RunCheck(*check_args); });

    auto graph_args = std::make_shared<CatalogArgs>();
    graph_args->format = "dot";
    CLI::App* graph =
        catalog->add_subcommand("graph", "draw the catalog (or the neighbourhood of one resource)");
    AddCatalogOption(*graph, *graph_args);
    graph->add_option("--focus", graph_args->focus, "resource id (or kind:id) to centre on");
    graph->add_option("--depth", graph_args->depth, "hops from the focus (default: all)")
        ->check(CLI::NonNegativeNumber);
    graph->add_option("--format", graph_args->format, "output format")
        ->check(CLI::IsMember({"dot", "svg", "json"}));
    graph->add_option("-o,--output", graph_args->output, "write to a file instead of stdout");
    graph->callback([&exit_code, graph_args] { exit_code = RunGraph(*graph_args); });
}

}  // namespace acme::cli
