#include "catalog/semver.hpp"

#include <charconv>

namespace acme::catalog {

namespace {

bool ParseNumber(std::string_view text, std::uint64_t& out) {
    if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end;
}

bool IsNumeric(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

bool ValidIdentifiers(std::string_view s) {
    if (s.empty()) return false;
    std::size_t start = 0;
    while (start <= s.size()) {
        const std::size_t dot = s.find('.', start);
        const std::string_view part =
            s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (part.empty()) return false;
        for (char c : part) {
            const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                            (c >= 'A' && c <= 'Z') || c == '-';
            if (!ok) return false;
        }
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return true;
}

std::strong_ordering ComparePrerelease(std::string_view a, std::string_view b) {
    if (a == b) return std::strong_ordering::equal;
    if (a.empty()) return std::strong_ordering::greater;  // a release outranks its prerelease
    if (b.empty()) return std::strong_ordering::less;
    for (;;) {
        const std::size_t da = a.find('.');
        const std::size_t db = b.find('.');
        const std::string_view pa = a.substr(0, da);
        const std::string_view pb = b.substr(0, db);
        if (pa != pb) {
            const bool na = IsNumeric(pa);
            const bool nb = IsNumeric(pb);
            if (na && nb) {
                if (pa.size() != pb.size()) return pa.size() <=> pb.size();
                return pa.compare(pb) <=> 0;
            }
            if (na != nb) return na ? std::strong_ordering::less : std::strong_ordering::greater;
            return pa.compare(pb) <=> 0;
        }
        if (da == std::string_view::npos || db == std::string_view::npos) {
            if (da == db) return std::strong_ordering::equal;
            return da == std::string_view::npos ? std::strong_ordering::less
                                                : std::strong_ordering::greater;
        }
        a.remove_prefix(da + 1);
        b.remove_prefix(db + 1);
    }
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool IsWildcard(std::string_view s) { return s == "x" || s == "X" || s == "*"; }

// A partial version such as `1`, `1.2`, `1.x`, `1.2.*`: the numbers before the first
// wildcard or gap, and how many there were.
struct Partial {
    std::uint64_t parts[3] = {0, 0, 0};
    int given = 0;
    std::string prerelease;
};

bool ParsePartial(std::string_view text, Partial& out) {
    if (!text.empty() && (text[0] == 'v' || text[0] == '=')) text.remove_prefix(1);
    if (const std::size_t plus = text.find('+'); plus != std::string_view::npos) {
        text = text.substr(0, plus);
    }
    if (const std::size_t dash = text.find('-'); dash != std::string_view::npos) {
        out.prerelease = std::string(text.substr(dash + 1));
        if (!ValidIdentifiers(out.prerelease)) return false;
        text = text.substr(0, dash);
    }
    if (text.empty()) return false;
    int index = 0;
    bool wildcard = false;
    std::size_t start = 0;
    while (start <= text.size()) {
        if (index == 3) return false;
        const std::size_t dot = text.find('.', start);
        const std::string_view part = text.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (IsWildcard(part)) {
            wildcard = true;
        } else if (wildcard || !ParseNumber(part, out.parts[index])) {
            return false;
        } else {
            out.given = index + 1;
        }
        ++index;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return out.prerelease.empty() || out.given == 3;
}

}  // namespace

std::optional<Semver> Semver::Parse(std::string_view text) {
    if (!text.empty() && text[0] == 'v') text.remove_prefix(1);
    Semver v;
    if (const std::size_t plus = text.find('+'); plus != std::string_view::npos) {
        if (!ValidIdentifiers(text.substr(plus + 1))) return std::nullopt;
        text = text.substr(0, plus);
    }
    if (const std::size_t dash = text.find('-'); dash != std::string_view::npos) {
        v.prerelease = std::string(text.substr(dash + 1));
        if (!ValidIdentifiers(v.prerelease)) return std::nullopt;
        text = text.substr(0, dash);
    }
    const std::size_t d1 = text.find('.');
    if (d1 == std::string_view::npos) return std::nullopt;
    const std::size_t d2 = text.find('.', d1 + 1);
    if (d2 == std::string_view::npos) return std::nullopt;
    if (!ParseNumber(text.substr(0, d1), v.major) ||
        !ParseNumber(text.substr(d1 + 1, d2 - d1 - 1), v.minor) ||
        !ParseNumber(text.substr(d2 + 1), v.patch)) {
        return std::nullopt;
    }
    return v;
}

std::string Semver::ToString() const {
    std::string out =
        std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    if (!prerelease.empty()) out += "-" + prerelease;
    return out;
}

std::strong_ordering Semver::operator<=>(const Semver& other) const {
    if (auto c = major <=> other.major; c != 0) return c;
    if (auto c = minor <=> other.minor; c != 0) return c;
    if (auto c = patch <=> other.patch; c != 0) return c;
    return ComparePrerelease(prerelease, other.prerelease);
}

bool Semver::operator==(const Semver& other) const {
    return (*this <=> other) == std::strong_ordering::equal;
}

std::optional<VersionRange> VersionRange::Parse(std::string_view text) {
    text = Trim(text);
    VersionRange range;
    if (text.empty() || text == "latest") {
        range.latest_ = true;
        return range;
    }
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t bar = text.find("||", start);
        const std::string_view part = text.substr(
            start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
        ComparatorSet set;
        if (!ParseComparatorSet(Trim(part), set)) return std::nullopt;
        range.any_of_.push_back(std::move(set));
        if (bar == std::string_view::npos) break;
        start = bar + 2;
    }
    return range;
}

bool VersionRange::ParseComparatorSet(std::string_view text, ComparatorSet& out) {
    if (text.empty()) return false;
    std::size_t start = 0;
    while (start < text.size()) {
        while (start < text.size() && text[start] == ' ') ++start;
        if (start >= text.size()) break;
        std::size_t end = text.find(' ', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view term = text.substr(start, end - start);
        // Allow `>= 1.0.0` with a space after the operator.
        if ((term == ">=" || term == "<=" || term == ">" || term == "<" || term == "=") &&
            end < text.size()) {
            std::size_t next = end;
            while (next < text.size() && text[next] == ' ') ++next;
            std::size_t next_end = text.find(' ', next);
            if (next_end == std::string_view::npos) next_end = text.size();
            std::string joined =
                std::string(term) + std::string(text.substr(next, next_end - next));
            if (!ParseTerm(joined, out)) return false;
            start = next_end;
            continue;
        }
        if (!ParseTerm(term, out)) return false;
        start = end;
    }
    return true;
}

bool VersionRange::ParseTerm(std::string_view term, ComparatorSet& out) {
    Op op = Op::kEq;
    char prefix = 0;
    if (term.starts_with(">=")) {
        op = Op::kGe;
        term.remove_prefix(2);
    } else if (term.starts_with("<=")) {
        op = Op::kLe;
        term.remove_prefix(2);
    } else if (term.starts_with(">")) {
        op = Op::kGt;
        term.remove_prefix(1);
    } else if (term.starts_with("<")) {
        op = Op::kLt;
        term.remove_prefix(1);
    } else if (term.starts_with("^") || term.starts_with("~")) {
        prefix = term[0];
        term.remove_prefix(1);
        if (term.starts_with(">")) term.remove_prefix(1);  // `~>` is npm's alias of `~`
    }
    if (IsWildcard(term)) return true;  // matches everything
    Partial p;
    if (!ParsePartial(term, p)) return false;
    if (p.given == 0) return true;
    const Semver low{p.parts[0], p.parts[1], p.parts[2], p.prerelease};
    auto add = [&](Op o, Semver v) { out.push_back({o, std::move(v)}); };
    if (prefix == '^') {
        add(Op::kGe, low);
        if (low.major != 0 || p.given == 1) {
            add(Op::kLt, Semver{low.major + 1, 0, 0, "0"});
        } else if (low.minor != 0 || p.given == 2) {
            add(Op::kLt, Semver{0, low.minor + 1, 0, "0"});
        } else {
            add(Op::kLt, Semver{0, 0, low.patch + 1, "0"});
        }
        return true;
    }
    if (prefix == '~') {
        add(Op::kGe, low);
        if (p.given == 1) {
            add(Op::kLt, Semver{low.major + 1, 0, 0, "0"});
        } else {
            add(Op::kLt, Semver{low.major, low.minor + 1, 0, "0"});
        }
        return true;
    }
    if (p.given == 3) {
        add(op, low);
        return true;
    }
    // Partial versions: `1` is `>=1.0.0 <2.0.0-0`, `1.2` is `>=1.2.0 <1.3.0-0`.
    const Semver upper =
        p.given == 1 ? Semver{low.major + 1, 0, 0, "0"} : Semver{low.major, low.minor + 1, 0, "0"};
    switch (op) {
        case Op::kEq:
            add(Op::kGe, low);
            add(Op::kLt, upper);
            return true;
        case Op::kGe:
            add(Op::kGe, low);
            return true;
        case Op::kLt:
            add(Op::kLt, low);
            return true;
        case Op::kGt:
            add(Op::kGe, upper);
            return true;
        case Op::kLe:
            add(Op::kLt, upper);
            return true;
    }
    return false;
}

bool VersionRange::IsExact() const {
    return !latest_ && any_of_.size() == 1 && any_of_[0].size() == 1 && any_of_[0][0].op == Op::kEq;
}

bool VersionRange::Matches(const Semver& version) const {
    if (latest_) return true;
    for (const ComparatorSet& set : any_of_) {
        bool all = true;
        bool prerelease_allowed = version.prerelease.empty();
        for (const Comparator& c : set) {
            const auto cmp = version <=> c.version;
            bool ok = false;
            switch (c.op) {
                case Op::kEq:
                    ok = cmp == 0;
                    break;
                case Op::kLt:
                    ok = cmp < 0;
                    break;
                case Op::kLe:
                    ok = cmp <= 0;
                    break;
                case Op::kGt:
                    ok = cmp > 0;
                    break;
                case Op::kGe:
                    ok = cmp >= 0;
                    break;
            }
            if (!ok) {
                all = false;
                break;
            }
            // npm: a prerelease only matches when a comparator names the same version tuple
            // with a prerelease of its own.
            if (!c.version.prerelease.empty() && c.version.prerelease != "0" &&
                c.version.major == version.major && c.version.minor == version.minor &&
                c.version.patch == version.patch) {
                prerelease_allowed = true;
            }
        }
        if (all && prerelease_allowed) return true;
    }
    return false;
}

}  // namespace acme::catalog
