// TwiML writer, byte-compatible with the official `twilio` npm library (v6, which renders with
// xmlbuilder 13, not pretty-printed). test_twiml checks this against the library itself.
//
// What the library does, and so what we do:
//   - `<?xml version="1.0" encoding="UTF-8"?>` then the document with no whitespace or newline.
//   - An element without children or with only empty text self-closes, with no space: `<Hangup/>`.
//   - Text escapes  &  <  >  and CR (as &#xD;). " ' LF and TAB stay literal.
//   - Attribute values escape  &  <  "  TAB LF CR (as &amp; &lt; &quot; &#x9; &#xA; &#xD;).
//     `>` and `'` stay literal (xmlbuilder's attEscape follows canonical XML, which does
//     not escape `>` in attributes). An empty value renders as name="".
//   - Non-ASCII is written as UTF-8, never as character references ("¿Cómo está?" as is).
//   - Attributes keep insertion order (they are a JS object); a repeated name keeps its first
//     position and takes the last value, as assigning a JS object key twice does.
//
// Where we deliberately differ: characters XML 1.0 forbids (C0 controls other than TAB, LF,
// CR; U+FFFE; U+FFFF) make the library throw for text and pass through unescaped in
// attributes, yielding a document Twilio refuses to parse (error 12100), which for a voice call
// means the caller hears Twilio's error message. Text here comes from callers' SMS bodies and
// prompt files, so we drop those characters instead, and replace invalid UTF-8 with U+FFFD (as
// Node does when it decodes bytes), so the output is always well-formed.
#include "hotline/twilio/twiml.hpp"

namespace hotline::twilio {
namespace {

/// Length of the valid UTF-8 sequence at `i` (2 to 4), or 0 when it is not one; `j` is left
/// past the maximal ill-formed subpart (the WHATWG/Unicode "best practice" that Node's decoder
/// uses: one U+FFFD for each).
std::size_t utf8_sequence(std::string_view in, std::size_t i, std::size_t& j) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[k]); };
  const unsigned char c = byte(i);
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;  // no overlongs
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;  // no overlongs
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  }
  j = i + 1;
  if (need == 0) return 0;
  for (std::size_t k = 0; k < need; ++k, ++j) {
    unsigned char min = k == 0 ? lo : 0x80, max = k == 0 ? hi : 0xBF;
    if (j >= in.size() || byte(j) < min || byte(j) > max) return 0;  // [i, j) is one maximal subpart
  }
  return need + 1;
}

/// Valid UTF-8 without XML-1.0-illegal characters (invalid sequences become U+FFFD), escaped
/// for text (`kAttr` false) or an attribute value. One pass, copying runs of ordinary bytes.
template <bool kAttr>
std::string escape(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 8);
  std::size_t run = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  const auto flush = [&](std::size_t end) { out.append(in.data() + run, end - run); };
  while (i < in.size()) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      const char* entity = nullptr;
      bool keep = c >= 0x20;
      switch (c) {
        case '&': entity = "&amp;"; break;
        case '<': entity = "&lt;"; break;
        // A literal CR would be turned into LF by any XML parser (end-of-line normalisation).
        case '\r': entity = "&#xD;"; break;
        case '>': entity = kAttr ? nullptr : "&gt;"; break;
        case '"': entity = kAttr ? "&quot;" : nullptr; break;
        // Parsers normalise literal whitespace in attributes to spaces; references survive.
        case '\t': entity = kAttr ? "&#x9;" : nullptr; keep = true; break;
        case '\n': entity = kAttr ? "&#xA;" : nullptr; keep = true; break;
        default: break;
      }
      if (!entity && keep) {
        ++i;
        continue;
      }
      flush(i);
      if (entity) out += entity;  // else a control character XML forbids: dropped
      run = ++i;
      continue;
    }
    std::size_t j = i;
    const std::size_t len = utf8_sequence(in, i, j);
    if (len != 0) {
      // U+FFFE and U+FFFF are not XML characters.
      const std::string_view seq = in.substr(i, len);
      if (seq != "\xEF\xBF\xBE" && seq != "\xEF\xBF\xBF") {
        i = j;
        continue;
      }
      flush(i);
    } else {
      flush(i);
      out += "\xEF\xBF\xBD";
    }
    i = j;
    run = i;
  }
  flush(i);
  return out;
}

void append_attributes(std::string& out, const Attributes& attrs) {
  // JS-object semantics: first position wins, last value wins.
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    bool earlier = false;
    for (std::size_t k = 0; k < i && !earlier; ++k) earlier = attrs[k].first == attrs[i].first;
    if (earlier) continue;
    const std::string* value = &attrs[i].second;
    for (std::size_t k = i + 1; k < attrs.size(); ++k) {
      if (attrs[k].first == attrs[i].first) value = &attrs[k].second;
    }
    out.push_back(' ');
    out += attrs[i].first;
    out += "=\"";
    out += xml_escape_attr(*value);
    out.push_back('"');
  }
}

}  // namespace

std::string xml_escape_text(std::string_view text) { return escape<false>(text); }

std::string xml_escape_attr(std::string_view text) { return escape<true>(text); }

TwiML& TwiML::verb(std::string_view name, const Attributes& attrs, std::string_view text) {
  body_.push_back('<');
  body_ += name;
  append_attributes(body_, attrs);
  std::string escaped = xml_escape_text(text);
  if (escaped.empty()) {
    body_ += "/>";
  } else {
    body_.push_back('>');
    body_ += escaped;
    body_ += "</";
    body_ += name;
    body_.push_back('>');
  }
  return *this;
}

TwiML& TwiML::nest(std::string_view name, const Attributes& attrs, const TwiML& children) {
  body_.push_back('<');
  body_ += name;
  append_attributes(body_, attrs);
  if (children.body().empty()) {
    body_ += "/>";
  } else {
    body_.push_back('>');
    body_ += children.body();
    body_ += "</";
    body_ += name;
    body_.push_back('>');
  }
  return *this;
}

std::string TwiML::str() const {
  std::string out = R"(<?xml version="1.0" encoding="UTF-8"?>)";
  if (body_.empty()) {
    out += "<Response/>";
  } else {
    out += "<Response>";
    out += body_;
    out += "</Response>";
  }
  return out;
}

}  // namespace hotline::twilio
