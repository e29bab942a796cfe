// Chat templates: byte-exact renders of the six built-in templates against @huggingface/jinja goldens
// (tests/golden/chat, made by tests/reference/make-chat-golden.mjs and cross-checked with Python jinja2),
// hand-computed expectations for each Jinja feature of the interpreter (whitespace control, loop variables,
// slicing, namespace, macros, filters, tests, methods), {% generation %} spans, and errors that name
// line:column, the unknown filter, the raise_exception message and the exceeded limit.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <set>

#include "r1/chat-template.h"
#include "r1/error.h"
#include "test-helpers.h"

using nlohmann::ordered_json;
using r1::tokenizer::ChatTemplate;

namespace {

std::string render(const std::string& source, const std::string& context = "{}") {
  return ChatTemplate(source).render(ordered_json::parse(context)).text;
}

TEST(ChatTemplateGolden, BuiltinsMatchHuggingFaceJinjaByteForByte) {
  std::filesystem::path dir = std::filesystem::path(R1_SOURCE_DIR) / "tests/golden/chat";
  std::map<std::string, int> cases_per_template;
  std::map<std::string, ChatTemplate> templates;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ordered_json golden = ordered_json::parse(r1::test::read_bytes(entry.path()));
    std::string name = golden.at("template").get<std::string>();
    SCOPED_TRACE(entry.path().filename().string());
    if (!templates.count(name)) templates.emplace(name, ChatTemplate::named(name));
    r1::tokenizer::RenderResult result = templates.at(name).render(golden.at("context"));
    EXPECT_EQ(result.text, golden.at("expected").get<std::string>());
    ++cases_per_template[name];
  }
  ASSERT_EQ(cases_per_template.size(), ChatTemplate::builtin_names().size());
  for (const auto& [name, n] : cases_per_template) EXPECT_GE(n, 6) << name;
}

TEST(ChatTemplateGolden, HubTemplatesAreTheVerbatimStrings) {
  // Byte sizes of the tokenizer_config.json chat_template strings; an accidental edit changes them.
  EXPECT_EQ(ChatTemplate::named("chatml").source().size(), 199u);
  EXPECT_EQ(ChatTemplate::named("qwen2.5").source().size(), 2507u);
  EXPECT_EQ(ChatTemplate::named("llama3").source().size(), 4614u);
  EXPECT_EQ(ChatTemplate::named("deepseek-r1-distill").source().size(), 2246u);
  EXPECT_NE(ChatTemplate::named("deepseek-r1-distill").source().find("content.split('</think>')[-1]"),
            std::string::npos);
  EXPECT_NE(ChatTemplate::named("llama3").source().find("{%- else  %}"), std::string::npos);
}

TEST(ChatTemplateBuiltins, NamesAndUnknownName) {
  std::vector<std::string> names = ChatTemplate::builtin_names();
  EXPECT_EQ(names,
            (std::vector<std::string>{"chatml", "qwen2.5", "llama3", "deepseek-r1-distill", "r1-zero", "open-r1"}));
  R1_EXPECT_THROW_WITH(ChatTemplate::named("vicuna"), r1::Error, "vicuna", "chatml", "open-r1");
}

TEST(ChatTemplateBuiltins, R1ZeroIsThePaperPrompt) {
  std::string text = ChatTemplate::named("r1-zero")
                         .render(ordered_json::parse(R"({"messages": [{"role": "user", "content": "2+3?"}],
                                                         "add_generation_prompt": true})"))
                         .text;
  EXPECT_EQ(text,
            "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
            "assistant first thinks about the reasoning process in the mind and then provides the user with the "
            "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
            "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. "
            "User: 2+3?. Assistant:");
  R1_EXPECT_THROW_WITH(
      ChatTemplate::named("r1-zero").render(ordered_json::parse(R"({"messages": [{"role": "tool", "content": "x"}]})")),
      r1::Error, "raise_exception", "only system, user and assistant", "tool");
}

TEST(ChatTemplateBuiltins, OpenR1GenerationSpansCoverAssistantTurns) {
  auto result = ChatTemplate::named("open-r1").render(ordered_json::parse(R"({"messages": [
      {"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "<think>1+1</think><answer>2</answer>"},
      {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]})"));
  ASSERT_EQ(result.generation_spans.size(), 2u);
  auto span = [&](size_t i) {
    auto [b, e] = result.generation_spans[i];
    return result.text.substr(b, e - b);
  };
  EXPECT_EQ(span(0), "<think>1+1</think><answer>2</answer><|im_end|>");
  EXPECT_EQ(span(1), "4<|im_end|>");
  EXPECT_EQ(result.text.rfind("<|im_start|>system\nA conversation between User and Assistant.", 0), 0u);
}

// Content as OpenAI text parts: joined with "\n" (vLLM's rule), the same for the server's ordered JSON and the
// dataset readers' JSON; anything else is named by message index.
TEST(ChatTemplateMessages, TextPartsAreJoinedLikeVllm) {
  using r1::tokenizer::join_text_parts;
  using r1::tokenizer::text_messages;
  const auto parts = nlohmann::json::parse(R"([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])");
  EXPECT_EQ(join_text_parts(parts), "a\nb");
  EXPECT_EQ(join_text_parts(ordered_json(parts)), "a\nb");
  EXPECT_EQ(join_text_parts(nlohmann::json::array()), "");
  EXPECT_EQ(join_text_parts(nlohmann::json::parse(R"([{"type": "image_url", "image_url": {"url": "x"}}])")),
            std::nullopt);
  EXPECT_EQ(join_text_parts(nlohmann::json::parse(R"([{"type": "text", "text": 3}])")), std::nullopt);
  EXPECT_EQ(join_text_parts(nlohmann::json("a")), std::nullopt);

  const auto messages = nlohmann::json::parse(R"([{"role": "user", "content": [{"type": "text", "text": "hi"}]},
      {"role": "assistant", "content": "yo", "extra": 1}, {"role": "tool", "content": null}])");
  const nlohmann::json flat = text_messages(messages, "f.jsonl:3");
  EXPECT_EQ(flat[0]["content"], "hi");
  EXPECT_EQ(flat[1], messages[1]);  // strings and other keys untouched
  EXPECT_TRUE(flat[2]["content"].is_null());
  auto error = [](const std::string& m) {
    try {
      text_messages(nlohmann::json::parse(m), "f.jsonl:3");
    } catch (const r1::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"([{"role": "user", "content": "a"}, 5])"),
            "f.jsonl:3: message 1 is not a {role, content} object, got number");
  EXPECT_EQ(error(R"([{"content": "a"}])"), "f.jsonl:3: message 0 has no string 'role'");
  EXPECT_EQ(error(R"([{"role": "user", "content": 5}])"),
            "f.jsonl:3: message 0's 'content' must be a string or a list of parts, got number");
  EXPECT_EQ(error(R"([{"role": "user", "content": [{"type": "input_audio"}]}])"),
            "f.jsonl:3: message 0's 'content': only parts of type \"text\" are supported");
}

TEST(ChatTemplateSyntax, TextExpressionsComments) {
  EXPECT_EQ(render("Hello {{ name }}!{# a comment #}", R"({"name": "World"})"), "Hello World!");
  EXPECT_EQ(render("{{ 'a' }}{{ \"b\" }}{{ 'c' 'd' }}"), "abcd");
  EXPECT_EQ(render("no tags at all\n"), "no tags at all");  // keep_trailing_newline=False
  EXPECT_EQ(render("{{ 'x' ~ 1 ~ none ~ true }}"), "x1NoneTrue");
}

TEST(ChatTemplateSyntax, WhitespaceControl) {
  EXPECT_EQ(render("a  {{- 'b' -}}  \n c"), "abc");
  EXPECT_EQ(render("a  {#- comment -#}  b"), "ab");
  EXPECT_EQ(render("{% if true %}\nx\n{% endif %}\ny"), "x\ny");          // trim_blocks
  EXPECT_EQ(render("  {% if true %}\n  y\n  {% endif %}\nz"), "  y\nz");  // lstrip_blocks
  EXPECT_EQ(render("  {%+ if true %}\ny{% endif %}"), "  y");             // "+" keeps the indent
  EXPECT_EQ(render("{% if true +%}\ny{% endif %}"), "\ny");               // "+%}" keeps the newline
  EXPECT_EQ(render("x {% if true %}y{% endif %}"), "x y");                // not at a line start
  EXPECT_EQ(render("  {{ 'v' }}\n"), "  v");                              // lstrip not for {{
  EXPECT_EQ(render("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n"), "  1\n  2\n");
}

TEST(ChatTemplateSyntax, Literals) {
  EXPECT_EQ(render(R"({{ 'tab\there\nnew \u00e9\x41 \'q\' \\' }})"),
            "tab\there\nnew \xc3\xa9"
            "A 'q' \\");
  EXPECT_EQ(render("{{ 42 }} {{ -7 }} {{ 1_000 }} {{ 2.5 }} {{ 1.0 }} {{ 1e20 }} {{ 1e-5 }} {{ 0.1 + 0.2 }}"),
            "42 -7 1000 2.5 1.0 1e+20 1e-05 0.30000000000000004");
  EXPECT_EQ(render("{{ true }} {{ True }} {{ false }} {{ False }} {{ none }} {{ None }}"),
            "True True False False None None");
  EXPECT_EQ(render("{{ [1, 'a', none, true, [2.5]] }}"), "[1, 'a', None, True, [2.5]]");
  EXPECT_EQ(render("{{ {'k': 'v', 'n': 1} }} {{ {} }} {{ [] }} {{ \"it's\" }} {{ [\"it's\"] }}"),
            "{'k': 'v', 'n': 1} {} [] it's [\"it's\"]");
}

TEST(ChatTemplateSyntax, AttributeIndexAndSlices) {
  const char* ctx = R"({"m": {"role": "user", "content": "hi"}, "xs": [10, 20, 30, 40], "s": "héllo"})";
  EXPECT_EQ(render("{{ m.role }} {{ m['content'] }} {{ xs[0] }} {{ xs[-1] }} {{ xs.1 }}", ctx), "user hi 10 40 20");
  EXPECT_EQ(render("{{ xs[1:] }} {{ xs[:2] }} {{ xs[::-1] }} {{ xs[-2:] }} {{ xs[1:3] }} {{ xs[::2] }}", ctx),
            "[20, 30, 40] [10, 20] [40, 30, 20, 10] [30, 40] [20, 30] [10, 30]");
  EXPECT_EQ(render("{{ s[1:3] }} {{ s[::-1] }} {{ s[1] }} {{ s | length }}", ctx), "él olléh é 5");
  // A key the message lacks is undefined, not an error, as transformers templates rely on.
  EXPECT_EQ(
      render("[{{ m.tool_calls }}]{{ m.tool_calls is defined }} {{ m['x'] is undefined }} {{ xs[9] is defined }}", ctx),
      "[]False True False");
}

TEST(ChatTemplateSyntax, Operators) {
  EXPECT_EQ(render("{{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % 3 }}"),
            "14 20 3.5 3 -4 2 1");
  EXPECT_EQ(render("{{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 2 ** -1 }} {{ 1 + 2.0 }} {{ true + 1 }}"), "1024 64 0.5 3.0 2");
  EXPECT_EQ(render("{{ 'ab' * 3 }} {{ [1] + [2] }} {{ 'a' + 'b' }} {{ 1 ~ 2 }} {{ -(3) }} {{ +3 }}"),
            "ababab [1, 2] ab 12 -3 3");
  EXPECT_EQ(
      render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 'b' >= 'a' }} {{ [1, 2] < [1, 3] }}"),
      "True False True True True True");
  EXPECT_EQ(
      render("{{ 'a' in 'cat' }} {{ 'x' not in ['y'] }} {{ 'k' in {'k': 1} }} {{ 2 in [1, 2] }} {{ 'z' in missing }}"),
      "True True True True False");
  EXPECT_EQ(render("{{ 0 or 'x' }} {{ 1 and 2 }} {{ [] and 5 }} {{ not 0 }} {{ not 'a' }} {{ none or [] }}"),
            "x 2 [] True False []");
  EXPECT_EQ(render("{{ 'y' if 1 > 2 else 'n' }} {{ 'a' if false else 'b' if true else 'c' }}[{{ 'z' if false }}]"),
            "n b[]");
  EXPECT_EQ(render("{{ -3 | abs }} {{ not true is false }}"), "3 True");
}

TEST(ChatTemplateSyntax, Tests) {
  const char* ctx = R"({"d": {"a": 1}, "l": [1], "s": "x", "n": null, "i": 3, "f": 1.5, "b": true})";
  EXPECT_EQ(render("{{ d is defined }}{{ q is undefined }}{{ n is none }}{{ s is string }}{{ i is number }}"
                   "{{ f is number }}{{ i is integer }}{{ f is integer }}{{ b is boolean }}{{ d is mapping }}",
                   ctx),
            "TrueTrueTrueTrueTrueTrueTrueFalseTrueTrue");
  EXPECT_EQ(render("{{ l is iterable }}{{ s is iterable }}{{ i is iterable }}{{ l is sequence }}{{ d is sequence }}"
                   "{{ b is true }}{{ b is false }}{{ i is odd }}{{ i is even }}{{ 9 is divisibleby 3 }}",
                   ctx),
            "TrueTrueFalseTrueTrueTrueFalseTrueFalseTrue");
  EXPECT_EQ(render("{{ s is not none }}{{ i is eq 3 }}{{ i is equalto(4) }}{{ 'A' is upper }}{{ s is in ['x'] }}"
                   "{{ i is gt 2 }}{{ f is float }}",
                   ctx),
            "TrueTrueFalseTrueTrueTrueTrue");
}

TEST(ChatTemplateStatements, ForLoopVariables) {
  EXPECT_EQ(render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                   "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}"),
            "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|");
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.previtem | default('-') }}{{ loop.nextitem | default('-') }} "
                   "{% endfor %}"),
            "-2 13 2- ");
  EXPECT_EQ(render("{% for x in range(10) if x is odd %}{{ x }}{{ '/' ~ loop.length if loop.last }} {% endfor %}"),
            "1 3 5 7 9/5 ");
  EXPECT_EQ(render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in missing %}{{ x }}{% else %}none{% endfor %}"), "none");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
                   R"({"d": {"b": 2, "a": 1}})"),
            "b=2;a=1;ba");
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}"
                   "{% endif %}{{ x }}{% endfor %}"),
            "0134");
  EXPECT_EQ(render("{% for x in 'abc' %}{{ loop.cycle('+', '-') }}{{ x }}{% endfor %}"), "+a-b+c");
  EXPECT_EQ(render("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}"), "37");
}

TEST(ChatTemplateStatements, IfSetScopingNamespace) {
  EXPECT_EQ(render("{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}", R"({"x": 2})"), "two");
  EXPECT_EQ(render("{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}", R"({"x": 5})"), "many");
  EXPECT_EQ(render("{% set a = 1 %}{% if true %}{% set a = 2 %}{% endif %}{{ a }}"), "2");
  EXPECT_EQ(render("{% set a = 1 %}{% for i in [5] %}{% set a = i %}{% endfor %}{{ a }}"), "1");
  EXPECT_EQ(
      render("{% set ns = namespace(total=0, seen=false) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}"
             "{% endfor %}{{ ns.total }} {{ ns.seen }}"),
      "6 False");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }} {{ (1,) }} {{ (1, 'a') }} {{ () }}"), "21 (1,) (1, 'a') ()");
  EXPECT_EQ(render("{% set block %}  <{{ 1 + 1 }}>  {% endset %}[{{ block }}]"), "[  <2>  ]");
  EXPECT_EQ(render("{% set messages = messages[1:] %}{{ messages | length }}", R"({"messages": [1, 2, 3]})"), "2");
}

TEST(ChatTemplateStatements, MacrosAndCallBlocks) {
  EXPECT_EQ(render("{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}"
                   "{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet('Cy', punct='?') }}"),
            "Hello, Ann! Hi, Bob! Hello, Cy?");
  EXPECT_EQ(render("{% macro fact(n) %}{{ 1 if n <= 1 else n * (fact(n - 1) | int) }}{% endmacro %}{{ fact(5) }}"),
            "120");
  EXPECT_EQ(render("{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}"
                   "{% call box('t') %}body {{ 1 + 1 }}{% endcall %}"),
            "[t: body 2]");
  EXPECT_EQ(render("{% filter upper %}shout {{ 'it' }}{% endfilter %}"), "SHOUT IT");
}

TEST(ChatTemplateFilters, StringsAndSequences) {
  EXPECT_EQ(render("[{{ '  a b \n' | trim }}] {{ 'xxhixx' | trim('x') }} {{ 'abc' | length }} {{ [1, 2] | count }}"),
            "[a b] hi 3 2");
  EXPECT_EQ(
      render("{{ 'MiXed' | upper }} {{ 'MiXed' | lower }} {{ 'hello wORLD-x' | title }} {{ 'hELLO' | capitalize }}"),
      "MIXED mixed Hello World-X Hello");
  // Full Unicode case mapping, as CPython: one character may map to two.
  EXPECT_EQ(render("{{ 'straße' | upper }} {{ 'ÀÉÎ Σ' | lower }} {{ 'ﬁx'.upper() }}"), "STRASSE àéî σ FIX");
  EXPECT_EQ(render("{{ missing | default('d') }} {{ '' | d('e') }} {{ '' | default('f', true) }} {{ 0 | default(5) }}"),
            "d  f 0");
  EXPECT_EQ(render("{{ [1, 2, 3] | join(', ') }} {{ ['a', 'b'] | join }} {{ users | join('/', attribute='n') }}",
                   R"({"users": [{"n": "x"}, {"n": "y"}]})"),
            "1, 2, 3 ab x/y");
  EXPECT_EQ(render("{{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ 'abc' | list }} {{ 12 | string }}x"),
            "3 2 ['a', 'b', 'c'] 12x");
  EXPECT_EQ(render("{{ '42' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ -2 | abs }} {{ 2.675 | "
                   "round(2) }}"
                   " {{ 2.5 | round }} {{ 3.14159 | round(1, 'floor') }}"),
            "42 7 3 2.5 2 2.67 2.0 3.1");
  EXPECT_EQ(render("{{ 'aaa' | replace('a', 'b', 2) }} {{ [1, 2, 2, 1] | unique | list }} {{ [1, 2] | reverse | list }}"
                   " {{ 'abc' | reverse }}"),
            "bba [1, 2] [2, 1] cba");
  EXPECT_EQ(render("{{ ['b', 'A', 'c'] | sort }} {{ [3, 1] | sort(reverse=true) }} {{ users | sort(attribute='age') | "
                   "map(attribute='n') | join }}",
                   R"({"users": [{"n": "old", "age": 70}, {"n": "young", "age": 7}]})"),
            "['A', 'b', 'c'] [3, 1] youngold");
  EXPECT_EQ(render("{{ '<a href=\"x\">&' | e }} {{ '<b>' | escape }} {{ '<i>' | safe }}"),
            "&lt;a href=&#34;x&#34;&gt;&amp; &lt;b&gt; <i>");
  EXPECT_EQ(render("{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb' | indent(2, true) }}|{{ 'one two  three' | wordcount }}"),
            "a\n    b\n\n    c|  a\n  b|3");
  EXPECT_EQ(render("{{ [4, 9, 2] | min }} {{ [4, 9, 2] | max }} {{ [1, 2, 3.5] | sum }} {{ [1, 2] | sum(start=10) }}"),
            "2 9 6.5 13");
}

TEST(ChatTemplateFilters, MappingsSelectMap) {
  const char* ctx = R"({"d": {"b": 2, "A": 1, "c": 3}, "msgs": [{"role": "user", "tool": true}, {"role": "assistant"},
                       {"role": "user"}]})";
  EXPECT_EQ(render("{{ d | items | list }} {{ d | dictsort }} {{ d | dictsort(by='value', reverse=true) }}", ctx),
            "[('b', 2), ('A', 1), ('c', 3)] [('A', 1), ('b', 2), ('c', 3)] [('c', 3), ('b', 2), ('A', 1)]");
  EXPECT_EQ(render("{{ msgs | selectattr('role', 'equalto', 'user') | list | length }} "
                   "{{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='role') | join }} "
                   "{{ msgs | selectattr('tool') | list | length }} "
                   "{{ msgs | map(attribute='tool', default=false) | list }}",
                   ctx),
            "2 assistant 1 [True, False, False]");
  EXPECT_EQ(render("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('divisibleby', 2) | list }} "
                   "{{ ['a', 'B'] | map('upper') | list }} {{ ['code_interpreter', 'x'] | reject('equalto', "
                   "'code_interpreter') | join(', ') }}"),
            "[1, 3] [1, 3] ['A', 'B'] x");
}

TEST(ChatTemplateFilters, ToJson) {
  const char* ctx = R"({"t": {"name": "f", "args": {"x": [1, 2.5, true, null]}, "s": "é\"\\\n\u0001</s>"}})";
  EXPECT_EQ(render("{{ t | tojson }}", ctx),
            R"({"name": "f", "args": {"x": [1, 2.5, true, null]}, "s": "é\"\\\n\u0001</s>"})");
  EXPECT_EQ(render("{{ t.args | tojson(indent=2) }}", ctx),
            "{\n  \"x\": [\n    1,\n    2.5,\n    true,\n    null\n  ]\n}");
  EXPECT_EQ(render("{{ {} | tojson(indent=4) }} {{ [] | tojson }} {{ 'é' | tojson(ensure_ascii=true) }}"),
            "{} [] \"\\u00e9\"");
  EXPECT_EQ(render("{{ {'b': 1, 'a': [1, 2]} | tojson(separators=(',', ':'), sort_keys=true) }}"),
            R"({"a":[1,2],"b":1})");
  // nlohmann::json sorts object keys; ordered_json keeps them in the order written.
  const char* object = R"({"d": {"zeta": 1, "alpha": 2}})";
  EXPECT_EQ(ChatTemplate("{{ d | tojson }}").render(nlohmann::json::parse(object)).text, R"({"alpha": 2, "zeta": 1})");
  EXPECT_EQ(render("{{ d | tojson }}", object), R"({"zeta": 1, "alpha": 2})");
}

TEST(ChatTemplateMethods, StringDictAndGlobals) {
  EXPECT_EQ(
      render("[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}][{{ '\nxy\n'.strip('\n') }}]"),
      "[x][x  ][  x][xy]");
  EXPECT_EQ(render("{{ 'a b  c'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} "
                   "{{ 'a,b,c'.rsplit(',', 1) }} {{ '<think>x</think>y'.split('</think>')[-1] }}"),
            "['a', 'b', 'c'] ['a', 'b', '', 'c'] ['a', 'b,c'] ['a,b', 'c'] y");
  EXPECT_EQ(render("{{ 'abc'.startswith('ab') }}{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.endswith('bc') }}"
                   "{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}{{ 'a-b c'.title() }}{{ 'aBC'.capitalize() }}"),
            "TrueTrueTrueABabA-B CAbc");
  EXPECT_EQ(render("{{ 'aXbXc'.replace('X', '-') }} {{ 'aXbXc'.replace('X', '-', 1) }} {{ 'héllo'.find('l') }} "
                   "{{ 'abc'.find('z') }} {{ 'banana'.count('an') }} {{ '{} + {} = {total}'.format(1, 2, total=3) }} "
                   "{{ '-'.join(['a', 'b']) }}"),
            "a-b-c a-bXc 2 -1 2 1 + 2 = 3 a-b");
  const char* ctx = R"({"d": {"a": 1, "b": 2}})";
  EXPECT_EQ(render("{{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} "
                   "{{ d.get('z', 'dflt') }} {{ d.get('z') }}",
                   ctx),
            "[('a', 1), ('b', 2)] ['a', 'b'] [1, 2] 1 dflt None");
  EXPECT_EQ(
      render("{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(3, 0, -1) | list }} {{ dict(a=1, b='x') }}"),
      "[0, 1, 2] [1, 4, 7] [3, 2, 1] {'a': 1, 'b': 'x'}");
  EXPECT_EQ(render("{{ strftime_now('%Y') | length }} {{ strftime_now('%d %b %Y') | length }}"), "4 11");
}

TEST(ChatTemplateGeneration, SpansAreByteRangesOfTheOutput) {
  auto result = ChatTemplate("A{% generation %}BC{% endgeneration %}D\n{% generation %}É{% endgeneration %}")
                    .render(ordered_json::object());
  EXPECT_EQ(result.text, "ABCD\nÉ");
  ASSERT_EQ(result.generation_spans.size(), 2u);
  EXPECT_EQ(result.generation_spans[0], (std::pair<size_t, size_t>{1, 3}));
  EXPECT_EQ(result.generation_spans[1], (std::pair<size_t, size_t>{5, 7}));  // É is two bytes
  EXPECT_TRUE(ChatTemplate("no spans").render(ordered_json::object()).generation_spans.empty());
  R1_EXPECT_THROW_WITH(ChatTemplate("{% macro m() %}{% generation %}x{% endgeneration %}{% endmacro %}{{ m() }}")
                           .render(ordered_json::object()),
                       r1::Error, "generation", "macro");
}

TEST(ChatTemplateErrors, SyntaxErrorsNameLineAndColumn) {
  R1_EXPECT_THROW_WITH(ChatTemplate("{% if x %}\n  {{ a + }}{% endif %}"), r1::Error, "chat template 2:10",
                       "expected an expression");
  R1_EXPECT_THROW_WITH(ChatTemplate("{{ x | frobnicate }}"), r1::Error, "1:8", "unknown filter 'frobnicate'");
  R1_EXPECT_THROW_WITH(ChatTemplate("{{ x is frob }}"), r1::Error, "1:9", "unknown test 'frob'");
  R1_EXPECT_THROW_WITH(ChatTemplate("line\n{% include 'x.jinja' %}"), r1::Error, "2:4",
                       "unsupported statement 'include'");
  R1_EXPECT_THROW_WITH(ChatTemplate("{% frob %}"), r1::Error, "1:4", "unknown statement 'frob'");
  R1_EXPECT_THROW_WITH(ChatTemplate("ok\n  {% for x in y %}{{ x }}"), r1::Error, "2:6", "no matching {% endfor %}");
  R1_EXPECT_THROW_WITH(ChatTemplate("{% if a %}{% endfor %}"), r1::Error, "1:14", "unexpected 'endfor' inside 'if'");
  R1_EXPECT_THROW_WITH(ChatTemplate("{{ 'abc }}"), r1::Error, "1:4", "unterminated string");
  R1_EXPECT_THROW_WITH(ChatTemplate("x {{ y "), r1::Error, "1:3", "unterminated '{{'");
  R1_EXPECT_THROW_WITH(ChatTemplate("{% break %}"), r1::Error, "1:4", "outside of a for loop");
  R1_EXPECT_THROW_WITH(ChatTemplate("{{ f(*args) }}"), r1::Error, "unsupported", "unpacking");
  R1_EXPECT_THROW_WITH(ChatTemplate("{{ " + std::string(200, '(') + "1" + std::string(200, ')') + " }}"), r1::Error,
                       "nested too deeply");
}

TEST(ChatTemplateErrors, RuntimeErrorsAndLimits) {
  R1_EXPECT_THROW_WITH(render("\n{{ raise_exception('Conversation roles must alternate') }}"), r1::Error,
                       "chat template 2:", "raise_exception: Conversation roles must alternate");
  R1_EXPECT_THROW_WITH(render("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}"), r1::Error, "recursion limit");
  R1_EXPECT_THROW_WITH(render("{% set s = 'x' * 1000000 %}{% for i in range(100) %}{{ s }}{% endfor %}"), r1::Error,
                       "output limit");
  R1_EXPECT_THROW_WITH(render("{{ 'x' * 100000000000 }}"), r1::Error, "output limit");
  // Memory and time bounded before anything is allocated (each of these took gigabytes or minutes before).
  R1_EXPECT_THROW_WITH(render("{{ 'a\\nb' | indent(10000000000) }}"), r1::Error, "output limit");
  R1_EXPECT_THROW_WITH(
      render("{% set ns = namespace(x=[1]) %}{% for i in range(30) %}{% set ns.x = ns.x + ns.x %}{% endfor %}"),
      r1::Error, "list limit exceeded: more than 1000000 items");
  R1_EXPECT_THROW_WITH(render("{{ [1, 2] * 100000000000 }}"), r1::Error, "list limit");
  R1_EXPECT_THROW_WITH(render("{{ range(100001) | length }}"), r1::Error, "range(): more than 100000 items");
  EXPECT_EQ(render("{{ range(100000) | length }}"), "100000");
  R1_EXPECT_THROW_WITH(render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"),
                       r1::Error, "loop limit exceeded: more than 1000000 iterations");
  R1_EXPECT_THROW_WITH(render("{{ foo.bar }}"), r1::Error, "1:7", "'foo' is undefined");
  R1_EXPECT_THROW_WITH(render("{{ 'n=' + 1 }}"), r1::Error, "unsupported operand type(s) for +: 'str' and 'int'");
  R1_EXPECT_THROW_WITH(render("{% set l = [] %}{{ l.append(1) }}"), r1::Error, "list.append is not allowed");
  R1_EXPECT_THROW_WITH(render("{% set x = 1 %}{% set x.a = 2 %}"), r1::Error, "not a namespace");
  R1_EXPECT_THROW_WITH(render("{{ 1 / 0 }}"), r1::Error, "division by zero");
  R1_EXPECT_THROW_WITH(render("{{ 1 < 'a' }}"), r1::Error, "'<' not supported");
  R1_EXPECT_THROW_WITH(render("{{ x | tojson }}"), r1::Error, "not JSON serializable");
  R1_EXPECT_THROW_WITH(ChatTemplate("x").render(ordered_json::array()), r1::Error, "must be a JSON object");
}

TEST(ChatTemplateErrors, UndefinedRendersEmptyAndIteratesEmpty) {
  EXPECT_EQ(render("[{{ missing }}][{{ missing | length }}][{{ missing | default('d') }}][{{ missing | trim }}]"),
            "[][0][d][]");
  EXPECT_EQ(render("{% if not missing %}falsy{% endif %}{% if missing is defined %}no{% endif %}"), "falsy");
}

}  // namespace
