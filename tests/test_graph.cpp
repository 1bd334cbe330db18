// `hotline graph`: the flow as Graphviz DOT, so staff can see the conversation.
#include <catch2/catch.hpp>

#include "hotline/flow/graph.hpp"
#include "process.hpp"

using namespace hotline;
using namespace test_support;

TEST_CASE("the DOT labels steps with staff's words, menu arrows with the menu's lines, and has a legend") {
  flow::Bundle b;
  b.flow.name = "tiny";
  b.flow.start = "menu";
  b.flow.anywhere = {{"advocate", "person"}};
  b.flow.after_retries = "person";
  b.prompts.add(Lang::en, "menu_text", {"Choose a number:\n1 Call the police?\n2 Talk to a person", "", false, {}});
  b.prompts.add(Lang::en, "topic_complaint", {"how to complain about police", "", false, {}});
  flow::Step menu;
  menu.id = "menu";
  menu.say = "menu_text";
  menu.replies = {{"1", "answer"}, {"si \"ok\"", "person"}};
  menu.intents = {{"complaint", "answer"}};
  menu.otherwise = "answer";
  flow::Step answer;
  answer.id = "answer";
  answer.say = "answer";  // no text: named by the step
  answer.then = flow::Step::Then::go;
  answer.go = "menu";
  flow::Step person;
  person.id = "a_person";
  person.say = "advocate";
  person.handoff = "advocate";
  person.then = flow::Step::Then::end;
  b.flow.steps = {{"menu", menu}, {"answer", answer}, {"person", person}};

  const std::string body =
      "  rankdir=LR;\n"
      "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
      "  edge [fontname=\"Helvetica\", fontsize=10];\n"
      "  \"(start)\" [shape=circle, label=\"start\", style=filled, fillcolor=\"#dddddd\"];\n"
      "  \"(start)\" -> \"menu\";\n"
      "  \"answer\" [label=\"answer\", style=\"rounded,dashed\"];\n"
      "  \"menu\" [label=\"Choose a number:\\n(waits for a reply)\"];\n"
      "  \"person\" [label=\"a person\", style=\"rounded,filled\", fillcolor=\"#c8e6c9\"];\n"
      "  \"answer\" -> \"menu\";\n"
      "  \"menu\" -> \"answer\" [label=\"1 Call the police?\"];\n"
      "  \"menu\" -> \"person\" [label=\"si \\\"ok\\\"\"];\n"
      "  \"menu\" -> \"answer\" [label=\"how to complain about\\npolice\", style=dashed];\n"
      "  \"menu\" -> \"answer\" [label=\"anything else\", style=dotted];\n"
      "  \"(anywhere)\" [shape=plaintext, label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" "
      "CELLPADDING=\"4\" BGCOLOR=\"#fff3c4\"><TR><TD COLSPAN=\"2\"><B>At any question, someone who asks "
      "about…</B></TD></TR><TR><TD ALIGN=\"LEFT\">advocate</TD><TD ALIGN=\"LEFT\">hears: a person</TD></TR>"
      "</TABLE>>];\n"
      "  \"(not understood)\" [shape=note, label=\"not understood 3 times\"];\n"
      "  \"(not understood)\" -> \"person\" [style=dotted];\n"
      "  \"(legend)\" [shape=plaintext, label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" "
      "CELLPADDING=\"4\"><TR><TD COLSPAN=\"2\"><B>How to read this picture</B></TD></TR>"
      "<TR><TD ALIGN=\"LEFT\">box</TD><TD ALIGN=\"LEFT\">the hotline says this and waits for a reply</TD></TR>"
      "<TR><TD ALIGN=\"LEFT\">dashed box</TD><TD ALIGN=\"LEFT\">says this and goes straight on</TD></TR>"
      "<TR><TD ALIGN=\"LEFT\">green box</TD><TD ALIGN=\"LEFT\">hands the person to an advocate</TD></TR>"
      "<TR><TD ALIGN=\"LEFT\">double-edged box</TD><TD ALIGN=\"LEFT\">says this and the conversation ends</TD></TR>"
      "<TR><TD ALIGN=\"LEFT\">&quot;1 …&quot; on an arrow</TD><TD ALIGN=\"LEFT\">the menu reply that leads there</TD></TR>"
      "<TR><TD ALIGN=\"LEFT\">dashed arrow</TD><TD ALIGN=\"LEFT\">a question asked at that step</TD></TR>"
      "<TR><TD ALIGN=\"LEFT\">dotted arrow</TD><TD ALIGN=\"LEFT\">anything else, or not understood</TD></TR>"
      "</TABLE>>];\n";
  const std::string dot = flow::to_dot(b);
  CHECK(dot == "digraph \"tiny\" {\n  comment=\"hotline flow hash " + flow::flow_picture_hash(body) + "\";\n" + body + "}\n");

  // FNV-1a, 64 bits: the published test values, so the hash is the same on every machine.
  CHECK(flow::flow_picture_hash("") == "cbf29ce484222325");
  CHECK(flow::flow_picture_hash("a") == "af63dc4c8601ec8c");

  // The picture knows which flow it shows: a changed text is a changed hash.
  Diagnostics same, changed;
  flow::check_flow_picture(b, dot, "docs/flow.svg", same);
  CHECK(same.items().empty());
  b.prompts.add(Lang::en, "menu_text", {"Pick a number:\n1 Call the police?", "", false, {}});
  flow::check_flow_picture(b, dot, "docs/flow.svg", changed);
  CHECK(changed.to_string() ==
        "docs/flow.svg:1:1: warning[flow-picture-outdated]: this picture does not show the flow as it is now (flows/ "
        "or prompts/ changed since it was drawn): draw it again with `hotline graph -o docs/flow.svg`\n");
}

TEST_CASE("the shipped flow drawn by `hotline graph`: the menu's words, one table of anywhere questions, a legend") {
  auto r = run({HOTLINE_BINARY, "graph", HOTLINE_SOURCE_DIR});
  REQUIRE(r.exit_code == 0);
  const std::string& dot = r.out;
  CHECK_THAT(dot, Catch::StartsWith("digraph \"hotline\" {\n  comment=\"hotline flow hash ") && Catch::EndsWith("}\n"));
  for (const auto& [id, step] : shipped_bundle()->flow.steps) {
    CHECK_THAT(dot, Catch::Contains("\n  \"" + id + "\" [label=\""));
  }
  CHECK_THAT(dot, Catch::Contains("\n  \"menu\" [label=\"This line answers"));
  CHECK_THAT(dot, Catch::Contains("\"menu\" -> \"call_police\" [label=\"1 Can I call the police?\"];"));
  CHECK_THAT(dot, Catch::Contains("\"menu\" -> \"advocate\" [label=\"0 Talk to a person\"];"));
  CHECK_THAT(dot, Catch::Contains("\"call_police\" -> \"police_discretion\";"));
  CHECK_THAT(dot, Catch::Contains("\"police_discretion\" -> \"after_answer\";"));
  CHECK_THAT(dot, Catch::Contains("<TR><TD ALIGN=\"LEFT\">what to do in an emergency</TD>"));
  CHECK_THAT(dot, !Catch::Contains("\"(anywhere)\" ->"));  // a table, not an arrow per question
  CHECK_THAT(dot, Catch::Contains("How to read this picture"));
  CHECK_THAT(dot, Catch::Contains("\"(not understood)\" -> \"offer_person\""));

  TempDir out;
  const std::string file = (out.path() / "flow.dot").string();
  auto to_file = run({HOTLINE_BINARY, "graph", HOTLINE_SOURCE_DIR, "-o", file});
  CHECK(to_file.exit_code == 0);
  CHECK(read_file(file) == dot);

  auto help = run({HOTLINE_BINARY, "graph", "--help"});
  CHECK_THAT(help.out, Catch::StartsWith("Usage: hotline graph"));
}

TEST_CASE("`hotline check` warns when docs/flow.svg was drawn from another flow, and not once it is drawn again") {
  TempDir tree;
  copy_shipped_tree(tree);
  const std::string picture = (tree.path() / "docs" / "flow.svg").string();
  std::filesystem::create_directories(tree.path() / "docs");
  // Graphviz (script/bootstrap installs it) draws the SVG; the hash survives in it as a comment.
  auto drawn = run({HOTLINE_BINARY, "graph", tree.str(), "-o", picture});
  INFO(drawn.err);
  REQUIRE(drawn.exit_code == 0);
  CHECK_THAT(read_file(picture), Catch::Contains("<!-- hotline flow hash ") && Catch::Contains("<svg"));
  auto fresh = run({HOTLINE_BINARY, "check", tree.str()});
  CHECK(fresh.exit_code == 0);
  CHECK_THAT(fresh.out, Catch::EndsWith("0 error(s), 0 warning(s)\n"));

  // Staff reword a menu line: the picture no longer shows what texters read. (The hash is of
  // what is drawn: a change the picture would not show, past a label's first words, is none.)
  std::string en = read_file((tree.path() / "prompts/en.yaml").string());
  en.replace(en.find("0 Talk to a person"), 18, "0 Talk with a person");
  tree.write("prompts/en.yaml", en);
  auto stale = run({HOTLINE_BINARY, "check", tree.str()});
  CHECK(stale.exit_code == 0);  // a warning: the hotline itself is fine
  CHECK_THAT(stale.out, Catch::Contains(picture + ":1:1: warning[flow-picture-outdated]: this picture does not show "
                                                  "the flow as it is now (flows/ or prompts/ changed since it was "
                                                  "drawn): draw it again with `hotline graph -o " + picture + "`\n"));
  CHECK_THAT(stale.out, Catch::EndsWith("0 error(s), 1 warning(s)\n"));

  REQUIRE(run({HOTLINE_BINARY, "graph", tree.str(), "-o", picture}).exit_code == 0);
  CHECK_THAT(run({HOTLINE_BINARY, "check", tree.str()}).out, Catch::EndsWith("0 error(s), 0 warning(s)\n"));
}
