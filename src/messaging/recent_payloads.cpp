#include "messaging/recent_payloads.hpp"

namespace acme::messaging {

void RecentPayloads::Put(const std::string& key, Value value, int reads) {
    if (ring_.empty() || !value || reads <= 0) return;
    Value evicted;  // destroyed outside the lock
    std::lock_guard lock(mutex_);
    if (!by_key_.emplace(key, Entry{std::move(value), reads}).second) return;
    std::string& slot = ring_[next_];
    if (!slot.empty()) {
        if (auto it = by_key_.find(slot); it != by_key_.end()) {
            evicted = std::move(it->second.value);
            by_key_.erase(it);
        }
    }
    slot = key;
    next_ = (next_ + 1) % ring_.size();
}

RecentPayloads::Value RecentPayloads::Take(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return nullptr;
    if (--it->second.reads_left > 0) return it->second.value;
    Value last = std::move(it->second.value);
    by_key_.erase(it);
    return last;
}

std::size_t RecentPayloads::size() const {
    std::lock_guard lock(mutex_);
    return by_key_.size();
}

}  // namespace acme::messaging
