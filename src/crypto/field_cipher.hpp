// Encryption at rest of single database values (docs/security.md): AES-256-GCM under named keys.
//
// A sealed value has one of two forms (SealedForm): text, which fits any column,
//   "$wk1$" KEY-NAME "$" base64(nonce[12] || ciphertext || tag[16])
// or bytes, a third shorter, for the columns a backend stores as bytes (BLOB, bytea):
//   "$wk2$" KEY-NAME "$" nonce[12] || ciphertext || tag[16]
// "wk1" and "wk2" name the form; the key name says which key opens it, so that old values stay
// readable after a rotation. Both forms open whichever a column holds. Each value has its own 96-bit nonce (a random 64-bit prefix per
// thread and a counter), and is bound to a `context` (its table, column and row) given as
// associated data: a value copied to another row or column does not open.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace webhookd::crypto {

struct NamedKey {
  std::string name;   // [A-Za-z0-9_.-], 1..64 characters
  std::string bytes;  // 32 bytes
};

// The keys of a key file, oldest first: the last (newest) one encrypts, all of them decrypt.
//
// Key file format: one key per line, "NAME BASE64KEY" (the key is 32 random bytes in standard
// base64 with padding); blank lines and lines starting with '#' are ignored; names are unique.
class Keyring {
 public:
  // kInvalid naming the line for anything else (no key at all, a bad name, a key that is not
  // 32 bytes of base64, a name twice). The message never contains key material.
  static Result<Keyring> Parse(std::string_view text);
  // Parse(contents of `path`); kNotFound if the file does not exist.
  static Result<Keyring> Load(const std::string& path);
  // A new key named after the existing ones ("key-1", "key-2", ...), with 32 random bytes.
  NamedKey NewKey() const;
  // The file line of `key` (with its newline).
  static std::string FileLine(const NamedKey& key);

  void Add(NamedKey key) { keys_.push_back(std::move(key)); }
  const NamedKey& newest() const { return keys_.back(); }
  const NamedKey* Find(std::string_view name) const;
  const std::vector<NamedKey>& keys() const { return keys_; }

 private:
  std::vector<NamedKey> keys_;
};

// Creates `path` (mode 0600) holding one new key, or appends a new key to it (keeping its mode).
// Returns the new key's name. Fails, writing nothing, if the existing file does not parse.
Result<std::string> AddKeyToFile(const std::string& path);

enum class SealedForm { kText, kBytes };

// Seals and opens values with a Keyring. Thread-safe (only reads).
class FieldCipher {
 public:
  explicit FieldCipher(Keyring keyring) : keyring_(std::move(keyring)) {}

  // `plain` under the newest key, bound to `context`, in `form`.
  std::string Seal(std::string_view plain, std::string_view context,
                   SealedForm form = SealedForm::kText) const;
  // The plain value. kUnreadable with a message naming `context` and what failed (unknown key,
  // damaged value, wrong context), never key or value bytes.
  Result<std::string> Open(std::string_view sealed, std::string_view context) const;

  // True if `stored` has the sealed format (whatever its key).
  static bool IsSealed(std::string_view stored);
  // The key name of a sealed value; "" if `stored` is not sealed.
  static std::string_view KeyNameOf(std::string_view stored);

  const Keyring& keyring() const { return keyring_; }

 private:
  Keyring keyring_;
};

}  // namespace webhookd::crypto
