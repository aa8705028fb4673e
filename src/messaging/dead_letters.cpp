#include "messaging/dead_letters.hpp"

namespace acme::messaging {

using storage::Value;

Result<std::vector<DeadLetter>> ListDeadLetters(storage::Connection& db, Replayed replayed) {
    const bool all = replayed == Replayed::kInclude;
    auto rows =
        db.Query(std::string("SELECT id, consumer, seq, message_id, type, attempts, reason, "
                             "time, replayed FROM bus_dead_letters") +
                 (all ? "" : " WHERE replayed = 0") + " ORDER BY id DESC");
    if (!rows) return std::unexpected(rows.error());
    std::vector<DeadLetter> out;
    for (const auto& r : *rows) {
        out.push_back({r.Int(0), r.Text(1), r.Int(2), r.Text(3), r.Text(4), r.Int(5), r.Text(6),
                       r.Text(7), r.Int(8) != 0});
    }
    return out;
}

Result<std::int64_t> CountDeadLetters(storage::Connection& db) {
    auto rows = db.Query("SELECT count(*) FROM bus_dead_letters WHERE replayed = 0");
    if (!rows) return std::unexpected(rows.error());
    return rows->front().Int(0);
}

Result<std::int64_t> ReplayDeadLetters(storage::Connection& db, std::int64_t id,
                                       std::int64_t now_ms) {
    return storage::InTransaction(db, [&]() -> Result<std::int64_t> {
        const Value filter[] = {id, id};
        auto rows = db.Query(
            "SELECT id, consumer, seq FROM bus_dead_letters WHERE replayed = 0 AND (? = 0 OR id = "
            "?)",
            filter);
        if (!rows) return std::unexpected(rows.error());
        if (rows->empty() && id != 0) {
            return MakeError(ErrorCode::kNotFound,
                             "no dead letter " + std::to_string(id) + " to replay");
        }
        for (const auto& r : *rows) {
            // Back on its consumer's work list, due now, with its attempts counted afresh: the
            // SQL log's retry queue, or the SQL queue's delivery row.
            const Value retry[] = {r.Text(1), r.Int(2), now_ms};
            const Value delivery[] = {r.Text(1), now_ms, r.Int(2)};
            auto queued =
                db.dialect() == storage::Dialect::kSqlite
                    ? db.Execute(
                          "INSERT INTO bus_retries(consumer, seq, attempts, next_at, "
                          "last_error) VALUES (?, ?, 0, ?, 'replayed') ON CONFLICT(consumer, "
                          "seq) DO UPDATE SET attempts = 0, next_at = excluded.next_at",
                          retry)
                    : db.Execute(
                          "INSERT INTO bus_deliveries(consumer, seq, subject, attempts, "
                          "next_at, last_error) SELECT ?, seq, subject, 0, ?, 'replayed' "
                          "FROM bus_log WHERE seq = ? ON CONFLICT (consumer, seq) DO UPDATE "
                          "SET attempts = 0, next_at = excluded.next_at",
                          delivery);
            if (!queued) return std::unexpected(queued.error());
            const Value mark[] = {r.Int(0)};
            if (auto ok = db.Execute("UPDATE bus_dead_letters SET replayed = 1 WHERE id = ?", mark);
                !ok) {
                return std::unexpected(ok.error());
            }
        }
        return static_cast<std::int64_t>(rows->size());
    });
}

}  // namespace acme::messaging
