#pragma once
// One check of the store's memory of undelivered messages and of a relay's sealed context (and
// when its texter last wrote, for WhatsApp's 24-hour window), run
// against both stores (test_store.cpp: SQLite; test_postgres.cpp: PostgreSQL).
#include <catch2/catch.hpp>

#include "hotline/store/session_store.hpp"

namespace test_support {

inline void check_delivery_failures_and_relay_context(hotline::store::SessionStore& store) {
  using namespace hotline::store;
  TurnRecord t;
  t.contact_key = "c_df";
  t.request_id = "SMdf1";
  t.now_ms = 1000;
  t.keep_session = true;
  Relay r;
  r.code = "Q3A";
  r.contact_key = "c_df";
  r.texter_sealed = "v1.texter";
  r.lang = "es";
  r.state = "queued";
  r.context_sealed = "v1.context-1";
  r.texter_wrote_ms = 900;
  t.relays.push_back({r, false, 0});
  t.outbound.push_back({"SMdf1:tell", "c_df", "+15550100000", "v1.to", "v1.body", "tell:ana:Q3A"});
  t.outbound.push_back({"SMdf1:offer", "c_df", "+15550100000", "v1.to", "v1.body", "offer:ben:Q3A"});
  t.outbound.push_back({"SMdf1:plain", "c_df", "+15550100000", "v1.to", "v1.body", ""});
  t.outbound.push_back({"SMdf1:ok", "c_df", "+15550100000", "v1.to", "v1.body", "tell:ana:Q3A"});
  store.commit_turn(t);

  // The context is kept and updated with the relay, and read back wherever a relay is read.
  REQUIRE(store.relay_of("c_df"));
  CHECK(store.relay_of("c_df")->context_sealed == "v1.context-1");
  CHECK(store.read_contact("c_df", "").relay->context_sealed == "v1.context-1");
  CHECK(store.relay_of("c_df")->texter_wrote_ms == 900);
  CHECK(store.read_contact("c_df", "").relay->texter_wrote_ms == 900);
  TurnRecord u;
  u.contact_key = "c_df";
  u.request_id = "SMdf2";
  u.now_ms = 1100;
  u.keep_session = true;
  r.context_sealed = "v1.context-2";
  r.texter_wrote_ms = 1100;
  u.relays.push_back({r, false, 1});
  store.commit_turn(u);
  CHECK(store.relays().at(0).context_sealed == "v1.context-2");
  CHECK(store.relays().at(0).texter_wrote_ms == 1100);
  // The columns after the relay's are still where the read expects them (a redelivery is found).
  CHECK(store.read_contact("c_df", "SMdf2").earlier_response.has_value());

  // Whom to tell comes back with the claimed row.
  auto rows = store.claim_outbound(2000, 10, 10'000);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].on_failure == "tell:ana:Q3A");
  CHECK(rows[1].on_failure == "offer:ben:Q3A");
  CHECK(rows[2].on_failure.empty());

  // Dropped at send: kept with the error when the row names someone, not otherwise.
  store.outbound_dropped(rows[1].id, "21610", 2100);
  store.outbound_dropped(rows[2].id, "21211", 2100);
  // Sent, then reported: failed keeps Twilio's code; delivered keeps nothing.
  store.outbound_sent(rows[0].id, "SMfailed1", 2200);
  store.outbound_sent(rows[3].id, "SMok1", 2200);
  CHECK(store.outbound_status("SMfailed1", "failed", "30003", 2300));
  CHECK(store.outbound_status("SMok1", "delivered", "", 2300));
  CHECK_FALSE(store.outbound_status("SMfailed1", "failed", "30003", 2400));  // a repeat: gone, nothing new

  auto failures = store.delivery_failures(10);
  REQUIRE(failures.size() == 2);
  CHECK(failures[0].on_failure == "offer:ben:Q3A");
  CHECK(failures[0].error == "21610");
  CHECK(failures[0].created_ms == 2100);
  CHECK(failures[1].on_failure == "tell:ana:Q3A");
  CHECK(failures[1].error == "30003");
  CHECK(store.delivery_failures(1).size() == 1);
  store.delivery_failure_handled(failures[0].id);
  failures = store.delivery_failures(10);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].on_failure == "tell:ana:Q3A");
  store.delivery_failure_handled(failures[0].id);
  CHECK(store.delivery_failures(10).empty());
  CHECK(store.outbox_pending() == 0);
}

}  // namespace test_support
