#include "core/clock.hpp"

#include <gtest/gtest.h>

#include <set>

namespace acme {
namespace {

TEST(ClockTest, FormatsRfc3339) {
    EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(FormatTime(1'764'075'600'123), "2025-11-25T13:00:00.123Z");
    EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(FormatTime(951'782'400'007), "2000-02-29T00:00:00.007Z");
}

TEST(IdGeneratorTest, UuidV7IsWellFormedUniqueAndTimeOrdered) {
    ManualClock clock;
    IdGenerator ids(clock, 42);
    std::set<std::string> seen;
    std::string previous;
    for (int i = 0; i < 1000; ++i) {
        if (i % 100 == 0) clock.Advance(1);
        const std::string id = ids.Next();
        ASSERT_EQ(id.size(), 36u);
        EXPECT_EQ(id[14], '7');
        EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
        EXPECT_TRUE(seen.insert(id).second);
        if (i % 100 == 0 && !previous.empty()) {
            EXPECT_GT(id.substr(0, 13), previous.substr(0, 13));
        }
        previous = id;
    }
}

}  // namespace
}  // namespace acme
