#include "catalog/loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "catalog/graph.hpp"
#include "catalog/test_catalog.hpp"

namespace acme::catalog {
namespace {

using testing::TempCatalog;

const Resource* Find(const Catalog& c, Kind kind, std::string_view id, std::string_view version) {
    for (const Resource& r : c.resources) {
        if (r.kind == kind && r.id == id && r.version == version) return &r;
    }
    return nullptr;
}

ResourceIndex IndexOf(const Catalog& c, const Resource* r) {
    return static_cast<ResourceIndex>(r - c.resources.data());
}

TEST(LoaderTest, FindsEveryKindInNestedAndVersionedFolders) {
    TempCatalog dir({
        {"domains/orders/index.mdx", "---\nid: orders\nname: Orders\nversion: 1.0.0\n---\n"},
        {"domains/orders/subdomains/billing/index.mdx",
         "---\nid: billing\nname: Billing\nversion: 0.1.0\n---\n"},
        {"domains/orders/services/svc/index.mdx", "---\nid: svc\nname: Svc\nversion: 2.0.0\n---\n"},
        {"domains/orders/services/svc/versioned/1.0.0/index.mdx",
         "---\nid: svc\nname: Svc\nversion: 1.0.0\n---\n"},
        {"domains/orders/services/svc/events/placed/index.md",
         "---\nid: placed\nname: Placed\nversion: 1.0.0\n---\n"},
        {"services/other/commands/do/index.mdx", "---\nid: do\nname: Do\nversion: 1.0.0\n---\n"},
        {"queries/ask/index.mdx", "---\nid: ask\nname: Ask\nversion: 1.0.0\n---\n"},
        {"channels/kafka/orders/index.mdx",
         "---\nid: orders.topic\nname: T\nversion: 1.0.0\n---\n"},
        {"domains/orders/flows/f/index.mdx", "---\nid: f\nname: F\nversion: 1.0.0\n---\n"},
        {"systems/core/index.mdx", "---\nid: core\nname: Core\nversion: 1.0.0\n---\n"},
        {"domains/orders/entities/order/index.mdx",
         "---\nid: order\nname: O\nversion: 1.0.0\n---\n"},
        {"containers/db/index.mdx", "---\nid: db\nname: DB\nversion: 1.0.0\n---\n"},
        {"teams/alpha.mdx", "---\nid: alpha\nname: Alpha\n---\n"},
        {"users/jane.md", "---\nname: Jane\n---\n"},
        {"domains/orders/ubiquitous-language.mdx", "---\ndictionary: []\n---\n"},
        {"pages/intro/index.mdx", "---\ntitle: not a resource\n---\n"},
        {"node_modules/x/events/e/index.mdx", "---\nid: skipped\n---\n"},
    });
    auto c = LoadCatalog(dir.root());
    ASSERT_TRUE(c.has_value()) << c.error().message;
    EXPECT_TRUE(c->diagnostics.empty()) << c->diagnostics[0].message;
    EXPECT_NE(Find(*c, Kind::kDomain, "orders", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kDomain, "billing", "0.1.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kEvent, "placed", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kCommand, "do", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kQuery, "ask", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kChannel, "orders.topic", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kFlow, "f", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kSystem, "core", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kEntity, "order", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kContainer, "db", "1.0.0"), nullptr);
    EXPECT_NE(Find(*c, Kind::kTeam, "alpha", ""), nullptr);
    EXPECT_NE(Find(*c, Kind::kUser, "jane", ""), nullptr);  // id from the file name
    const Resource* v1 = Find(*c, Kind::kService, "svc", "1.0.0");
    const Resource* v2 = Find(*c, Kind::kService, "svc", "2.0.0");
    ASSERT_NE(v1, nullptr);
    ASSERT_NE(v2, nullptr);
    EXPECT_TRUE(v1->versioned_copy);
    EXPECT_FALSE(c->is_latest[static_cast<std::size_t>(IndexOf(*c, v1))]);
    EXPECT_TRUE(c->is_latest[static_cast<std::size_t>(IndexOf(*c, v2))]);
    EXPECT_EQ(c->resources.size(), 14u);
}

TEST(LoaderTest, ResolvesExactLatestAndRangePointers) {
    TempCatalog dir({
        {"events/e/index.mdx", "---\nid: e\nname: E\nversion: 2.1.0\n---\n"},
        {"events/e/versioned/1.4.0/index.mdx", "---\nid: e\nname: E\nversion: 1.4.0\n---\n"},
        {"events/e/versioned/1.2.0/index.mdx", "---\nid: e\nname: E\nversion: 1.2.0\n---\n"},
        {"services/s/index.mdx",
         "---\nid: s\nname: S\nversion: 1.0.0\nsends:\n  - id: e\n    version: 1.2.0\n"
         "  - id: e\n  - id: e\n    version: ^1.0.0\n  - id: e\n    version: 1.x\n"
         "  - id: e\n    version: latest\n  - id: e\n    version: 3.0.0\n  - id: nope\n---\n"},
    });
    auto c = LoadCatalog(dir.root());
    ASSERT_TRUE(c.has_value());
    const Resource* s = Find(*c, Kind::kService, "s", "1.0.0");
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(s->sends.size(), 7u);
    auto version_of = [&](const Pointer& p) {
        return p.target == kNoResource ? std::string("-")
                                       : c->resources[static_cast<std::size_t>(p.target)].version;
    };
    EXPECT_EQ(version_of(s->sends[0].message), "1.2.0");
    EXPECT_EQ(version_of(s->sends[1].message), "2.1.0");
    EXPECT_EQ(version_of(s->sends[2].message), "1.4.0");  // highest match of ^1.0.0
    EXPECT_EQ(version_of(s->sends[3].message), "1.4.0");
    EXPECT_EQ(version_of(s->sends[4].message), "2.1.0");
    EXPECT_EQ(s->sends[5].message.resolution, Resolution::kUnknownVersion);
    EXPECT_EQ(s->sends[6].message.resolution, Resolution::kUnknownId);
    EXPECT_EQ(s->sends[0].message.line, 6);
}

TEST(LoaderTest, ReadsReceivesTriggersFieldsAndOldStyleEdges) {
    TempCatalog dir({
        {"commands/c/index.mdx", "---\nid: c\nname: C\nversion: 1.0.0\n---\n"},
        {"events/done/index.mdx",
         "---\nid: done\nname: Done\nversion: 1.0.0\nproducers:\n  - legacy\nconsumers:\n"
         "  - id: legacy\n---\n"},
        {"services/h/index.mdx",
         "---\nid: h\nname: H\nversion: 1.0.0\nreceives:\n  - id: c\n    version: 1.0.0\n"
         "    fields: [orderId, total]\n    triggers:\n      - id: done\n        condition: ok\n"
         "---\n"},
        {"services/legacy/index.mdx", "---\nid: legacy\nname: L\nversion: 1.0.0\n---\n"},
    });
    auto c = LoadCatalog(dir.root());
    ASSERT_TRUE(c.has_value());
    const Graph g(*c);
    const Resource* h = Find(*c, Kind::kService, "h", "1.0.0");
    ASSERT_NE(h, nullptr);
    ASSERT_EQ(h->receives.size(), 1u);
    EXPECT_EQ(h->receives[0].fields, (std::vector<std::string>{"orderId", "total"}));
    ASSERT_EQ(h->receives[0].triggers.size(), 1u);
    EXPECT_EQ(h->receives[0].trigger_conditions[0], "ok");
    const ResourceIndex hi = IndexOf(*c, h);
    ASSERT_EQ(g.Triggers(hi).size(), 1u);
    const ResourceIndex done = IndexOf(*c, Find(*c, Kind::kEvent, "done", "1.0.0"));
    EXPECT_EQ(g.Triggers(hi)[0].emitted, done);
    const ResourceIndex legacy = IndexOf(*c, Find(*c, Kind::kService, "legacy", "1.0.0"));
    ASSERT_EQ(g.Producers(done).size(), 1u);
    EXPECT_EQ(g.Producers(done)[0], legacy);
    ASSERT_EQ(g.Consumers(done).size(), 1u);
    EXPECT_EQ(g.Sends(legacy).size(), 1u);
}

TEST(LoaderTest, FlowStepsOfEveryKindAndBothLinkStyles) {
    TempCatalog dir({
        {"events/e/index.mdx", "---\nid: e\nname: E\nversion: 1.0.0\n---\n"},
        {"services/s/index.mdx", "---\nid: s\nname: S\nversion: 1.0.0\n---\n"},
        {"flows/f/index.mdx", R"(---
id: f
name: F
version: 1.0.0
steps:
  - id: 1
    title: Actor
    actor: {name: Customer}
    next_step: 2
  - id: 2
    title: Msg
    message: {id: e, version: 1.0.0}
    next_steps:
      - 3
      - id: 4
        label: Declined
  - id: 3
    title: Svc
    service: {id: s}
  - id: 4
    title: Comp
    custom:
      title: Compensate
      type: Compensation
      properties: {action-1: void payment}
    next_step: {id: 5, label: then}
  - id: 5
    title: Ext
    externalSystem: {name: Stripe, url: https://stripe.com}
---
)"},
    });
    auto c = LoadCatalog(dir.root());
    ASSERT_TRUE(c.has_value());
    const Resource* f = Find(*c, Kind::kFlow, "f", "1.0.0");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(f->steps.size(), 5u);
    EXPECT_EQ(f->steps[0].kind, StepKind::kActor);
    EXPECT_EQ(f->steps[0].node_name, "Customer");
    EXPECT_EQ(f->steps[1].kind, StepKind::kMessage);
    EXPECT_EQ(f->steps[1].target.resolution, Resolution::kResolved);
    ASSERT_EQ(f->steps[1].next.size(), 2u);
    EXPECT_EQ(f->steps[1].next[1].label, "Declined");
    EXPECT_EQ(f->steps[1].next[1].step, 3);
    EXPECT_EQ(f->steps[2].kind, StepKind::kService);
    EXPECT_EQ(f->steps[3].custom_type, "Compensation");
    EXPECT_EQ(f->steps[3].properties[0].second, "void payment");
    EXPECT_EQ(f->steps[3].next[0].label, "then");
    EXPECT_EQ(f->steps[4].kind, StepKind::kExternalSystem);
    const Graph g(*c);
    const ResourceIndex e = IndexOf(*c, Find(*c, Kind::kEvent, "e", "1.0.0"));
    ASSERT_EQ(g.FlowRefs(e).size(), 1u);
    EXPECT_EQ(g.FlowRefs(e)[0].step, 1);
}

TEST(LoaderTest, KeepsUnknownKeysAndNeverFailsOnBadFiles) {
    TempCatalog dir({
        {"events/e/index.mdx",
         "---\nid: e\nname: E\nversion: 1.0.0\nx-team-slack: '#orders'\nfutureKey: {a: 1}\n---\n"
         "Body [[service|s]]\n"},
        {"events/broken/index.mdx", "---\nid: broken\nname: [oops\n---\n"},
        {"events/nofm/index.mdx", "just markdown\n"},
        {"services/typed/index.mdx", "---\nid: typed\nname: T\nversion: 1.0.0\nsends: nope\n---\n"},
    });
    auto c = LoadCatalog(dir.root());
    ASSERT_TRUE(c.has_value());
    const Resource* e = Find(*c, Kind::kEvent, "e", "1.0.0");
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->extra_keys.size(), 1u);  // x- keys are known custom keys, futureKey is kept
    EXPECT_EQ(e->extra_keys[0].key, "futureKey");
    EXPECT_EQ(e->extra_keys[0].value, "{a: 1}");
    EXPECT_EQ(e->body, "Body [[service|s]]\n");
    std::vector<std::string> rules;
    for (const auto& d : c->diagnostics)
        rules.push_back(d.rule + "@" + d.file + ":" + std::to_string(d.line));
    std::sort(rules.begin(), rules.end());
    EXPECT_EQ(rules, (std::vector<std::string>{
                         "frontmatter/invalid-type@services/typed/index.mdx:5",
                         "frontmatter/missing@events/nofm/index.mdx:1",
                         "yaml/syntax@events/broken/index.mdx:3",
                     }));
}

TEST(GraphTest, DomainOfWalksThroughSystemsAndMessages) {
    TempCatalog dir({
        {"domains/d/index.mdx",
         "---\nid: d\nname: D\nversion: 1.0.0\nsystems:\n  - id: sys\n---\n"},
        {"domains/d/systems/sys/index.mdx",
         "---\nid: sys\nname: Sys\nversion: 1.0.0\nservices:\n  - id: api\n---\n"},
        {"domains/d/systems/sys/services/api/index.mdx",
         "---\nid: api\nname: Api\nversion: 1.0.0\nsends:\n  - id: e\n---\n"},
        {"events/e/index.mdx", "---\nid: e\nname: E\nversion: 1.0.0\n---\n"},
    });
    auto c = LoadCatalog(dir.root());
    ASSERT_TRUE(c.has_value());
    const Graph g(*c);
    const ResourceIndex d = IndexOf(*c, Find(*c, Kind::kDomain, "d", "1.0.0"));
    EXPECT_EQ(g.DomainOf(IndexOf(*c, Find(*c, Kind::kService, "api", "1.0.0"))), d);
    EXPECT_EQ(g.DomainOf(IndexOf(*c, Find(*c, Kind::kEvent, "e", "1.0.0"))), d);
}

TEST(LoaderTest, MissingRootIsNotFound) {
    auto c = LoadCatalog("/nonexistent/acme/catalog");
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace acme::catalog
