#pragma once
// The flow as a Graphviz DOT picture, for staff: steps (with the prompt each says), the replies
// and intents that lead between them, and the questions that work anywhere. Pure text out.
#include <string>

#include "hotline/flow/bundle.hpp"

namespace hotline::flow {

/// DOT for `bundle.flow`. Nodes are named by step id; edges carry the reply ("1") or the
/// intent that takes them; `anywhere` intents start from one shared "anywhere" box.
std::string to_dot(const Bundle& bundle);

}  // namespace hotline::flow
