#pragma once
// A YAML syntax error in words staff can act on. yaml-cpp says "end of map not found" or
// "illegal map value" where it gave up, often lines after the slip; this looks at the text up to
// there for the three slips staff make (a tab, a line indented less than the text it belongs
// to, an unquoted ": " inside a sentence) and names the line that has it.
#include <string>
#include <string_view>

#include "hotline/common/diagnostic.hpp"

namespace hotline {

/// Codes of the diagnostics below; a file with one of them could not be read at all.
inline constexpr const char* kYamlSyntaxCodes[] = {"yaml-tab", "yaml-indent", "yaml-colon", "yaml-syntax"};

bool is_yaml_syntax_error(const Diagnostic& d);

/// The diagnostic for a parse failure of `text` (the file `path`), which yaml-cpp reported at
/// 0-based `line`/`column` with `parser_message`.
Diagnostic explain_yaml_error(const std::string& path, std::string_view text, int line, int column,
                              const std::string& parser_message);

}  // namespace hotline
