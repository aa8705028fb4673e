#include "catalog/graph_view.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "catalog/loader.hpp"
#include "catalog/test_catalog.hpp"

namespace acme::catalog {
namespace {

const std::map<std::string, std::string> kFiles = {
    {"domains/a/index.mdx", "---\nid: a\nname: A\nversion: 1.0.0\nservices:\n  - id: p\n---\n"},
    {"domains/b/index.mdx",
     "---\nid: b\nname: B\nversion: 1.0.0\nservices:\n  - id: c\n  - id: far\n---\n"},
    {"events/e/index.mdx", "---\nid: e\nname: E\nversion: 1.0.0\n---\n"},
    {"events/x/index.mdx", "---\nid: x\nname: X\nversion: 1.0.0\n---\n"},
    {"services/p/index.mdx", "---\nid: p\nname: P\nversion: 1.0.0\nsends:\n  - id: e\n---\n"},
    {"services/c/index.mdx",
     "---\nid: c\nname: C\nversion: 1.0.0\nreceives:\n  - id: e\n    triggers:\n      - id: x\n"
     "sends:\n  - id: x\n---\n"},
    {"services/far/index.mdx",
     "---\nid: far\nname: Far\nversion: 1.0.0\nreceives:\n  - id: x\n---\n"},
    {"flows/f/index.mdx", R"(---
id: f
name: F
version: 1.0.0
steps:
  - id: s1
    title: P
    service: {id: p}
    next_steps:
      - id: s2
        label: ok
      - id: s3
        label: Declined
  - id: s2
    title: E
    message: {id: e}
  - id: s3
    title: Undo
    custom: {title: Undo, type: Compensation}
---
)"},
};

class GraphViewTest : public ::testing::Test {
  protected:
    GraphViewTest() : dir_(kFiles), catalog_(*LoadCatalog(dir_.root())), graph_(catalog_) {}

    testing::TempCatalog dir_;
    Catalog catalog_;
    Graph graph_;
};

const ViewEdge* FindEdge(const GraphView& v, std::string_view from, std::string_view to,
                         std::string_view kind) {
    auto it = std::find_if(v.edges.begin(), v.edges.end(), [&](const ViewEdge& e) {
        return e.from == from && e.to == to && e.kind == kind;
    });
    return it == v.edges.end() ? nullptr : &*it;
}

TEST_F(GraphViewTest, MarksDomainsBoundariesAndFailureBranches) {
    auto view = BuildGraphView(graph_, {});
    ASSERT_TRUE(view.has_value());
    const ViewEdge* sends = FindEdge(*view, "service:p", "event:e", "sends");
    ASSERT_NE(sends, nullptr);
    EXPECT_FALSE(sends->crosses_domain);  // e's domain is its producer's: a
    const ViewEdge* receives = FindEdge(*view, "event:e", "service:c", "receives");
    ASSERT_NE(receives, nullptr);
    EXPECT_TRUE(receives->crosses_domain);  // a -> b
    EXPECT_NE(FindEdge(*view, "event:e", "event:x", "triggers"), nullptr);
    const ViewEdge* declined = FindEdge(*view, "service:p", "flow:f/s3", "flow");
    ASSERT_NE(declined, nullptr);
    EXPECT_TRUE(declined->failure);
    EXPECT_FALSE(FindEdge(*view, "service:p", "event:e", "flow")->failure);

    const std::string dot = RenderDot(*view);
    EXPECT_NE(dot.find("subgraph \"cluster_a\""), std::string::npos);
    EXPECT_NE(dot.find("#d93025"), std::string::npos);  // failure branch in red
    auto svg = RenderSvg(dot);
    ASSERT_TRUE(svg.has_value()) << svg.error().message;
    EXPECT_NE(svg->find("<svg"), std::string::npos);
    EXPECT_NE(RenderViewJson(*view).find("\"crossesDomain\": true"), std::string::npos);
}

TEST_F(GraphViewTest, FocusKeepsTheNeighbourhoodToDepth) {
    auto one = BuildGraphView(graph_, {.focus = "p", .depth = 1});
    ASSERT_TRUE(one.has_value());
    auto has = [](const GraphView& v, std::string_view id) {
        return std::any_of(v.nodes.begin(), v.nodes.end(),
                           [&](const ViewNode& n) { return n.id == id; });
    };
    EXPECT_TRUE(has(*one, "service:p"));
    EXPECT_TRUE(has(*one, "event:e"));
    EXPECT_FALSE(has(*one, "service:c"));
    auto all = BuildGraphView(graph_, {.focus = "service:p", .depth = -1});
    ASSERT_TRUE(all.has_value());
    EXPECT_TRUE(has(*all, "service:far"));
    auto missing = BuildGraphView(graph_, {.focus = "nope", .depth = 1});
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// Failure branches come from where a branch leads, never from its label's words: a
// "Successful cancellation" is no failure, an unlabelled branch into compensation is one.
TEST(FailureBranchTest, ToldByStructureNotByWords) {
    const testing::TempCatalog dir(
        std::map<std::string, std::string>{{"flows/cancel/index.mdx", R"(---
id: cancel
name: Cancel an order
version: 1.0.0
steps:
  - id: ask
    title: Customer asks to cancel
    next_steps:
      - id: cancelled
        label: Successful cancellation
      - id: too-late
        label: ok
  - id: cancelled
    title: Order cancelled
    next_step: done
  - id: too-late
    title: Parcel already left
    next_step:
      id: undo
  - id: undo
    title: Refund instead
    custom: {title: Refund, type: Exception}
  - id: done
    title: Done
    custom: {title: Done, type: Outcome}
---
)"}});
    auto catalog = LoadCatalog(dir.root());
    ASSERT_TRUE(catalog.has_value());
    const Resource& flow = catalog->resources.front();
    ASSERT_EQ(flow.steps.size(), 5u);
    const FlowStep& ask = flow.steps[0];
    EXPECT_FALSE(IsFailureBranch(flow, ask, ask.next[0]))
        << "'Successful cancellation' is no failure";
    EXPECT_TRUE(IsFailureBranch(flow, ask, ask.next[1])) << "it leads to an Exception node";
    EXPECT_TRUE(IsFailureBranch(flow, flow.steps[2], flow.steps[2].next[0])) << "into Exception";
    EXPECT_FALSE(IsFailureBranch(flow, flow.steps[1], flow.steps[1].next[0]));
    EXPECT_TRUE(IsFailureNodeType("Compensation"));
    EXPECT_FALSE(IsFailureNodeType("Outcome"));
}

}  // namespace
}  // namespace acme::catalog
