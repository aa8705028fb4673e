// Checks on Acme's own catalog (catalog/) that go beyond lint-clean: the flows reference only
// resources that exist, and the saga has the failure branches the running system implements.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "catalog/graph.hpp"
#include "catalog/graph_view.hpp"
#include "catalog/impact.hpp"
#include "catalog/lint.hpp"
#include "catalog/loader.hpp"

namespace acme::catalog {
namespace {

std::filesystem::path CatalogDir() {
    const char* src = std::getenv("ACME_SOURCE_DIR");
    return std::filesystem::path(src != nullptr ? src : ".") / "catalog";
}

class RepoCatalogTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        auto loaded = LoadCatalog(CatalogDir());
        ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
        catalog_ = new Catalog(std::move(*loaded));
    }
    static void TearDownTestSuite() {
        delete catalog_;
        catalog_ = nullptr;
    }
    static const Resource& Get(Kind kind, std::string_view id) {
        for (const Resource& r : catalog_->resources) {
            if (r.kind == kind && r.id == id) return r;
        }
        throw std::runtime_error("missing " + std::string(id));
    }
    static Catalog* catalog_;
};

Catalog* RepoCatalogTest::catalog_ = nullptr;

TEST_F(RepoCatalogTest, FlowsReferenceOnlyResourcesThatExist) {
    int flows = 0;
    for (const Resource& r : catalog_->resources) {
        if (r.kind != Kind::kFlow) continue;
        ++flows;
        for (const FlowStep& s : r.steps) {
            if (!s.target.id.empty()) {
                EXPECT_EQ(s.target.resolution, Resolution::kResolved)
                    << r.id << " step " << s.id << " -> " << s.target.id;
            }
            for (const StepLink& l : s.next) {
                EXPECT_GE(l.step, 0) << r.id << " step " << s.id << " -> " << l.target;
            }
        }
    }
    EXPECT_EQ(flows, 3);  // place-an-order, checkout-saga, return-an-order
}

TEST_F(RepoCatalogTest, IsLintClean) {
    const Graph graph(*catalog_);
    const LintReport report = Lint(*catalog_, graph);
    for (const Diagnostic& d : report.diagnostics) {
        ADD_FAILURE() << d.file << ":" << d.line << " [" << d.rule << "] " << d.message;
    }
}

// Every failure branch of the saga leads (possibly via the failure message) to a
// Compensation node listing actions; inventory and payment both have one.
TEST_F(RepoCatalogTest, SagaFailureBranchesLeadToCompensation) {
    for (std::string_view flow_id : {"checkout-saga", "place-an-order"}) {
        const Resource& flow = Get(Kind::kFlow, flow_id);
        std::set<std::string> failing_steps;
        for (const FlowStep& s : flow.steps) {
            for (const StepLink& l : s.next) {
                if (!IsFailureBranch(flow, s, l)) continue;
                failing_steps.insert(s.target.id);
                // Follow the branch until a custom node.
                std::int32_t at = l.step;
                for (int hops = 0; hops < 4 && at >= 0; ++hops) {
                    const FlowStep& t = flow.steps[static_cast<std::size_t>(at)];
                    if (t.kind == StepKind::kCustom) break;
                    at = t.next.empty() ? -1 : t.next[0].step;
                }
                ASSERT_GE(at, 0) << flow_id << ": branch '" << l.label << "' from " << s.id;
                const FlowStep& comp = flow.steps[static_cast<std::size_t>(at)];
                EXPECT_EQ(comp.custom_type, "Compensation") << flow_id << ": " << comp.id;
                EXPECT_FALSE(comp.properties.empty()) << comp.id << " lists no actions";
            }
        }
        EXPECT_TRUE(failing_steps.contains("inventory-service")) << flow_id;
        EXPECT_TRUE(failing_steps.contains("payment-service")) << flow_id;
    }
}

TEST_F(RepoCatalogTest, EveryMessageHasASchemaAndAnOwner) {
    std::set<std::string> owners;
    int messages = 0;
    for (const Resource& r : catalog_->resources) {
        for (const Pointer& o : r.owners) owners.insert(o.id);
        if (!IsMessage(r.kind)) continue;
        ++messages;
        EXPECT_EQ(r.schema_path, "schema.json") << r.id;
        EXPECT_FALSE(r.owners.empty()) << r.id;
    }
    EXPECT_GE(messages, 25);
    EXPECT_EQ(owners, (std::set<std::string>{"fulfilment-platform", "ordering-platform",
                                             "payments-platform", "shopping-platform"}));
}

TEST_F(RepoCatalogTest, ServicesDeclareSpecifications) {
    EXPECT_EQ(Get(Kind::kService, "cart-api").specifications.at(0).type, "openapi");
    EXPECT_EQ(Get(Kind::kService, "order-service").specifications.at(0).type, "asyncapi");
}

}  // namespace
}  // namespace acme::catalog

namespace acme::catalog {
namespace {

// The seed's question about the orchestrator, answered on one screen: the concise checklist
// names cart checkout, inventory, payment, order creation, the fulfilment hand-off, the
// compensation and the four teams, in about 60 lines; the full one says more.
TEST(RepoImpactTest, OrchestratorChecklistFitsOnOneScreen) {
    auto loaded = LoadCatalog(CatalogDir());
    ASSERT_TRUE(loaded.has_value());
    const Graph graph(*loaded);
    auto seed = ResolveResourceSpec(*loaded, "checkout-orchestrator");
    ASSERT_TRUE(seed.has_value());
    const ResourceIndex seeds[] = {*seed};
    const ImpactReport report = AnalyzeImpact(
        graph, seeds,
        {{"service:checkout-orchestrator", "changed", "1.0.0", "1.0.0", "", {}, false, false}}, {});
    const std::string md = RenderImpactMarkdown(report);
    const auto lines = std::count(md.begin(), md.end(), '\n');
    EXPECT_LE(lines, 70) << md;
    for (const char* needle :
         {"cart-checked-out (cart-api -> checkout-api, upstream)", "command:reserve-inventory",
          "command:authorize-payment", "command:create-order",
          "order-created (order-service -> warehouse-service)", "Compensate payment failure",
          "fulfilment-platform", "ordering-platform", "payments-platform", "shopping-platform"}) {
        EXPECT_NE(md.find(needle), std::string::npos) << needle << "\n" << md;
    }
    const std::string full = RenderImpactMarkdown(report, {.full = true});
    EXPECT_GT(std::count(full.begin(), full.end(), '\n'), 2 * lines);
}

}  // namespace
}  // namespace acme::catalog
