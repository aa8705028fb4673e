#include "core/clock.hpp"

#include <chrono>
#include <ctime>

namespace acme {

std::int64_t SystemClock::NowMillis() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string FormatTime(std::int64_t millis) {
    // Floor division: times before 1970 keep a millisecond part in [0, 999].
    const std::int64_t ms = ((millis % 1000) + 1000) % 1000;
    const std::time_t seconds = static_cast<std::time_t>((millis - ms) / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    // Every published message is stamped: digits by hand, no printf.
    std::string out = "0000-00-00T00:00:00.000Z";
    auto put = [&](std::size_t at, std::int64_t value, std::size_t width) {
        for (std::size_t i = width; i-- > 0; value /= 10) {
            out[at + i] = static_cast<char>('0' + value % 10);
        }
    };
    put(0, tm.tm_year + 1900, 4);
    put(5, tm.tm_mon + 1, 2);
    put(8, tm.tm_mday, 2);
    put(11, tm.tm_hour, 2);
    put(14, tm.tm_min, 2);
    put(17, tm.tm_sec, 2);
    put(20, ms, 3);
    return out;
}

IdGenerator::IdGenerator(const Clock& clock, std::uint64_t seed) : clock_(clock), rng_(seed) {}

std::string IdGenerator::Next() {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    {
        std::lock_guard lock(mutex_);
        a = rng_();
        b = rng_();
    }
    const auto ms = static_cast<std::uint64_t>(clock_.NowMillis());
    unsigned char bytes[16];
    for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    for (int i = 6; i < 16; ++i) {
        const std::uint64_t src = i < 11 ? a : b;
        bytes[i] = static_cast<unsigned char>(src >> (8 * (i % 8)));
    }
    bytes[6] = static_cast<unsigned char>(0x70 | (bytes[6] & 0x0f));  // version 7
    bytes[8] = static_cast<unsigned char>(0x80 | (bytes[8] & 0x3f));  // variant 10
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += kHex[bytes[i] >> 4];
        out += kHex[bytes[i] & 0x0f];
    }
    return out;
}

}  // namespace acme
