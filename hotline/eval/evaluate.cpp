#include "hotline/eval/evaluate.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "hotline/engine/engine.hpp"
#include "hotline/nlu/understand.hpp"

namespace hotline::eval {
namespace {

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string label_of(const nlu::Example& ex) {
  std::string out;
  for (const auto& i : ex.intents) out += (out.empty() ? "" : "+") + i;
  return out;
}

Result run_one(const flow::Bundle& bundle, const nlu::Example& ex) {
  engine::Session session;
  session.step = bundle.flow.start;  // they have the menu in front of them
  session.turns = 1;
  engine::Input input;
  input.text = ex.text;
  input.channel = ex.channel;
  const auto outcome = engine::step(bundle, session, input);
  Result r;
  r.example = &ex;
  r.answered = outcome.intent;
  r.second = outcome.second_intent;
  r.asked = outcome.asked;
  r.emergency_first = outcome.emergency_first;
  r.lang = outcome.bilingual ? "both" : std::string(lang_code(outcome.lang));
  return r;
}

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", 100.0 * x);
  return buf;
}

template <typename Pred>
double share(const std::vector<Result>& results, Pred keep, bool (Result::*good)() const) {
  int n = 0, ok = 0;
  for (const auto& r : results) {
    if (!keep(r)) continue;
    ++n;
    ok += (r.*good)() ? 1 : 0;
  }
  return n == 0 ? 1.0 : static_cast<double>(ok) / n;
}

}  // namespace

bool Result::labelled_emergency() const { return has(example->intents, nlu::kEmergency); }
bool Result::right() const { return has(example->intents, answered); }
bool Result::caught() const { return answered == nlu::kEmergency || emergency_first; }
bool Result::false_emergency() const { return !labelled_emergency() && answered == nlu::kEmergency; }
bool Result::right_language() const { return lang == lang_code(example->lang); }

double Report::accuracy() const {
  return share(results, [](const Result&) { return true; }, &Result::right);
}
double Report::emergency_recall() const {
  return share(results, [](const Result& r) { return r.labelled_emergency(); }, &Result::caught);
}
double Report::false_emergency_rate() const {
  return share(results, [](const Result& r) { return !r.labelled_emergency(); }, &Result::false_emergency);
}
double Report::language_accuracy() const {
  return share(results, [](const Result&) { return true; }, &Result::right_language);
}

Report evaluate(const flow::Bundle& bundle, const std::vector<nlu::Example>& examples) {
  Report report;
  report.results.reserve(examples.size());
  for (const auto& ex : examples) report.results.push_back(run_one(bundle, ex));
  return report;
}

Report cross_validate(const flow::Bundle& bundle, int folds) {
  const auto& examples = bundle.classifier.examples();
  Report report;
  report.results.resize(examples.size());
  for (int f = 0; f < folds; ++f) {
    std::vector<nlu::Example> rest;
    for (std::size_t i = 0; i < examples.size(); ++i) {
      if (nlu::fold_of(i, folds) != f) rest.push_back(examples[i]);
    }
    flow::Bundle held_out = bundle;
    held_out.classifier = nlu::Classifier::train(rest);
    for (std::size_t i = 0; i < examples.size(); ++i) {
      if (nlu::fold_of(i, folds) == f) report.results[i] = run_one(held_out, examples[i]);
    }
  }
  return report;
}

nlohmann::json Report::to_json() const {
  using nlohmann::json;
  auto group = [&](auto key_of) {
    std::map<std::string, std::vector<Result>> by;
    for (const auto& r : results) by[key_of(r)].push_back(r);
    json out = json::object();
    for (const auto& [key, rs] : by) {
      Report part;
      part.results = rs;
      int emergencies = 0;
      for (const auto& r : rs) emergencies += r.labelled_emergency() ? 1 : 0;
      out[key] = {{"messages", rs.size()},
                  {"accuracy", part.accuracy()},
                  {"emergencies", emergencies},
                  {"emergency_recall", part.emergency_recall()},
                  {"false_emergency_rate", part.false_emergency_rate()},
                  {"language_accuracy", part.language_accuracy()}};
    }
    return out;
  };
  json per_intent = json::object();
  std::set<std::string> intents;
  for (const auto& r : results) {
    for (const auto& i : r.example->intents) intents.insert(i);
    if (!r.answered.empty()) intents.insert(r.answered);
  }
  for (const auto& intent : intents) {
    int tp = 0, labelled = 0, answered = 0;
    for (const auto& r : results) {
      const bool is = has(r.example->intents, intent);
      labelled += is;
      answered += r.answered == intent;
      tp += is && r.answered == intent;
    }
    per_intent[intent] = {{"labelled", labelled},
                          {"answered", answered},
                          {"precision", answered ? static_cast<double>(tp) / answered : 1.0},
                          {"recall", labelled ? static_cast<double>(tp) / labelled : 1.0}};
  }
  json confusion = json::object();
  json misses = json::array();
  int asked = 0, emergency_first_on_others = 0, both_answered = 0, two_questions = 0;
  for (const auto& r : results) {
    const std::string got = !r.asked.empty() ? "(asked)" : r.answered.empty() ? "(none)" : r.answered;
    auto& row = confusion[label_of(*r.example)];
    row[got] = (row.contains(got) ? row[got].get<int>() : 0) + 1;
    asked += !r.asked.empty();
    if (!r.labelled_emergency() && r.emergency_first) ++emergency_first_on_others;
    if (r.example->intents.size() == 2) {
      ++two_questions;
      both_answered += has(r.example->intents, r.answered) && has(r.example->intents, r.second) &&
                       r.answered != r.second;
    }
    if (!r.right() || !r.right_language() || (r.labelled_emergency() && !r.caught())) {
      misses.push_back({{"where", r.example->where.file + ":" + std::to_string(r.example->where.line)},
                        {"text", r.example->text},
                        {"label", label_of(*r.example)},
                        {"lang", lang_code(r.example->lang)},
                        {"channel", channel_name(r.example->channel)},
                        {"got", got},
                        {"asked", r.asked},
                        {"second", r.second},
                        {"emergency_first", r.emergency_first},
                        {"reply_lang", r.lang}});
    }
  }
  int emergencies = 0, others = 0;
  for (const auto& r : results) (r.labelled_emergency() ? emergencies : others)++;
  return {{"messages", results.size()},
          {"accuracy", accuracy()},
          {"emergencies", emergencies},
          {"emergency_recall", emergency_recall()},
          {"false_emergency_rate", false_emergency_rate()},
          {"emergency_line_first_on_non_emergencies", others ? static_cast<double>(emergency_first_on_others) / others : 0.0},
          {"asked_back", asked},
          {"two_questions", two_questions},
          {"two_questions_both_answered", both_answered},
          {"language_accuracy", language_accuracy()},
          {"by_language", group([](const Result& r) { return std::string(lang_code(r.example->lang)); })},
          {"by_channel", group([](const Result& r) { return std::string(channel_name(r.example->channel)); })},
          {"per_intent", per_intent},
          {"confusion", confusion},
          {"misses", misses}};
}

std::string Report::to_text() const {
  const auto j = to_json();
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  auto figures = [&](const std::string& name, const nlohmann::json& g) {
    line(name + ": " + std::to_string(g["messages"].get<int>()) + " messages, right intent " +
         percent(g["accuracy"]) + ", emergencies caught " + percent(g["emergency_recall"]) + " of " +
         std::to_string(g["emergencies"].get<int>()) + ", false emergencies " +
         percent(g["false_emergency_rate"]) + ", reply language " + percent(g["language_accuracy"]));
  };
  figures("all", j);
  line("  asked back (unsure between two): " + std::to_string(j["asked_back"].get<int>()) +
       "; 911 line first on a non-emergency: " + percent(j["emergency_line_first_on_non_emergencies"]) +
       "; two questions, both answered: " + std::to_string(j["two_questions_both_answered"].get<int>()) +
       " of " + std::to_string(j["two_questions"].get<int>()));
  for (const auto& [k, g] : j["by_language"].items()) figures("  language " + k, g);
  for (const auto& [k, g] : j["by_channel"].items()) figures("  channel " + k, g);
  line("");
  line("per intent (precision, recall, labelled):");
  for (const auto& [k, g] : j["per_intent"].items()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-34s %6.1f %% %6.1f %% %5d", k.c_str(), 100.0 * g["precision"].get<double>(),
                  100.0 * g["recall"].get<double>(), g["labelled"].get<int>());
    line(buf);
  }
  line("");
  line("confusion (label: what it got × times):");
  for (const auto& [label, row] : j["confusion"].items()) {
    std::string s = "  " + label + ":";
    for (const auto& [got, n] : row.items()) s += " " + got + "×" + std::to_string(n.get<int>());
    line(s);
  }
  line("");
  line("misses (" + std::to_string(j["misses"].size()) + "):");
  for (const auto& m : j["misses"]) {
    std::string s = "  " + m["where"].get<std::string>() + " [" + m["label"].get<std::string>() + " " +
                    m["lang"].get<std::string>() + " " + m["channel"].get<std::string>() + "] got " +
                    m["got"].get<std::string>();
    if (!m["asked"].empty()) s += " (" + m["asked"][0].get<std::string>() + " or " + m["asked"][1].get<std::string>() + ")";
    if (m["emergency_first"].get<bool>()) s += " +911 first";
    if (m["reply_lang"] != m["lang"]) s += " in " + m["reply_lang"].get<std::string>();
    s += ": " + m["text"].get<std::string>();
    line(s);
  }
  return out;
}

}  // namespace hotline::eval
