#include "core/clock.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace acme {

std::int64_t SystemClock::NowMillis() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string FormatTime(std::int64_t millis) {
    const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis % 1000));
    return buffer;
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
