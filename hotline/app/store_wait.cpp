#include "hotline/app/store_wait.hpp"

#include <vector>

#include "hotline/common/log.hpp"

namespace hotline::app {

std::vector<std::chrono::milliseconds> retry_delays(const StoreWait& wait) {
  std::vector<std::chrono::milliseconds> delays;
  std::chrono::milliseconds next = wait.first_delay, sum{0};
  while (next.count() > 0 && sum + next <= wait.total) {
    delays.push_back(next);
    sum += next;
    next = std::min(next * 2, wait.longest_delay);
  }
  return delays;
}

std::unique_ptr<store::SessionStore> open_waiting(const std::string& location, const Opener& open,
                                                  const StoreWait& wait, const Pause& pause) {
  const auto delays = retry_delays(wait);
  const std::string where = store::redacted(location);
  for (std::size_t attempt = 1;; ++attempt) {
    try {
      auto store = open();
      if (attempt > 1) log::info("database_reached", {{"database", where}, {"attempt", attempt}});
      return store;
    } catch (const store::StoreUnreachable& e) {
      const bool last = attempt > delays.size();
      nlohmann::json fields = {{"database", where},
                               {"attempt", attempt},
                               {"attempts", delays.size() + 1},
                               {"error", e.what()}};
      if (last) {
        fields["message"] = "giving up: the database did not answer within HOTLINE_DB_WAIT_SECONDS";
        log::error("database_unreachable", std::move(fields));
        throw;
      }
      fields["retry_in_s"] = delays[attempt - 1].count() / 1000.0;
      log::warn("database_unreachable", std::move(fields));
      if (!pause(delays[attempt - 1])) return nullptr;
    }
  }
}

std::unique_ptr<store::SessionStore> open_store_waiting(const std::string& location, std::size_t connections,
                                                        const StoreWait& wait, const Pause& pause) {
  return open_waiting(location, [&] { return store::open_store(location, connections); }, wait, pause);
}

}  // namespace hotline::app
