// Python str operations on UTF-8 strings for the chat-template built-ins: case mapping (per code point,
// Unicode-aware through the C.UTF-8 locale), strip / split / splitlines / replace / title / capitalize
// with CPython's semantics, jinja2's title filter, and markupsafe's HTML escape.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace r1::tokenizer::jinja {

std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);
std::string py_capitalize(const std::string& s);  // str.capitalize(): first upper, rest lower
std::string py_title(const std::string& s);       // str.title()
std::string jinja_title(const std::string& s);    // jinja2's |title: words split at whitespace and -({[<

enum class StripSide { kLeft, kRight, kBoth };
// str.strip(chars): chars == nullopt strips whitespace.
std::string py_strip(const std::string& s, const std::optional<std::string>& chars, StripSide side);

// str.split(sep, maxsplit) / str.rsplit: sep == nullopt splits on whitespace runs; maxsplit < 0: no limit.
std::vector<std::string> py_split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> py_rsplit(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(const std::string& s);

// str.replace(old, new, count): count < 0 replaces all; an empty `old` inserts between code points.
std::string py_replace(const std::string& s, const std::string& old, const std::string& replacement, int64_t count);

std::string html_escape(const std::string& s);  // & < > " ' as markupsafe.escape

}  // namespace r1::tokenizer::jinja
