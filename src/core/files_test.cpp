#include "core/files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include <sys/resource.h>
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

namespace acme {
namespace {

namespace fs = std::filesystem;

class WalkTreeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("acme-walk-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Every file WalkTree reports, with the text ReadFileAt reads (or "!" and the error).
    std::map<std::string, std::string> Walk(std::size_t threads) {
        std::mutex mu;
        std::map<std::string, std::string> seen;
        WalkTree(
            dir_, [](std::string_view name) { return name == "skipped"; },
            [&](const TreeEntry& e) {
                auto text = ReadFileAt(e.dir_fd, std::string(e.name).c_str(), e.rel);
                std::lock_guard lock(mu);
                seen[std::string(e.rel)] =
                    std::to_string(e.depth) + ":" + (text ? *text : "!" + text.error().message);
            },
            threads);
        return seen;
    }
    fs::path dir_;
};

TEST_F(WalkTreeTest, FindsEveryFileOnceWithItsDepthAndReadsItThroughItsFolder) {
    fs::create_directories(dir_ / "a" / "b");
    fs::create_directories(dir_ / "skipped");
    ASSERT_TRUE(WriteFile(dir_ / "top.md", "t"));
    ASSERT_TRUE(WriteFile(dir_ / "a" / "one.md", "1"));
    ASSERT_TRUE(WriteFile(dir_ / "a" / "b" / "two.md", "2"));
    ASSERT_TRUE(WriteFile(dir_ / "skipped" / "no.md", "x"));
    for (std::size_t threads : {1u, 2u, 4u}) {
        const auto seen = Walk(threads);
        EXPECT_EQ(seen, (std::map<std::string, std::string>{
                            {"a/b/two.md", "2:2"}, {"a/one.md", "1:1"}, {"top.md", "0:t"}}))
            << threads;
    }
}

// A link to a folder above is not followed (the walk ends); a looping link, a FIFO and a
// dangling link are reported as entries, and reading them fails without blocking.
TEST_F(WalkTreeTest, LinksAreNotFollowedAndOddEntriesAreRefusedByTheReader) {
    fs::create_directories(dir_ / "d");
    fs::create_directory_symlink(dir_, dir_ / "d" / "up");
    fs::create_symlink(dir_ / "loop", dir_ / "loop");
    fs::create_symlink(dir_ / "nowhere", dir_ / "dangling");
    ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
    const auto seen = Walk(2);
    EXPECT_FALSE(seen.contains("d/up/d/up")) << "followed a link to a folder";
    for (const char* name : {"loop", "dangling", "fifo"}) {
        ASSERT_TRUE(seen.contains(name)) << name;
        EXPECT_EQ(seen.at(name).substr(0, 3), "0:!") << name << " " << seen.at(name);
    }
}

// Thousands of sibling folders with few descriptors: folders wait by path, not held open.
TEST_F(WalkTreeTest, ManyFoldersNeedFewDescriptors) {
    constexpr int kFolders = 1500;
    for (int i = 0; i < kFolders; ++i) {
        const fs::path d = dir_ / "many" / std::to_string(i);
        fs::create_directories(d);
        ASSERT_TRUE(WriteFile(d / "index.md", std::to_string(i)));
    }
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    rlimit low = old;
    low.rlim_cur = 128;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    const auto seen = Walk(2);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kFolders));
    EXPECT_EQ(seen.at("many/77/index.md"), "2:77");
}

TEST_F(WalkTreeTest, AnExceptionFromTheCallbackStopsTheWalkAndReachesTheCaller) {
    for (int i = 0; i < 50; ++i) {
        fs::create_directories(dir_ / std::to_string(i));
        ASSERT_TRUE(WriteFile(dir_ / std::to_string(i) / "f", "x"));
    }
    EXPECT_THROW(WalkTree(
                     dir_, [](std::string_view) { return false; },
                     [](const TreeEntry&) { throw std::runtime_error("stop"); }, 2),
                 std::runtime_error);
}

}  // namespace
}  // namespace acme
