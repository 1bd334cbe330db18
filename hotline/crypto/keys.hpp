#pragma once
// Keyed hashes that let the hotline recognise a number without storing it.
#include <string>
#include <string_view>

namespace hotline::crypto {

/// Lowercase hex of HMAC-SHA256(key, message).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

/// The id a contact is stored under: "c_" + first 32 hex chars of HMAC-SHA256(secret, e164).
/// Short enough to log, long enough (128 bits) not to collide.
std::string contact_key(std::string_view secret, std::string_view e164);

/// Cryptographically random bytes, hex encoded (2 × n characters).
std::string random_hex(std::size_t n_bytes);

}  // namespace hotline::crypto
