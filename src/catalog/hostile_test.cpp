// The hostile catalog corpus (tests/hostile_catalog.sh builds it: truncated, binary, huge,
// deeply nested, cyclic, unreadable and non-UTF-8 inputs) through every stage of the engine
// in process: load, lint, both reports, the graph in every format, impact and the catalog
// diff. Run under AddressSanitizer + UBSan by scripts/test.sh; the same corpus goes through
// the `acme` binary in the catalog.hostile_corpus test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "catalog/change_diff.hpp"
#include "catalog/graph.hpp"
#include "catalog/graph_view.hpp"
#include "catalog/impact.hpp"
#include "catalog/lint.hpp"
#include "catalog/loader.hpp"
#include "catalog/report.hpp"

namespace acme::catalog {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
    const char* src = std::getenv("ACME_SOURCE_DIR");
    return src != nullptr ? src : ".";
}

class HostileCorpusTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        work_ = new fs::path(fs::temp_directory_path() /
                             ("acme-hostile-" + std::to_string(::getpid())));
        const std::string cmd = (SourceDir() / "tests/hostile_catalog.sh").string() +
                                " --generate-only " + work_->string() + " >/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    static void TearDownTestSuite() {
        std::system(("chmod -R u+rwx " + work_->string() + " 2>/dev/null").c_str());
        std::error_code ec;
        fs::remove_all(*work_, ec);
        delete work_;
    }
    static inline fs::path* work_ = nullptr;
};

TEST_F(HostileCorpusTest, EveryStageSurvivesEveryCase) {
    const fs::path corpus = *work_ / "corpus";
    std::vector<fs::path> cases;
    for (const auto& entry : fs::directory_iterator(corpus)) cases.push_back(entry.path());
    std::sort(cases.begin(), cases.end());
    ASSERT_GE(cases.size(), 15u);
    auto base = LoadCatalog(corpus / "schema-maximum-string");
    ASSERT_TRUE(base.has_value());
    const Graph base_graph(*base);
    for (const fs::path& dir : cases) {
        SCOPED_TRACE(dir.filename().string());
        auto catalog = LoadCatalog(dir);
        ASSERT_TRUE(catalog.has_value()) << catalog.error().message;
        const Graph graph(*catalog);
        const LintReport report = Lint(*catalog, graph);
        EXPECT_FALSE(RenderLintText(report).empty());
        EXPECT_FALSE(RenderLintJson(report).empty());
        auto view = BuildGraphView(graph, {});
        ASSERT_TRUE(view.has_value());
        const std::string dot = RenderDot(*view);
        EXPECT_FALSE(RenderViewJson(*view).empty());
        auto svg = RenderSvg(dot);
        EXPECT_TRUE(svg.has_value()) << (svg ? "" : svg.error().message);
        auto seed = ResolveResourceSpec(*catalog, "good-service");
        ASSERT_TRUE(seed.has_value()) << seed.error().message;
        const ResourceIndex seeds[] = {*seed};
        const ImpactReport impact = AnalyzeImpact(graph, seeds, {{}}, {});
        EXPECT_FALSE(RenderImpactMarkdown(impact).empty());
        EXPECT_FALSE(RenderImpactJson(impact).empty());
        const ImpactReport change = AnalyzeCatalogChange(base_graph, graph, {});
        EXPECT_FALSE(RenderImpactMarkdown(change).empty());
    }
}

// What must be reported, with the file and the JSON pointer (valijson aborted the process on
// the first two, a `$ref` loop crashed it, the FIFO and /dev/zero hung the loader).
TEST_F(HostileCorpusTest, BrokenInputsAreFindings) {
    auto findings = [&](const std::string& name) {
        auto catalog = LoadCatalog(*work_ / "corpus" / name);
        EXPECT_TRUE(catalog.has_value());
        const Graph graph(*catalog);
        return RenderLintText(Lint(*catalog, graph));
    };
    const std::string maximum = findings("schema-maximum-string");
    EXPECT_NE(maximum.find("events/bad-maximum/index.mdx:5: error [schema/invalid] schemaPath: "
                           "schema.json: /properties/a/maximum: must be a number"),
              std::string::npos)
        << maximum;
    EXPECT_NE(findings("schema-openapi-ref").find("'#/components/schemas/X' names nothing"),
              std::string::npos);
    EXPECT_NE(findings("schema-ref-cycle").find("loop without reaching a schema"),
              std::string::npos);
    const std::string loops = findings("symlink-loop");
    EXPECT_NE(loops.find("services/fifo/index.mdx:0: error [file/unreadable]"), std::string::npos)
        << loops;
    EXPECT_NE(loops.find("services/dev-zero/index.mdx:0: error [file/unreadable]"),
              std::string::npos);
    EXPECT_NE(findings("frontmatter-alias-bomb").find("aliases expand the document"),
              std::string::npos);
}

}  // namespace
}  // namespace acme::catalog
