#include "catalog/impact.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

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
    EXPECT_EQ(r.teams[0].reasons[0].reason, "owner of the change");
    EXPECT_EQ(r.teams[1].team, "tb");
    EXPECT_EQ(r.teams[1].reasons[0].reason, "consumer of a changed contract");
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

namespace acme::catalog {
namespace {

const ImpactTeam* TeamOf(const ImpactReport& r, std::string_view team) {
    for (const ImpactTeam& t : r.teams) {
        if (t.team == team) return &t;
    }
    return nullptr;
}

// a --cmd--> b --evt--> c --next--> d: changing cmd changes the contract b consumes; c and d
// are reached further downstream and are told so with the hop, not asked to review a contract
// they do not consume.
TEST_F(ImpactTest, TeamsFurtherDownstreamAreReachedNotConsumersOfTheChange) {
    const ImpactReport r = Analyze("command:cmd");
    const ImpactTeam* ta = TeamOf(r, "ta");
    const ImpactTeam* tb = TeamOf(r, "tb");
    ASSERT_NE(ta, nullptr);
    ASSERT_NE(tb, nullptr);
    EXPECT_EQ(ta->hop, 0);
    bool ta_consumes = false;
    for (const ImpactTeamReason& why : ta->reasons) {
        if (why.reason == "consumer of a changed contract") {
            ta_consumes = true;
            EXPECT_EQ(why.hop, 1);
            EXPECT_EQ(why.items, std::vector<std::string>{"cmd in b"});
        }
    }
    EXPECT_TRUE(ta_consumes);
    EXPECT_EQ(tb->hop, 2);
    std::map<int, std::vector<std::string>> reached;
    for (const ImpactTeamReason& why : tb->reasons) {
        EXPECT_NE(why.reason, "consumer of a changed contract") << why.items.front();
        if (why.reason == "reached downstream") reached[why.hop] = why.items;
    }
    EXPECT_EQ(reached[2], std::vector<std::string>{"evt in c"});
    EXPECT_EQ(reached[3], std::vector<std::string>{"next in d"});
    // The concise checklist leaves tb to the further-hops lines.
    const std::string md = RenderImpactMarkdown(r);
    EXPECT_EQ(md.find("- [ ] tb"), std::string::npos) << md;
    EXPECT_NE(md.find("- hop 2: contracts evt (b -> c); services b, c; teams tb"),
              std::string::npos)
        << md;
    EXPECT_NE(RenderImpactMarkdown(r, {.depth = 3}).find("- [ ] tb — reached downstream (hop 2)"),
              std::string::npos);
}

// The JSON keeps every hop, and every item says its hop.
TEST_F(ImpactTest, JsonHasTheHopOnEveryItem) {
    const ImpactReport r = Analyze("service:b");
    const auto doc = nlohmann::json::parse(RenderImpactJson(r));
    std::size_t items = 0;
    for (const char* section : {"changes", "flows", "boundaries", "failure_points", "teams",
                                "risks", "catalog_updates"}) {
        for (const auto& item : doc.at(section)) {
            EXPECT_TRUE(item.contains("hop")) << section << ": " << item.dump();
            ++items;
            if (item.contains("reasons")) {
                for (const auto& why : item.at("reasons")) EXPECT_TRUE(why.contains("hop"));
            }
        }
    }
    EXPECT_GT(items, 5u);
    std::set<int> hops;
    for (const auto& c : doc.at("boundaries")) hops.insert(c.at("hop").get<int>());
    EXPECT_TRUE(hops.contains(2)) << "every hop, not only the first";
}

// A catalog whose flow is richer than its services' declarations: nothing says the web shop
// sends `order-placed`, but the flow puts it (and the customer) before the billing service.
TEST(ImpactFlowOrderTest, StepsBeforeTheChangeInTheFlowAreUpstream) {
    const testing::TempCatalog dir(std::map<std::string, std::string>{
        {"teams/web.mdx", "---\nid: web\nname: Web\n---\n"},
        {"teams/billing.mdx", "---\nid: billing\nname: Billing\n---\n"},
        {"events/order-placed/index.mdx",
         "---\nid: order-placed\nname: Order placed\nversion: 1.0.0\nowners: [web]\n---\n"},
        {"events/invoice-sent/index.mdx",
         "---\nid: invoice-sent\nname: Invoice sent\nversion: 1.0.0\nowners: [billing]\n---\n"},
        {"services/web-shop/index.mdx",
         "---\nid: web-shop\nname: Web shop\nversion: 1.0.0\nowners: [web]\n---\n"},
        {"services/billing/index.mdx",
         "---\nid: billing\nname: Billing\nversion: 1.0.0\nowners: [billing]\n---\n"},
        {"services/mailer/index.mdx",
         "---\nid: mailer\nname: Mailer\nversion: 1.0.0\nowners: [web]\n---\n"},
        {"flows/order-to-invoice/index.mdx",
         "---\nid: order-to-invoice\nname: Order to invoice\nversion: 1.0.0\nsteps:\n"
         "  - id: customer\n    title: Customer orders\n    actor:\n      name: Customer\n"
         "    next_step: shop\n"
         "  - id: shop\n    title: Web shop takes the order\n    service:\n      id: web-shop\n"
         "    next_step: placed\n"
         "  - id: placed\n    title: Order placed\n    message:\n      id: order-placed\n"
         "    next_step: bill\n"
         "  - id: bill\n    title: Billing invoices\n    service:\n      id: billing\n"
         "    next_step: sent\n"
         "  - id: sent\n    title: Invoice sent\n    message:\n      id: invoice-sent\n"
         "    next_step: mail\n"
         "  - id: mail\n    title: Mailer mails it\n    service:\n      id: mailer\n---\n"},
    });
    auto catalog = LoadCatalog(dir.root());
    ASSERT_TRUE(catalog.has_value());
    const Graph graph(*catalog);
    auto seed = ResolveResourceSpec(*catalog, "service:billing");
    ASSERT_TRUE(seed.has_value());
    const ResourceIndex seeds[] = {*seed};
    const ImpactReport r = AnalyzeImpact(
        graph, seeds, {{"service:billing", "changed", "", "", "", {}, false, false}}, {});
    ASSERT_EQ(r.flows.size(), 1u);
    std::map<std::string, const ImpactStep*> steps;
    for (const ImpactStep& s : r.flows[0].steps) steps[s.id] = &s;
    for (const char* id : {"customer", "shop", "placed"}) {
        ASSERT_TRUE(steps.contains(id)) << id;
        EXPECT_TRUE(steps[id]->upstream) << id;
        EXPECT_EQ(steps[id]->hop, 1) << id;
    }
    EXPECT_TRUE(steps.at("bill")->changed);
    EXPECT_FALSE(steps.contains("mail") && steps.at("mail")->upstream);
    const ImpactTeam* web = TeamOf(r, "web");
    ASSERT_NE(web, nullptr);
    bool upstream = false;
    for (const ImpactTeamReason& why : web->reasons) {
        if (why.reason != "upstream in a flow") continue;
        upstream = true;
        EXPECT_EQ(why.items, (std::vector<std::string>{"placed in order-to-invoice",
                                                       "shop in order-to-invoice"}));
    }
    EXPECT_TRUE(upstream) << RenderImpactMarkdown(r, {.full = true});
}

// A compensation that names actions nobody on the path carries out is a risk and an update:
// "release reservation" is carried by release-inventory, which the orchestrator sends;
// "void authorization" by void-payment, which nobody sends; "refund the gift card" by nothing.
TEST(ImpactCompensationTest, ActionsNoServiceSendsAreUndeclaredCompensation) {
    const testing::TempCatalog dir(std::map<std::string, std::string>{
        {"commands/reserve-inventory/index.mdx",
         "---\nid: reserve-inventory\nname: Reserve inventory\nversion: 1.0.0\n---\n"},
        {"commands/release-inventory/index.mdx",
         "---\nid: release-inventory\nname: Release inventory\nversion: 1.0.0\n"
         "summary: Release a stock reservation\n---\n"},
        {"commands/void-payment/index.mdx",
         "---\nid: void-payment\nname: Void payment\nversion: 1.0.0\n"
         "summary: Void a payment authorization\n---\n"},
        {"events/reservation-failed/index.mdx",
         "---\nid: reservation-failed\nname: Reservation failed\nversion: 1.0.0\n---\n"},
        {"services/orchestrator/index.mdx",
         "---\nid: orchestrator\nname: Orchestrator\nversion: 1.0.0\nsends:\n"
         "  - id: reserve-inventory\n  - id: release-inventory\nreceives:\n"
         "  - id: reservation-failed\n---\n"},
        {"services/inventory/index.mdx",
         "---\nid: inventory\nname: Inventory\nversion: 1.0.0\nreceives:\n"
         "  - id: reserve-inventory\n  - id: release-inventory\nsends:\n"
         "  - id: reservation-failed\n---\n"},
        {"flows/checkout/index.mdx",
         "---\nid: checkout\nname: Checkout\nversion: 1.0.0\nsteps:\n"
         "  - id: start\n    title: Orchestrator reserves\n    service:\n      id: orchestrator\n"
         "    next_step: reserve\n"
         "  - id: reserve\n    title: Reserve\n    message:\n      id: reserve-inventory\n"
         "    next_step: inventory\n"
         "  - id: inventory\n    title: Inventory reserves\n    service:\n      id: inventory\n"
         "    next_steps:\n      - id: failed\n        label: Out of stock\n"
         "  - id: failed\n    title: Reservation failed\n    message:\n"
         "      id: reservation-failed\n    next_step: compensate\n"
         "  - id: compensate\n    title: Compensate\n    custom:\n      title: Undo the checkout\n"
         "      type: Compensation\n      properties:\n        action-1: release reservation\n"
         "        action-2: void authorization\n        action-3: refund the gift card\n"
         "        action-4: reject the checkout\n---\n"},
    });
    auto catalog = LoadCatalog(dir.root());
    ASSERT_TRUE(catalog.has_value());
    const Graph graph(*catalog);
    auto seed = ResolveResourceSpec(*catalog, "service:inventory");
    ASSERT_TRUE(seed.has_value());
    const ResourceIndex seeds[] = {*seed};
    const ImpactReport r = AnalyzeImpact(
        graph, seeds, {{"service:inventory", "changed", "", "", "", {}, false, false}}, {});
    std::vector<std::string> undeclared;
    for (const ImpactRisk& k : r.risks) {
        if (k.category == "undeclared-compensation") undeclared.push_back(k.reason);
    }
    ASSERT_EQ(undeclared.size(), 2u) << RenderImpactMarkdown(r, {.full = true});
    EXPECT_EQ(undeclared[0],
              "undeclared compensation: 'Undo the checkout' in flow checkout says 'refund the gift "
              "card', but no message in the catalog carries it");
    EXPECT_EQ(undeclared[1],
              "undeclared compensation: 'Undo the checkout' in flow checkout says 'void "
              "authorization', but no service on the path sends void-payment");
    std::size_t updates = 0;
    for (const ImpactUpdate& u : r.catalog_updates) {
        if (u.resource == "flow:checkout" && u.action.starts_with("declare the message")) ++updates;
    }
    EXPECT_EQ(updates, 2u);
}

}  // namespace
}  // namespace acme::catalog
