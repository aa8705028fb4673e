// Dead letters: messages whose handler failed every attempt, kept with the reason, for an
// operator to read and replay (`acme dlq list|replay`). Stored by the transports
// (`bus_dead_letters`); a replay puts the message back on its consumer's retry queue (the SQL
// log's `bus_retries`, the SQL queue's delivery row).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "storage/database.hpp"

namespace acme::messaging {

struct DeadLetter {
    std::int64_t id = 0;
    std::string consumer;
    std::int64_t seq = 0;
    std::string message_id;
    std::string type;
    std::int64_t attempts = 0;
    std::string reason;
    std::string time;
    bool replayed = false;
};

enum class Replayed { kExclude, kInclude };

// Dead letters, newest first.
[[nodiscard]] Result<std::vector<DeadLetter>> ListDeadLetters(storage::Connection& db,
                                                              Replayed replayed);
// How many dead letters await replay.
[[nodiscard]] Result<std::int64_t> CountDeadLetters(storage::Connection& db);
// Puts dead letter `id` (or every unreplayed one when `id` is 0) back on its consumer's retry
// queue, due now; returns how many. kNotFound when `id` names no unreplayed dead letter.
[[nodiscard]] Result<std::int64_t> ReplayDeadLetters(storage::Connection& db, std::int64_t id,
                                                     std::int64_t now_ms);

}  // namespace acme::messaging
