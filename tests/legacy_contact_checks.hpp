#pragma once
// What channels::adopt_legacy_contact must do on any store (SQLite in test_store, PostgreSQL in
// test_postgres): move an old WhatsApp key's opt-out, live conversation and open relay to the
// person's key, sealed sessions re-bound to their new row, and leave the person's own alone.
#include <catch2/catch.hpp>

#include <string>

#include "hotline/channels/legacy_contact.hpp"
#include "hotline/store/session_store.hpp"

namespace test_support {

inline void check_legacy_contact_moves(hotline::store::SessionStore& store) {
  using namespace hotline::store;
  using hotline::channels::adopt_legacy_contact;
  const std::int64_t now = 50'000'000, idle = 3'600'000;
  const std::string legacy = "c_legacy_whatsapp_key", person = "c_person_key";
  const std::string session = R"({"step":"menu","lang":"es","turns":3})";

  SECTION("an opt-out, a live conversation and an open relay move; a second time finds nothing") {
    TurnRecord kept;
    kept.contact_key = legacy;
    kept.session_data = session;
    kept.request_id = "SMold1";
    kept.response = "<Response/>";
    kept.now_ms = now - 60'000;
    Relay relay;
    relay.code = "K7M";
    relay.contact_key = legacy;
    relay.texter_sealed = "v1.sealed-texter";
    relay.lang = "es";
    relay.state = "claimed";
    relay.advocate_id = "ana";
    kept.relays.push_back({relay, false, 0});
    store.commit_turn(kept);
    store.set_opted_out(legacy, true, now - 50'000);

    const auto moved = adopt_legacy_contact(store, legacy, person, now, idle);
    CHECK(moved.opt_out);
    CHECK(moved.session);
    CHECK(moved.relay);
    CHECK(store.is_opted_out(person));
    CHECK_FALSE(store.is_opted_out(legacy));
    REQUIRE(store.load(person));
    CHECK(store.load(person)->data == session);
    CHECK_FALSE(store.load(legacy));
    const auto view = store.read_contact(person, "SMnew");
    CHECK(view.opted_out);
    REQUIRE(view.relay);
    CHECK(view.relay->code == "K7M");
    CHECK(view.relay->texter_sealed == "v1.sealed-texter");
    CHECK(view.relay->advocate_id == "ana");
    CHECK_FALSE(store.relay_of(legacy));
    CHECK(store.relays().size() == 1);

    CHECK_FALSE(adopt_legacy_contact(store, legacy, person, now + 1'000, idle).any());
    CHECK(store.forget(person) >= 3);  // the conversation, the opt-out, the relay: all under one key now
    CHECK_FALSE(store.relay_of(person));
  }

  SECTION("the person's own conversation and relay stay; an idle old conversation is not revived") {
    TurnRecord mine;
    mine.contact_key = person;
    mine.session_data = R"({"step":"menu","lang":"en","turns":1})";
    mine.now_ms = now - 1'000;
    Relay own;
    own.code = "A3C";
    own.contact_key = person;
    own.texter_sealed = "v1.mine";
    own.lang = "en";
    own.state = "queued";
    mine.relays.push_back({own, false, 0});
    store.commit_turn(mine);
    TurnRecord old;
    old.contact_key = legacy;
    old.session_data = session;
    old.now_ms = now - 2 * idle;  // idle: would have started over anyway
    Relay other = own;
    other.code = "D4E";
    other.contact_key = legacy;
    old.relays.push_back({other, false, 0});
    store.commit_turn(old);

    const auto moved = adopt_legacy_contact(store, legacy, person, now, idle);
    CHECK_FALSE(moved.session);
    CHECK_FALSE(moved.relay);
    CHECK(store.load(person)->data == R"({"step":"menu","lang":"en","turns":1})");
    CHECK_FALSE(store.load(legacy));
    CHECK(store.relay_of(person)->code == "A3C");
    // The old relay is left to the relay retention; `forget` finds it under the old key.
    REQUIRE(store.relay_of(legacy));
    CHECK(store.forget(legacy) >= 1);
  }
}

}  // namespace test_support
