#include "catalog/semver.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string>

namespace acme::catalog {
namespace {

Semver V(std::string_view s) {
    auto v = Semver::Parse(s);
    EXPECT_TRUE(v.has_value()) << s;
    return v.value_or(Semver{});
}

TEST(SemverTest, ParsesAndRejects) {
    EXPECT_EQ(V("1.2.3").ToString(), "1.2.3");
    EXPECT_EQ(V("v1.2.3-beta.1+build.5").ToString(), "1.2.3-beta.1");
    for (const char* bad : {"1", "1.2", "1.2.3.4", "01.2.3", "a.b.c", "1.2.3-", "", "1.x"}) {
        EXPECT_FALSE(Semver::Parse(bad).has_value()) << bad;
    }
}

TEST(SemverTest, OrdersByPrecedence) {
    EXPECT_LT(V("1.0.0"), V("1.0.1"));
    EXPECT_LT(V("1.9.0"), V("1.10.0"));
    EXPECT_LT(V("1.0.0-alpha"), V("1.0.0"));
    EXPECT_LT(V("1.0.0-alpha"), V("1.0.0-alpha.1"));
    EXPECT_LT(V("1.0.0-alpha.2"), V("1.0.0-alpha.10"));
    EXPECT_LT(V("1.0.0-1"), V("1.0.0-alpha"));
    EXPECT_EQ(V("1.0.0+a"), V("1.0.0+b"));
}

struct RangeCase {
    const char* range;
    const char* version;
    bool matches;
};

void PrintTo(const RangeCase& c, std::ostream* os) {
    *os << '"' << c.range << "\" vs " << c.version << (c.matches ? " matches" : " does not match");
}

class RangeTest : public ::testing::TestWithParam<RangeCase> {};

TEST_P(RangeTest, Matches) {
    const RangeCase& c = GetParam();
    auto range = VersionRange::Parse(c.range);
    ASSERT_TRUE(range.has_value()) << c.range;
    EXPECT_EQ(range->Matches(V(c.version)), c.matches) << c.range << " vs " << c.version;
}

INSTANTIATE_TEST_SUITE_P(
    Npm, RangeTest,
    ::testing::Values(
        RangeCase{"latest", "9.9.9", true}, RangeCase{"", "0.0.1", true},
        RangeCase{"1.2.3", "1.2.3", true}, RangeCase{"1.2.3", "1.2.4", false},
        RangeCase{"^1.2.3", "1.9.0", true}, RangeCase{"^1.2.3", "2.0.0", false},
        RangeCase{"^1.2.3", "1.2.2", false}, RangeCase{"^0.2.3", "0.2.9", true},
        RangeCase{"^0.2.3", "0.3.0", false}, RangeCase{"^0.0.3", "0.0.4", false},
        RangeCase{"~1.2.3", "1.2.9", true}, RangeCase{"~1.2.3", "1.3.0", false},
        RangeCase{"1.x", "1.7.2", true}, RangeCase{"1.x", "2.0.0", false},
        RangeCase{"0.0.x", "0.0.7", true}, RangeCase{"0.0.x", "0.1.0", false},
        RangeCase{"1.2.x", "1.2.0", true}, RangeCase{"*", "3.0.0", true},
        RangeCase{">=1.0.0 <2.0.0", "1.5.0", true}, RangeCase{">=1.0.0 <2.0.0", "2.0.0", false},
        RangeCase{"1.x || 3.x", "3.1.0", true}, RangeCase{"1.x || 3.x", "2.1.0", false},
        RangeCase{"^1.0.0", "1.1.0-beta", false}, RangeCase{"1.0.0-beta", "1.0.0-beta", true}),
    // Stable names (the default prints the struct's bytes, which change with every build):
    // the case's index, range, version and expectation.
    [](const ::testing::TestParamInfo<RangeCase>& p) {
        std::string name = std::to_string(p.index) + "_" +
                           (*p.param.range != 0 ? p.param.range : "empty") + "_vs_" +
                           p.param.version + (p.param.matches ? "_matches" : "_does_not_match");
        for (char& ch : name) {
            if (std::isalnum(static_cast<unsigned char>(ch)) == 0) ch = '_';
        }
        return name;
    });

TEST(RangeTest, RejectsGarbage) {
    for (const char* bad : {"^abc", "1.2.3.4", "~", ">=x.y", "1.2.3-"}) {
        EXPECT_FALSE(VersionRange::Parse(bad).has_value()) << bad;
    }
    EXPECT_TRUE(VersionRange::Parse("latest")->IsLatest());
    EXPECT_TRUE(VersionRange::Parse("1.0.0")->IsExact());
    EXPECT_FALSE(VersionRange::Parse("^1.0.0")->IsExact());
}

}  // namespace
}  // namespace acme::catalog
