#include "crypto/field_cipher.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "crypto/crypto.hpp"

namespace webhookd::crypto {
namespace {

constexpr std::string_view kTextPrefix = "$wk1$";
constexpr std::string_view kBytesPrefix = "$wk2$";
constexpr std::size_t kPrefixLength = 5;
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kMaxNameLength = 64;

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

// Fetched once: EVP_aes_256_gcm() would look the implementation up again on every value.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

enum class Direction { kEncrypt, kDecrypt };

// This thread's context for `key` and `direction`, its key schedule set up once (a few
// microseconds each time otherwise): a value then only sets its nonce. Found by the key's
// bytes, not its address, so that a new Keyring never meets an old key's context.
EVP_CIPHER_CTX* ContextFor(const NamedKey& key, Direction direction) {
  struct Cached {
    std::string key_bytes;
    Direction direction;
    CipherContext context;
  };
  thread_local std::vector<Cached> cache;
  for (Cached& c : cache) {
    if (c.direction == direction && c.key_bytes == key.bytes) return c.context.get();
  }
  CipherContext context(EVP_CIPHER_CTX_new());
  const auto* bytes = reinterpret_cast<const unsigned char*>(key.bytes.data());
  const int ok = direction == Direction::kEncrypt
                     ? EVP_EncryptInit_ex2(context.get(), Aes256Gcm(), bytes, nullptr, nullptr)
                     : EVP_DecryptInit_ex2(context.get(), Aes256Gcm(), bytes, nullptr, nullptr);
  if (!context || ok != 1) return nullptr;
  cache.push_back({key.bytes, direction, std::move(context)});
  return cache.back().context.get();
}

// A nonce never used before by this process: a random 64-bit prefix per thread (renewed when
// its counter wraps) and a 32-bit counter. Random prefixes make a repeat across threads,
// processes and nodes as unlikely as 96 random bits would for the values one key encrypts,
// and cost nothing per value, where RAND_bytes costs about 20 us a call here.
std::string NewNonce() {
  thread_local std::string prefix;
  thread_local std::uint32_t counter = 0;
  if (prefix.empty() || counter == 0) prefix = RandomBytes(8);
  const std::uint32_t n = counter++;
  std::string nonce = prefix;
  for (int shift = 24; shift >= 0; shift -= 8) nonce.push_back(static_cast<char>(n >> shift));
  return nonce;
}

const unsigned char* U(std::string_view s) {
  static constexpr unsigned char kEmpty[1] = {0};
  return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Result<NamedKey> ParseLine(std::string_view line, int number) {
  const std::string where = "key file line " + std::to_string(number) + ": ";
  const std::size_t space = line.find_first_of(" \t");
  if (space == std::string_view::npos) {
    return Error::Invalid(where + "expected 'NAME BASE64KEY'");
  }
  const std::string_view name = line.substr(0, space);
  if (!ValidName(name)) {
    return Error::Invalid(where + "a key name has 1 to 64 letters, digits, '_', '-' or '.'");
  }
  std::optional<std::string> bytes = Base64Decode(Trim(line.substr(space)));
  if (!bytes || bytes->size() != kKeyBytes) {
    return Error::Invalid(where + "key '" + std::string(name) +
                          "' is not 32 bytes in standard base64");
  }
  return NamedKey{std::string(name), std::move(*bytes)};
}

// Ciphertext || tag of `plain` under `key` and `nonce`, with `context` as associated data.
std::string Encrypt(const NamedKey& key, std::string_view nonce, std::string_view plain,
                    std::string_view context) {
  EVP_CIPHER_CTX* ctx = ContextFor(key, Direction::kEncrypt);
  std::string out(plain.size() + kTagBytes, '\0');
  int length = 0;
  int final_length = 0;
  const bool ok =
      ctx != nullptr && EVP_EncryptInit_ex2(ctx, nullptr, nullptr, U(nonce), nullptr) == 1 &&
      EVP_EncryptUpdate(ctx, nullptr, &length, U(context), static_cast<int>(context.size())) == 1 &&
      EVP_EncryptUpdate(ctx, U(out), &length, U(plain), static_cast<int>(plain.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx, U(out) + length, &final_length) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes, U(out) + plain.size()) == 1;
  // Storing a value unencrypted would be worse than stopping; OpenSSL fails here only when it
  // cannot allocate.
  if (!ok) std::abort();
  return out;
}

std::optional<std::string> Decrypt(const NamedKey& key, std::string_view nonce,
                                   std::string_view sealed, std::string_view context) {
  const std::string_view ciphertext = sealed.substr(0, sealed.size() - kTagBytes);
  std::string tag(sealed.substr(ciphertext.size()));
  EVP_CIPHER_CTX* ctx = ContextFor(key, Direction::kDecrypt);
  std::string out(ciphertext.size(), '\0');
  int length = 0;
  int final_length = 0;
  const bool ok =
      ctx != nullptr && EVP_DecryptInit_ex2(ctx, nullptr, nullptr, U(nonce), nullptr) == 1 &&
      EVP_DecryptUpdate(ctx, nullptr, &length, U(context), static_cast<int>(context.size())) == 1 &&
      EVP_DecryptUpdate(ctx, U(out), &length, U(ciphertext), static_cast<int>(ciphertext.size())) ==
          1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx, U(out) + length, &final_length) == 1;
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace

Result<Keyring> Keyring::Parse(std::string_view text) {
  Keyring keyring;
  int number = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = Trim(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
    ++number;
    if (line.empty() || line.front() == '#') continue;
    Result<NamedKey> key = ParseLine(line, number);
    if (!key.ok()) return key.error();
    if (keyring.Find(key->name) != nullptr) {
      return Error::Invalid("key file line " + std::to_string(number) + ": key name '" + key->name +
                            "' appears twice");
    }
    keyring.Add(std::move(*key));
  }
  if (keyring.keys_.empty()) return Error::Invalid("the key file holds no key");
  return keyring;
}

Result<Keyring> Keyring::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Error::NotFound("the key file " + path + " does not exist");
    return Error::Invalid("cannot read the key file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  Result<Keyring> keyring = Parse(text.str());
  if (!keyring.ok()) return Error::Invalid(path + ": " + keyring.error().message);
  return keyring;
}

const NamedKey* Keyring::Find(std::string_view name) const {
  for (const NamedKey& key : keys_) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

NamedKey Keyring::NewKey() const {
  std::size_t number = keys_.size() + 1;
  while (Find("key-" + std::to_string(number)) != nullptr) ++number;
  return NamedKey{"key-" + std::to_string(number), RandomBytes(kKeyBytes)};
}

std::string Keyring::FileLine(const NamedKey& key) {
  return key.name + " " + Base64Encode(key.bytes) + "\n";
}

Result<std::string> AddKeyToFile(const std::string& path) {
  Result<Keyring> existing = Keyring::Load(path);
  if (!existing.ok() && existing.error().kind != ErrorKind::kNotFound) return existing.error();
  const Keyring keyring = existing.ok() ? std::move(*existing) : Keyring();
  const NamedKey key = keyring.NewKey();
  const std::string line = Keyring::FileLine(key);
  // O_CREAT with 0600: a new file is never readable by others, not even for a moment.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return Error::Invalid("cannot write the key file " + path + ": " + std::strerror(errno));
  const ssize_t written = ::write(fd, line.data(), line.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size()) || !synced) {
    return Error::Invalid("cannot write the key file " + path + ": " + std::strerror(errno));
  }
  return key.name;
}

std::string FieldCipher::Seal(std::string_view plain, std::string_view context,
                              SealedForm form) const {
  const NamedKey& key = keyring_.newest();
  const std::string nonce = NewNonce();
  std::string body = nonce;
  body += Encrypt(key, nonce, plain, context);
  if (form == SealedForm::kBytes) {
    std::string out;
    out.reserve(kPrefixLength + key.name.size() + 1 + body.size());
    out.append(kBytesPrefix).append(key.name).append(1, '$').append(body);
    return out;
  }
  std::string out;
  out.reserve(kPrefixLength + key.name.size() + 1 + 4 * (body.size() + 2) / 3);
  out.append(kTextPrefix).append(key.name).append(1, '$').append(Base64Encode(body));
  return out;
}

Result<std::string> FieldCipher::Open(std::string_view sealed, std::string_view context) const {
  const std::string_view name = KeyNameOf(sealed);
  if (name.empty()) return Error::Unreadable(std::string(context) + " is not encrypted");
  const NamedKey* key = keyring_.Find(name);
  if (key == nullptr) {
    return Error::Unreadable(std::string(context) + " is encrypted under key '" +
                             std::string(name) + "', which the key file lacks");
  }
  std::string_view body = sealed.substr(kPrefixLength + name.size() + 1);
  std::optional<std::string> decoded;
  if (sealed.starts_with(kTextPrefix)) {
    decoded = Base64Decode(body);
    body = decoded ? std::string_view(*decoded) : std::string_view();
  }
  if (body.size() < kNonceBytes + kTagBytes) {
    return Error::Unreadable(std::string(context) + " is damaged: its ciphertext is malformed");
  }
  std::optional<std::string> plain =
      Decrypt(*key, body.substr(0, kNonceBytes), body.substr(kNonceBytes), context);
  if (!plain) {
    return Error::Unreadable(std::string(context) +
                             " cannot be decrypted: it was altered or belongs to another row");
  }
  return std::move(*plain);
}

bool FieldCipher::IsSealed(std::string_view stored) { return !KeyNameOf(stored).empty(); }

std::string_view FieldCipher::KeyNameOf(std::string_view stored) {
  if (!stored.starts_with(kTextPrefix) && !stored.starts_with(kBytesPrefix)) return {};
  const std::string_view rest = stored.substr(kPrefixLength);
  const std::size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos || !ValidName(rest.substr(0, dollar))) return {};
  return rest.substr(0, dollar);
}

}  // namespace webhookd::crypto
