// Internal to messaging/: what every transport does the same way around a handler — the call
// (exceptions become the message's failure, contract violations in strict mode stay fatal) and
// the retry delay (exponential, capped, full jitter on its upper half).
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>

#include "messaging/outbox.hpp"
#include "messaging/transport.hpp"

namespace acme::messaging {

// Runs `handler` on `e`. A handler that throws on a malformed message (a payload that slipped
// past the contract, a replayed or hand-inserted row) fails that message like an error does: it
// is retried and dead-lettered with the reason, and the consumer goes on. Contract violations
// in strict mode stay exceptions: tests make them fatal.
inline Result<void> CallHandler(const Handler& handler, const Envelope& e, Publisher& out) {
    try {
        return handler(e, out);
    } catch (const ContractViolation&) {
        throw;
    } catch (const std::exception& ex) {
        return MakeError(ErrorCode::kInvalidArgument, std::string("handler failed on ") + e.type +
                                                          " " + e.id + ": " + ex.what());
    }
}

// A consumer may subscribe to `type` only when its catalog entry declares it in `receives`.
inline Result<void> CheckReceives(const ContractRegistry& contracts, const std::string& consumer,
                                  const std::string& type) {
    if (contracts.Receives(consumer, type)) return {};
    return MakeError(ErrorCode::kFailedPrecondition, "contract violation: service '" + consumer +
                                                         "' does not declare '" + type +
                                                         "' in receives");
}

// Records `e` as a dead letter of `consumer` after `attempts`, with the last failure's reason.
inline Result<void> StoreDeadLetter(storage::Connection& db, const std::string& consumer,
                                    const Envelope& e, int attempts, const std::string& reason,
                                    std::int64_t now_ms) {
    const storage::Value dl[] = {
        consumer,          e.seq, e.id, e.type, static_cast<std::int64_t>(attempts), reason,
        FormatTime(now_ms)};
    return db.Execute(
        "INSERT INTO bus_dead_letters(consumer, seq, message_id, type, attempts, reason, time) "
        "VALUES (?,?,?,?,?,?,?)",
        dl);
}

class RetryBackoff {
  public:
    RetryBackoff(std::int64_t base_ms, std::int64_t max_ms) : base_ms_(base_ms), max_ms_(max_ms) {}

    // The delay before attempt `attempts` + 1: in [d/2, d], d = base * 2^(attempts-1) <= max.
    std::int64_t Next(int attempts) {
        std::int64_t delay = base_ms_;
        for (int i = 1; i < attempts && delay < max_ms_; ++i) delay *= 2;
        delay = std::min(delay, max_ms_);
        std::uint64_t r = 0;
        {
            std::lock_guard lock(mutex_);
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            r = state_;
        }
        const std::int64_t half = delay / 2;
        return half +
               (half > 0 ? static_cast<std::int64_t>(r % static_cast<std::uint64_t>(half + 1)) : 0);
    }

  private:
    std::int64_t base_ms_;
    std::int64_t max_ms_;
    std::mutex mutex_;
    std::uint64_t state_ = 0x9e3779b97f4a7c15ULL;
};

}  // namespace acme::messaging
