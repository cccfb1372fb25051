// `webhookd encryption rotate` and `webhookd encryption rewrap` (docs/security.md).
#include <chrono>
#include <cstdio>
#include <thread>

#include "app/commands.hpp"
#include "app/encryption.hpp"
#include "store/open_store.hpp"
#include "store/sealed_rows.hpp"

namespace webhookd::app {
namespace {

// Rows whose values a concurrent write changed between the read and the replace are left to
// another pass; a running server rarely changes a configuration twice in a row.
constexpr int kMaxPasses = 5;

struct TableCount {
  std::int64_t read = 0;
  std::int64_t rewrapped = 0;
  std::int64_t unreadable = 0;
  std::int64_t changed_meanwhile = 0;
};

struct Rewrap {
  SealedRows& rows;
  const crypto::FieldCipher& cipher;
  bool accept_plain;
  int batch_size;
  std::chrono::milliseconds pause;
};

// The row's values under the newest key; nullopt when they are all there already. An error names
// the value that does not open.
Result<std::optional<std::vector<std::string>>> RewrapRow(const Rewrap& r, SealedTable table,
                                                          const SealedRow& row) {
  const std::string& newest = r.cipher.keyring().newest().name;
  const std::vector<std::string_view>& columns = SealedColumns(table);
  std::vector<std::string> values = row.values;
  bool changed = false;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (crypto::FieldCipher::KeyNameOf(values[c]) == newest) continue;
    const std::string context = SealedRowContext(table, columns[c], row);
    std::string plain = values[c];
    if (crypto::FieldCipher::IsSealed(values[c])) {
      Result<std::string> opened = r.cipher.Open(values[c], context);
      if (!opened.ok()) return opened.error();
      plain = std::move(*opened);
    } else if (!r.accept_plain) {
      return Error::Unreadable(context +
                               " is unencrypted in a database whose values are all "
                               "encrypted");
    }
    values[c] = r.cipher.Seal(plain, context, r.rows.FormOf(table, c));
    changed = true;
  }
  if (!changed) return std::optional<std::vector<std::string>>();
  return std::optional<std::vector<std::string>>(std::move(values));
}

// One batch of rows after `after_id`: re-encrypts the ones not under the newest key.
Status RewrapBatch(const Rewrap& r, SealedTable table, const std::vector<SealedRow>& batch,
                   TableCount& count) {
  std::vector<SealedRow> before;
  std::vector<std::vector<std::string>> after;
  for (const SealedRow& row : batch) {
    Result<std::optional<std::vector<std::string>>> values = RewrapRow(r, table, row);
    if (!values.ok()) {
      std::fprintf(stderr, "rewrap: %s\n", values.error().message.c_str());
      ++count.unreadable;
      continue;
    }
    if (!*values) continue;
    before.push_back(row);
    after.push_back(std::move(**values));
  }
  if (before.empty()) return Status::Ok();
  Result<int> replaced = r.rows.ReplaceBatch(table, before, after);
  if (!replaced.ok()) return replaced.error();
  count.rewrapped += *replaced;
  count.changed_meanwhile += static_cast<std::int64_t>(before.size()) - *replaced;
  return Status::Ok();
}

Result<TableCount> RewrapTable(const Rewrap& r, SealedTable table) {
  TableCount count;
  std::string after_id;
  auto last_progress = std::chrono::steady_clock::now();
  for (;;) {
    Result<std::vector<SealedRow>> batch = r.rows.ReadBatch(table, after_id, r.batch_size);
    if (!batch.ok()) return batch.error();
    if (batch->empty()) break;
    count.read += static_cast<std::int64_t>(batch->size());
    if (Status s = RewrapBatch(r, table, *batch, count); !s.ok()) return s.error();
    after_id = batch->back().id;
    if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(1)) {
      std::printf("rewrap: %s: %lld rows read, %lld re-encrypted\n",
                  std::string(SealedTableName(table)).c_str(), static_cast<long long>(count.read),
                  static_cast<long long>(count.rewrapped));
      std::fflush(stdout);
      last_progress = std::chrono::steady_clock::now();
    }
    // Leaves the database to the servers between batches.
    std::this_thread::sleep_for(r.pause);
  }
  std::printf("rewrap: %s: %lld rows read, %lld re-encrypted, %lld unreadable\n",
              std::string(SealedTableName(table)).c_str(), static_cast<long long>(count.read),
              static_cast<long long>(count.rewrapped), static_cast<long long>(count.unreadable));
  std::fflush(stdout);
  return count;
}

// Passes over every table until one finds nothing changed meanwhile. Returns the values left
// unreadable; an error if the database fails.
Result<std::int64_t> RewrapAll(const Rewrap& r) {
  for (int pass = 1;; ++pass) {
    std::int64_t unreadable = 0;
    std::int64_t changed_meanwhile = 0;
    for (SealedTable table :
         {SealedTable::kConfigs, SealedTable::kEvents, SealedTable::kAttempts}) {
      Result<TableCount> count = RewrapTable(r, table);
      if (!count.ok()) return count.error();
      unreadable += count->unreadable;
      changed_meanwhile += count->changed_meanwhile;
    }
    if (changed_meanwhile == 0 || pass == kMaxPasses) {
      return changed_meanwhile == 0 ? unreadable : unreadable + changed_meanwhile;
    }
    std::printf("rewrap: %lld rows changed meanwhile; another pass\n",
                static_cast<long long>(changed_meanwhile));
  }
}

Result<Encryption> OpenForRewrap(const EncryptionCommandOptions& options, const Clock& clock) {
  // Opening the store applies the migrations (the key registry's among them).
  Result<std::unique_ptr<Store>> store = OpenStore(options.db, clock);
  if (!store.ok()) return store.error();
  store->reset();
  Result<std::string> path = KeyFilePath(options.db, options.key_file);
  if (!path.ok()) return path.error();
  // Named explicitly, the key file must exist already: rewrap never creates a key.
  return SetUpEncryption(options.db, *path, clock);
}

}  // namespace

int RunEncryptionRotate(const EncryptionCommandOptions& options) {
  Result<std::string> path = KeyFilePath(options.db, options.key_file);
  if (!path.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", path.error().message.c_str());
    return 2;
  }
  Result<std::string> name = crypto::AddKeyToFile(*path);
  if (!name.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", name.error().message.c_str());
    return 1;
  }
  std::printf(
      "Added key '%s' to %s. Restart every server with this file (new values are then encrypted "
      "under it), then run `webhookd encryption rewrap` to re-encrypt the older ones.\n",
      name->c_str(), path->c_str());
  return 0;
}

int RunEncryptionRewrap(const EncryptionCommandOptions& options) {
  if (!ConfigureLogging("warn")) return 2;
  SystemClock clock;
  Result<Encryption> encryption = OpenForRewrap(options, clock);
  if (!encryption.ok()) {
    std::fprintf(stderr, "webhookd: cannot rewrap %s: %s\n", RedactedStoreUrl(options.db).c_str(),
                 encryption.error().message.c_str());
    return 1;
  }
  Result<std::unique_ptr<SealedRows>> rows = OpenSealedRows(options.db);
  if (!rows.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", rows.error().message.c_str());
    return 1;
  }
  const Rewrap rewrap{**rows, *encryption->cipher, encryption->store_options.accept_plain,
                      options.batch_size, std::chrono::milliseconds(options.pause_ms)};
  Result<std::int64_t> left = RewrapAll(rewrap);
  if (!left.ok()) {
    std::fprintf(stderr, "webhookd: rewrap stopped: %s\n", left.error().message.c_str());
    return 1;
  }
  const std::string& newest = encryption->cipher->keyring().newest().name;
  if (*left > 0) {
    std::fprintf(stderr,
                 "rewrap: %lld values are not under key '%s' (see above); the older keys are "
                 "still needed\n",
                 static_cast<long long>(*left), newest.c_str());
    return 1;
  }
  if (Status s = (*rows)->FinishRewrap(newest); !s.ok()) {
    std::fprintf(stderr, "webhookd: %s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("rewrap: done; every value is encrypted under key '%s'\n", newest.c_str());
  return 0;
}

}  // namespace webhookd::app
