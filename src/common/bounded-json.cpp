// Depth-limited JSON parsing (see include/r1/io.h).
#include "r1/io.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "r1/error.h"

namespace r1 {
namespace {

// nlohmann's DOM builder with a depth counter: sax_parse calls these members statically (no virtual
// dispatch), so shadowing the four container events is enough. Returning false stops the parse at once.
template <class BasicJson>
class BoundedDom : public nlohmann::detail::json_sax_dom_parser<BasicJson> {
  using Base = nlohmann::detail::json_sax_dom_parser<BasicJson>;

 public:
  BoundedDom(BasicJson& result, int max_depth) : Base(result, /*allow_exceptions_=*/false), max_depth_(max_depth) {}

  bool start_object(std::size_t elements) { return enter() && Base::start_object(elements); }
  bool end_object() {
    --depth_;
    return Base::end_object();
  }
  bool start_array(std::size_t elements) { return enter() && Base::start_array(elements); }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& /*last_token*/, const Exception& e) {
    position_ = position;
    message_ = json_error_text(e);
    return false;
  }

  bool too_deep() const { return too_deep_; }
  std::size_t position() const { return position_; }
  const std::string& message() const { return message_; }

 private:
  bool enter() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
  std::size_t position_ = 0;
  std::string message_;
};

template <class BasicJson>
bool parse_bounded(std::string_view text, BasicJson& out, std::string* error, int max_depth) {
  BasicJson result;
  BoundedDom<BasicJson> dom(result, max_depth);
  bool ok = false;
  try {
    ok = BasicJson::sax_parse(text.begin(), text.end(), &dom, nlohmann::detail::input_format_t::json,
                              /*strict=*/true);
  } catch (const std::exception& e) {  // e.g. a container larger than max_size()
    if (error) *error = json_error_text(e);
    return false;
  }
  if (ok && !dom.too_deep() && dom.message().empty()) {
    out = std::move(result);
    return true;
  }
  if (error) {
    // The parse stopped on the event that went too deep: count the bytes up to that bracket.
    if (dom.too_deep()) {
      int depth = 0;
      std::size_t at = 0;
      bool in_string = false, escaped = false;
      for (; at < text.size(); ++at) {
        const char c = text[at];
        if (in_string) {
          if (escaped)
            escaped = false;
          else if (c == '\\')
            escaped = true;
          else if (c == '"')
            in_string = false;
        } else if (c == '"') {
          in_string = true;
        } else if ((c == '[' || c == '{') && ++depth > max_depth) {
          break;
        } else if (c == ']' || c == '}') {
          --depth;
        }
      }
      *error = fmt::format("nested deeper than {} levels at byte {}", max_depth, at + 1);
    } else {
      *error = dom.message();
    }
  }
  return false;
}

}  // namespace

std::string json_error_text(const std::exception& e) {
  std::string text = e.what();
  if (text.rfind("[json.exception.", 0) == 0) {
    const size_t close = text.find("] ");
    if (close != std::string::npos) text.erase(0, close + 2);
  }
  // "parse error at line 1, column 3: syntax error ..." -> "syntax error ... at line 1, column 3"
  if (text.rfind("parse error at ", 0) == 0) {
    const size_t colon = text.find(": ");
    if (colon != std::string::npos) text = text.substr(colon + 2) + " at " + text.substr(15, colon - 15);
  } else if (text.rfind("parse error: ", 0) == 0) {
    text.erase(0, 13);
  }
  return text;
}

bool parse_json_bounded(std::string_view text, nlohmann::json& out, std::string* error, int max_depth) {
  return parse_bounded(text, out, error, max_depth);
}
bool parse_json_bounded(std::string_view text, nlohmann::ordered_json& out, std::string* error, int max_depth) {
  return parse_bounded(text, out, error, max_depth);
}

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  nlohmann::json out;
  std::string error;
  if (!parse_json_bounded(text, out, &error)) fail("{}: not valid JSON ({})", where, error);
  return out;
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& where) {
  nlohmann::ordered_json out;
  std::string error;
  if (!parse_json_bounded(text, out, &error)) fail("{}: not valid JSON ({})", where, error);
  return out;
}

int64_t json_integer(const nlohmann::json& obj, const char* key, int64_t low, int64_t high, const std::string& where) {
  const bool present = obj.is_object() && obj.contains(key);
  const nlohmann::json* v = present ? &obj[key] : nullptr;
  // is_number_integer() holds for unsigned values too; one above INT64_MAX would wrap in get<int64_t>().
  const bool fits =
      v && v->is_number_integer() && !(v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX));
  if (!fits || v->get<int64_t>() < low || v->get<int64_t>() > high)
    fail("{}: \"{}\" must be an integer in [{}, {}], found {}", where, key, low, high, v ? v->dump() : "nothing");
  return v->get<int64_t>();
}

}  // namespace r1
