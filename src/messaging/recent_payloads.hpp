// A bounded, thread-safe map from a key (a message id, a checkout id) to a parsed payload,
// each entry read a known number of times: what was published or loaded lately is read
// again soon by the next steps of the same checkout, without parsing its text. An entry
// goes once read as often as it was put for (while its memory is still warm), or, never
// read that often (a rolled-back publish), when `capacity` newer ones pushed it out.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace acme::messaging {

class RecentPayloads {
  public:
    using Value = std::shared_ptr<const nlohmann::json>;

    explicit RecentPayloads(std::size_t capacity) : ring_(capacity) {}

    // Remembers `value` under `key` for `reads` reads (a key already present keeps its
    // first value; nothing is kept for 0 reads).
    void Put(const std::string& key, Value value, int reads);
    // The value under `key`, counting one read; null when absent, forgotten or read out.
    [[nodiscard]] Value Take(const std::string& key);
    [[nodiscard]] std::size_t size() const;

  private:
    struct Entry {
        Value value;
        int reads_left = 0;
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> by_key_;
    std::vector<std::string> ring_;  // keys in insertion order; the next slot is the oldest
    std::size_t next_ = 0;
};

}  // namespace acme::messaging
