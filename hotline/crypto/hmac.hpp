#pragma once
// HMAC (RFC 2104) for a key that signs many messages: the Twilio auth token (X-Twilio-Signature,
// HMAC-SHA1) and HOTLINE_SECRET (contact keys, HMAC-SHA256).
//
// OpenSSL 3's one-shot HMAC() looks up the MAC and the digest in the provider, allocates a
// context, hashes the key's two pad blocks and frees it all again, on every call: about
// 12,000 instructions of overhead around 2,000-8,000 of hashing (callgrind, docs/performance.md).
// A PreparedHmac hashes the pad blocks once and keeps the two digest states; a message then
// costs two state copies, its own blocks and one block for the outer hash. The result is the
// same HMAC, bit for bit (tests/test_crypto.cpp checks RFC 4231 and RFC 2202 vectors).
//
// A PreparedHmac is not thread-safe (it has one working context); `PreparedHmac::cached` keeps
// one per thread, per digest, for the last key used, which is what a server with one token
// and one secret needs.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hotline::crypto {

class PreparedHmac {
 public:
  enum class Digest { sha1, sha256 };
  using Mac = std::array<unsigned char, EVP_MAX_MD_SIZE>;

  PreparedHmac(Digest digest, std::string_view key) : key_(key) {
    const EVP_MD* md = digest == Digest::sha1 ? EVP_sha1() : EVP_sha256();
    const int block = EVP_MD_get_block_size(md);
    std::array<unsigned char, 128> k{};  // block sizes: 64 for SHA-1 and SHA-256
    if (block <= 0 || static_cast<std::size_t>(block) > k.size()) throw std::runtime_error("HMAC: unexpected digest");
    if (key.size() > static_cast<std::size_t>(block)) {
      // A key longer than a block is replaced by its hash (RFC 2104).
      unsigned int n = 0;
      if (EVP_Digest(key.data(), key.size(), k.data(), &n, md, nullptr) != 1) throw std::runtime_error("HMAC: digest failed");
    } else if (!key.empty()) {
      std::copy(key.begin(), key.end(), k.begin());
    }
    std::array<unsigned char, 128> pad{};
    bool ok = inner_ && outer_ && work_;
    for (int i = 0; ok && i < block; ++i) pad[i] = k[i] ^ 0x36;
    ok = ok && EVP_DigestInit_ex(inner_.get(), md, nullptr) == 1 &&
         EVP_DigestUpdate(inner_.get(), pad.data(), static_cast<std::size_t>(block)) == 1;
    for (int i = 0; ok && i < block; ++i) pad[i] = k[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(outer_.get(), md, nullptr) == 1 &&
         EVP_DigestUpdate(outer_.get(), pad.data(), static_cast<std::size_t>(block)) == 1;
    OPENSSL_cleanse(k.data(), k.size());
    OPENSSL_cleanse(pad.data(), pad.size());
    if (!ok) throw std::runtime_error("HMAC: initialising the digest failed");
  }
  ~PreparedHmac() { OPENSSL_cleanse(key_.data(), key_.size()); }
  PreparedHmac(const PreparedHmac&) = delete;
  PreparedHmac& operator=(const PreparedHmac&) = delete;

  /// HMAC of the concatenation of `parts`; returns the MAC's length (20 or 32) in `out`.
  unsigned int mac(std::initializer_list<std::string_view> parts, Mac& out) {
    Mac inner{};
    unsigned int inner_len = 0, out_len = 0;
    bool ok = EVP_MD_CTX_copy_ex(work_.get(), inner_.get()) == 1;
    for (std::string_view part : parts) {
      ok = ok && (part.empty() || EVP_DigestUpdate(work_.get(), part.data(), part.size()) == 1);
    }
    ok = ok && EVP_DigestFinal_ex(work_.get(), inner.data(), &inner_len) == 1 &&
         EVP_MD_CTX_copy_ex(work_.get(), outer_.get()) == 1 &&
         EVP_DigestUpdate(work_.get(), inner.data(), inner_len) == 1 &&
         EVP_DigestFinal_ex(work_.get(), out.data(), &out_len) == 1;
    if (!ok) throw std::runtime_error("HMAC failed");
    return out_len;
  }

  /// This thread's PreparedHmac for `digest` and `key`, made again only when the key changes.
  static PreparedHmac& cached(Digest digest, std::string_view key) {
    thread_local std::unique_ptr<PreparedHmac> sha1, sha256;
    auto& slot = digest == Digest::sha1 ? sha1 : sha256;
    if (!slot || !slot->has_key(key)) {
      slot.reset();  // the old key's copy is cleansed before the new one is made
      slot = std::make_unique<PreparedHmac>(digest, key);
    }
    return *slot;
  }

 private:
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  using Ctx = std::unique_ptr<EVP_MD_CTX, CtxFree>;

  bool has_key(std::string_view key) const {
    return key.size() == key_.size() && (key.empty() || CRYPTO_memcmp(key.data(), key_.data(), key.size()) == 0);
  }

  std::string key_;  // to recognise the key on the next call (it lives in the caller's settings too)
  Ctx inner_{EVP_MD_CTX_new()}, outer_{EVP_MD_CTX_new()}, work_{EVP_MD_CTX_new()};
};

}  // namespace hotline::crypto
