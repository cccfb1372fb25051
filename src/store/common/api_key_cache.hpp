// Recently found API keys, so that authenticating a request does not read the database every
// time (on the ingest path that read cost about a tenth of an HTTP thread's time). Only keys
// that exist are kept, so a new key works at once. The store that owns the cache clears it on
// every revocation it makes; a revocation made by another process (a second node, the
// `keys` command) takes effect within kTtlMs.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/model.hpp"

namespace webhookd::store_common {

class ApiKeyCache {
 public:
  static constexpr UnixMillis kTtlMs = 5'000;
  static constexpr std::size_t kMaxKeys = 10'000;

  // The key stored under `hash` if it was remembered less than kTtlMs before `now`.
  std::optional<ApiKey> Find(const std::string& hash, UnixMillis now);
  // Call before reading the key from the database; pass the result to Remember.
  std::uint64_t Generation();
  // Keeps `key`, read from the database since Generation() returned `generation`, unless the
  // cache was cleared in between (the key may have been revoked after it was read).
  void Remember(const std::string& hash, const ApiKey& key, UnixMillis now,
                std::uint64_t generation);
  void Clear();

 private:
  struct Entry {
    ApiKey key;
    UnixMillis remembered_at = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> keys_;  // guarded by mutex_; by key hash
  std::uint64_t generation_ = 0;                 // guarded by mutex_; counts Clear() calls
};

}  // namespace webhookd::store_common
