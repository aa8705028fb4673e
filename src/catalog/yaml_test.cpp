#include "catalog/yaml.hpp"

#include <gtest/gtest.h>

namespace acme::catalog {
namespace {

TEST(YamlTest, ParsesMapsSequencesAndLines) {
    auto doc = ParseYaml(
        "id: cart-api\nversion: 1.0.0\nsends:\n  - id: cart-checked-out\n"
        "    version: ^1.0.0\n",
        2);
    ASSERT_TRUE(doc.has_value());
    const YamlNode& root = doc->root;
    ASSERT_TRUE(root.IsMap());
    EXPECT_EQ(root.Find("id")->value, "cart-api");
    EXPECT_EQ(root.Find("id")->line, 2);
    const YamlNode* sends = root.Find("sends");
    ASSERT_NE(sends, nullptr);
    ASSERT_TRUE(sends->IsSeq());
    EXPECT_EQ(sends->items[0].Find("version")->value, "^1.0.0");
    EXPECT_EQ(sends->items[0].line, 5);
}

TEST(YamlTest, RefusesAnAliasBombBeforeExpandingIt) {
    // Ten copies per level, nine levels: 10^9 nodes if expanded.
    std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 9; ++i) {
        const std::string p = "*a" + std::to_string(i - 1);
        text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) text += (k == 0 ? "" : ", ") + p;
        text += "]\n";
    }
    auto doc = ParseYaml(text);
    ASSERT_FALSE(doc.has_value());
    EXPECT_NE(doc.error().message.find("aliases expand the document"), std::string::npos)
        << doc.error().message;
    EXPECT_GT(doc.error().line, 1);
}

TEST(YamlTest, RefusesDeepNesting) {
    const std::string deep = "sends: " + std::string(10'000, '[') + std::string(10'000, ']');
    auto doc = ParseYaml(deep);
    ASSERT_FALSE(doc.has_value());
    EXPECT_NE(doc.error().message.find("levels deep"), std::string::npos) << doc.error().message;
    const std::string fine = "sends: " + std::string(100, '[') + std::string(100, ']');
    EXPECT_TRUE(ParseYaml(fine).has_value());
}

TEST(YamlTest, ResolvesAnchorsAliasesAndMergeKeys) {
    auto doc = ParseYaml(
        "base: &b {version: 1.0.0, owners: [a]}\n"
        "ptr:\n  <<: *b\n  id: x\n  version: 2.0.0\n"
        "copy: *b\n");
    ASSERT_TRUE(doc.has_value());
    const YamlNode* ptr = doc->root.Find("ptr");
    ASSERT_NE(ptr, nullptr);
    EXPECT_EQ(ptr->Find("id")->value, "x");
    EXPECT_EQ(ptr->Find("version")->value, "2.0.0");  // own key wins over the merge
    EXPECT_EQ(ptr->Find("owners")->items.size(), 1u);
    EXPECT_EQ(doc->root.Find("copy")->Find("version")->value, "1.0.0");
}

TEST(YamlTest, BlockScalarsAndQuotedStyle) {
    auto doc = ParseYaml("summary: |\n  line one\n  line two\nversion: '1.0'\nplain: 1.0\n");
    ASSERT_TRUE(doc.has_value());
    EXPECT_EQ(doc->root.Find("summary")->value, "line one\nline two\n");
    EXPECT_EQ(doc->root.Find("summary")->style, ScalarStyle::kBlock);
    EXPECT_EQ(doc->root.Find("version")->style, ScalarStyle::kQuoted);
    EXPECT_EQ(doc->root.Find("plain")->style, ScalarStyle::kPlain);
}

TEST(YamlTest, ReportsSyntaxErrorsWithFileLine) {
    auto doc = ParseYaml("id: x\nname: [unclosed\nversion: 1.0.0\n", 2);
    ASSERT_FALSE(doc.has_value());
    EXPECT_GE(doc.error().line, 3);
    EXPECT_FALSE(doc.error().message.empty());
}

TEST(YamlTest, FlagsDuplicateKeys) {
    auto doc = ParseYaml("id: a\nid: b\n");
    ASSERT_TRUE(doc.has_value());
    ASSERT_EQ(doc->issues.size(), 1u);
    EXPECT_EQ(doc->issues[0].key, "id");
    EXPECT_EQ(doc->issues[0].line, 2);
    EXPECT_EQ(doc->root.Find("id")->value, "b");
}

TEST(YamlTest, NullAndTrue) {
    auto doc = ParseYaml("a: ~\nb:\nc: true\nd: 'true'\n");
    ASSERT_TRUE(doc.has_value());
    EXPECT_TRUE(doc->root.Find("a")->IsNull());
    EXPECT_TRUE(doc->root.Find("b")->IsNull());
    EXPECT_TRUE(doc->root.Find("c")->IsTrue());
    EXPECT_FALSE(doc->root.Find("d")->IsTrue());
}

TEST(FrontmatterTest, SplitsFencesAndKeepsBody) {
    const std::string file = "---\nid: x\n---\n# Title\n\n<NodeGraph />\n";
    const Frontmatter fm = SplitFrontmatter(file);
    ASSERT_TRUE(fm.present);
    EXPECT_EQ(fm.yaml, "id: x\n");
    EXPECT_EQ(fm.yaml_first_line, 2);
    EXPECT_EQ(fm.body, "# Title\n\n<NodeGraph />\n");
}

TEST(FrontmatterTest, HandlesCrlfAndMissingFences) {
    EXPECT_TRUE(SplitFrontmatter("---\r\nid: x\r\n---\r\nbody").present);
    EXPECT_FALSE(SplitFrontmatter("# no frontmatter\n").present);
    EXPECT_FALSE(SplitFrontmatter("---\nid: x\nno closing fence\n").present);
}

}  // namespace
}  // namespace acme::catalog
