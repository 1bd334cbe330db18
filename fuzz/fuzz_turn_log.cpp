// TurnLog::recover on whatever bytes a segment holds (a power loss, a damaged disk): it never
// crashes, returns only intact records, and accounts for every byte as a record, as torn or as
// damaged (and then copies exactly the bytes that were not records aside).
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "hotline/store/turn_log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static const std::string db = [] {
    char dir[] = "/tmp/hotline-fuzz-turnlog.XXXXXX";
    if (!mkdtemp(dir)) std::abort();
    return std::string(dir) + "/db";
  }();
  {
    std::ofstream segment(db + "-turns.00000000000000000001", std::ios::binary | std::ios::trunc);
    segment.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto log = hotline::store::TurnLog::open(db);
  if (!log) std::abort();  // nobody else holds it
  const auto found = log->recover();
  std::size_t accounted = found.torn_bytes + found.damaged_bytes;
  for (const auto& t : found.turns) {
    if (t.seq == 0) std::abort();
    accounted += 8 + 8 + 8 + 1 + 4 * 4 + t.contact_key.size() + t.session_data.size() +
                 t.request_id.size() + t.response.size();
  }
  if (accounted != size) std::abort();  // a byte neither read as a record nor reported torn
  std::uintmax_t kept = 0;
  for (const auto& path : found.quarantined) {
    kept += std::filesystem::file_size(path);
    std::filesystem::remove(path);  // each input starts without the last one's copy
  }
  if (kept != found.torn_bytes + found.damaged_bytes) std::abort();
  log->reset(1);  // deletes the segment; the next input writes a new one
  return 0;
}
