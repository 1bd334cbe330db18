#include "hotline/nlu/examples.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "hotline/common/utf8.hpp"
#include "hotline/nlu/nlu.hpp"

namespace hotline::nlu {
namespace {

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = line.find(sep, start);
    out.push_back(line.substr(start, end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}


}  // namespace

std::vector<Example> load_examples_file(const std::string& path, Diagnostics& diags) {
  std::vector<Example> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error({path, 0, 0}, "unreadable-file", "cannot read the examples file");
    return out;
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const Position at{path, number, 1};
    if (!is_valid_utf8(line)) {
      diags.error(at, "bad-encoding", "this line is not valid UTF-8 text; save the file as UTF-8");
      continue;
    }
    auto fields = split(line, '\t');
    if (fields.size() != 4) {
      diags.error(at, "example-fields",
                  "an example has four parts separated by tabs: intent, language (en or es), "
                  "channel (sms or voice) and the message; this line has " +
                      std::to_string(fields.size()));
      continue;
    }
    Example ex;
    ex.where = at;
    bool ok = true;
    int column = 1;
    for (const auto& id : split(fields[0], '+')) {
      if (!is_valid_intent_id(id)) {
        diags.error(at, "bad-intent-id",
                    "'" + fields[0] + "' is not an intent name (lowercase letters, digits and _, "
                    "two names joined by + for a message that asks two things)");
        ok = false;
        break;
      }
      ex.intents.push_back(id);
    }
    column += static_cast<int>(fields[0].size()) + 1;
    if (auto lang = lang_from_code(fields[1])) {
      ex.lang = *lang;
    } else {
      diags.error({path, number, column}, "unknown-language", "the language is en or es, not '" + fields[1] + "'");
      ok = false;
    }
    column += static_cast<int>(fields[1].size()) + 1;
    if (fields[2] == "sms" || fields[2] == "voice") {
      ex.channel = fields[2] == "voice" ? Channel::voice : Channel::sms;
    } else {
      diags.error({path, number, column}, "unknown-channel",
                  "the channel is sms (typed) or voice (a call's speech), not '" + fields[2] + "'");
      ok = false;
    }
    column += static_cast<int>(fields[2].size()) + 1;
    ex.text = fields[3];
    if (ex.text.find_first_not_of(" ") == std::string::npos) {
      diags.error({path, number, column}, "empty-example", "the message is empty");
      ok = false;
    }
    if (ok) out.push_back(std::move(ex));
  }
  return out;
}

std::vector<Example> load_examples_dir(const std::string& dir, Diagnostics& diags) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".tsv") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<Example> out;
  for (const auto& f : files) {
    auto some = load_examples_file(f, diags);
    out.insert(out.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return out;
}

}  // namespace hotline::nlu
