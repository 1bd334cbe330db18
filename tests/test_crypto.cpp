#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

#include "hotline/crypto/hmac.hpp"
#include "hotline/crypto/keys.hpp"

using namespace hotline::crypto;

namespace {
bool is_lower_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
}  // namespace

TEST_CASE("hmac_sha256_hex matches RFC 4231 test vectors", "[crypto]") {
  SECTION("test case 1: 20-byte 0x0b key") {
    const std::string key(20, '\x0b');
    CHECK(hmac_sha256_hex(key, "Hi There") ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  }
  SECTION("test case 2: key shorter than the block") {
    CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  SECTION("test case 3: 0xaa key, 0xdd data") {
    CHECK(hmac_sha256_hex(std::string(20, '\xaa'), std::string(50, '\xdd')) ==
          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  }
  SECTION("test case 6: key longer than the block is hashed first") {
    CHECK(hmac_sha256_hex(std::string(131, '\xaa'),
                          "Test Using Larger Than Block-Size Key - Hash Key First") ==
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  }
}

TEST_CASE("hmac_sha256_hex handles empty inputs and embedded NULs", "[crypto]") {
  // HMAC-SHA256 with empty key and empty message (well-known value).
  CHECK(hmac_sha256_hex("", "") ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  const std::string with_nul("a\0b", 3);
  CHECK(hmac_sha256_hex("k", with_nul) != hmac_sha256_hex("k", "a"));
}

TEST_CASE("contact_key has a fixed, loggable shape", "[crypto]") {
  const std::string key = contact_key("server-secret", "+15551234567");
  REQUIRE(key.size() == 2 + 32);
  CHECK(key.rfind("c_", 0) == 0);
  CHECK(is_lower_hex(key.substr(2)));
  // It is the documented truncation of the HMAC, so other tools can reproduce it.
  CHECK(key.substr(2) == hmac_sha256_hex("server-secret", "+15551234567").substr(0, 32));
  // And it never contains the number.
  CHECK(key.find("5551234567") == std::string::npos);
}

TEST_CASE("PreparedHmac gives HMAC() for SHA-1 (RFC 2202) and SHA-256, whatever the key", "[crypto]") {
  auto hex = [](const PreparedHmac::Mac& mac, unsigned int n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) (out += kDigits[mac[i] >> 4]) += kDigits[mac[i] & 15];
    return out;
  };
  auto sha1 = [&](std::string_view key, std::initializer_list<std::string_view> parts) {
    PreparedHmac::Mac mac{};
    const unsigned int n = PreparedHmac::cached(PreparedHmac::Digest::sha1, key).mac(parts, mac);
    return hex(mac, n);
  };
  CHECK(sha1(std::string(20, '\x0b'), {"Hi There"}) == "b617318655057264e28bc0b6fb378c8ef146be00");
  CHECK(sha1("Jefe", {"what do ya ", "want for nothing?"}) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(sha1(std::string(80, '\xaa'), {"Test Using Larger Than Block-Size Key - Hash Key First"}) ==
        "aa4ae5e15272d00e95705637ce8a3b55ed402112");
  CHECK(sha1("", {""}) == "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d");
  // The same thread switching keys and digests back and forth: each answer is still HMAC().
  for (int round = 0; round < 3; ++round) {
    for (const std::string key : {std::string("server-secret"), std::string(64, 'k'), std::string(65, 'k'),
                                  std::string(200, '\x01'), std::string("k\0ey", 4)}) {
      PreparedHmac::Mac mac{};
      const unsigned int n = PreparedHmac::cached(PreparedHmac::Digest::sha256, key).mac({"+1555", "1234567"}, mac);
      CHECK(hex(mac, n) == hmac_sha256_hex(key, "+15551234567"));
      CHECK(contact_key(key, "+15551234567") == "c_" + hmac_sha256_hex(key, "+15551234567").substr(0, 32));
    }
  }
}

TEST_CASE("contact_key is stable and depends on the secret and the number", "[crypto]") {
  const std::string a = contact_key("secret-one", "+15551234567");
  CHECK(contact_key("secret-one", "+15551234567") == a);
  CHECK(contact_key("secret-two", "+15551234567") != a);
  CHECK(contact_key("secret-one", "+15551234568") != a);
}

TEST_CASE("contact_key refuses an empty secret", "[crypto]") {
  try {
    contact_key("", "+15551234567");
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    // The error must not leak the number it was asked to hash.
    CHECK(std::string(e.what()).find("5551234567") == std::string::npos);
  }
}

TEST_CASE("random_hex returns 2n lowercase hex characters that differ between calls", "[crypto]") {
  CHECK(random_hex(0).empty());
  CHECK(random_hex(1).size() == 2);
  const std::string a = random_hex(16);
  const std::string b = random_hex(16);
  CHECK(a.size() == 32);
  CHECK(is_lower_hex(a));
  CHECK(a != b);  // 2^-128 chance of a false failure

  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(random_hex(8));
  CHECK(seen.size() == 100);
}

namespace {
std::string hex_of(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0x0F];
  }
  return out;
}
std::string unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}
const std::string kSecret = "test-secret-for-sealing-0001";
}  // namespace

TEST_CASE("hkdf_sha256 matches RFC 5869 test case 1", "[crypto][seal]") {
  const std::string okm = hkdf_sha256(std::string(22, '\x0b'), unhex("000102030405060708090a0b0c"),
                                      unhex("f0f1f2f3f4f5f6f7f8f9"), 42);
  CHECK(hex_of(okm) ==
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST_CASE("aes256gcm_encrypt matches the GCM specification's AES-256 test cases", "[crypto][seal]") {
  const std::string key(32, '\0'), nonce(12, '\0');
  SECTION("test case 13: empty plaintext, only the tag") {
    CHECK(hex_of(aes256gcm_encrypt(key, nonce, "", "")) == "530f8afbc74536b9a963b4f1c4cb738b");
  }
  SECTION("test case 14: one zero block") {
    CHECK(hex_of(aes256gcm_encrypt(key, nonce, std::string(16, '\0'), "")) ==
          "cea7403d4d606b6e074ec5d3baf39d18" "d0d1c8a799996bf0265b98b5d48ab919");
  }
  CHECK_THROWS_AS(aes256gcm_encrypt("short", nonce, "x", ""), std::invalid_argument);
}

TEST_CASE("seal and open round-trip, with a fresh nonce each time", "[crypto][seal]") {
  for (const std::string plain : {std::string(""), std::string("+14145551234"),
                                  std::string("¿Me pueden ayudar? Tengo miedo."), std::string(2000, 'x'),
                                  std::string("a\0b", 3)}) {
    const std::string sealed = seal(kSecret, plain, "relays.texter");
    CHECK(sealed.rfind("v1.", 0) == 0);
    if (plain.size() >= 8) CHECK(sealed.find(plain) == std::string::npos);
    auto opened = open(kSecret, sealed, "relays.texter");
    REQUIRE(opened);
    CHECK(*opened == plain);
  }
  CHECK(seal(kSecret, "+14145551234") != seal(kSecret, "+14145551234"));
}

TEST_CASE("open refuses tampered, foreign or malformed values", "[crypto][seal]") {
  const std::string sealed = seal(kSecret, "+14145551234", "outbox.to");
  SECTION("every single flipped character is detected") {
    for (std::size_t i = 3; i < sealed.size(); ++i) {
      std::string bad = sealed;
      bad[i] = bad[i] == '0' ? '1' : '0';
      CHECK_FALSE(open(kSecret, bad, "outbox.to"));
    }
  }
  SECTION("another secret or another context") {
    CHECK_FALSE(open("another-secret-entirely-0002", sealed, "outbox.to"));
    CHECK_FALSE(open(kSecret, sealed, "relays.texter"));
    CHECK_FALSE(open("", sealed, "outbox.to"));
  }
  SECTION("truncated, extended or not sealed at all") {
    CHECK_FALSE(open(kSecret, sealed.substr(0, sealed.size() - 2), "outbox.to"));
    CHECK_FALSE(open(kSecret, sealed + "00", "outbox.to"));
    CHECK_FALSE(open(kSecret, "v1.", "outbox.to"));
    CHECK_FALSE(open(kSecret, "+14145551234", "outbox.to"));
    CHECK_FALSE(open(kSecret, "v1.zz", "outbox.to"));
  }
  CHECK_THROWS_AS(seal("", "x"), std::invalid_argument);
}

TEST_CASE("a Sealer seals under its own purpose's key; seal() is the relays' purpose", "[crypto][seal]") {
  const Sealer conversations(kSecret, "hotline conversation seal v1");
  const Sealer relays(kSecret, "hotline seal v1");
  const std::string session = R"({"intent":"status_reporting","step":"after_answer","v":1})";
  const std::string sealed = conversations.seal(session, "conversations.session\nc_a");
  CHECK(Sealer::looks_sealed(sealed));
  CHECK_FALSE(Sealer::looks_sealed(session));
  CHECK(sealed.find("status_reporting") == std::string::npos);
  CHECK(conversations.open(sealed, "conversations.session\nc_a") == session);
  CHECK(conversations.seal(session, "x") != conversations.seal(session, "x"));  // a fresh nonce
  // Bound to its context and its purpose: another row, another purpose or secret, nothing opens.
  CHECK_FALSE(conversations.open(sealed, "conversations.session\nc_b"));
  CHECK_FALSE(relays.open(sealed, "conversations.session\nc_a"));
  CHECK_FALSE(open(kSecret, sealed, "conversations.session\nc_a"));
  CHECK_FALSE(Sealer("another-secret-entirely-0002", "hotline conversation seal v1").open(sealed, "conversations.session\nc_a"));
  CHECK_FALSE(conversations.open(session, ""));
  // The relays' key is the one seal()/open() use: values sealed either way open the other way.
  CHECK(relays.open(seal(kSecret, "+14145551234", "outbox.to"), "outbox.to") == "+14145551234");
  CHECK(open(kSecret, relays.seal("+14145551234", "outbox.to"), "outbox.to") == "+14145551234");
  CHECK_THROWS_AS(Sealer("", "p"), std::invalid_argument);
  CHECK_THROWS_AS(Sealer(kSecret, ""), std::invalid_argument);
}

TEST_CASE("a forked child never seals with its parent's next nonce", "[crypto][seal]") {
  // Nonces are drawn in batches per thread; a child starts with a copy of its parent's memory,
  // batch included. Under one key, two values sealed with one nonce would give both away.
  const Sealer sealer(kSecret, "hotline conversation seal v1");
  sealer.seal("fill the batch", "x");
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string sealed = sealer.seal("child", "x");
    const ssize_t written = write(pipe_fds[1], sealed.data(), 3 + 24);  // "v1." and the nonce
    _exit(written == 27 ? 0 : 1);
  }
  const std::string parent = sealer.seal("parent", "x");
  char from_child[27] = {};
  REQUIRE(read(pipe_fds[0], from_child, sizeof from_child) == 27);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  CHECK(WIFEXITED(status));
  CHECK(std::string(from_child, 27) != parent.substr(0, 27));
}
