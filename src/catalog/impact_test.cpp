#include "catalog/impact.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "catalog/change_diff.hpp"
#include "catalog/loader.hpp"
#include "catalog/test_catalog.hpp"

namespace acme::catalog {
namespace {

// a --cmd--> b (triggers evt) --evt--> c --next--> d ; x sends evt2 to b without triggers.
const std::map<std::string, std::string> kFiles = {
    {"teams/ta.mdx", "---\nid: ta\nname: A\n---\n"},
    {"teams/tb.mdx", "---\nid: tb\nname: B\n---\n"},
    {"domains/one/index.mdx",
     "---\nid: one\nname: One\nversion: 1.0.0\nowners: [ta]\nservices:\n  - id: a\n  - id: "
     "b\n---\n"},
    {"domains/two/index.mdx",
     "---\nid: two\nname: Two\nversion: 1.0.0\nowners: [tb]\nservices:\n  - id: c\n  - id: "
     "d\n---\n"},
    {"commands/cmd/index.mdx", "---\nid: cmd\nname: Cmd\nversion: 1.0.0\nowners: [ta]\n---\n"},
    {"events/evt/index.mdx", "---\nid: evt\nname: Evt\nversion: 1.0.0\nowners: [ta]\n---\n"},
    {"events/next/index.mdx", "---\nid: next\nname: Next\nversion: 1.0.0\nowners: [tb]\n---\n"},
    {"events/other/index.mdx", "---\nid: other\nname: Other\nversion: 1.0.0\nowners: [ta]\n---\n"},
    {"services/a/index.mdx",
     "---\nid: a\nname: A\nversion: 1.0.0\nowners: [ta]\nsends:\n  - id: cmd\n    version: "
     "1.0.0\n---\n"},
    {"services/b/index.mdx",
     "---\nid: b\nname: B\nversion: 1.0.0\nowners: [ta]\nreceives:\n  - id: cmd\n    triggers:\n"
     "      - id: evt\nsends:\n  - id: evt\n  - id: other\n---\n"},
    {"services/c/index.mdx",
     "---\nid: c\nname: C\nversion: 1.0.0\nowners: [tb]\nreceives:\n  - id: evt\nsends:\n  - id: "
     "next\n---\n"},
    {"services/d/index.mdx",
     "---\nid: d\nname: D\nversion: 1.0.0\nowners: [tb]\nreceives:\n  - id: next\n  - id: "
     "other\n---\n"},
};

class ImpactTest : public ::testing::Test {
  protected:
    ImpactTest() : dir_(kFiles), catalog_(*LoadCatalog(dir_.root())), graph_(catalog_) {}

    ImpactReport Analyze(std::string_view spec, int depth = -1) {
        auto r = ResolveResourceSpec(catalog_, spec);
        EXPECT_TRUE(r.has_value()) << spec;
        std::vector<ResourceIndex> seeds{*r};
        return AnalyzeImpact(graph_, seeds,
                             {{std::string(spec), "changed", "", "", "", {}, false, false}},
                             {.depth = depth});
    }

    static bool HasContract(const ImpactReport& r, std::string_view producer,
                            std::string_view message, std::string_view consumer) {
        return std::any_of(r.boundaries.begin(), r.boundaries.end(), [&](const ImpactContract& c) {
            return c.producer == producer && c.message == message && c.consumer == consumer;
        });
    }

    testing::TempCatalog dir_;
    Catalog catalog_;
    Graph graph_;
};

TEST_F(ImpactTest, FollowsTriggersDownstreamAndStopsAtDepth) {
    const ImpactReport all = Analyze("command:cmd");
    EXPECT_TRUE(HasContract(all, "a", "command:cmd", "b"));
    EXPECT_TRUE(HasContract(all, "b", "event:evt", "c"));  // b's trigger for cmd
    EXPECT_FALSE(
        HasContract(all, "b", "event:other", "d"));         // b declares triggers: other is not one
    EXPECT_TRUE(HasContract(all, "c", "event:next", "d"));  // c declares none: all its sends
    const ImpactReport one = Analyze("command:cmd", 1);
    EXPECT_TRUE(HasContract(one, "a", "command:cmd", "b"));
    EXPECT_FALSE(HasContract(one, "b", "event:evt", "c"));
}

TEST_F(ImpactTest, CrossDomainContractsAndTeamsWithReasons) {
    const ImpactReport r = Analyze("service:b");
    auto evt = std::find_if(r.boundaries.begin(), r.boundaries.end(),
                            [](const ImpactContract& c) { return c.message == "event:evt"; });
    ASSERT_NE(evt, r.boundaries.end());
    EXPECT_TRUE(evt->crosses_domain);
    EXPECT_TRUE(evt->crosses_team);
    EXPECT_EQ(evt->producer_domain, "one");
    EXPECT_EQ(evt->consumer_domain, "two");
    EXPECT_TRUE(HasContract(r, "a", "command:cmd", "b"));  // upstream producer
    ASSERT_EQ(r.teams.size(), 2u);
    EXPECT_EQ(r.teams[0].team, "ta");
    EXPECT_NE(r.teams[0].reasons[0].find("owner of the change"), std::string::npos);
    EXPECT_EQ(r.teams[1].team, "tb");
    EXPECT_NE(r.teams[1].reasons[0].find("consumer of a changed contract"), std::string::npos);
    EXPECT_TRUE(r.HasRisk(RiskLevel::kMedium));  // the hand-off one -> two
}

TEST_F(ImpactTest, DomainAndTeamSeedsExpand) {
    const ImpactReport domain = Analyze("domain:two");
    EXPECT_TRUE(HasContract(domain, "c", "event:next", "d"));
    const ImpactReport team = Analyze("ta");
    EXPECT_TRUE(HasContract(team, "a", "command:cmd", "b"));
}

TEST_F(ImpactTest, ResolvesSpecs) {
    EXPECT_TRUE(ResolveResourceSpec(catalog_, "evt@1.0.0").has_value());
    EXPECT_EQ(ResolveResourceSpec(catalog_, "evt@9.9.9").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(ResolveResourceSpec(catalog_, "nope").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(ResolveResourceSpec(catalog_, "bogus:evt").error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(ResolveResourceSpec(catalog_, "b").has_value());
}

TEST(ImpactRenderTest, MarkdownAndJsonHaveEverySectionInOrder) {
    ImpactReport r;
    r.title = "service:x";
    r.summary = "s";
    const std::string md = RenderImpactMarkdown(r);
    std::size_t last = 0;
    for (const char* h : {"## Summary", "## Changes", "## Flows", "## Boundaries",
                          "## Failure points", "## Teams", "## Risks", "## Catalog updates"}) {
        const std::size_t at = md.find(h);
        ASSERT_NE(at, std::string::npos) << h;
        EXPECT_GT(at, last) << h;
        last = at;
    }
    const std::string json = RenderImpactJson(r);
    last = 0;
    for (const char* k : {"\"summary\"", "\"changes\"", "\"flows\"", "\"boundaries\"",
                          "\"failure_points\"", "\"teams\"", "\"risks\"", "\"catalog_updates\""}) {
        const std::size_t at = json.find(k);
        ASSERT_NE(at, std::string::npos) << k;
        EXPECT_GE(at, last) << k;
        last = at;
    }
}

TEST(ChangeDiffTest, FindsAddedRemovedAndModified) {
    testing::TempCatalog before({
        {"events/e/index.mdx", "---\nid: e\nname: E\nversion: 1.0.0\n---\n"},
        {"services/s/index.mdx", "---\nid: s\nname: S\nversion: 1.0.0\nsends:\n  - id: e\n---\n"},
        {"services/gone/index.mdx", "---\nid: gone\nname: G\nversion: 1.0.0\n---\n"},
    });
    testing::TempCatalog after({
        {"events/e/index.mdx", "---\nid: e\nname: E\nversion: 1.0.0\n---\n"},
        {"services/s/index.mdx",
         "---\nid: s\nname: S\nversion: 1.1.0\nreceives:\n  - id: e\n---\n"},
        {"services/new/index.mdx", "---\nid: new\nname: N\nversion: 1.0.0\n---\n"},
    });
    auto b = LoadCatalog(before.root());
    auto a = LoadCatalog(after.root());
    const Graph gb(*b);
    const Graph ga(*a);
    const auto diffs = DiffCatalogs(gb, ga);
    ASSERT_EQ(diffs.size(), 3u);
    EXPECT_EQ(diffs[0].id, "gone");
    EXPECT_EQ(diffs[0].change, ChangeKind::kRemoved);
    EXPECT_EQ(diffs[1].id, "new");
    EXPECT_EQ(diffs[1].change, ChangeKind::kAdded);
    EXPECT_EQ(diffs[2].id, "s");
    EXPECT_EQ(diffs[2].details,
              (std::vector<std::string>{"version 1.0.0 -> 1.1.0", "sends removed: e",
                                        "receives added: e"}));
}

}  // namespace
}  // namespace acme::catalog

namespace acme::catalog {
namespace {

// A specification document is named for an update only when it mentions the changed message.
TEST(ImpactSpecTest, OnlyDocumentsThatMentionTheMessage) {
    const testing::TempCatalog dir(std::map<std::string, std::string>{
        {"events/paid/index.mdx", "---\nid: paid\nname: Paid\nversion: 1.0.0\n---\n"},
        {"services/p/index.mdx",
         "---\nid: p\nname: P\nversion: 1.0.0\nsends:\n  - id: paid\nspecifications:\n"
         "  - type: asyncapi\n    path: asyncapi.yml\n---\n"},
        {"services/p/asyncapi.yml", "asyncapi: 3.0.0\nchannels:\n  paid:\n    address: paid\n"},
        {"services/c/index.mdx",
         "---\nid: c\nname: C\nversion: 1.0.0\nreceives:\n  - id: paid\nspecifications:\n"
         "  - type: openapi\n    path: openapi.yml\n---\n"},
        {"services/c/openapi.yml", "openapi: 3.0.3\npaths:\n  /unpaid-invoices: {}\n"},
    });
    auto catalog = LoadCatalog(dir.root());
    ASSERT_TRUE(catalog.has_value());
    const Graph graph(*catalog);
    auto seed = ResolveResourceSpec(*catalog, "paid");
    ASSERT_TRUE(seed.has_value());
    const ResourceIndex seeds[] = {*seed};
    const ImpactReport report =
        AnalyzeImpact(graph, seeds, {{"event:paid", "changed", "", "", "", {}, false, false}}, {});
    std::vector<std::string> docs;
    for (const ImpactUpdate& u : report.catalog_updates) {
        if (u.action.find(" document ") != std::string::npos) docs.push_back(u.action);
    }
    ASSERT_EQ(docs.size(), 1u) << (docs.empty() ? "" : docs.front());
    // "unpaid-invoices" contains "paid" but not as a word.
    EXPECT_NE(docs.front().find("services/p/asyncapi.yml for paid"), std::string::npos)
        << docs.front();
}

}  // namespace
}  // namespace acme::catalog

namespace acme::catalog {
namespace {

// One service sends 0.0.1, the other expects ^1.0.0: no version both use. That is a risk, and
// the contract row says why there is no producer.
TEST(ImpactSkewTest, AConsumerOfAVersionNobodySendsIsARisk) {
    const testing::TempCatalog dir(std::map<std::string, std::string>{
        {"events/paid/index.mdx", "---\nid: paid\nname: Paid\nversion: 1.0.0\n---\n"},
        {"events/paid/versioned/0.0.1/index.mdx",
         "---\nid: paid\nname: Paid\nversion: 0.0.1\n---\n"},
        {"services/p/index.mdx",
         "---\nid: p\nname: P\nversion: 1.0.0\nsends:\n  - id: paid\n    version: 0.0.1\n---\n"},
        {"services/c/index.mdx",
         "---\nid: c\nname: C\nversion: 1.0.0\nreceives:\n  - id: paid\n    version: ^1.0.0\n"
         "---\n"},
    });
    auto catalog = LoadCatalog(dir.root());
    ASSERT_TRUE(catalog.has_value());
    const Graph graph(*catalog);
    auto seed = ResolveResourceSpec(*catalog, "p");
    ASSERT_TRUE(seed.has_value());
    const ResourceIndex seeds[] = {*seed};
    const ImpactReport report =
        AnalyzeImpact(graph, seeds, {{"service:p", "changed", "", "", "", {}, false, false}}, {});
    const std::string md = RenderImpactMarkdown(report);
    EXPECT_NE(md.find("high: version skew: c receives paid@1.0.0, which no producer sends (p sends "
                      "0.0.1)"),
              std::string::npos)
        << md;
    EXPECT_EQ(md.find("(no producer) ->"), std::string::npos) << md;
    // Seeded with the message, the row without a producer says why.
    auto message = ResolveResourceSpec(*catalog, "paid");
    ASSERT_TRUE(message.has_value());
    const ResourceIndex message_seeds[] = {*message};
    const std::string by_message = RenderImpactMarkdown(AnalyzeImpact(
        graph, message_seeds, {{"event:paid", "changed", "", "", "", {}, false, false}}, {}));
    EXPECT_NE(by_message.find("(no producer of 1.0.0: p sends 0.0.1) -> event:paid -> c"),
              std::string::npos)
        << by_message;
}

}  // namespace
}  // namespace acme::catalog
