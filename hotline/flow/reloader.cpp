#include "hotline/flow/reloader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "hotline/common/log.hpp"

namespace hotline::flow {
namespace {

namespace fs = std::filesystem;

// The content's hash, not size and mtime: an edit that keeps the size, made within the file
// system's timestamp granularity of the previous one, must still be seen. The files are a few
// kilobytes, read twice a second.
void add_file(const fs::path& path, std::vector<std::string>& lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  lines.push_back(path.string() + " " + std::to_string(std::hash<std::string>{}(content)));
}

void add_tree(const fs::path& dir, std::vector<std::string>& lines) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto ext = it->path().extension();
    if (ext == ".yaml" || ext == ".yml") add_file(it->path(), lines);
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

Reloader::Reloader(BundleHolder& holder, ReloadSettings settings)
    : holder_(holder), settings_(std::move(settings)) {}

Reloader::~Reloader() { stop(); }

std::string Reloader::fingerprint() const {
  std::vector<std::string> lines;
  const fs::path root(settings_.root);
  add_tree(root / "flows", lines);
  add_tree(root / "prompts", lines);
  for (const auto& extra : settings_.extra_files) add_file(fs::path(extra).is_absolute() ? fs::path(extra) : root / extra, lines);
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

ReloadResult Reloader::reload(const std::string& reason) {
  std::lock_guard<std::mutex> lock(reload_mutex_);
  ReloadResult result;
  auto started = std::chrono::steady_clock::now();
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
    ++attempts_;
    if (settings_.observe) settings_.observe(false);
    return result;
  }
  holder_.set(std::move(bundle));
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
  watcher_ = std::thread([this, interval, seen = fingerprint()]() mutable {
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
