#include "hotline/prompts/catalog.hpp"

#include <yaml-cpp/yaml.h>

#include "hotline/common/utf8.hpp"
#include "hotline/common/yaml_position.hpp"

namespace hotline::prompts {

void Catalog::add(Lang lang, std::string key, Prompt prompt) {
  by_lang_[lang][std::move(key)] = std::move(prompt);
}

const Prompt* Catalog::find(Lang lang, std::string_view key) const {
  auto lang_it = by_lang_.find(lang);
  if (lang_it == by_lang_.end()) return nullptr;
  auto it = lang_it->second.find(key);
  return it == lang_it->second.end() ? nullptr : &it->second;
}

bool Catalog::declared(Lang lang, std::string_view key) const {
  if (has(lang, key)) return true;
  auto it = declared_.find(lang);
  return it != declared_.end() && it->second.count(key) > 0;
}

const std::map<std::string, Prompt, std::less<>>& Catalog::entries(Lang lang) const {
  static const std::map<std::string, Prompt, std::less<>> kEmpty;
  auto it = by_lang_.find(lang);
  return it == by_lang_.end() ? kEmpty : it->second;
}

std::string Catalog::render(Lang lang, std::string_view key, Channel channel,
                            const Variables& vars) const {
  const Prompt* prompt = find(lang, key);
  if (!prompt) return {};
  const std::string& text =
      channel == Channel::voice && !prompt->voice.empty() ? prompt->voice : prompt->sms;
  return fill(text, vars);
}

std::set<std::string> placeholders(std::string_view text) {
  std::set<std::string> names;
  for (std::size_t open = text.find('{'); open != std::string_view::npos;
       open = text.find('{', open + 1)) {
    std::size_t close = text.find('}', open);
    if (close == std::string_view::npos) break;
    names.emplace(text.substr(open + 1, close - open - 1));
  }
  return names;
}

std::string fill(std::string_view text, const Variables& vars) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = text.find('{', pos);
    std::size_t close = open == std::string_view::npos ? open : text.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    auto it = vars.find(std::string(text.substr(open + 1, close - open - 1)));
    if (it != vars.end()) out += it->second;
    pos = close + 1;
  }
  if (pos < text.size()) out.append(text.substr(pos));
  return out;
}

namespace {

bool is_valid_key(const std::string& key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

// Reads one text value, reporting anything that is not a non-empty UTF-8 string.
std::optional<std::string> read_text(const std::string& file, const YAML::Node& key, const YAML::Node& node,
                                     const std::string& what, Diagnostics& diags) {
  if (node.IsNull()) {  // `help:` with nothing after it: yaml-cpp marks where the next line starts
    diags.error(position_of(file, key), "empty-prompt", what + " is empty");
    return std::nullopt;
  }
  if (!node.IsScalar()) {
    diags.error(position_of(file, node), "prompt-not-text", what + " must be text");
    return std::nullopt;
  }
  std::string text = node.as<std::string>();
  // Folded YAML blocks end with a newline that would be sent to the phone.
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) {
    diags.error(position_of(file, node), "empty-prompt", what + " is empty");
    return std::nullopt;
  }
  if (!is_valid_utf8(text)) {
    diags.error(position_of(file, node), "invalid-utf8", what + " is not valid UTF-8");
    return std::nullopt;
  }
  return text;
}

}  // namespace

void load_prompts(const std::string& path, Lang lang, Catalog& catalog, Diagnostics& diags) {
  auto loaded = load_yaml_file(path, "prompts file", diags);
  if (!loaded) return;
  const YAML::Node& root = *loaded;
  if (!root.IsMap()) {
    diags.error(position_of(path, root), "prompts-not-map",
                "a prompts file is a list of `key: text` lines");
    return;
  }
  for (const auto& entry : root) {
    const auto name_of_key = key_text(path, entry.first, diags);
    if (!name_of_key) continue;
    const std::string& key = *name_of_key;
    const Position where = position_of(path, entry.first);
    if (!is_valid_key(key)) {
      diags.error(where, "bad-prompt-key",
                  "prompt key '" + key + "' may use only lowercase letters, digits and _");
      continue;
    }
    if (catalog.has(lang, key)) {
      diags.error(where, "duplicate-prompt", "prompt '" + key + "' is defined twice");
      continue;
    }
    const YAML::Node& value = entry.second;
    catalog.declare(lang, key);
    Prompt prompt;
    prompt.where = where;
    if (value.IsMap()) {
      bool ok = true;
      for (const auto& variant : value) {
        const auto variant_key = key_text(path, variant.first, diags);
        if (!variant_key) {
          ok = false;
          continue;
        }
        const std::string& name = *variant_key;
        if (name == "long") {
          const YAML::Node& flag = variant.second;
          if (flag.IsScalar() && (flag.Scalar() == "true" || flag.Scalar() == "false")) {
            prompt.may_be_long = flag.Scalar() == "true";
          } else {
            diags.error(position_of(path, flag), "expected-true",
                        "`long` of prompt '" + key + "' can only be `true` or `false`");
            ok = false;
          }
          continue;
        }
        if (name != "sms" && name != "voice") {
          diags.error(position_of(path, variant.first), "unknown-field",
                      "unknown field '" + name + "' in prompt '" + key + "'; expected sms, voice or long");
          ok = false;
          continue;
        }
        auto text = read_text(path, variant.first, variant.second, "prompt '" + key + "' (" + name + ")", diags);
        if (!text) ok = false;
        else (name == "sms" ? prompt.sms : prompt.voice) = *text;
      }
      if (ok && prompt.sms.empty()) {
        diags.error(where, "missing-sms-text",
                    "prompt '" + key + "' has no sms text (voice alone is not enough)");
        ok = false;
      }
      if (ok) catalog.add(lang, key, std::move(prompt));
    } else if (auto text = read_text(path, entry.first, value, "prompt '" + key + "'", diags)) {
      prompt.sms = *text;
      catalog.add(lang, key, std::move(prompt));
    }
  }
}

}  // namespace hotline::prompts
