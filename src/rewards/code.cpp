// The `code` reward: open-r1's code_reward with a local sandbox (src/rewards/sandbox.h) in place of E2B. The example's
// "verification_info" (object, or a JSON string of one) is {"language": "python"|"cpp", "test_cases": [{"input",
// "output", "type": "stdin_stdout"}]}; the program is the completion's last ``` fenced block tagged with that
// language (or untagged); score = tests passed / tests. A test passes when the program exits 0 within its limits and
// its stdout equals the expected output after trailing whitespace is removed from each line and trailing empty
// lines are dropped. C++ is compiled once per completion (g++ -O2 -std=c++17) in the same sandbox.
// Departures: (1) open-r1 zips output and expected lines (a prefix passes) and strips both ends of each line; here
// line counts must agree and leading whitespace counts; (2) no code block scores 0 without running; (3) a row
// without verification_info (or no tests) is not applicable (nullopt); (4) languages may differ within a batch.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "r1/io.h"
#include "r1/runtime.h"
#include "rewards/families.h"
#include "rewards/params.h"
#include "rewards/sandbox.h"
#include "tokenizer/regex.h"

namespace r1::rewards {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
enum class Language { kPython, kCpp };

struct CodeOptions {
  SandboxLimits run, compile;
  std::string default_language;
  std::string python, cxx;
  int num_parallel = 2;
};

std::optional<Language> parse_language(const std::string& name) {
  if (name == "python" || name == "python3" || name == "py") return Language::kPython;
  if (name == "cpp" || name == "c++" || name == "cxx" || name == "cc") return Language::kCpp;
  return std::nullopt;
}

std::string find_program(const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    std::vector<fs::path> tries;
    if (c.find('/') != std::string::npos) {
      tries.push_back(c);
    } else if (const char* path = std::getenv("PATH")) {
      std::string_view rest = path;
      while (!rest.empty()) {
        size_t colon = rest.find(':');
        tries.push_back(fs::path(rest.substr(0, colon)) / c);
        rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      }
    }
    for (const fs::path& t : tries) {
      std::error_code ec;
      fs::path real = fs::canonical(t, ec);
      if (!ec && fs::is_regular_file(real, ec) && access(real.c_str(), X_OK) == 0) return real.string();
    }
  }
  return "";
}

// The last ``` block whose info string names the language (or is empty).
std::optional<std::string> extract_code(const std::string& completion, Language language) {
  static const tokenizer::Regex fence("(?s)```([^\\n`]*)\\n(.*?)```");
  std::optional<std::string> found;
  for (auto [b, e] : fence.find_all(completion)) {
    std::string_view block(completion.data() + b, e - b);
    size_t newline = block.find('\n');
    std::string tag(block.substr(3, newline - 3));
    tag.erase(std::remove_if(tag.begin(), tag.end(), [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }),
              tag.end());
    std::transform(tag.begin(), tag.end(), tag.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (!tag.empty() && parse_language(tag) != language) continue;
    found = std::string(block.substr(newline + 1, block.size() - newline - 1 - 3));
  }
  return found;
}

std::vector<std::string> normalized_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

struct TestCase {
  std::string input, output;
};

struct Problem {
  Language language;
  std::vector<TestCase> tests;
};

// The row's verification_info as a problem (nullopt: the row has none). r1::Error "<where>: ..." when it is
// malformed; `where` names the reward and, when scoring, the example.
std::optional<Problem> parse_problem(const json& example, const std::string& default_language,
                                     const std::string& where) {
  auto it = example.find("verification_info");
  if (it == example.end() || it->is_null()) return std::nullopt;
  json info = *it;
  if (info.is_string()) info = parse_json(info.get<std::string>(), where + ": verification_info");
  if (!info.is_object()) fail("{}: verification_info must be an object", where);
  std::string language_name = default_language;
  if (auto l = info.find("language"); l != info.end()) {
    if (!l->is_string()) fail("{}: verification_info.language must be a string", where);
    language_name = l->get<std::string>();
  }
  std::optional<Language> language = parse_language(language_name);
  if (!language) fail("{}: language '{}' is not supported (python, cpp)", where, language_name);
  auto tests_it = info.find("test_cases");
  if (tests_it == info.end() || !tests_it->is_array()) fail("{}: verification_info.test_cases must be a list", where);
  Problem problem{*language, {}};
  for (const json& t : *tests_it) {
    if (!t.is_object() || !t.contains("input") || !t.contains("output") || !t["input"].is_string() ||
        !t["output"].is_string())
      fail("{}: each test case needs string 'input' and 'output', found {}", where, t.dump());
    std::string type = t.value("type", "stdin_stdout");
    if (type != "stdin_stdout") fail("{}: test type '{}' is not supported (stdin_stdout)", where, type);
    problem.tests.push_back({t["input"].get<std::string>(), t["output"].get<std::string>()});
  }
  return problem;
}

Score score_one(const std::string& completion, const json& example, size_t row, const CodeOptions& o) {
  std::optional<Problem> problem =
      parse_problem(example, o.default_language, fmt::format("reward 'code': example {}", row));
  if (!problem || problem->tests.empty()) return std::nullopt;
  const Language language = problem->language;
  const std::vector<TestCase>& tests = problem->tests;

  std::optional<std::string> code = extract_code(completion, language);
  if (!code) return 0.0;
  Sandbox sandbox;
  std::vector<std::string> argv;
  if (language == Language::kPython) {
    if (o.python.empty()) fail("reward 'code': no python3 interpreter found (set the parameter 'python')");
    sandbox.write_file("solution.py", *code);
    argv = {o.python, "-I", (sandbox.dir() / "solution.py").string()};
  } else {
    if (o.cxx.empty()) fail("reward 'code': no C++ compiler found (set the parameter 'cxx')");
    sandbox.write_file("solution.cpp", *code);
    std::string binary = (sandbox.dir() / "solution").string();
    SandboxResult built =
        sandbox.run({o.cxx, "-O2", "-std=c++17", "-pipe", "-o", binary, (sandbox.dir() / "solution.cpp").string()}, "",
                    o.compile, true);
    if (!built.ok()) {
      // g++ exits 1 when the program does not compile. Killed, timed out or another status is the environment's
      // doing (limits too tight, a broken toolchain): said on stderr, a few times per process, as it costs points.
      if (built.exit_code != 1 || built.timed_out || built.output_truncated) {
        static std::atomic<int> warnings{0};
        if (warnings.fetch_add(1) < 5)
          fmt::print(
              stderr,
              "warning: reward 'code': example {}: the C++ compiler did not finish normally (exit {}, signal {}{}{}, "
              "{:.1f} s); scored 0. Its stderr ends: {}\n",
              row, built.exit_code, built.signal, built.timed_out ? ", timed out" : "",
              built.output_truncated ? ", output cut" : "", built.wall_seconds,
              built.err.substr(built.err.size() > 600 ? built.err.size() - 600 : 0));
      }
      return 0.0;
    }
    argv = {binary};
  }
  size_t passed = 0;
  for (const TestCase& t : tests) {
    SandboxResult r = sandbox.run(argv, t.input, o.run);
    if (r.ok() && normalized_lines(r.out) == normalized_lines(t.output)) ++passed;
  }
  return double(passed) / double(tests.size());
}

RewardFn make_code(const json& params) {
  Params p("code", params);
  CodeOptions o;
  o.run.timeout_seconds = p.number("timeout_seconds", 10);
  o.run.memory_bytes = int64_t(p.number("memory_mb", 512) * 1024 * 1024);
  o.run.max_output_bytes = p.integer("max_output_bytes", int64_t(1) << 20);
  o.run.max_processes = int(p.integer("max_processes", 16));
  o.compile.timeout_seconds = p.number("compile_timeout_seconds", 30);
  o.default_language = p.string("code_language", "python");
  o.num_parallel = int(p.integer("num_parallel", 2));
  std::string python = p.string("python", ""), cxx = p.string("cxx", "");
  p.finish();
  if (!(o.run.timeout_seconds > 0)) fail_usage("reward 'code': timeout_seconds must be > 0");
  if (o.run.memory_bytes < (int64_t(16) << 20)) fail_usage("reward 'code': memory_mb must be >= 16");
  if (o.run.max_output_bytes < 1) fail_usage("reward 'code': max_output_bytes must be >= 1");
  if (o.run.max_processes < 1) fail_usage("reward 'code': max_processes must be >= 1");
  if (!(o.compile.timeout_seconds > 0)) fail_usage("reward 'code': compile_timeout_seconds must be > 0");
  if (o.num_parallel < 1) fail_usage("reward 'code': num_parallel must be >= 1, found {}", o.num_parallel);
  if (!parse_language(o.default_language))
    fail_usage("reward 'code': code_language '{}' is not supported (python, cpp)", o.default_language);
  // g++ runs cc1plus, as and ld, and needs more memory than most solutions.
  o.compile.memory_bytes = std::max(o.run.memory_bytes, int64_t(2048) << 20);
  o.compile.max_file_bytes = int64_t(256) << 20;
  o.compile.max_processes = std::max(o.run.max_processes, 16);
  o.compile.max_output_bytes = int64_t(1) << 20;
  o.python = find_program(python.empty() ? std::vector<std::string>{"/usr/bin/python3", "python3"}
                                         : std::vector<std::string>{python});
  o.cxx = find_program(cxx.empty() ? std::vector<std::string>{"g++"} : std::vector<std::string>{cxx});
  if (!python.empty() && o.python.empty()) fail_usage("reward 'code': python '{}' is not an executable", python);
  if (!cxx.empty() && o.cxx.empty()) fail_usage("reward 'code': cxx '{}' is not an executable", cxx);

  return [o](const std::vector<std::string>& completions, const std::vector<json>& examples) {
    check_batch("code", completions.size(), examples.size());
    std::vector<Score> out(completions.size());
    parallel_for(completions.size(), o.num_parallel,
                 [&](size_t i) { out[i] = score_one(completions[i], examples[i], i, o); });
    return out;
  };
}
}  // namespace

std::vector<RewardInfo> code_rewards() {
  return {{"code",
           "share of verification_info test cases the completion's last code block passes, run in a local sandbox "
           "(python, cpp)",
           make_code,
           // python: the default language when the row names none (a 'code_language' parameter may choose cpp)
           [](const json& example) { parse_problem(example, "python", "reward 'code'"); }}};
}

}  // namespace r1::rewards
