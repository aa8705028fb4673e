// One small fixture catalog per lint rule: a case that fires and one that does not.
#include "catalog/lint.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "catalog/loader.hpp"
#include "catalog/test_catalog.hpp"

namespace acme::catalog {
namespace {

using Files = std::map<std::string, std::string>;

struct RuleCase {
    std::string rule;
    Files fires;
    Files clean;
    int line = 0;  // expected line of the finding in `fires`, 0 to skip
};

std::string Res(std::string_view id, std::string_view extra = {},
                std::string_view version = "1.0.0", std::string_view owners = "owners: [t]\n") {
    return "---\nid: " + std::string(id) + "\nname: " + std::string(id) +
           "\nversion: " + std::string(version) + "\n" + std::string(owners) + std::string(extra) +
           "---\n";
}

Files With(Files files) {
    files.emplace("teams/t.mdx", "---\nid: t\nname: T\n---\n");
    return files;
}

// A producer and a consumer for event `e`, so message rules stay quiet.
Files PubSub(Files extra = {}) {
    Files f = {{"events/e/index.mdx", Res("e")},
               {"services/p/index.mdx", Res("p", "sends:\n  - id: e\n")},
               {"services/c/index.mdx", Res("c", "receives:\n  - id: e\n")}};
    for (auto& [k, v] : extra) f[k] = v;
    return f;
}

std::string Flow(std::string_view steps) { return Res("f", "steps:\n" + std::string(steps)); }

const std::string kSchemaV1 =
    R"({"type":"object","required":["id","sku"],"properties":{"id":{"type":"string"},"sku":{"type":"string"}}})";
const std::string kSchemaDropped =
    R"({"type":"object","required":["id"],"properties":{"id":{"type":"string"}}})";
const std::string kSchemaAddedOptional =
    R"({"type":"object","required":["id","sku"],"properties":{"id":{"type":"string"},"sku":{"type":"string"},"note":{"type":"string"}}})";

std::vector<RuleCase> Cases() {
    return {
        {"yaml/syntax", PubSub({{"events/e/index.mdx", "---\nid: e\nname: [x\n---\n"}}), PubSub(),
         3},
        {"yaml/duplicate-key", PubSub({{"events/e/index.mdx", Res("e", "name: again\n")}}),
         PubSub(), 6},
        {"frontmatter/missing", PubSub({{"events/x/index.mdx", "# no frontmatter\n"}}), PubSub(),
         1},
        {"frontmatter/invalid-type", PubSub({{"services/p/index.mdx", Res("p", "sends: e\n")}}),
         PubSub(), 6},
        {"frontmatter/required-field",
         PubSub({{"events/e/index.mdx", "---\nid: e\nname: e\nowners: [t]\n---\n"}}), PubSub(), 0},
        {"version/not-semver", PubSub({{"events/e/index.mdx", Res("e", "", "1.0")}}), PubSub(), 4},
        {"resource/duplicate", PubSub({{"events/e2/index.mdx", Res("e")}}), PubSub(), 2},
        {"ref/unknown-resource",
         PubSub({{"services/c/index.mdx", Res("c", "receives:\n  - id: e\n  - id: ghost\n")}}),
         PubSub(), 8},
        {"ref/unknown-type",
         PubSub({{"domains/d/index.mdx",
                  Res("d",
                      "resourceGroups:\n  - id: g\n    items:\n      - id: e\n        "
                      "type: evnt\n")}}),
         PubSub({{"domains/d/index.mdx",
                  Res("d",
                      "resourceGroups:\n  - id: g\n    items:\n      - id: e\n        "
                      "type: event\n")}}),
         10},
        {"ref/unknown-version",
         PubSub(
             {{"services/c/index.mdx", Res("c", "receives:\n  - id: e\n    version: ^2.0.0\n")}}),
         PubSub(
             {{"services/c/index.mdx", Res("c", "receives:\n  - id: e\n    version: ^1.0.0\n")}}),
         7},
        {"owner/unknown",
         PubSub({{"events/e/index.mdx", Res("e", "", "1.0.0", "owners: [nobody]\n")}}), PubSub(),
         5},
        {"owner/missing", PubSub({{"events/e/index.mdx", Res("e", "", "1.0.0", "")}}), PubSub(), 2},
        {"message/no-consumer", PubSub({{"services/c/index.mdx", Res("c")}}), PubSub(), 2},
        {"message/no-producer", PubSub({{"services/p/index.mdx", Res("p")}}), PubSub(), 2},
        {"command/multiple-receivers",
         {{"commands/k/index.mdx", Res("k")},
          {"services/p/index.mdx", Res("p", "sends:\n  - id: k\n")},
          {"services/a/index.mdx", Res("a", "receives:\n  - id: k\n")},
          {"services/b/index.mdx", Res("b", "receives:\n  - id: k\n")}},
         {{"commands/k/index.mdx", Res("k")},
          {"services/p/index.mdx", Res("p", "sends:\n  - id: k\n")},
          {"services/a/index.mdx", Res("a", "receives:\n  - id: k\n")}},
         2},
        {"schema/missing-file",
         PubSub({{"events/e/index.mdx", Res("e", "schemaPath: schema.json\n")}}),
         PubSub({{"events/e/index.mdx", Res("e", "schemaPath: schema.json\n")},
                 {"events/e/schema.json", kSchemaV1}}),
         6},
        {"schema/invalid",
         PubSub({{"events/e/index.mdx", Res("e", "schemaPath: schema.json\n")},
                 {"events/e/schema.json", R"({"type":"strnig"})"}}),
         PubSub({{"events/e/index.mdx", Res("e", "schemaPath: schema.json\n")},
                 {"events/e/schema.json", kSchemaV1}}),
         6},
        {"spec/missing-file",
         PubSub({{"services/p/index.mdx",
                  Res("p", "sends:\n  - id: e\nspecifications:\n  openapiPath: openapi.yml\n")}}),
         PubSub({{"services/p/index.mdx",
                  Res("p", "sends:\n  - id: e\nspecifications:\n  openapiPath: openapi.yml\n")},
                 {"services/p/openapi.yml", "openapi: 3.0.3\n"}}),
         9},
        {"version/breaking-without-major",
         PubSub({{"events/e/index.mdx", Res("e", "schemaPath: schema.json\n", "1.1.0")},
                 {"events/e/schema.json", kSchemaDropped},
                 {"events/e/versioned/1.0.0/index.mdx", Res("e", "schemaPath: schema.json\n")},
                 {"events/e/versioned/1.0.0/schema.json", kSchemaV1}}),
         PubSub({{"events/e/index.mdx", Res("e", "schemaPath: schema.json\n", "1.1.0")},
                 {"events/e/schema.json", kSchemaAddedOptional},
                 {"events/e/versioned/1.0.0/index.mdx", Res("e", "schemaPath: schema.json\n")},
                 {"events/e/versioned/1.0.0/schema.json", kSchemaV1}}),
         4},
        {"flow/unknown-step",
         PubSub({{"flows/f/index.mdx", Flow("  - id: a\n    title: A\n    next_step: zz\n")}}),
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    next_step: b\n  - id: b\n    title: B\n")}}),
         9},
        {"flow/unreachable-step",
         PubSub(
             {{"flows/f/index.mdx", Flow("  - id: a\n    title: A\n  - id: b\n    title: B\n")}}),
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    next_step: b\n  - id: b\n    title: B\n")}}),
         9},
        {"flow/cycle-without-exit",
         PubSub({{"flows/f/index.mdx", Flow("  - id: a\n    title: A\n    next_step: b\n"
                                            "  - id: b\n    title: B\n    next_step: a\n")}}),
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    next_step: b\n  - id: b\n    title: B\n"
                       "    next_steps: [a, c]\n  - id: c\n    title: C\n")}}),
         7},
        {"flow/duplicate-step-id",
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    next_step: a2\n  - id: a\n    title: B\n"
                       "  - id: a2\n    title: C\n")}}),
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    next_step: b\n  - id: b\n    title: B\n")}}),
         10},
        {"flow/step-kind-conflict",
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    message: {id: e}\n    service: {id: p}\n")}}),
         PubSub({{"flows/f/index.mdx", Flow("  - id: a\n    title: A\n    message: {id: e}\n")}}),
         7},
        {"flow/next-step-conflict",
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    next_step: b\n    next_steps: [b]\n"
                       "  - id: b\n    title: B\n")}}),
         PubSub(
             {{"flows/f/index.mdx",
               Flow("  - id: a\n    title: A\n    next_steps: [b]\n  - id: b\n    title: B\n")}}),
         7},
        {"flow/undeclared-edge",
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    service: {id: c}\n    next_step: b\n"
                       "  - id: b\n    title: B\n    message: {id: e}\n")}}),
         PubSub({{"flows/f/index.mdx",
                  Flow("  - id: a\n    title: A\n    service: {id: p}\n    next_step: b\n"
                       "  - id: b\n    title: B\n    message: {id: e}\n    next_step: c\n"
                       "  - id: c\n    title: C\n    service: {id: c}\n")}}),
         10},
    };
}

void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.rule; }

class LintRuleTest : public ::testing::TestWithParam<RuleCase> {};

LintReport LintFiles(const Files& files) {
    testing::TempCatalog dir(With(files));
    auto catalog = LoadCatalog(dir.root());
    EXPECT_TRUE(catalog.has_value());
    const Graph graph(*catalog);
    return Lint(*catalog, graph);
}

TEST_P(LintRuleTest, FiresOnItsFixtureOnly) {
    const RuleCase& c = GetParam();
    const LintReport fires = LintFiles(c.fires);
    auto hit = std::find_if(fires.diagnostics.begin(), fires.diagnostics.end(),
                            [&](const Diagnostic& d) { return d.rule == c.rule; });
    ASSERT_NE(hit, fires.diagnostics.end()) << c.rule << " did not fire";
    EXPECT_FALSE(hit->file.empty());
    if (c.line != 0) {
        EXPECT_EQ(hit->line, c.line) << hit->message;
    }
    const LintReport clean = LintFiles(c.clean);
    for (const Diagnostic& d : clean.diagnostics) {
        EXPECT_NE(d.rule, c.rule) << d.file << ":" << d.line << " " << d.message;
    }
}

INSTANTIATE_TEST_SUITE_P(Rules, LintRuleTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<RuleCase>& p) {
                             std::string name = p.param.rule;
                             std::replace_if(
                                 name.begin(), name.end(),
                                 [](char ch) {
                                     return !std::isalnum(static_cast<unsigned char>(ch));
                                 },
                                 '_');
                             return name;
                         });

TEST(LintTest, EveryRuleHasAFixture) {
    std::set<std::string> covered;
    for (const RuleCase& c : Cases()) covered.insert(c.rule);
    for (const RuleInfo& r : LintRules()) {
        if (r.id == "file/unreadable") continue;  // needs an unreadable file; root can read all
        EXPECT_TRUE(covered.contains(std::string(r.id))) << r.id << " has no fixture";
    }
}

TEST(LintTest, CleanBaselineHasNoFindings) {
    const LintReport report = LintFiles(PubSub());
    EXPECT_EQ(report.errors, 0u);
    EXPECT_EQ(report.warnings, 0u);
    for (const Diagnostic& d : report.diagnostics) ADD_FAILURE() << d.rule << " " << d.message;
}

}  // namespace
}  // namespace acme::catalog
