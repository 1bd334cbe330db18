#pragma once
// The flow as a Graphviz DOT picture, for staff: steps labelled with the words staff wrote
// (prompts/en.yaml), the menu replies and questions that lead between them, the questions that
// work anywhere as one table, and a legend. Pure text in and out: drawing is the CLI's job.
#include <string>
#include <string_view>

#include "hotline/common/diagnostic.hpp"
#include "hotline/flow/bundle.hpp"

namespace hotline::flow {

/// DOT for `bundle.flow`. Nodes are named by step id and labelled with the start of the step's
/// English SMS text; a menu reply's arrow carries its line of the menu ("1 Can I call the
/// police?"); `anywhere` intents are rows of one table, each with its `topic_<intent>` words.
/// The graph's `comment` is "hotline flow hash <hash>", the hash of everything else in the DOT:
/// Graphviz copies it into the SVG as `<!-- … -->`, so the picture says which flow it shows.
std::string to_dot(const Bundle& bundle);

/// The hash written in the picture's comment: 16 hex digits (FNV-1a, 64 bits; the same on
/// every machine, unlike std::hash).
std::string flow_picture_hash(std::string_view dot_without_comment);

/// Warns (`flow-picture-outdated`, at `picture_file`) when `picture_text` (an SVG or DOT drawn
/// by `hotline graph`) does not carry the hash of the flow as `bundle` is now: the flow or its
/// texts changed since the picture was drawn, or it was drawn before pictures carried one.
void check_flow_picture(const Bundle& bundle, const std::string& picture_text, const std::string& picture_file,
                        Diagnostics& diags);

}  // namespace hotline::flow
