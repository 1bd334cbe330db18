#include "hotline/crypto/keys.hpp"

#include "hotline/crypto/hmac.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <stdexcept>
#include <vector>

namespace hotline::crypto {
namespace {

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0F];
  }
  return out;
}

// OpenSSL treats a NULL key as "reuse the previous key" in some code paths; an empty view may
// carry a null data(), so point empty inputs at a real (zero-length) buffer instead.
const unsigned char* bytes_of(std::string_view s) {
  static const unsigned char kEmpty[1] = {0};
  return s.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  if (key.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("hmac key too long");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(message),
           message.size(), digest, &digest_len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return to_hex(digest, digest_len);
}

std::string contact_key(std::string_view secret, std::string_view e164) {
  // Without a secret the "keyed" hash is a plain hash of a phone number, and the whole number
  // space can be hashed in minutes: every stored key would be reversible. Refuse rather than
  // quietly store something that identifies people. (The message never contains the number.)
  if (secret.empty()) throw std::invalid_argument("contact_key: the contact secret is empty");
  // Once a message: the secret's pad blocks are hashed once per thread (PreparedHmac), not
  // looked up, allocated and hashed again by HMAC() on every call.
  PreparedHmac::Mac mac{};
  PreparedHmac::cached(PreparedHmac::Digest::sha256, secret).mac({e164}, mac);
  return "c_" + to_hex(mac.data(), 16);  // 128 bits: the first 32 hex digits of the HMAC
}

std::string random_hex(std::size_t n_bytes) {
  if (n_bytes == 0) return {};
  if (n_bytes > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("random_hex: too many bytes");
  std::vector<unsigned char> buf(n_bytes);
  // RAND_bytes draws from the OS CSPRNG via OpenSSL's DRBG; it only fails when the generator
  // cannot be seeded, and then any "random" value would be guessable, so fail loudly.
  if (RAND_bytes(buf.data(), static_cast<int>(n_bytes)) != 1) {
    throw std::runtime_error("random_hex: RAND_bytes failed (no entropy available)");
  }
  std::string out = to_hex(buf.data(), buf.size());
  // These bytes may become a secret (tokens, keys): don't leave a copy on the heap.
  OPENSSL_cleanse(buf.data(), buf.size());
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Equal-length digests, compared with CRYPTO_memcmp: neither where they differ nor the
  // secret's length shows in the timing.
  const std::string key = "hotline constant-time comparison";
  const std::string da = hmac_sha256_hex(key, a), db = hmac_sha256_hex(key, b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

}  // namespace hotline::crypto

// ---- Sealing: AES-256-GCM under a key derived from HOTLINE_SECRET ----------------------------
#include <openssl/kdf.h>

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <memory>

namespace hotline::crypto {
namespace {

constexpr std::size_t kKeyBytes = 32, kNonceBytes = 12, kTagBytes = 16;
constexpr std::string_view kSealPrefix = "v1.";

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

// AES-256-GCM fetched from the provider once: EVP_aes_256_gcm() makes every init look it up
// again (a third of what sealing a session cost, measured with bench/profile). Its default
// nonce length is the 12 bytes used here, so no IV-length control is needed either.
const EVP_CIPHER* aes256gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (cipher == nullptr) throw std::runtime_error("aes256gcm: AES-256-GCM is not available");
  return cipher;
}

int int_size(std::string_view s, const char* what) {
  if (s.size() > static_cast<std::size_t>(INT_MAX / 2)) throw std::invalid_argument(what);
  return static_cast<int>(s.size());
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// A cipher context per thread and direction, kept with the key it was last given: it is keyed
// (the key schedule, OpenSSL's parameter set-up: most of what a short value cost) only when
// the key changes; after that a value costs its nonce and its bytes. Every message seals two
// values and opens one under the same key, so that is the common case (docs/performance.md,
// round 6). Any failure drops the key, so the next call starts the context afresh. The key's
// copy is wiped when the thread ends.
class KeyedContext {
 public:
  ~KeyedContext() { OPENSSL_cleanse(key_, sizeof key_); }
  /// The context, ready for one value under `key` (32 bytes) and `nonce`; nullptr on failure.
  EVP_CIPHER_CTX* start(std::string_view key, std::string_view nonce, bool encrypt) {
    if (!ctx_) {
      ctx_.reset(EVP_CIPHER_CTX_new());
      if (!ctx_) return nullptr;
    }
    const bool same = keyed_ && CRYPTO_memcmp(key_, key.data(), kKeyBytes) == 0;
    const EVP_CIPHER* cipher = same ? nullptr : aes256gcm();
    const unsigned char* k = same ? nullptr : bytes_of(key);
    const int ok = encrypt ? EVP_EncryptInit_ex(ctx_.get(), cipher, nullptr, k, bytes_of(nonce))
                           : EVP_DecryptInit_ex(ctx_.get(), cipher, nullptr, k, bytes_of(nonce));
    if (ok != 1) {
      failed();
      return nullptr;
    }
    if (!same) {
      std::memcpy(key_, key.data(), kKeyBytes);
      keyed_ = true;
    }
    return ctx_.get();
  }
  void failed() { keyed_ = false; }

 private:
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx_;
  unsigned char key_[kKeyBytes] = {};
  bool keyed_ = false;
};

thread_local KeyedContext t_encrypting, t_decrypting;

/// Decrypts ciphertext ‖ tag; nullopt when the tag does not verify.
std::optional<std::string> aes256gcm_decrypt(std::string_view key, std::string_view nonce,
                                             std::string_view data, std::string_view aad) {
  if (key.size() != kKeyBytes || nonce.size() != kNonceBytes || data.size() < kTagBytes) return std::nullopt;
  EVP_CIPHER_CTX* ctx = t_decrypting.start(key, nonce, /*encrypt=*/false);
  if (!ctx) return std::nullopt;
  const std::string_view cipher = data.substr(0, data.size() - kTagBytes);
  std::string tag(data.substr(data.size() - kTagBytes));
  std::string out(cipher.size(), '\0');
  int len = 0, total = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  auto refuse = [&]() -> std::optional<std::string> {
    t_decrypting.failed();
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  };
  if (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, bytes_of(aad), int_size(aad, "aad too long")) != 1) {
    return refuse();
  }
  if (!cipher.empty()) {
    if (EVP_DecryptUpdate(ctx, o, &len, bytes_of(cipher), int_size(cipher, "value too long")) != 1) return refuse();
    total = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1) return refuse();
  // Final fails when the tag does not match: then nothing decrypted may be used.
  if (EVP_DecryptFinal_ex(ctx, o + total, &len) != 1) return refuse();
  out.resize(static_cast<std::size_t>(total + len));
  return out;
}

}  // namespace

std::string hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info,
                        std::size_t length) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  std::string out(length, '\0');
  std::size_t out_len = length;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), bytes_of(salt), int_size(salt, "salt too long")) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), bytes_of(ikm), int_size(ikm, "key too long")) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), bytes_of(info), int_size(info, "info too long")) <= 0 ||
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &out_len) <= 0 ||
      out_len != length) {
    throw std::runtime_error("HKDF-SHA256 failed");
  }
  return out;
}

std::string seal_key(std::string_view secret) {
  if (secret.empty()) throw std::invalid_argument("seal: the secret is empty");
  return hkdf_sha256(secret, "hotline", "hotline seal v1", kKeyBytes);
}

std::string aes256gcm_encrypt(std::string_view key, std::string_view nonce,
                              std::string_view plaintext, std::string_view aad) {
  if (key.size() != kKeyBytes) throw std::invalid_argument("aes256gcm: the key must be 32 bytes");
  if (nonce.size() != kNonceBytes) throw std::invalid_argument("aes256gcm: the nonce must be 12 bytes");
  EVP_CIPHER_CTX* ctx = t_encrypting.start(key, nonce, /*encrypt=*/true);
  if (!ctx) throw std::runtime_error("aes256gcm: could not start the cipher");
  std::string out(plaintext.size() + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0, total = 0;
  bool ok = true;
  if (!aad.empty()) ok = EVP_EncryptUpdate(ctx, nullptr, &len, bytes_of(aad), int_size(aad, "aad too long")) == 1;
  if (ok && !plaintext.empty()) {
    ok = EVP_EncryptUpdate(ctx, o, &len, bytes_of(plaintext), int_size(plaintext, "value too long")) == 1;
    total = len;
  }
  if (ok) ok = EVP_EncryptFinal_ex(ctx, o + total, &len) == 1;
  if (ok) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes, o + plaintext.size()) == 1;
  if (!ok) {
    t_encrypting.failed();
    throw std::runtime_error("aes256gcm: encryption failed");
  }
  return out;
}

namespace {

// Random nonces, drawn from the system's CSPRNG 64 at a time per thread: one RAND_bytes call
// costs ~6,700 instructions whatever its length (OpenSSL's DRBG), half of what sealing a
// session cost (docs/performance.md, round 6). A fork empties every buffer (the child's
// first nonce is drawn afresh), so parent and child never use the same nonce under one key.
std::atomic<unsigned> g_fork_generation{0};

class NonceSource {
 public:
  void next(unsigned char* out) {
    static const bool watching_forks =
        pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
    const unsigned generation = g_fork_generation.load(std::memory_order_relaxed);
    if (!watching_forks || used_ == sizeof buffer_ || generation != generation_) {
      if (RAND_bytes(buffer_, sizeof buffer_) != 1) throw std::runtime_error("seal: RAND_bytes failed (no entropy available)");
      used_ = 0;
      generation_ = generation;
    }
    std::memcpy(out, buffer_ + used_, kNonceBytes);
    used_ += watching_forks ? kNonceBytes : sizeof buffer_;  // no fork watch: one draw a nonce
  }

 private:
  unsigned char buffer_[kNonceBytes * 64];
  std::size_t used_ = sizeof buffer_;
  unsigned generation_ = 0;
};

thread_local NonceSource t_nonces;

// The sealed form of `plaintext` under `key` (32 bytes), with a fresh random nonce.
std::string seal_with_key(std::string_view key, std::string_view plaintext, std::string_view context) {
  unsigned char nonce[kNonceBytes];
  t_nonces.next(nonce);
  const std::string_view nonce_view(reinterpret_cast<const char*>(nonce), kNonceBytes);
  const std::string sealed = aes256gcm_encrypt(key, nonce_view, plaintext, context);
  std::string out;
  out.reserve(kSealPrefix.size() + 2 * (kNonceBytes + sealed.size()));
  out += kSealPrefix;
  out += to_hex(nonce, kNonceBytes);
  out += to_hex(reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size());
  return out;
}

std::optional<std::string> open_with_key(std::string_view key, std::string_view sealed, std::string_view context) {
  if (!sealed.starts_with(kSealPrefix)) return std::nullopt;
  auto raw = from_hex(sealed.substr(kSealPrefix.size()));
  if (!raw || raw->size() < kNonceBytes + kTagBytes) return std::nullopt;
  return aes256gcm_decrypt(key, std::string_view(*raw).substr(0, kNonceBytes),
                           std::string_view(*raw).substr(kNonceBytes), context);
}

}  // namespace

std::string seal(std::string_view secret, std::string_view plaintext, std::string_view context) {
  std::string key = seal_key(secret);
  std::string sealed = seal_with_key(key, plaintext, context);
  OPENSSL_cleanse(key.data(), key.size());
  return sealed;
}

std::optional<std::string> open(std::string_view secret, std::string_view sealed,
                                std::string_view context) {
  if (secret.empty() || !sealed.starts_with(kSealPrefix)) return std::nullopt;
  std::string key = seal_key(secret);
  auto plain = open_with_key(key, sealed, context);
  OPENSSL_cleanse(key.data(), key.size());
  return plain;
}

Sealer::Sealer(std::string_view secret, std::string_view purpose) {
  if (secret.empty()) throw std::invalid_argument("seal: the secret is empty");
  if (purpose.empty()) throw std::invalid_argument("seal: the purpose is empty");
  key_ = hkdf_sha256(secret, "hotline", purpose, kKeyBytes);
}

Sealer::~Sealer() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string Sealer::seal(std::string_view plaintext, std::string_view context) const {
  return seal_with_key(key_, plaintext, context);
}

std::optional<std::string> Sealer::open(std::string_view sealed, std::string_view context) const {
  return open_with_key(key_, sealed, context);
}

bool Sealer::looks_sealed(std::string_view value) noexcept { return value.starts_with(kSealPrefix); }

}  // namespace hotline::crypto
