#include "store/common/api_key_cache.hpp"

namespace webhookd::store_common {

std::optional<ApiKey> ApiKeyCache::Find(const std::string& hash, UnixMillis now) {
  std::lock_guard lock(mutex_);
  auto it = keys_.find(hash);
  if (it == keys_.end()) return std::nullopt;
  if (now - it->second.remembered_at >= kTtlMs || now < it->second.remembered_at) {
    keys_.erase(it);
    return std::nullopt;
  }
  return it->second.key;
}

std::uint64_t ApiKeyCache::Generation() {
  std::lock_guard lock(mutex_);
  return generation_;
}

void ApiKeyCache::Remember(const std::string& hash, const ApiKey& key, UnixMillis now,
                           std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  if (generation != generation_) return;
  // Keys are few; a map this full means someone is cycling keys, so start again rather than
  // track recency.
  if (keys_.size() >= kMaxKeys) keys_.clear();
  keys_.insert_or_assign(hash, Entry{key, now});
}

void ApiKeyCache::Clear() {
  std::lock_guard lock(mutex_);
  keys_.clear();
  ++generation_;
}

}  // namespace webhookd::store_common
