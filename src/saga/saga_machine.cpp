#include "saga/saga_machine.hpp"

#include <nlohmann/json.hpp>

namespace acme::saga {

namespace {

using nlohmann::json;

std::size_t U(int i) { return static_cast<std::size_t>(i); }

std::shared_ptr<json> Build(const std::vector<Field>& fields, const SagaInstance& saga,
                            const StartPayload& start) {
    auto out = std::make_shared<json>(json::object());
    for (const Field& f : fields) {
        switch (f.from) {
            case Field::From::kSagaId:
                (*out)[f.name] = saga.id;
                break;
            case Field::From::kStart:
                (*out)[f.name] = start().at(f.key);
                break;
            case Field::From::kResult:
                (*out)[f.name] = f.step >= 0 && U(f.step) < saga.results.size()
                                     ? saga.results[U(f.step)]
                                     : std::string();
                break;
            case Field::From::kReason:
                (*out)[f.name] = saga.reason;
                break;
        }
    }
    return out;
}

void SendCommand(const SagaDefinition& def, int step, Transition& t, const StartPayload& start) {
    const SagaStep& s = def.steps[U(step)];
    t.send.push_back({s.command, Build(s.command_fields, t.next, start)});
}

// Undoes the newest step at or before `from` that produced something and can be undone, or
// rejects the saga when there is none.
void Compensate(const SagaDefinition& def, int from, Transition& t, const StartPayload& start) {
    t.save = true;
    for (int j = std::min<int>(from, static_cast<int>(def.steps.size()) - 1); j >= 0; --j) {
        const SagaStep& s = def.steps[U(j)];
        if (s.compensation.empty() || U(j) >= t.next.results.size() ||
            t.next.results[U(j)].empty()) {
            continue;
        }
        t.next.state = {Phase::kCompensating, j};
        t.send.push_back({s.compensation, Build(s.compensation_fields, t.next, start)});
        return;
    }
    t.next.state = {Phase::kRejected, -1};
}

void Fail(const SagaDefinition& def, int step, std::string outcome, const std::string& reason,
          Transition& t, const StartPayload& start) {
    t.finished_step = step;
    t.outcome = std::move(outcome);
    if (t.next.reason.empty()) t.next.reason = reason;
    Compensate(def, step - 1, t, start);
}

bool Runs(const SagaInstance& saga, int step) {
    return saga.state.phase == Phase::kRunning && saga.state.step == step;
}

}  // namespace

Transition Start(const SagaDefinition& def, const std::string& id, const StartPayload& start) {
    Transition t;
    t.next.id = id;
    t.next.state = {Phase::kRunning, 0};
    t.next.results.assign(def.steps.size(), {});
    t.save = true;
    t.started_step = true;
    if (!def.steps.empty()) SendCommand(def, 0, t, start);
    return t;
}

Transition OnReply(const SagaDefinition& def, const SagaInstance& saga, const std::string& type,
                   const json& reply, const StartPayload& start) {
    Transition t;
    t.next = saga;
    t.next.results.resize(def.steps.size());
    const int n = static_cast<int>(def.steps.size());
    for (int i = 0; i < n; ++i) {
        const SagaStep& s = def.steps[U(i)];
        if (type == s.success) {
            const std::string result = reply.at(s.result_key).get<std::string>();
            if (Runs(saga, i)) {
                t.next.results[U(i)] = result;
                t.save = true;
                t.finished_step = i;
                t.outcome = "ok";
                if (i + 1 < n) {
                    t.next.state = {Phase::kRunning, i + 1};
                    t.started_step = true;
                    SendCommand(def, i + 1, t, start);
                } else {
                    t.next.state = {Phase::kCompleted, -1};
                }
            } else if (t.next.results[U(i)] != result && !s.compensation.empty()) {
                // Late: the saga moved on without it; undo it alone, the saga stays as it is.
                SagaInstance late = saga;
                late.results.resize(def.steps.size());
                late.results[U(i)] = result;
                late.reason = s.late_reason;
                t.send.push_back({s.compensation, Build(s.compensation_fields, late, start)});
            }
            return t;
        }
        if (type == s.failure) {
            if (!Runs(saga, i)) return t;
            const std::string why =
                reply.is_object() && reply.contains("reason") && reply["reason"].is_string()
                    ? reply["reason"].get<std::string>()
                    : s.failure_reason_default;
            Fail(def, i, s.failure_outcome, s.failure_reason_prefix + why, t, start);
            return t;
        }
        if (type == s.compensated) {
            if (saga.state.phase != Phase::kCompensating) return t;
            const std::string undone =
                reply.is_object() && reply.contains(s.result_key) && reply[s.result_key].is_string()
                    ? reply[s.result_key].get<std::string>()
                    : std::string();
            if (undone != t.next.results[U(i)]) return t;
            Compensate(def, i - 1, t, start);
            return t;
        }
    }
    return t;
}

Transition OnDeadline(const SagaDefinition& def, const SagaInstance& saga,
                      const StartPayload& start) {
    Transition t;
    t.next = saga;
    t.next.results.resize(def.steps.size());
    t.save = true;
    if (saga.state.phase != Phase::kRunning || saga.state.step < 0 ||
        U(saga.state.step) >= def.steps.size()) {
        return t;
    }
    const SagaStep& s = def.steps[U(saga.state.step)];
    if (!s.deadline_command.empty()) {
        t.deadline_asked = true;
        SagaInstance asking = t.next;
        asking.reason = s.timeout_reason;
        t.send.push_back({s.deadline_command, Build(s.deadline_command_fields, asking, start)});
        return t;
    }
    Fail(def, saga.state.step, "timeout", s.timeout_reason, t, start);
    return t;
}

}  // namespace acme::saga
