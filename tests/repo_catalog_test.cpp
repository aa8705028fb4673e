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

namespace acme::catalog {
namespace {

// An EventCatalog 4.x catalog (tests/fixtures/eventcatalog-4x-catalog): systems, channels with
// routes, data stores written and read, a data product, an entity, an ADR, resourceGroups.
class Catalog4xTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const char* src = std::getenv("ACME_SOURCE_DIR");
        auto loaded = LoadCatalog(std::filesystem::path(src != nullptr ? src : ".") / "tests" /
                                  "fixtures" / "eventcatalog-4x-catalog");
        ASSERT_TRUE(loaded.has_value());
        catalog_ = new Catalog(std::move(*loaded));
        graph_ = new Graph(*catalog_);
    }
    static void TearDownTestSuite() {
        delete graph_;
        delete catalog_;
    }
    static ImpactReport Impact(std::string_view spec) {
        auto seed = ResolveResourceSpec(*catalog_, spec);
        EXPECT_TRUE(seed.has_value()) << spec;
        const ResourceIndex seeds[] = {*seed};
        return AnalyzeImpact(*graph_, seeds,
                             {{std::string(spec), "changed", "", "", "", {}, false, false}}, {});
    }
    static bool Has(const ImpactReport& r, std::string_view producer, std::string_view carrier,
                    std::string_view consumer, int hop) {
        return std::any_of(r.boundaries.begin(), r.boundaries.end(), [&](const ImpactContract& c) {
            return c.producer == producer && c.message == carrier && c.consumer == consumer &&
                   c.hop == hop;
        });
    }
    static Catalog* catalog_;
    static Graph* graph_;
};
Catalog* Catalog4xTest::catalog_ = nullptr;
Graph* Catalog4xTest::graph_ = nullptr;

TEST_F(Catalog4xTest, TheGraphNamesEveryResourceButTheClusters) {
    auto view = BuildGraphView(*graph_, {});
    ASSERT_TRUE(view.has_value());
    std::set<std::string> nodes;
    for (const ViewNode& n : view->nodes) nodes.insert(n.id);
    std::size_t named = 0, total = 0;
    for (std::size_t i = 0; i < catalog_->resources.size(); ++i) {
        if (!catalog_->is_latest[i]) continue;
        const Resource& r = catalog_->resources[i];
        if (r.kind == Kind::kDomain || r.kind == Kind::kSystem) continue;  // clusters
        ++total;
        const std::string id = std::string(KindName(r.kind)) + ":" + r.id;
        if (nodes.contains(id)) ++named;
        EXPECT_TRUE(nodes.contains(id)) << id;
    }
    EXPECT_EQ(total, 20u);
    EXPECT_GE(static_cast<double>(named), 0.95 * static_cast<double>(total));
    const auto node = [&](std::string_view id) {
        return *std::find_if(view->nodes.begin(), view->nodes.end(),
                             [&](const ViewNode& n) { return n.id == id; });
    };
    EXPECT_EQ(node("service:order-api").system, "order-system");
    EXPECT_EQ(node("service:order-api").domain, "orders");
    EXPECT_EQ(node("channel:orders-topic").domain, "orders");  // through who sends on it
    std::set<std::string> edges;
    for (const ViewEdge& e : view->edges) edges.insert(e.from + " " + e.kind + " " + e.to);
    for (const char* e :
         {"service:order-api writes container:orders-db",
          "container:orders-db reads service:billing", "event:order-placed to channel:orders-topic",
          "channel:orders-topic from service:billing",
          "channel:orders-topic routes channel:audit-topic",
          "event:order-placed input data-product:order-analytics",
          "data-product:order-analytics output container:analytics-db",
          "adr:adr-001-outbox applies-to service:order-api"}) {
        EXPECT_TRUE(edges.contains(e)) << e;
    }
    // Through its channel, not straight from the message.
    EXPECT_FALSE(edges.contains("event:order-placed receives service:billing"));
}

TEST_F(Catalog4xTest, ReferencesToDataStoresAndGroupItemsAreChecked) {
    const LintReport report = Lint(*catalog_, *graph_);
    std::vector<std::string> errors;
    for (const Diagnostic& d : report.diagnostics) {
        if (d.severity == Severity::kError) {
            errors.push_back(d.file + ":" + std::to_string(d.line) + " " + d.rule + " " + d.key);
        }
    }
    EXPECT_EQ(errors,
              (std::vector<std::string>{
                  "domains/orders/index.mdx:24 ref/unknown-resource resourceGroups[0].items[2]",
                  "domains/orders/services/billing/index.mdx:16 ref/unknown-version "
                  "readsFrom[1].version"}));
}

TEST_F(Catalog4xTest, TheWalkGoesThroughDataStoresChannelsAndDataProducts) {
    const ImpactReport db = Impact("container:orders-db");
    EXPECT_TRUE(Has(db, "order-api", "container:orders-db", "billing", 1));
    EXPECT_TRUE(Has(db, "order-api", "container:orders-db", "order-analytics", 1));
    EXPECT_TRUE(Has(db, "billing", "event:invoice-issued", "(no consumer)", 2));
    const ImpactReport topic = Impact("channel:orders-topic");
    EXPECT_TRUE(Has(topic, "order-api", "channel:orders-topic", "billing", 1));
    // orders-topic routes on to audit-topic, which the auditor receives from.
    EXPECT_TRUE(Has(topic, "order-api", "channel:orders-topic", "auditor", 1));
    const ImpactReport api = Impact("service:order-api");
    EXPECT_TRUE(Has(api, "order-api", "container:orders-db", "billing", 1));
    EXPECT_TRUE(Has(api, "order-api", "event:order-placed", "order-analytics", 1));
    const ImpactReport product = Impact("data-product:order-analytics");
    EXPECT_TRUE(Has(product, "order-api", "event:order-placed", "order-analytics", 1));
    EXPECT_TRUE(Has(product, "order-analytics", "container:analytics-db", "(no consumer)", 1));
}

}  // namespace
}  // namespace acme::catalog
