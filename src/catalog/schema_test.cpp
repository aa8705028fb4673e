#include "catalog/schema.hpp"

#include <gtest/gtest.h>

namespace acme::catalog {
namespace {

TEST(CheckJsonSchemaTest, AcceptsDraft7Schemas) {
    EXPECT_TRUE(CheckJsonSchema(R"({"type":"object","properties":{"a":{"type":"string"}}})"));
    EXPECT_TRUE(
        CheckJsonSchema(R"({"definitions":{"m":{"type":"integer"}},"$ref":"#/definitions/m"})"));
    EXPECT_TRUE(CheckJsonSchema(R"(true)"));
    EXPECT_TRUE(
        CheckJsonSchema(R"({"$ref":"https://example.com/other.json"})"));  // remote: shape only
}

TEST(CheckJsonSchemaTest, RejectsWithAReason) {
    struct Case {
        const char* text;
        const char* expect;
    };
    for (const Case& c :
         {Case{"{not json", "not valid json"}, Case{R"([1,2])", "must be a json object"},
          Case{R"({"type":"strnig"})", "unknown type"}, Case{R"({"required":"a"})", "required"},
          Case{R"({"properties":{"a":{"type":7}}})", "/properties/a/type"},
          Case{R"({"oneOf":[]})", "oneOf"}, Case{R"({"enum":"x"})", "enum"}}) {
        auto r = CheckJsonSchema(c.text);
        ASSERT_FALSE(r.has_value()) << c.text;
        EXPECT_NE(r.error().message.find(c.expect), std::string::npos)
            << c.text << " -> " << r.error().message;
    }
}

// Schemas valijson cannot compile: each is a finding with the keyword's JSON pointer, never an
// abort (valijson without exceptions aborts) or a crash (a `$ref` loop recursed for ever).
TEST(CheckJsonSchemaTest, RejectsWhatTheValidatorCannotCompileWithAPointer) {
    struct Case {
        const char* text;
        const char* expect;
    };
    for (
        const Case& c : {
            Case{R"({"properties":{"a":{"maximum":"x"}}})",
                 "/properties/a/maximum: must be a number"},
            Case{R"({"$ref":"#/components/schemas/X"})",
                 "/$ref: '#/components/schemas/X' names nothing"},
            Case{
                R"({"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}},"$ref":"#/definitions/a"})",
                "loop"},
            Case{R"({"$ref":"#"})", "loop"},
            Case{R"({"items":{"minLength":-1}})",
                 "/items/minLength: must be a non-negative integer"},
            Case{R"({"properties":{"p":{"pattern":"("}}})", "/properties/p/pattern: not a regular"},
            Case{R"({"not":{"multipleOf":0}})", "/not/multipleOf"},
            Case{R"({"additionalProperties":{"type":"nope"}})", "/additionalProperties/type"},
            Case{R"({"$ref":7})", "/$ref: must be a string"},
        }) {
        auto r = CheckJsonSchema(c.text);
        ASSERT_FALSE(r.has_value()) << c.text;
        EXPECT_NE(r.error().message.find(c.expect), std::string::npos)
            << c.text << " -> " << r.error().message;
    }
    // Recursion through a property is a legitimate schema.
    EXPECT_TRUE(CheckJsonSchema(R"({"properties":{"next":{"$ref":"#"}}})"));
    EXPECT_TRUE(CheckJsonSchema(
        R"({"definitions":{"node":{"properties":{"kids":{"items":{"$ref":"#/definitions/node"}}}}},"$ref":"#/definitions/node"})"));
}

TEST(CheckJsonSchemaTest, RefusesDeepNestingWithoutRecursing) {
    std::string deep;
    for (int i = 0; i < 10'000; ++i) deep += R"({"properties":{"a":)";
    deep += "{}";
    for (int i = 0; i < 10'000; ++i) deep += "}}";
    auto r = CheckJsonSchema(deep);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("levels deep"), std::string::npos) << r.error().message;
    // The differ stops descending at 32 levels rather than recursing 10,000 deep.
    auto same = DiffJsonSchemas(deep, deep);
    ASSERT_TRUE(same.has_value());
    EXPECT_TRUE(same->empty());
}

struct DiffCase {
    const char* name;
    const char* before;
    const char* after;
    SchemaChangeKind kind;
    const char* path;
    bool backward;
    bool forward;
};

void PrintTo(const DiffCase& c, std::ostream* os) { *os << c.name; }

class SchemaDiffTest : public ::testing::TestWithParam<DiffCase> {};

TEST_P(SchemaDiffTest, ClassifiesTheChange) {
    const DiffCase& c = GetParam();
    auto changes = DiffJsonSchemas(c.before, c.after);
    ASSERT_TRUE(changes.has_value());
    ASSERT_EQ(changes->size(), 1u)
        << c.name << ": first is " << (changes->empty() ? "" : (*changes)[0].detail);
    const SchemaChange& ch = (*changes)[0];
    EXPECT_EQ(ch.kind, c.kind) << ch.detail;
    EXPECT_EQ(ch.path, c.path);
    EXPECT_EQ(ch.backward, c.backward) << ch.detail;
    EXPECT_EQ(ch.forward, c.forward) << ch.detail;
}

#define OBJ(props, req) R"({"type":"object","properties":{)" props R"(},"required":[)" req "]}"

INSTANTIATE_TEST_SUITE_P(
    Compatibility, SchemaDiffTest,
    ::testing::Values(
        DiffCase{"optional_added", OBJ(R"("a":{"type":"string"})", R"("a")"),
                 OBJ(R"("a":{"type":"string"},"b":{"type":"string"})", R"("a")"),
                 SchemaChangeKind::kPropertyAdded, "/b", true, true},
        DiffCase{"required_added", OBJ(R"("a":{"type":"string"})", R"("a")"),
                 OBJ(R"("a":{"type":"string"},"b":{"type":"string"})", R"("a","b")"),
                 SchemaChangeKind::kPropertyAdded, "/b", false, true},
        DiffCase{"optional_removed",
                 OBJ(R"("a":{"type":"string"},"b":{"type":"string"})", R"("a")"),
                 OBJ(R"("a":{"type":"string"})", R"("a")"), SchemaChangeKind::kPropertyRemoved,
                 "/b", true, true},
        DiffCase{"required_removed",
                 OBJ(R"("a":{"type":"string"},"b":{"type":"string"})", R"("a","b")"),
                 OBJ(R"("a":{"type":"string"})", R"("a")"), SchemaChangeKind::kPropertyRemoved,
                 "/b", true, false},
        DiffCase{"became_required", OBJ(R"("a":{"type":"string"})", ""),
                 OBJ(R"("a":{"type":"string"})", R"("a")"), SchemaChangeKind::kRequiredAdded, "/a",
                 false, true},
        DiffCase{"became_optional", OBJ(R"("a":{"type":"string"})", R"("a")"),
                 OBJ(R"("a":{"type":"string"})", ""), SchemaChangeKind::kRequiredRemoved, "/a",
                 true, false},
        DiffCase{"type_changed", OBJ(R"("a":{"type":"string"})", ""),
                 OBJ(R"("a":{"type":"integer"})", ""), SchemaChangeKind::kTypeChanged, "/a", false,
                 false},
        DiffCase{"type_widened", OBJ(R"("a":{"type":"integer"})", ""),
                 OBJ(R"("a":{"type":"number"})", ""), SchemaChangeKind::kTypeChanged, "/a", true,
                 false},
        DiffCase{"type_narrowed", OBJ(R"("a":{"type":["string","null"]})", ""),
                 OBJ(R"("a":{"type":"string"})", ""), SchemaChangeKind::kTypeChanged, "/a", false,
                 true},
        DiffCase{"enum_value_added", OBJ(R"("s":{"type":"string","enum":["a","b"]})", ""),
                 OBJ(R"("s":{"type":"string","enum":["a","b","c"]})", ""),
                 SchemaChangeKind::kEnumValueAdded, "/s", true, false},
        DiffCase{"enum_value_removed", OBJ(R"("s":{"type":"string","enum":["a","b"]})", ""),
                 OBJ(R"("s":{"type":"string","enum":["a"]})", ""),
                 SchemaChangeKind::kEnumValueRemoved, "/s", false, true},
        DiffCase{
            "ref_resolved",
            R"({"definitions":{"m":{"type":"object","properties":{"x":{"type":"string"}}}},"type":"object","properties":{"p":{"$ref":"#/definitions/m"}}})",
            R"({"definitions":{"m":{"type":"object","properties":{"x":{"type":"integer"}}}},"type":"object","properties":{"p":{"$ref":"#/definitions/m"}}})",
            SchemaChangeKind::kTypeChanged, "/p/x", false, false},
        DiffCase{"array_items", OBJ(R"("l":{"type":"array","items":{"type":"string"}})", ""),
                 OBJ(R"("l":{"type":"array","items":{"type":"integer"}})", ""),
                 SchemaChangeKind::kTypeChanged, "/l/[]", false, false},
        DiffCase{"one_of_branch_added", R"({"oneOf":[{"type":"string"}]})",
                 R"({"oneOf":[{"type":"string"},{"type":"integer"}]})",
                 SchemaChangeKind::kBranchAdded, "/", true, false},
        DiffCase{"any_of_branch_removed", R"({"anyOf":[{"type":"string"},{"type":"integer"}]})",
                 R"({"anyOf":[{"type":"string"}]})", SchemaChangeKind::kBranchRemoved, "/", false,
                 true},
        DiffCase{"additional_closed", R"({"type":"object"})",
                 R"({"type":"object","additionalProperties":false})",
                 SchemaChangeKind::kAdditionalPropertiesChanged, "/", false, true},
        DiffCase{"additional_opened", R"({"type":"object","additionalProperties":false})",
                 R"({"type":"object"})", SchemaChangeKind::kAdditionalPropertiesChanged, "/", true,
                 false}),
    [](const ::testing::TestParamInfo<DiffCase>& p) { return std::string(p.param.name); });

TEST(SchemaDiffTest, ClosedSchemasMakeAddedAndRemovedPropertiesBreak) {
    auto added = DiffJsonSchemas(
        R"({"type":"object","additionalProperties":false,"properties":{"a":{}}})",
        R"({"type":"object","additionalProperties":false,"properties":{"a":{},"b":{}}})");
    ASSERT_TRUE(added.has_value());
    ASSERT_EQ(added->size(), 1u);
    EXPECT_FALSE((*added)[0].forward);  // old consumers reject the new field
    EXPECT_TRUE((*added)[0].Breaking());
}

TEST(SchemaDiffTest, IdenticalSchemasHaveNoChanges) {
    auto same = DiffJsonSchemas(OBJ(R"("a":{"type":"string"})", R"("a")"),
                                OBJ(R"("a":{"type":"string"})", R"("a")"));
    ASSERT_TRUE(same.has_value());
    EXPECT_TRUE(same->empty());
    EXPECT_FALSE(DiffJsonSchemas("{", "{}").has_value());
}

}  // namespace
}  // namespace acme::catalog
