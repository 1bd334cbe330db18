// `hotline graph`: the flow as Graphviz DOT, so staff can see the conversation.
#include <catch2/catch.hpp>

#include "hotline/flow/graph.hpp"
#include "process.hpp"

using namespace hotline;
using namespace test_support;

TEST_CASE("the DOT has every step, its prompt, and labelled replies, intents and go arrows") {
  TempDir dir;
  dir.write("flows/hotline.yaml", "");
  flow::Bundle b;
  b.flow.name = "tiny";
  b.flow.start = "menu";
  b.flow.anywhere = {{"advocate", "person"}};
  b.flow.after_retries = "person";
  flow::Step menu;
  menu.id = "menu";
  menu.say = "menu_text";
  menu.replies = {{"1", "answer"}, {"si \"ok\"", "person"}};
  menu.intents = {{"complaint", "answer"}};
  menu.otherwise = "answer";
  flow::Step answer;
  answer.id = "answer";
  answer.say = "answer";
  answer.then = flow::Step::Then::go;
  answer.go = "menu";
  flow::Step person;
  person.id = "person";
  person.say = "advocate";
  person.handoff = "advocate";
  person.then = flow::Step::Then::end;
  b.flow.steps = {{"menu", menu}, {"answer", answer}, {"person", person}};

  CHECK(flow::to_dot(b) ==
        "digraph \"tiny\" {\n"
        "  rankdir=LR;\n"
        "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
        "  edge [fontname=\"Helvetica\", fontsize=10];\n"
        "  \"(start)\" [shape=circle, label=\"start\", style=filled, fillcolor=\"#dddddd\"];\n"
        "  \"(start)\" -> \"menu\";\n"
        "  \"answer\" [label=\"answer\", style=\"rounded,dashed\"];\n"
        "  \"menu\" [label=\"menu\\nsay: menu_text\\n(waits for a reply)\"];\n"
        "  \"person\" [label=\"person\\nsay: advocate\", style=\"rounded,filled\", fillcolor=\"#c8e6c9\"];\n"
        "  \"answer\" -> \"menu\";\n"
        "  \"menu\" -> \"answer\" [label=\"1\"];\n"
        "  \"menu\" -> \"person\" [label=\"si \\\"ok\\\"\"];\n"
        "  \"menu\" -> \"answer\" [label=\"complaint\", style=dashed];\n"
        "  \"menu\" -> \"answer\" [label=\"otherwise\", style=dotted];\n"
        "  \"(anywhere)\" [shape=note, label=\"anywhere\\n(at every question)\", style=filled, fillcolor=\"#fff3c4\"];\n"
        "  \"(anywhere)\" -> \"person\" [label=\"advocate\", style=dashed, color=\"#8a6d00\"];\n"
        "  \"(not understood)\" [shape=note, label=\"not understood 3 times\"];\n"
        "  \"(not understood)\" -> \"person\" [style=dotted];\n"
        "}\n");
}

TEST_CASE("the shipped flow drawn by `hotline graph` has its steps, menu numbers and anywhere intents") {
  auto r = run({HOTLINE_BINARY, "graph", HOTLINE_SOURCE_DIR});
  REQUIRE(r.exit_code == 0);
  const std::string& dot = r.out;
  CHECK_THAT(dot, Catch::StartsWith("digraph \"hotline\" {\n") && Catch::EndsWith("}\n"));
  for (const auto& [id, step] : shipped_bundle()->flow.steps) {
    CHECK_THAT(dot, Catch::Contains("\n  \"" + id + "\" [label=\"" + id));
  }
  CHECK_THAT(dot, Catch::Contains("\"menu\" -> \"call_police\" [label=\"1\"];"));
  CHECK_THAT(dot, Catch::Contains("\"menu\" -> \"advocate\" [label=\"0\"];"));
  CHECK_THAT(dot, Catch::Contains("\"call_police\" -> \"police_discretion\";"));
  CHECK_THAT(dot, Catch::Contains("\"police_discretion\" -> \"after_answer\";"));
  CHECK_THAT(dot, Catch::Contains("\"(anywhere)\" -> \"emergency\" [label=\"emergency\""));
  CHECK_THAT(dot, Catch::Contains("\"(not understood)\" -> \"offer_person\""));

  TempDir out;
  const std::string file = (out.path() / "flow.dot").string();
  auto to_file = run({HOTLINE_BINARY, "graph", HOTLINE_SOURCE_DIR, "-o", file});
  CHECK(to_file.exit_code == 0);
  CHECK(read_file(file) == dot);

  auto help = run({HOTLINE_BINARY, "graph", "--help"});
  CHECK_THAT(help.out, Catch::StartsWith("Usage: hotline graph"));
}
