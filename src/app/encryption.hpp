// Encryption at rest, as the commands see it (docs/security.md): which key file a database uses,
// the start-up check against the database's key registry, and `webhookd encryption rotate` and
// `rewrap`.
#pragma once

#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "crypto/field_cipher.hpp"
#include "store/encrypting_store.hpp"

namespace webhookd::app {

// The key file of the database at `db_url`: `key_file` (--encryption-key-file) if set; for a
// SQLite database without it, "<database file>.key" beside the database; for PostgreSQL it is
// required (kInvalid saying so), since every node must use the same file.
Result<std::string> KeyFilePath(const std::string& db_url, const std::string& key_file);

struct Encryption {
  std::shared_ptr<const crypto::FieldCipher> cipher;
  EncryptionOptions store_options;
};

// Loads the key file (creating the SQLite default one, with its first key, if it does not exist
// yet, and saying so in the log), checks that it holds every key the database at `db_url` (already
// migrated) has values under, and registers its newest key there. kInvalid naming a missing key.
Result<Encryption> SetUpEncryption(const std::string& db_url, const std::string& key_file,
                                   const Clock& clock);

}  // namespace webhookd::app
