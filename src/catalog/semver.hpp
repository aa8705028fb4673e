// Semantic versions and the version pointers catalogs use.
//
// A pointer's version is `latest` (or absent), an exact version, or a range in npm's
// grammar: `^1.2.3`, `~1.2.3`, `1.x`, `1.2.x`, `*`, comparators (`>=1.0.0 <2.0.0`) and `||`.
// Parsing happens once, at load; matching is integer comparison.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace acme::catalog {

struct Semver {
    std::uint64_t major = 0;
    std::uint64_t minor = 0;
    std::uint64_t patch = 0;
    std::string prerelease;  // dot-separated identifiers; empty for a release

    // Parses `MAJOR.MINOR.PATCH[-pre][+build]` (a leading `v` is accepted); nullopt otherwise.
    [[nodiscard]] static std::optional<Semver> Parse(std::string_view text);

    [[nodiscard]] std::string ToString() const;
    [[nodiscard]] std::strong_ordering operator<=>(const Semver& other) const;
    [[nodiscard]] bool operator==(const Semver& other) const;

    [[nodiscard]] Semver NextMajor() const { return {major + 1, 0, 0, {}}; }
    [[nodiscard]] Semver NextMinor() const { return {major, minor + 1, 0, {}}; }
    [[nodiscard]] Semver NextPatch() const { return {major, minor, patch + 1, {}}; }
};

// A parsed version pointer.
class VersionRange {
  public:
    // Parses a pointer version. nullopt when it is neither `latest`, a version nor a range.
    [[nodiscard]] static std::optional<VersionRange> Parse(std::string_view text);

    [[nodiscard]] bool IsLatest() const { return latest_; }
    [[nodiscard]] bool IsExact() const;
    [[nodiscard]] bool Matches(const Semver& version) const;

  private:
    enum class Op { kEq, kLt, kLe, kGt, kGe };
    struct Comparator {
        Op op;
        Semver version;
    };
    using ComparatorSet = std::vector<Comparator>;  // all must hold

    static bool ParseComparatorSet(std::string_view text, ComparatorSet& out);
    static bool ParseTerm(std::string_view term, ComparatorSet& out);

    bool latest_ = false;
    std::vector<ComparatorSet> any_of_;
};

}  // namespace acme::catalog
