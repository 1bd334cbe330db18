// The TwiML writer: whatever a prompt, a name or an attribute holds, the document is valid
// UTF-8, has no character XML 1.0 forbids, and no text escapes its element.
#include <cstdlib>
#include <string>

#include "hotline/common/utf8.hpp"
#include "hotline/twilio/twiml.hpp"
#include "take_part.hpp"

namespace {
bool forbidden_in_xml(char32_t c) {
  return (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D) || (c >= 0xD800 && c <= 0xDFFF) ||
         c == 0xFFFE || c == 0xFFFF;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string attr(take(rest)), text(take(rest)), message(rest);
  using namespace hotline::twilio;
  TwiML inner;
  inner.verb("Say", {{"voice", attr}, {"language", "es-MX"}}, text);
  TwiML doc;
  doc.message(message).nest("Gather", {{"action", attr}}, inner).verb("Hangup");
  const std::string out = doc.str();
  if (!hotline::is_valid_utf8(out)) std::abort();
  for (std::size_t i = 0; i < out.size();) {
    if (forbidden_in_xml(hotline::next_code_point(out, i))) std::abort();
  }
  // Only the writer's own markup: every '<' of the escaped parts became "&lt;".
  const std::string escaped_message = xml_escape_text(message);
  if (escaped_message.find('<') != std::string::npos) std::abort();
  if (xml_escape_attr(attr).find('"') != std::string::npos) std::abort();
  if (out.find("<Message>" + escaped_message + "</Message>") == std::string::npos &&
      !(message.empty() || escaped_message.empty()))
    std::abort();
  return 0;
}
