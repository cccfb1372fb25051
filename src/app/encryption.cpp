#include "app/encryption.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "store/open_store.hpp"
#include "store/sealed_rows.hpp"

namespace webhookd::app {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kCheckPlain = "webhookd key check";

std::string CheckContext(std::string_view key_name) {
  return "encryption_keys/" + std::string(key_name);
}

bool HoldsSealedValues(const std::vector<RegisteredKey>& registered) {
  return std::any_of(registered.begin(), registered.end(),
                     [](const RegisteredKey& key) { return !key.name.empty(); });
}

// Loads `path`. The SQLite default file is created, with one new key, when missing and the
// database holds no sealed value yet; otherwise a missing file is an error.
Result<crypto::Keyring> LoadKeyring(const std::string& path, bool is_default,
                                    const std::vector<RegisteredKey>& registered) {
  Result<crypto::Keyring> keyring = crypto::Keyring::Load(path);
  if (keyring.ok() || keyring.error().kind != ErrorKind::kNotFound) return keyring;
  if (HoldsSealedValues(registered)) {
    return Error::Invalid(keyring.error().message +
                          ", but the database holds values encrypted under key '" +
                          registered.back().name + "'; start with the key file that holds it");
  }
  if (!is_default) {
    return Error::Invalid(keyring.error().message +
                          "; create it with `webhookd encryption rotate --encryption-key-file " +
                          path + "`");
  }
  Result<std::string> created = crypto::AddKeyToFile(path);
  if (!created.ok()) return created.error();
  spdlog::warn(
      "created the encryption key file {} (mode 0600, key '{}'): the database cannot be read "
      "without it, so back it up, apart from the database's backups",
      path, *created);
  return crypto::Keyring::Load(path);
}

// kInvalid naming the first key the database has values under that the key file lacks, or
// holds under that name with other bytes.
Status CheckRegistered(const std::vector<RegisteredKey>& registered,
                       const crypto::FieldCipher& cipher, const std::string& path) {
  for (const RegisteredKey& key : registered) {
    if (key.name.empty()) continue;
    if (cipher.keyring().Find(key.name) == nullptr) {
      return Error::Invalid("the database holds values encrypted under key '" + key.name +
                            "', which the key file " + path +
                            " lacks; start with the key file that holds it");
    }
    if (!cipher.Open(key.check_value, CheckContext(key.name)).ok()) {
      return Error::Invalid("the key '" + key.name + "' of the key file " + path +
                            " is not the key the database's values were encrypted under");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> KeyFilePath(const std::string& db_url, const std::string& key_file) {
  if (!key_file.empty()) return key_file;
  if (db_url.starts_with(kSqlitePrefix)) {
    return std::string(db_url.substr(kSqlitePrefix.size())) + ".key";
  }
  return Error::Invalid(
      "a PostgreSQL database needs --encryption-key-file (WEBHOOKD_ENCRYPTION_KEY_FILE), the "
      "same file on every node; create one with `webhookd encryption rotate "
      "--encryption-key-file FILE`");
}

Result<Encryption> SetUpEncryption(const std::string& db_url, const std::string& key_file,
                                   const Clock& clock) {
  Result<std::string> path = KeyFilePath(db_url, key_file);
  if (!path.ok()) return path.error();
  Result<std::unique_ptr<SealedRows>> rows = OpenSealedRows(db_url);
  if (!rows.ok()) return rows.error();
  Result<std::vector<RegisteredKey>> registered = (*rows)->RegisteredKeys();
  if (!registered.ok()) return registered.error();
  Result<crypto::Keyring> keyring = LoadKeyring(*path, key_file.empty(), *registered);
  if (!keyring.ok()) return keyring.error();
  auto cipher = std::make_shared<const crypto::FieldCipher>(std::move(*keyring));
  if (Status s = CheckRegistered(*registered, *cipher, *path); !s.ok()) return s.error();
  const std::string& newest = cipher->keyring().newest().name;
  const RegisteredKey entry{newest, cipher->Seal(kCheckPlain, CheckContext(newest))};
  if (Status s = (*rows)->RegisterKey(entry, clock.Now()); !s.ok()) return s.error();
  Encryption out;
  out.store_options.payload_form = (*rows)->FormOf(SealedTable::kEvents, 0);
  out.store_options.accept_plain =
      std::any_of(registered->begin(), registered->end(),
                  [](const RegisteredKey& key) { return key.name.empty(); });
  spdlog::info("encryption at rest: key file {}, {} key(s), new values under '{}'{}", *path,
               cipher->keyring().keys().size(), newest,
               out.store_options.accept_plain
                   ? "; values stored before encryption remain until `webhookd encryption rewrap`"
                   : "");
  out.cipher = std::move(cipher);
  return out;
}

}  // namespace webhookd::app
