// JSON from outside the program (HTTP bodies, dataset rows, task files, configs, checkpoints) parsed with a
// nesting limit the parser itself enforces: nlohmann's SAX interface with a depth counter (its DOM builder,
// subclassed), so a value nested deeper than kMaxJsonDepth is refused while parsing, before any recursive
// copy, dump or template context can overflow the stack on it (a 1 MiB body can nest 500,000 deep). Errors
// carry no library codes ("[json.exception.parse_error.101]") and name where: the caller's `where` (file:line,
// file, "request body") and the byte or line/column inside it.
// Not here: reading files (jsonl.h streams JSON Lines through this).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace r1 {

// Deeper than any chat message, tool schema or config needs; a recursive walk of this depth uses well under
// 1 MiB of stack.
inline constexpr int kMaxJsonDepth = 512;

// Parses `text` into `out`. False on any error (out untouched), with `*error` saying what and where inside
// the text: "nested deeper than 512 levels at byte 1024", "number overflow parsing '1e999999'",
// "syntax error while parsing value - invalid literal; last read: 'x' at line 1, column 3",
// "invalid string: ill-formed UTF-8 byte ...".
bool parse_json_bounded(std::string_view text, nlohmann::json& out, std::string* error, int max_depth = kMaxJsonDepth);
bool parse_json_bounded(std::string_view text, nlohmann::ordered_json& out, std::string* error,
                        int max_depth = kMaxJsonDepth);

// Throwing forms: r1::Error "<where>: not valid JSON (<what>)" / "<where>: JSON nested deeper than ...".
nlohmann::json parse_json(std::string_view text, const std::string& where);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where);

// The integer obj[key] checked to lie in [low, high]: r1::Error "<where>: \"<key>\" must be an integer in
// [low, high], found <value or nothing>" otherwise (a missing key, another type, a fraction, a huge number).
// For saved states (trainer, data loaders) whose fields a hand edit or a corrupted file can change.
int64_t json_integer(const nlohmann::json& obj, const char* key, int64_t low, int64_t high, const std::string& where);

// Without a library code prefix: "[json.exception.type_error.302] type must be string" -> "type must be string".
// For the few places that still catch a nlohmann exception (a value of the wrong type in a parsed document).
std::string json_error_text(const std::exception& e);

}  // namespace r1
