// The YAML loaders staff's files go through: the flow, the intents and a prompts file. The first
// byte chooses which; the rest is written to a file and loaded, through the same path (reading
// the file included) that `hotline check` and the server take. Errors are fine; crashes are not.
//
// Speed (see fuzz/README.md): the file is created once, in memory (memfd_create; an unlinked
// temporary file where that is missing), and rewritten in place, so an input costs no file
// creation and no disk I/O; the loaders open it by its /proc/self/fd path. Nothing is left
// behind, even by a crash or libFuzzer's _Exit. And the seeds are small whole files (script/fuzz
// runs this target with -max_len=4096): the loaders' cost grows with the input, and the 23 KB
// intents file took ~45 ms an execution.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "hotline/common/diagnostic.hpp"
#include "hotline/flow/model.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/prompts/catalog.hpp"

namespace {

std::string g_path;
int g_fd = -1;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_fd = memfd_create("hotline-fuzz-yaml", MFD_CLOEXEC);
  if (g_fd < 0) {
    const char* tmp = std::getenv("TMPDIR");
    std::string name = std::string(tmp && *tmp ? tmp : "/tmp") + "/hotline-fuzz-XXXXXX";
    g_fd = mkstemp(name.data());
    if (g_fd < 0) std::abort();
    unlink(name.c_str());
  }
  g_path = "/proc/self/fd/" + std::to_string(g_fd);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  if (size == 0) return 0;
  // Rewrite the one file in place: the bytes, then cut it to their length.
  const auto length = static_cast<off_t>(size - 1);
  if (pwrite(g_fd, data + 1, size - 1, 0) != length || ftruncate(g_fd, length) != 0) std::abort();
  hotline::Diagnostics diags;
  switch (data[0] % 3) {
    case 0: hotline::flow::load_flow(g_path, diags); break;
    case 1: hotline::nlu::load_intents(g_path, diags); break;
    default: {
      hotline::prompts::Catalog catalog;
      hotline::prompts::load_prompts(g_path, hotline::Lang::en, catalog, diags);
      break;
    }
  }
  diags.to_string();
  return 0;
}
