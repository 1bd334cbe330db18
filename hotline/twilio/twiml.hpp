#pragma once
// A small XML writer for TwiML. Output matches the official twilio npm library byte for byte
// for the same verbs and attributes: `<?xml version="1.0" encoding="UTF-8"?><Response>…`.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hotline::twilio {

using Attributes = std::vector<std::pair<std::string, std::string>>;

/// Builds a <Response>. Verbs nest by passing a child builder.
class TwiML {
 public:
  /// <Name attr="…">text</Name>, or <Name attr="…"/> when text is empty.
  TwiML& verb(std::string_view name, const Attributes& attrs = {}, std::string_view text = {});
  /// <Name attr="…">children</Name>; empty children render as <Name …/>.
  TwiML& nest(std::string_view name, const Attributes& attrs, const TwiML& children);

  TwiML& message(std::string_view text) { return verb("Message", {}, text); }

  /// The whole document; an empty response is `<Response/>`.
  std::string str() const;
  /// Just the inner XML (for nesting).
  const std::string& body() const { return body_; }

 private:
  std::string body_;
};

/// Escape as the official library (xmlbuilder) does. Text: & < > and CR. Attributes: & < " and
/// TAB, LF, CR (but not >). Both also drop characters XML 1.0 forbids and replace invalid UTF-8
/// with U+FFFD, so the output is always well-formed (see twiml.cpp).
std::string xml_escape_text(std::string_view text);
std::string xml_escape_attr(std::string_view text);

}  // namespace hotline::twilio
