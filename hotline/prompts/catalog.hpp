#pragma once
// The words people read and hear: prompts/<lang>.yaml, one text per key, optionally a separate
// wording for voice ("press 1" instead of "reply 1"). Immutable once loaded.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/lang.hpp"

namespace hotline::prompts {

struct Prompt {
  std::string sms;
  std::string voice;  // empty = read the SMS text aloud
  bool may_be_long = false;  // `long: true`: staff accept more than three SMS segments
  Position where;
};

/// Values for `{placeholders}` in prompts, e.g. {org_name}; they come from staff configuration.
using Variables = std::map<std::string, std::string>;

class Catalog {
 public:
  void add(Lang lang, std::string key, Prompt prompt);
  const Prompt* find(Lang lang, std::string_view key) const;
  bool has(Lang lang, std::string_view key) const { return find(lang, key) != nullptr; }
  /// The file names `key`, even if its text could not be used (empty, not text): a check that
  /// needs the prompt says nothing more, the loader has said why.
  void declare(Lang lang, std::string key) { declared_[lang].insert(std::move(key)); }
  bool declared(Lang lang, std::string_view key) const;
  const std::map<std::string, Prompt, std::less<>>& entries(Lang lang) const;

  /// The text for a channel with placeholders filled in. A key or variable that is missing
  /// renders as empty text; the loader has already reported it to staff.
  std::string render(Lang lang, std::string_view key, Channel channel,
                     const Variables& vars) const;

 private:
  std::map<Lang, std::map<std::string, Prompt, std::less<>>> by_lang_;
  std::map<Lang, std::set<std::string, std::less<>>> declared_;
};

/// Loads prompts/<lang>.yaml into `catalog`. Every problem goes to `diags`.
void load_prompts(const std::string& path, Lang lang, Catalog& catalog, Diagnostics& diags);

/// The names inside `{…}` in a text, e.g. "Call {org_phone}" → {"org_phone"}.
std::set<std::string> placeholders(std::string_view text);

/// Replaces `{name}` with vars[name]; unknown names are left empty.
std::string fill(std::string_view text, const Variables& vars);

}  // namespace hotline::prompts
