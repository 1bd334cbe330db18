#pragma once
// The labelled examples staff keep in flows/examples/*.tsv, one message a line:
//
//   intent<TAB>lang<TAB>channel<TAB>text
//   status_reporting	es	sms	si llamo a la policia me preguntan los papeles?
//
// `intent` may name two intents joined by `+` for a message that asks two things; `lang` is
// en or es (the language to answer in); `channel` is sms (typed) or voice (a call's speech
// transcript). Lines starting with # and blank lines are ignored.
#include <string>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/nlu/classifier.hpp"

namespace hotline::nlu {

/// Reads one examples file; every problem is a diagnostic at its line and column.
std::vector<Example> load_examples_file(const std::string& path, Diagnostics& diags);

/// Every `*.tsv` in `dir`, in name order. A missing folder is an empty set, not an error.
std::vector<Example> load_examples_dir(const std::string& dir, Diagnostics& diags);

}  // namespace hotline::nlu
