#pragma once
// Markdown -> a self-standing HTML page (GitHub-flavoured tables), via cmark-gfm.
#include <string>

namespace eqsim::report {

std::string markdown_to_html(const std::string& markdown, const std::string& title);

}  // namespace eqsim::report
