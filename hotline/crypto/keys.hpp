#pragma once
// Keyed hashes that let the hotline recognise a number without storing it, and sealing
// (authenticated encryption) for the little it must keep for a while.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace hotline::crypto {

/// Lowercase hex of HMAC-SHA256(key, message).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

/// The id a contact is stored under: "c_" + first 32 hex chars of HMAC-SHA256(secret, e164).
/// Short enough to log, long enough (128 bits) not to collide.
/// Throws std::invalid_argument when `secret` is empty (the key would be a reversible plain hash).
std::string contact_key(std::string_view secret, std::string_view e164);

/// HKDF-SHA256 (RFC 5869): `length` bytes of key material (raw bytes, not hex).
std::string hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info,
                        std::size_t length);

/// The 32-byte AES key that seal()/open() use, derived from HOTLINE_SECRET with HKDF-SHA256
/// (salt "hotline", info "hotline seal v1"), so it is never the contact-hash key itself.
/// Throws std::invalid_argument when `secret` is empty.
std::string seal_key(std::string_view secret);

/// Encrypts with AES-256-GCM under seal_key(secret): "v1." + hex(nonce ‖ ciphertext ‖ tag),
/// a fresh random 96-bit nonce each time. For the few things kept while needed (a texter's
/// number during a relay, an outbound message until it is sent). `context` is authenticated
/// but not stored (e.g. the table the value belongs to), so a value moved elsewhere won't open.
std::string seal(std::string_view secret, std::string_view plaintext, std::string_view context = {});

/// The inverse of seal(); nullopt when the value was tampered with, sealed under another
/// secret or context, or is not a sealed value at all. Never throws for bad input.
std::optional<std::string> open(std::string_view secret, std::string_view sealed,
                                std::string_view context = {});

/// seal()/open() with the key derived once, under its own purpose: for values sealed on every
/// message (a conversation's session and remembered answers), where deriving the key per call
/// would cost more than the encryption. The key is HKDF-SHA256(secret, salt "hotline",
/// info `purpose`), so each purpose has a key of its own and a value sealed for one purpose never
/// opens under another. Same format as seal(): "v1." + hex(nonce ‖ ciphertext ‖ tag).
/// Thread-safe (const after construction); the key is wiped when destroyed.
class Sealer {
 public:
  /// Throws std::invalid_argument when `secret` or `purpose` is empty.
  Sealer(std::string_view secret, std::string_view purpose);
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  /// A fresh random nonce each time; `context` is authenticated, not stored.
  std::string seal(std::string_view plaintext, std::string_view context) const;
  /// nullopt when tampered with, sealed under another key or context, or not sealed at all.
  std::optional<std::string> open(std::string_view sealed, std::string_view context) const;
  /// Whether `value` has the form of a sealed value ("v1." prefix), whether or not it opens.
  static bool looks_sealed(std::string_view value) noexcept;

 private:
  std::string key_;
};

/// AES-256-GCM with an explicit key (32 bytes) and nonce (12 bytes): ciphertext ‖ 16-byte tag,
/// raw bytes. Exposed for known-answer tests; use seal() everywhere else.
std::string aes256gcm_encrypt(std::string_view key, std::string_view nonce,
                              std::string_view plaintext, std::string_view aad);

/// Cryptographically random bytes, hex encoded (2 × n characters).
/// Throws std::runtime_error if the system cannot supply randomness.
std::string random_hex(std::size_t n_bytes);

/// Whether `a` and `b` are the same bytes, in time that reveals neither where they differ nor
/// their lengths (for tokens an attacker may guess at, e.g. HOTLINE_ADMIN_TOKEN).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace hotline::crypto
