// The YAML loaders staff's files go through: the flow, the intents and a prompts file. The first
// byte chooses which; the rest is written to a file and loaded. Errors are fine; crashes are not.
#include <unistd.h>

#include <fstream>
#include <string>

#include "hotline/common/diagnostic.hpp"
#include "hotline/flow/model.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/prompts/catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::string path = "/tmp/hotline-fuzz-" + std::to_string(getpid()) + ".yaml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  hotline::Diagnostics diags;
  switch (data[0] % 3) {
    case 0: hotline::flow::load_flow(path, diags); break;
    case 1: hotline::nlu::load_intents(path, diags); break;
    default: {
      hotline::prompts::Catalog catalog;
      hotline::prompts::load_prompts(path, hotline::Lang::en, catalog, diags);
      break;
    }
  }
  diags.to_string();
  return 0;
}
