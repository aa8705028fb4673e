// Time and ids, injected so sagas and tests are deterministic.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace acme {

class Clock {
  public:
    virtual ~Clock() = default;
    // Milliseconds since the Unix epoch.
    [[nodiscard]] virtual std::int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
  public:
    [[nodiscard]] std::int64_t NowMillis() const override;
};

// A clock tests move by hand. Thread-safe.
class ManualClock final : public Clock {
  public:
    explicit ManualClock(std::int64_t start = 1'764'000'000'000) : now_(start) {}
    [[nodiscard]] std::int64_t NowMillis() const override { return now_.load(); }
    void Advance(std::int64_t millis) { now_.fetch_add(millis); }

  private:
    std::atomic<std::int64_t> now_;
};

// RFC 3339 UTC timestamp with milliseconds, e.g. "2026-11-25T13:07:00.123Z".
[[nodiscard]] std::string FormatTime(std::int64_t millis);

// UUIDv7 (RFC 9562): 48-bit millisecond timestamp, random rest; sortable by creation time.
// Thread-safe.
class IdGenerator {
  public:
    explicit IdGenerator(const Clock& clock, std::uint64_t seed = std::random_device{}());
    [[nodiscard]] std::string Next();

  private:
    const Clock& clock_;
    std::mutex mutex_;
    std::mt19937_64 rng_;
};

}  // namespace acme
