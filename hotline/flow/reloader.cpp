#include "hotline/flow/reloader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "hotline/common/clock.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"

namespace hotline::flow {
namespace {

namespace fs = std::filesystem;

// The content's hash, not size and mtime: an edit that keeps the size, made within the file
// system's timestamp granularity of the previous one, must still be seen. The files are a few
// kilobytes, read twice a second. Named under root, so the same files have the same version
// whichever folder the server was started from.
void add_file(const fs::path& root, const fs::path& path, std::vector<std::string>& lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path under_root = path.lexically_relative(root);
  const bool inside = !under_root.empty() && *under_root.begin() != "..";
  lines.push_back((inside ? under_root : path).generic_string() + " " +
                  std::to_string(std::hash<std::string>{}(content)));
}

void add_tree(const fs::path& root, const fs::path& dir, std::vector<std::string>& lines) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto ext = it->path().extension();
    if (ext == ".yaml" || ext == ".yml") add_file(root, it->path(), lines);
  }
}

nlohmann::json diagnostic_fields(const Diagnostic& d) {
  return {{"file", d.where.file},
          {"line", d.where.line},
          {"column", d.where.column},
          {"severity", d.severity == Severity::error ? "error" : "warning"},
          {"code", d.code},
          {"message", d.message}};
}

}  // namespace

// The bundle handed in was loaded from the files as they are now, moments ago (at start).
Reloader::Reloader(BundleHolder& holder, ReloadSettings settings)
    : holder_(holder), settings_(std::move(settings)) {
  status_.serving_version = version();
  status_.serving_since_ms = system_now_ms();
  status_.serving_reason = "start";
}

Reloader::~Reloader() { stop(); }

std::string Reloader::fingerprint() const { return fingerprint_of(settings_.root, settings_.extra_files); }

std::string Reloader::fingerprint_of(const std::string& root_folder, const std::vector<std::string>& extra_files) {
  std::vector<std::string> lines;
  const fs::path root(root_folder);
  add_tree(root, root / "flows", lines);
  add_tree(root, root / "prompts", lines);
  for (const auto& extra : extra_files) {
    add_file(root, fs::path(extra).is_absolute() ? fs::path(extra) : root / extra, lines);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

std::string Reloader::version_of(const std::string& fingerprint) {
  // A keyed hash under a public label is as good a content name as a plain one.
  return crypto::hmac_sha256_hex("hotline bundle version", fingerprint).substr(0, 12);
}

ReloadStatus Reloader::status() const {
  const std::string on_disk = version();
  std::lock_guard<std::mutex> lock(status_mutex_);
  ReloadStatus s = status_;
  s.disk_version = on_disk;
  return s;
}

void Reloader::loaded_from(std::string fingerprint) {
  std::lock_guard<std::mutex> lock(status_mutex_);
  status_.serving_version = version_of(fingerprint);
  loaded_fingerprint_ = std::move(fingerprint);
}

void Reloader::serving_last_good(Diagnostics disk_refusal) {
  std::lock_guard<std::mutex> lock(status_mutex_);
  status_.from_disk = false;
  status_.serving_version.clear();
  status_.serving_warnings = {};
  status_.last_refusal = Refusal{status_.serving_since_ms, "start", version(), std::move(disk_refusal)};
}

ReloadResult Reloader::reload(const std::string& reason) {
  std::lock_guard<std::mutex> lock(reload_mutex_);
  ReloadResult result;
  auto started = std::chrono::steady_clock::now();
  // Read before loading: an edit made while the bundle loads shows as "changed since", and the
  // watcher, which sees it too, loads it next.
  const std::string loading_version = version();
  auto bundle = settings_.load ? settings_.load(result.diags)
                               : load_bundle(settings_.root, settings_.details, result.diags);
  for (const auto& d : result.diags.items()) {
    log::write(d.severity == Severity::error ? log::Level::error : log::Level::warn,
               "reload_diagnostic", diagnostic_fields(d));
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started).count();
  if (!bundle || result.diags.has_errors()) {
    log::error("reload_refused", {{"reason", reason},
                                  {"errors", result.diags.error_count()},
                                  {"warnings", result.diags.warning_count()},
                                  {"message", "the edited files have errors; the previous version keeps serving"}});
    {
      std::lock_guard<std::mutex> status_lock(status_mutex_);
      status_.last_refusal = Refusal{system_now_ms(), reason, loading_version, result.diags};
    }
    ++attempts_;
    if (settings_.observe) settings_.observe(false);
    return result;
  }
  holder_.set(std::move(bundle));
  {
    std::lock_guard<std::mutex> status_lock(status_mutex_);
    status_.from_disk = true;
    status_.serving_version = loading_version;
    status_.serving_since_ms = system_now_ms();
    status_.serving_reason = reason;
    status_.serving_warnings = result.diags;
  }
  result.swapped = true;
  ++attempts_;
  if (settings_.observe) settings_.observe(true);
  log::info("reloaded", {{"reason", reason},
                         {"warnings", result.diags.warning_count()},
                         {"load_ms", ms}});
  return result;
}

void Reloader::watch(std::chrono::milliseconds interval) {
  std::lock_guard<std::mutex> lock(watch_mutex_);
  if (watcher_.joinable()) return;
  stopping_ = false;
  std::string loaded;
  {
    std::lock_guard<std::mutex> status_lock(status_mutex_);
    loaded = loaded_fingerprint_;
  }
  watcher_ = std::thread([this, interval, seen = loaded.empty() ? fingerprint() : loaded]() mutable {
    std::unique_lock<std::mutex> lock(watch_mutex_);
    while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      std::string now = fingerprint();
      if (now != seen) {
        // Remember what was seen before loading: a refused edit is not retried until the
        // files change again.
        seen = std::move(now);
        reload("files changed");
      }
      lock.lock();
    }
  });
  log::info("watching_flows", {{"interval_ms", interval.count()}});
}

void Reloader::stop() {
  {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (watcher_.joinable() && watcher_.get_id() != std::this_thread::get_id()) watcher_.join();
}

}  // namespace hotline::flow
