#include "core/files.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

namespace acme {
namespace {

namespace fs = std::filesystem;

class ReadFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("acme-files-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(ReadFileTest, ReadsARegularFile) {
    ASSERT_TRUE(WriteFile(dir_ / "a.txt", std::string("hello\0world", 11)));
    auto text = ReadFile(dir_ / "a.txt");
    ASSERT_TRUE(text.has_value());
    EXPECT_EQ(*text, std::string("hello\0world", 11));
    auto missing = ReadFile(dir_ / "none.txt");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// A FIFO would block the reader for ever, a device may never end: both are refused at once.
TEST_F(ReadFileTest, RefusesWhatIsNotARegularFile) {
    ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
    fs::create_symlink("/dev/zero", dir_ / "zero");
    fs::create_directories(dir_ / "dir.md");
    for (const char* name : {"fifo", "zero", "dir.md"}) {
        auto r = ReadFile(dir_ / name);
        ASSERT_FALSE(r.has_value()) << name;
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << name;
        EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos)
            << r.error().message;
    }
}

TEST_F(ReadFileTest, RefusesAFileOverTheLimit) {
    ASSERT_TRUE(WriteFile(dir_ / "big", std::string(5000, 'x')));
    auto r = ReadFile(dir_ / "big", 4096);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("larger than 4096 bytes"), std::string::npos);
    EXPECT_EQ(ReadFile(dir_ / "big", 5000).value_or("").size(), 5000u);
}

}  // namespace
}  // namespace acme
