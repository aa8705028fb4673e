#include "messaging/outbox.hpp"

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>

#include "messaging/log_row.hpp"
#include "messaging/recent_payloads.hpp"

namespace acme::messaging {

namespace {

using storage::Value;

std::string Hex32(const std::string& uuid) {
    std::string out;
    for (char c : uuid) {
        if (c != '-') out += c;
    }
    out.resize(32, '0');
    return out;
}

}  // namespace

struct Outbox::Impl {
    const ContractRegistry& contracts;
    const Clock& clock;
    IdGenerator& ids;
    Contracts violations;
    std::atomic<std::int64_t> published{0};
    // Payloads of the messages published lately, by message id, until every local reader of
    // their type took them. Bounded for publishes that roll back.
    RecentPayloads recent{4096};
    std::map<std::string, int> readers;  // local readers per message type; fixed before start
};

Outbox::Outbox(const ContractRegistry& contracts, const Clock& clock, IdGenerator& ids,
               Contracts violations)
    : impl_(std::make_unique<Impl>(contracts, clock, ids, violations)) {}

Outbox::~Outbox() = default;

Result<void> Outbox::Violation(Error error) const {
    if (impl_->violations == Contracts::kThrow) throw ContractViolation(error.message);
    return std::unexpected(std::move(error));
}

Result<PreparedMessage> Outbox::Prepare(const std::string& service, const std::string& type,
                                        const std::string& subject, nlohmann::json data,
                                        const Envelope* cause) const {
    if (auto ok = impl_->contracts.CheckSend(service, type, data); !ok) {
        return std::unexpected(Violation(ok.error()).error());
    }
    Envelope e;
    e.id = impl_->ids.Next();
    e.type = type;
    e.source = service;
    e.subject = subject;
    e.dataschema = impl_->contracts.DataSchema(type);
    e.correlation_id = cause != nullptr ? cause->correlation_id : subject;
    e.causation_id = cause != nullptr ? cause->id : std::string();
    e.traceparent =
        cause != nullptr && !cause->traceparent.empty()
            ? cause->traceparent.substr(0, 36) + Hex32(e.id).substr(16, 16) + "-01"
            : "00-" + Hex32(e.correlation_id) + "-" + Hex32(e.id).substr(16, 16) + "-01";
    e.data = data.dump();
    e.payload = std::make_shared<const nlohmann::json>(std::move(data));
    const std::int64_t now = impl_->clock.NowMillis();
    e.time = FormatTime(now);
    return PreparedMessage(std::move(e), now);
}

std::string WakeChannel(std::string_view consumer) {
    std::string out = "acme_";
    for (char c : consumer) out += c == '-' ? '_' : c;
    return out;
}

Result<void> Outbox::Publish(storage::Connection& db, const PreparedMessage& message) {
    const Envelope& e = message.envelope();
    const Value params[] = {
        e.id,           e.type,        e.source, e.subject, e.dataschema,        e.correlation_id,
        e.causation_id, e.traceparent, e.data,   e.time,    message.created_ms()};
    Result<void> ok;
    if (db.dialect() == storage::Dialect::kSqlite) {
        ok = db.Execute(
            "INSERT INTO bus_log(id, type, source, subject, dataschema, correlation_id, "
            "causation_id, traceparent, data, time, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            params);
    } else {
        // The same row, and in the same statement a delivery row for every service the
        // catalog says receives the type: the work list of the SQL queue transport.
        const Value with_receivers[] = {e.id,
                                        e.type,
                                        e.source,
                                        e.subject,
                                        e.dataschema,
                                        e.correlation_id,
                                        e.causation_id,
                                        e.traceparent,
                                        e.data,
                                        e.time,
                                        message.created_ms(),
                                        impl_->contracts.ReceiversOf(e.type)};
        ok = db.Execute(
            "WITH m AS (INSERT INTO bus_log(id, type, source, subject, dataschema, "
            "correlation_id, causation_id, traceparent, data, time, created_ms) VALUES "
            "(?,?,?,?,?,?,?,?,?,?,?) RETURNING seq, subject) INSERT INTO bus_deliveries(consumer, "
            "seq, subject) SELECT c, m.seq, m.subject FROM m, unnest(string_to_array(?, ',')) AS c",
            with_receivers);
        // The receivers' processes wake at the commit (once per channel and transaction).
        const std::string& receivers = std::get<std::string>(with_receivers[11]);
        for (std::size_t at = 0; at < receivers.size();) {
            const std::size_t comma = std::min(receivers.find(',', at), receivers.size());
            db.NotifyOnCommit(WakeChannel(std::string_view(receivers).substr(at, comma - at)));
            at = comma + 1;
        }
    }
    if (!ok) return ok;
    impl_->published.fetch_add(1);
    // Kept even if this transaction rolls back: an id is never used again.
    if (auto it = impl_->readers.find(e.type); it != impl_->readers.end()) {
        impl_->recent.Put(e.id, e.payload, it->second);
    }
    return ok;
}

void Outbox::AddLocalReader(const std::string& type) { ++impl_->readers[type]; }

std::shared_ptr<const nlohmann::json> Outbox::TakeLocal(const std::string& message_id) {
    return impl_->recent.Take(message_id);
}

std::int64_t Outbox::published() const { return impl_->published.load(); }
const Clock& Outbox::clock() const { return impl_->clock; }
const ContractRegistry& Outbox::contracts() const { return impl_->contracts; }

Result<std::vector<Envelope>> ReadMessages(storage::Connection& db, const MessageFilter& filter) {
    const Value v[] = {filter.subject, filter.subject, filter.type, filter.type};
    auto rows = db.Query(std::string("SELECT ") + kLogColumns +
                             " FROM bus_log WHERE (? = '' OR subject = ?) AND (? = '' OR type = "
                             "?) ORDER BY seq",
                         v);
    if (!rows) return std::unexpected(rows.error());
    std::vector<Envelope> out;
    out.reserve(rows->size());
    for (auto& r : *rows) out.push_back(EnvelopeFromRow(r));
    return out;
}

Result<bool> TakeIn(storage::Connection& db, const std::string& consumer,
                    const std::string& message_id) {
    const Value key[] = {consumer, message_id};
    if (auto ok = db.Execute(
            "INSERT INTO bus_inbox(consumer, message_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            key);
        !ok) {
        return std::unexpected(ok.error());
    }
    return db.Changes() != 0;
}

std::int64_t Publisher::NowMillis() const { return outbox_.clock().NowMillis(); }

Result<void> Publisher::Publish(const std::string& type, const std::string& subject,
                                const std::string& data) {
    // Text that is not JSON parses to a discarded value, which the contract check rejects.
    return Publish(type, subject, nlohmann::json::parse(data, nullptr, false));
}

Result<void> Publisher::Publish(const std::string& type, const std::string& subject,
                                nlohmann::json data) {
    auto message = outbox_.Prepare(service_, type, subject, std::move(data), cause_);
    if (!message) return std::unexpected(message.error());
    return outbox_.Publish(db_, *message);
}

}  // namespace acme::messaging
