// parse_form: any body either parses or is refused; what parses survives encode → parse.
#include <cstdlib>
#include <string_view>

#include "hotline/twilio/form.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto fields = hotline::twilio::parse_form(body);
  if (!fields) return 0;
  for (const auto& [k, v] : *fields) hotline::twilio::field(*fields, k);
  auto again = hotline::twilio::parse_form(hotline::twilio::encode_form(*fields));
  if (!again || *again != *fields) std::abort();  // the encoder and the decoder disagree
  return 0;
}
