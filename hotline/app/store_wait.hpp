#pragma once
// Opening the store at start-up, waiting for a database server that is not up yet.
//
// Replicas and their PostgreSQL often start together (docker compose, a reboot), and the
// database may take seconds to accept connections. Exiting at once relies on the supervisor to
// restart with a backoff, which not every one does; so `serve` tries again, 1 s, 2 s, 4 s … apart
// (at most 16 s), within a bounded wait, logging each failed try. Only an unreachable server is
// retried (store::StoreUnreachable): a SQLite file that cannot be opened, or a schema newer than
// this release, fails at once, since waiting would not change it.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hotline/store/session_store.hpp"

namespace hotline::app {

struct StoreWait {
  std::chrono::milliseconds total{std::chrono::seconds(60)};  // HOTLINE_DB_WAIT_SECONDS; 0: one try
  std::chrono::milliseconds first_delay{std::chrono::seconds(1)};
  std::chrono::milliseconds longest_delay{std::chrono::seconds(16)};
};

/// The delays between tries that `wait` allows, in order: doubling from first_delay, capped at
/// longest_delay, stopping before their sum would pass `total`. Empty when total is 0.
std::vector<std::chrono::milliseconds> retry_delays(const StoreWait& wait);

/// store::open_store, tried again after each of retry_delays(wait) while the server is
/// unreachable. Each failed try logs `database_unreachable` (the location redacted: no password)
/// with the try's number, the error and the next delay; a success after failures logs
/// `database_reached`. Throws the last try's error when the wait is over. `pause` waits between
/// tries and returns false when start-up is to stop instead (a SIGTERM): then the result is null.
using Opener = std::function<std::unique_ptr<store::SessionStore>()>;
using Pause = std::function<bool(std::chrono::milliseconds)>;
std::unique_ptr<store::SessionStore> open_store_waiting(const std::string& location, std::size_t connections,
                                                        const StoreWait& wait, const Pause& pause);
/// The same with the opener given (for the policy's own checks).
std::unique_ptr<store::SessionStore> open_waiting(const std::string& location, const Opener& open,
                                                  const StoreWait& wait, const Pause& pause);

}  // namespace hotline::app
