// Internal to messaging/: the columns of a stored message (`bus_log`) and the envelope made
// from a row of them, shared by the outbox's reads and the SQL log transport.
#pragma once

#include <cstddef>

#include "messaging/envelope.hpp"
#include "storage/database.hpp"

namespace acme::messaging {

inline constexpr const char* kLogColumns =
    "seq, id, type, source, subject, dataschema, correlation_id, causation_id, traceparent, data, "
    "time";

// The envelope in `r`'s columns from `at` on (in kLogColumns order), moved out of the row.
inline Envelope EnvelopeFromRow(storage::Row& r, std::size_t at = 0) {
    Envelope e;
    e.seq = r.Int(at);
    e.id = r.TakeText(at + 1);
    e.type = r.TakeText(at + 2);
    e.source = r.TakeText(at + 3);
    e.subject = r.TakeText(at + 4);
    e.dataschema = r.TakeText(at + 5);
    e.correlation_id = r.TakeText(at + 6);
    e.causation_id = r.TakeText(at + 7);
    e.traceparent = r.TakeText(at + 8);
    e.data = r.TakeText(at + 9);
    e.time = r.TakeText(at + 10);
    return e;
}

}  // namespace acme::messaging
