// The OpenAI-compatible server and `r1 chat`. Unit tests without HTTP: request JSON -> native types and
// validation, response / chunk / SSE framing, the <think> splitter and stop-string trimming. Black-box tests
// over loopback with a tiny random Llama (fixed seed) and the r1-trained BPE tokenizer: models, chat,
// streaming, n > 1, logprobs in both formats, errors (400 / 401 / 404 / 413), 32 parallel clients that all
// get the lone request's greedy answer, stop strings; `r1 serve` as a process (SIGTERM -> exit 0) and
// `r1 chat` through a pipe. The server's greedy answer is also checked against Engine::generate directly.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "r1/chat-template.h"
#include "r1/engine.h"
#include "r1/model.h"
#include "r1/server.h"
#include "r1/tokenizer.h"
#include "server/protocol.h"
#include "test-helpers.h"
#include "text/text-output.h"

using json = nlohmann::json;
using r1::server::ApiError;
using r1::server::Endpoint;
using r1::server::Limits;
using r1::server::parse_request;
using r1::text::ReasoningStart;
using r1::text::TextDelta;

namespace {
const std::string kTokenizerDir = std::string(R1_SOURCE_DIR) + "/tests/golden/tokenizer/r1-bpe";

// Expects parse_request to answer 400 naming `param` (empty: no param).
void expect_bad(Endpoint endpoint, const std::string& body, const std::string& param, const std::string& fragment) {
  Limits limits;
  limits.vocab_size = 100;
  try {
    parse_request(endpoint, body, limits);
    ADD_FAILURE() << "accepted: " << body;
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.param, param) << body << " -> " << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}
}  // namespace

// ---- request parsing --------------------------------------------------------------------------------------

TEST(ServerProtocol, ChatRequestFieldsMapToSamplingParams) {
  auto r = parse_request(Endpoint::kChat, R"({
    "model": "m", "messages": [{"role": "system", "content": "be brief"},
                               {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
    "temperature": 0.5, "top_p": 0.9, "top_k": 7, "min_p": 0.05, "presence_penalty": 0.5,
    "frequency_penalty": -0.5, "repetition_penalty": 1.1, "seed": 123, "stop": "END", "n": 3,
    "max_completion_tokens": 20, "stream": true, "stream_options": {"include_usage": true},
    "logprobs": true, "top_logprobs": 4, "reasoning_format": "deepseek", "stop_token_ids": [5],
    "chat_template_kwargs": {"enable_thinking": false}, "user": "u1", "logit_bias": {}})",
                         Limits{});
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1]["content"], "a\nb");
  EXPECT_DOUBLE_EQ(r.params.temperature, 0.5);
  EXPECT_DOUBLE_EQ(r.params.top_p, 0.9);
  EXPECT_EQ(r.params.top_k, 7);
  EXPECT_DOUBLE_EQ(r.params.min_p, 0.05);
  EXPECT_DOUBLE_EQ(r.params.presence_penalty, 0.5);
  EXPECT_DOUBLE_EQ(r.params.frequency_penalty, -0.5);
  EXPECT_DOUBLE_EQ(r.params.repetition_penalty, 1.1);
  EXPECT_EQ(r.params.seed, std::optional<uint64_t>(123));
  EXPECT_EQ(r.params.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.params.stop_token_ids, std::vector<int32_t>{5});
  EXPECT_EQ(r.params.top_logprobs, 4);
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.max_tokens, std::optional<int64_t>(20));
  EXPECT_TRUE(r.stream && r.include_usage && r.logprobs);
  EXPECT_EQ(r.top_logprobs, 4);
  EXPECT_EQ(r.reasoning, std::optional<bool>(true));
  EXPECT_EQ(r.template_kwargs["enable_thinking"], false);

  // Defaults, and null meaning absent.
  auto d = parse_request(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "x"}], "temperature": null})",
                         Limits{});
  EXPECT_DOUBLE_EQ(d.params.temperature, 1.0);
  EXPECT_EQ(d.n, 1);
  EXPECT_FALSE(d.stream || d.logprobs || d.max_tokens || d.reasoning || d.params.seed);
  EXPECT_TRUE(d.add_generation_prompt);
}

TEST(ServerProtocol, CompletionPromptsInEveryShape) {
  Limits limits;
  limits.vocab_size = 100;
  auto one = parse_request(Endpoint::kCompletions, R"({"prompt": "hi", "logprobs": 2, "top_k": -1})", limits);
  ASSERT_EQ(one.prompts.size(), 1u);
  EXPECT_EQ(one.prompts[0].text, "hi");
  EXPECT_FALSE(one.prompts[0].is_ids);
  EXPECT_TRUE(one.logprobs);
  EXPECT_EQ(one.top_logprobs, 2);
  EXPECT_EQ(one.params.top_k, 0);  // -1 (vLLM) disables
  auto many = parse_request(Endpoint::kCompletions, R"({"prompt": ["a", [1, 2], "c"]})", limits);
  ASSERT_EQ(many.prompts.size(), 3u);
  EXPECT_EQ(many.prompts[1].ids, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(many.prompts[1].is_ids);
  auto ids = parse_request(Endpoint::kCompletions, R"({"prompt": [7, 8, 9], "max_tokens": 5})", limits);
  ASSERT_EQ(ids.prompts.size(), 1u);
  EXPECT_EQ(ids.prompts[0].ids, (std::vector<int32_t>{7, 8, 9}));
  EXPECT_EQ(ids.max_tokens, std::optional<int64_t>(5));
}

TEST(ServerProtocol, BadRequestsAre400NamingTheField) {
  expect_bad(Endpoint::kChat, "{not json", "", "parse the JSON");
  expect_bad(Endpoint::kChat, "[1, 2]", "", "JSON object");
  expect_bad(Endpoint::kChat, "{}", "messages", "required");
  expect_bad(Endpoint::kChat, R"({"messages": []})", "messages", "non-empty");
  expect_bad(Endpoint::kChat, R"({"messages": [{"content": "x"}]})", "messages[0].role", "role");
  expect_bad(Endpoint::kChat, R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
             "messages[0].content", "text");
  const std::string m = R"("messages": [{"role": "user", "content": "x"}])";
  expect_bad(Endpoint::kChat, "{" + m + R"(, "temperature": "hot"})", "temperature", "number");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "temperature": -1})", "temperature", "between");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "top_p": 0})", "top_p", "(0, 1]");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "n": 0})", "n", "between");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "n": 1.5})", "n", "integer");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "max_tokens": 100000})", "max_tokens", "--max-tokens-limit");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "max_completion_tokens": 0})", "max_completion_tokens", "between");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "presence_penalty": 3})", "presence_penalty", "between");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "stop": 5})", "stop", "string");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "stop": [""]})", "stop", "empty");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "top_logprobs": 2})", "top_logprobs", "logprobs");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "logprobs": true, "top_logprobs": 21})", "top_logprobs", "between");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "stream_options": {"include_usage": true}})", "stream_options", "stream");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "tools": [{"type": "function"}]})", "tools", "not supported");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "response_format": {"type": "json_object"}})", "response_format",
             "not supported");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "reasoning_format": "auto"})", "reasoning_format", "deepseek");
  expect_bad(Endpoint::kChat, "{" + m + R"(, "stop_token_ids": [100]})", "stop_token_ids", "vocabulary");
  expect_bad(Endpoint::kCompletions, "{}", "prompt", "required");
  expect_bad(Endpoint::kCompletions, R"({"prompt": []})", "prompt", "empty");
  expect_bad(Endpoint::kCompletions, R"({"prompt": [1, -2]})", "prompt", "vocabulary");
  expect_bad(Endpoint::kCompletions, R"({"prompt": {"a": 1}})", "prompt", "string");
  expect_bad(Endpoint::kCompletions, R"({"prompt": "x", "echo": true})", "echo", "not supported");
  expect_bad(Endpoint::kCompletions, R"({"prompt": "x", "best_of": 3})", "best_of", "not supported");
  expect_bad(Endpoint::kCompletions, R"({"prompt": "x", "logprobs": true})", "logprobs", "integer");
}

// Every request field's type and range, one row each: the 400 names the field (as OpenAI's `param`).
TEST(ServerProtocol, EveryFieldIsCheckedNamingIt) {
  struct Row {
    Endpoint endpoint;
    const char* fields;  // added to a valid body
    const char* param;
    const char* fragment;
  };
  const Row rows[] = {
      {Endpoint::kChat, R"("max_tokens": -5)", "max_tokens", "between"},
      {Endpoint::kChat, R"("max_tokens": "x")", "max_tokens", "integer"},
      {Endpoint::kChat, R"("max_tokens": 2.5)", "max_tokens", "integer"},
      {Endpoint::kChat, R"("max_tokens": 10000000)", "max_tokens", "--max-tokens-limit"},
      {Endpoint::kChat, R"("max_tokens": 18446744073709551615)", "max_tokens", "out of range"},
      // Both sent: each is checked, whichever is bad.
      {Endpoint::kChat, R"("max_tokens": 5, "max_completion_tokens": -5)", "max_completion_tokens", "between"},
      {Endpoint::kChat, R"("max_tokens": 5, "max_completion_tokens": "x")", "max_completion_tokens", "integer"},
      {Endpoint::kChat, R"("max_tokens": 5, "max_completion_tokens": 10000000)", "max_completion_tokens",
       "--max-tokens-limit"},
      {Endpoint::kChat, R"("max_completion_tokens": 5, "max_tokens": 0)", "max_tokens", "between"},
      {Endpoint::kChat, R"("n": 17)", "n", "between"},
      {Endpoint::kChat, R"("n": "2")", "n", "integer"},
      {Endpoint::kChat, R"("n": -1)", "n", "between"},
      {Endpoint::kChat, R"("temperature": 101)", "temperature", "between"},
      {Endpoint::kChat, R"("temperature": true)", "temperature", "number"},
      {Endpoint::kChat, R"("top_p": 1.5)", "top_p", "between"},
      {Endpoint::kChat, R"("top_p": [1])", "top_p", "number"},
      {Endpoint::kChat, R"("top_k": -2)", "top_k", "between"},
      {Endpoint::kChat, R"("min_p": 2)", "min_p", "between"},
      {Endpoint::kChat, R"("frequency_penalty": -3)", "frequency_penalty", "between"},
      {Endpoint::kChat, R"("repetition_penalty": 0)", "repetition_penalty", "> 0"},
      {Endpoint::kChat, R"("seed": "s")", "seed", "integer"},
      {Endpoint::kChat, R"("logprobs": 1)", "logprobs", "boolean"},
      {Endpoint::kChat, R"("logprobs": true, "top_logprobs": -1)", "top_logprobs", "between"},
      {Endpoint::kChat, R"("logprobs": true, "top_logprobs": "3")", "top_logprobs", "integer"},
      {Endpoint::kChat, R"("stream": "yes")", "stream", "boolean"},
      {Endpoint::kChat, R"("stream": true, "stream_options": {"include_usage": 1})", "stream_options.include_usage",
       "boolean"},
      {Endpoint::kChat, R"("stop": ["a", 1])", "stop", "string"},
      {Endpoint::kChat, R"("stop": ["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"])",
       "stop", "at most 16"},
      {Endpoint::kChat, R"("stop_token_ids": 5)", "stop_token_ids", "list"},
      {Endpoint::kChat, R"("ignore_eos": 1)", "ignore_eos", "boolean"},
      {Endpoint::kChat, R"("user": 7)", "user", "string"},
      {Endpoint::kChat, R"("model": 7)", "model", "string"},
      {Endpoint::kChat, R"("chat_template_kwargs": [])", "chat_template_kwargs", "object"},
      {Endpoint::kChat, R"("add_generation_prompt": "no")", "add_generation_prompt", "boolean"},
      {Endpoint::kCompletions, R"("max_tokens": 0)", "max_tokens", "between"},
      {Endpoint::kCompletions, R"("logprobs": 21)", "logprobs", "between"},
      {Endpoint::kCompletions, R"("logprobs": -1)", "logprobs", "between"},
      {Endpoint::kCompletions, R"("n": 0)", "n", "between"},
      {Endpoint::kCompletions, R"("best_of": 0)", "best_of", "between"},
  };
  for (const Row& row : rows) {
    std::string base =
        row.endpoint == Endpoint::kChat ? R"("messages": [{"role": "user", "content": "x"}])" : R"("prompt": "x")";
    expect_bad(row.endpoint, "{" + base + ", " + row.fields + "}", row.param, row.fragment);
  }
  expect_bad(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "x", "name": 3}]})", "messages[0].name",
             "string");
  expect_bad(Endpoint::kChat,
             R"({"messages": [{"role": "user", "content": "x"}], "stop": [")" + std::string(1025, 'a') + "\"]}", "stop",
             "1024 bytes");
  std::string many_ids = "0";
  for (int i = 0; i < 256; ++i) many_ids += ", 0";
  expect_bad(Endpoint::kChat,
             R"({"messages": [{"role": "user", "content": "x"}], "stop_token_ids": [)" + many_ids + "]}",
             "stop_token_ids", "at most 256");
  // Both given and valid: max_completion_tokens (OpenAI's current name) wins, as in vLLM.
  auto both = parse_request(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "x"}],
                                                 "max_tokens": 7, "max_completion_tokens": 9})",
                            Limits{});
  EXPECT_EQ(both.max_tokens, std::optional<int64_t>(9));
  // The limits themselves are accepted.
  auto edge = parse_request(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "x"}], "n": 16,
      "max_tokens": 4096, "temperature": 100, "top_p": 1, "logprobs": true, "top_logprobs": 20,
      "stop": [")" + std::string(1024, 'a') + "\"]}",
                            Limits{});
  EXPECT_EQ(edge.n, 16);
  EXPECT_EQ(edge.max_tokens, std::optional<int64_t>(4096));
}

// A body nested past kMaxJsonDepth is refused by the parser with a 400 naming the limit; at the limit it parses.
TEST(ServerProtocol, NestingPastTheLimitIs400) {
  auto nested = [](int depth) { return std::string(size_t(depth), '[') + std::string(size_t(depth), ']'); };
  // The body object is level 1, "messages" level 2, the message level 3: content holds the rest.
  std::string deep = R"({"messages": [{"role": "user", "content": )" + nested(400000) + "}]}";
  expect_bad(Endpoint::kChat, deep, "", "512");
  std::string over = R"({"messages": [{"role": "user", "content": )" + nested(510) + "}]}";
  expect_bad(Endpoint::kChat, over, "", "nested deeper than 512");
  std::string at = R"({"messages": [{"role": "user", "content": )" + nested(509) + "}]}";
  expect_bad(Endpoint::kChat, at, "messages[0].content", "text");  // parsed: a content part that is no part
}

TEST(ServerProtocol, MaxTokensDefaultsAndContextChecks) {
  Limits limits;
  limits.max_tokens_limit = 100;
  auto completion = parse_request(Endpoint::kCompletions, R"({"prompt": "x"})", limits);
  EXPECT_EQ(r1::server::resolve_max_tokens(completion, 10, 256, limits), 16);  // OpenAI's default
  EXPECT_EQ(r1::server::resolve_max_tokens(completion, 250, 256, limits), 6);  // what is left
  auto chat = parse_request(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "x"}]})", limits);
  EXPECT_EQ(r1::server::resolve_max_tokens(chat, 10, 256, limits), 100);  // the limit
  EXPECT_EQ(r1::server::resolve_max_tokens(chat, 200, 256, limits), 56);  // the rest of the context
  R1_EXPECT_THROW_WITH(r1::server::resolve_max_tokens(chat, 256, 256, limits), ApiError, "maximum context length",
                       "256");
  auto explicit_max = parse_request(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "x"}],
                                                         "max_tokens": 60})",
                                    limits);
  EXPECT_EQ(r1::server::resolve_max_tokens(explicit_max, 196, 256, limits), 60);
  R1_EXPECT_THROW_WITH(r1::server::resolve_max_tokens(explicit_max, 197, 256, limits), ApiError, "you requested 257");
}

// ---- response building and framing -----------------------------------------------------------------------

TEST(ServerProtocol, ResponsesChunksAndSseFraming) {
  r1::server::ResponseMeta meta{"chatcmpl-1", 1700000000, "tiny"};
  r1::server::TokenInfo a{"Hi", -0.25f, {{"Hi", -0.25f}, {"Yo", -2.0f}}};
  r1::server::TokenInfo b{"!", -1.5f, {{"!", -1.5f}, {"?", -1.75f}}};
  r1::server::ChoiceOutput choice{0, "Hi!", std::string("plan"), "stop", {a, b}};
  json chat = r1::server::chat_response(meta, {choice}, {5, 2}, true);
  EXPECT_EQ(chat["object"], "chat.completion");
  EXPECT_EQ(chat["choices"][0]["message"]["content"], "Hi!");
  EXPECT_EQ(chat["choices"][0]["message"]["reasoning_content"], "plan");
  EXPECT_EQ(chat["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(chat["usage"], json::parse(R"({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7})"));
  const json& lp = chat["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 2u);
  EXPECT_EQ(lp[0]["token"], "Hi");
  EXPECT_EQ(lp[0]["bytes"], json::parse("[72, 105]"));
  EXPECT_FLOAT_EQ(lp[1]["top_logprobs"][1]["logprob"].get<float>(), -1.75f);

  choice.reasoning.reset();
  json legacy = r1::server::completion_response({"cmpl-1", 1, "tiny"}, {choice}, {5, 2}, true);
  EXPECT_EQ(legacy["object"], "text_completion");
  EXPECT_EQ(legacy["choices"][0]["text"], "Hi!");
  const json& l = legacy["choices"][0]["logprobs"];
  EXPECT_EQ(l["tokens"], json::parse(R"(["Hi", "!"])"));
  EXPECT_EQ(l["text_offset"], json::parse("[0, 2]"));
  EXPECT_FLOAT_EQ(l["top_logprobs"][1]["?"].get<float>(), -1.75f);
  EXPECT_TRUE(r1::server::chat_response(meta, {choice}, {}, false)["choices"][0]["logprobs"].is_null());
  EXPECT_FALSE(
      r1::server::chat_response(meta, {choice}, {}, false)["choices"][0]["message"].contains("reasoning_content"));

  r1::server::ChunkDelta role{true, "", "", {}, ""};
  json first = r1::server::chat_chunk(meta, 0, role, false, true);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"], json::parse(R"({"role": "assistant", "content": ""})"));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(first.contains("usage") && first["usage"].is_null());
  r1::server::ChunkDelta think{false, "", "hmm", {}, ""};
  EXPECT_EQ(r1::server::chat_chunk(meta, 1, think, false, false)["choices"][0]["delta"],
            json::parse(R"({"reasoning_content": "hmm"})"));
  r1::server::ChunkDelta last{false, "", "", {}, "length"};
  json end = r1::server::chat_chunk(meta, 0, last, false, false);
  EXPECT_EQ(end["choices"][0]["delta"], json::object());
  EXPECT_EQ(end["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(end.contains("usage"));
  r1::server::ChunkDelta text{false, "lo", "", {b}, ""};
  json legacy_chunk = r1::server::completion_chunk(meta, 2, text, true, 7, false);
  EXPECT_EQ(legacy_chunk["choices"][0]["index"], 2);
  EXPECT_EQ(legacy_chunk["choices"][0]["text"], "lo");
  EXPECT_EQ(legacy_chunk["choices"][0]["logprobs"]["text_offset"], json::parse("[7]"));
  json usage = r1::server::usage_chunk(meta, Endpoint::kChat, {3, 4});
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 7);

  EXPECT_EQ(r1::server::sse_event(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(std::string(r1::server::kSseDone), "data: [DONE]\n\n");
  // A token holding half a UTF-8 character must not make the response fail.
  EXPECT_EQ(r1::server::dump(json("a\xe4\xb8")), "\"a\xef\xbf\xbd\"");
  json err = r1::server::error_body(
      ApiError(404, "The model `x` does not exist.", "invalid_request_error", "model", "model_not_found"));
  EXPECT_EQ(err, json::parse(R"({"error": {"message": "The model `x` does not exist.",
      "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})"));
  EXPECT_TRUE(r1::server::error_body(r1::server::bad_request("x"))["error"]["param"].is_null());
}

// ---- text: reasoning split and stop strings ----------------------------------------------------------------

namespace {
r1::text::TextDelta split_all(r1::text::ReasoningStart start, const std::vector<std::string>& pieces) {
  r1::text::ReasoningSplitter s(start);
  r1::text::TextDelta out;
  for (const auto& p : pieces) s.push(p, out);
  s.finish(out);
  return out;
}
std::vector<std::string> chars_of(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}
}  // namespace

TEST(ServerText, ReasoningSplitAcrossAnyChunking) {
  const std::string text = " <think>2+2 is 4</think>\n\nThe answer is 4.";
  for (const auto& pieces : {std::vector<std::string>{text}, chars_of(text),
                             std::vector<std::string>{" <th", "ink>2+2 is 4</th", "ink>\n\nThe answer is 4."}}) {
    r1::text::TextDelta d = split_all(r1::text::ReasoningStart::kDetect, pieces);
    EXPECT_EQ(d.reasoning, "2+2 is 4");
    EXPECT_EQ(d.content, "\n\nThe answer is 4.");
  }
  // The prompt opened the block (DeepSeek-R1 templates end with "<think>\n").
  r1::text::TextDelta opened = split_all(r1::text::ReasoningStart::kInReasoning, chars_of("a < b</think>yes"));
  EXPECT_EQ(opened.reasoning, "a < b");
  EXPECT_EQ(opened.content, "yes");
  EXPECT_EQ(split_all(r1::text::ReasoningStart::kDetect, {"no tags <think>x</think>"}).content,
            "no tags <think>x</think>");
  EXPECT_EQ(split_all(r1::text::ReasoningStart::kDetect, {"<think>never closed </th"}).reasoning, "never closed </th");
  r1::text::TextDelta off = split_all(r1::text::ReasoningStart::kOff, {"<think>x</think>y"});
  EXPECT_EQ(off.content, "<think>x</think>y");
  EXPECT_TRUE(off.reasoning.empty());
  EXPECT_EQ(split_all(r1::text::ReasoningStart::kDetect, {"<thi"}).content,
            "<thi");  // a partial tag that never completed

  EXPECT_TRUE(r1::text::prompt_opens_reasoning("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(r1::text::prompt_opens_reasoning("<think>a</think>\n"));
  EXPECT_FALSE(r1::text::prompt_opens_reasoning("<|im_start|>assistant\n"));
}

TEST(ServerText, StopStringsAreHeldBackThenTrimmed) {
  auto tok = r1::tokenizer::Tokenizer::load(kTokenizerDir);
  r1::text::TextPolicy policy(tok, {0});
  const std::string text = "The cat sat. STOP and more text";
  std::vector<int32_t> ids = tok.encode(text, false);
  ASSERT_GT(ids.size(), 5u);
  // Without a stop string everything comes out, and hidden ids (eos) add nothing.
  {
    r1::text::SampleText out(policy, {}, r1::text::ReasoningStart::kOff);
    std::string streamed;
    for (int32_t id : ids) streamed += out.push(id).content;
    streamed += out.push(0).content;
    streamed += out.finish(r1::engine::FinishReason::kEos, "").content;
    EXPECT_EQ(streamed, text);
    EXPECT_EQ(out.content(), text);
  }
  // With one: the engine stops at the token completing "STOP"; nothing of it is ever streamed.
  r1::text::SampleText out(policy, {"STOP", "zzz"}, r1::text::ReasoningStart::kOff);
  std::string streamed, decoded;
  size_t stop_token = ids.size();
  for (size_t i = 0; i < ids.size(); ++i) {
    streamed += out.push(ids[i]).content;
    EXPECT_EQ(streamed.find("ST"), std::string::npos) << streamed;
    decoded = tok.decode(std::vector<int32_t>(ids.begin(), ids.begin() + long(i) + 1));
    if (decoded.find("STOP") != std::string::npos) {
      stop_token = i;
      break;
    }
  }
  ASSERT_LT(stop_token, ids.size());
  streamed += out.finish(r1::engine::FinishReason::kStopString, "STOP").content;
  EXPECT_EQ(streamed, "The cat sat. ");
  EXPECT_EQ(out.content(), "The cat sat. ");
  // A stop token's own text is never shown.
  r1::text::SampleText by_token(policy, {}, r1::text::ReasoningStart::kOff, {ids[1]});
  by_token.push(ids[0]);
  by_token.push(ids[1]);
  by_token.finish(r1::engine::FinishReason::kStopToken);
  EXPECT_EQ(by_token.content(), tok.decode(std::vector<int32_t>{ids[0]}));
  // Ids beyond the tokenizer (padded embedding rows) are hidden, not an error.
  EXPECT_FALSE(policy.visible(int32_t(tok.vocab_size())));
  EXPECT_EQ(policy.decode({ids[0], int32_t(tok.vocab_size()) + 3, 0}), tok.decode(std::vector<int32_t>{ids[0]}));
}

// ---- the server over loopback ------------------------------------------------------------------------------

namespace {

// A tiny random Llama (fixed seed) with the r1 BPE tokenizer beside it, written once per test binary.
const std::filesystem::path& tiny_model() {
  static r1::test::TempDir dir;
  static std::filesystem::path model = [] {
    auto tok = r1::tokenizer::Tokenizer::load(kTokenizerDir);
    r1::model::ModelConfig config = r1::model::ModelConfig::parse(
        R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
            "tie_word_embeddings": true, "eos_token_id": [0, 2]})",
        "test");
    config.vocab_size = int64_t(tok.vocab_size());
    torch::manual_seed(7);
    r1::model::Transformer net(config);
    net->init_weights();
    std::filesystem::path out = dir / "tiny";
    r1::model::save_pretrained(*net, out);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      std::filesystem::copy_file(std::filesystem::path(kTokenizerDir) / f, out / f);
    return out;
  }();
  return model;
}

r1::server::ServerOptions tiny_options() {
  r1::server::ServerOptions o;
  o.model = tiny_model();
  o.port = 0;
  o.served_model_name = "tiny";
  o.chat_template = "chatml";
  o.max_batch = 8;
  o.max_tokens_limit = 200;
  o.max_request_bytes = 4096;
  o.log_requests = getenv("R1_TEST_SERVER_LOG") != nullptr;
  return o;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new r1::server::Server(tiny_options());
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static httplib::Result post(const std::string& path, const json& body, const httplib::Headers& headers = {}) {
    return post_raw(server_->port(), path, body.dump(), headers);
  }
  static httplib::Result post_raw(int port, const std::string& path, const std::string& body,
                                  const httplib::Headers& headers = {}) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(120);
    return cli.Post(path.c_str(), headers, body, "application/json");
  }
  static json post_ok(const std::string& path, const json& body) {
    auto res = post(path, body);
    EXPECT_TRUE(res) << "no response";
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body);
  }
  // The data: payloads of an SSE body, checking the framing on the way.
  static std::vector<std::string> sse_payloads(const std::string& body) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t end = body.find("\n\n", pos);
      EXPECT_NE(end, std::string::npos) << "unterminated event: " << body.substr(pos);
      if (end == std::string::npos) break;
      std::string event = body.substr(pos, end - pos);
      EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
      out.push_back(event.substr(6));
      pos = end + 2;
    }
    return out;
  }

  static r1::server::Server* server_;
};
r1::server::Server* ServerTest::server_ = nullptr;

const json kHello = json::array({{{"role", "user"}, {"content", "What is 2+2?"}}});

struct ServerTestAccess : ServerTest {
  static std::vector<std::string> payloads(const std::string& body) { return sse_payloads(body); }
};

}  // namespace

TEST_F(ServerTest, HealthAndModels) {
  httplib::Client cli("127.0.0.1", server_->port());
  auto health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto models = cli.Get("/v1/models");
  ASSERT_TRUE(models);
  json j = json::parse(models->body);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "tiny");
  EXPECT_EQ(j["data"][0]["max_model_len"], 256);
}

TEST_F(ServerTest, GreedyChatMatchesTheEngineAndCountsUsage) {
  json r = post_ok("/v1/chat/completions",
                   {{"model", "tiny"}, {"messages", kHello}, {"temperature", 0}, {"max_tokens", 12}});
  ASSERT_EQ(r["choices"].size(), 1u);
  const json& choice = r["choices"][0];
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["model"], "tiny");
  EXPECT_EQ(r["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_TRUE(choice["finish_reason"] == "stop" || choice["finish_reason"] == "length") << choice;

  // The same prompt through the engine directly gives the same tokens.
  auto tok = r1::tokenizer::Tokenizer::load(tiny_model());
  auto tmpl = r1::tokenizer::ChatTemplate::named("chatml");
  nlohmann::ordered_json ctx = {
      {"messages", kHello}, {"add_generation_prompt", true}, {"bos_token", ""}, {"eos_token", "<|endoftext|>"}};
  std::vector<int32_t> prompt = tok.encode(tmpl.render(ctx).text, false);
  r1::engine::EngineOptions eo;
  eo.eos_token_ids = {0, 2};
  r1::engine::Engine engine(r1::model::load_pretrained(tiny_model()), eo);
  r1::engine::Request req;
  req.prompt = prompt;
  req.params.temperature = 0;
  req.params.max_new_tokens = 12;
  auto result = engine.generate({req});
  const auto& sample = result[0].samples[0];
  r1::text::TextPolicy policy(tok, {0, 2});
  EXPECT_EQ(choice["message"]["content"], policy.decode(sample.tokens));
  EXPECT_EQ(r["usage"]["prompt_tokens"], prompt.size());
  EXPECT_EQ(r["usage"]["completion_tokens"], sample.tokens.size());
  EXPECT_EQ(r["usage"]["total_tokens"], prompt.size() + sample.tokens.size());
  EXPECT_EQ(choice["finish_reason"], sample.finish_reason == r1::engine::FinishReason::kLength ? "length" : "stop");
}

TEST_F(ServerTest, StreamingEqualsTheWholeAnswer) {
  json body = {{"messages", kHello}, {"temperature", 0}, {"max_tokens", 16}};
  json whole = post_ok("/v1/chat/completions", body);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto res = post("/v1/chat/completions", body);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
  auto payloads = sse_payloads(res->body);
  ASSERT_GE(payloads.size(), 4u);
  EXPECT_EQ(payloads.back(), "[DONE]");
  json first = json::parse(payloads[0]);
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string content, finish;
  for (size_t i = 0; i + 2 < payloads.size(); ++i) {
    json chunk = json::parse(payloads[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["id"], first["id"]);
    EXPECT_TRUE(chunk["usage"].is_null());
    const json& c = chunk["choices"][0];
    if (c["delta"].contains("content")) content += c["delta"]["content"].get<std::string>();
    if (!c["finish_reason"].is_null()) {
      EXPECT_TRUE(finish.empty()) << "two finish chunks";
      finish = c["finish_reason"];
    }
  }
  EXPECT_EQ(content, whole["choices"][0]["message"]["content"]);
  EXPECT_EQ(finish, whole["choices"][0]["finish_reason"]);
  json usage = json::parse(payloads[payloads.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"], whole["usage"]);

  // Legacy completions stream the same way (text deltas).
  json cbody = {{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 10}};
  json cwhole = post_ok("/v1/completions", cbody);
  cbody["stream"] = true;
  auto cres = post("/v1/completions", cbody);
  ASSERT_TRUE(cres);
  auto cp = sse_payloads(cres->body);
  ASSERT_GE(cp.size(), 2u);
  EXPECT_EQ(cp.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 1 < cp.size(); ++i) text += json::parse(cp[i])["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, cwhole["choices"][0]["text"]);
}

TEST_F(ServerTest, SeveralSamplesAndSeeds) {
  json body = {{"messages", kHello}, {"n", 3}, {"temperature", 1.0}, {"seed", 11}, {"max_tokens", 8}};
  json a = post_ok("/v1/chat/completions", body);
  ASSERT_EQ(a["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a["choices"][i]["index"], i);
  json b = post_ok("/v1/chat/completions", body);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a["choices"][i]["message"], b["choices"][i]["message"]) << "same seed";
  std::set<std::string> distinct;
  for (int i = 0; i < 3; ++i) distinct.insert(a["choices"][i]["message"]["content"].get<std::string>());
  EXPECT_GT(distinct.size(), 1u) << "three samples at temperature 1 should not all agree on a random model";
  // Two prompts x n = 2: choice index = prompt * n + sample.
  json batch = post_ok("/v1/completions", {{"prompt", {"a b", "c d"}}, {"n", 2}, {"max_tokens", 3}});
  ASSERT_EQ(batch["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(batch["choices"][i]["index"], i);
}

TEST_F(ServerTest, LogprobsInChatAndLegacyFormats) {
  json r =
      post_ok("/v1/chat/completions",
              {{"messages", kHello}, {"temperature", 0}, {"max_tokens", 6}, {"logprobs", true}, {"top_logprobs", 3}});
  const json& content = r["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), r["usage"]["completion_tokens"].get<size_t>());
  for (const json& t : content) {
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_EQ(t["top_logprobs"][0]["token"], t["token"]) << "greedy picks the most likely token";
    EXPECT_NEAR(t["top_logprobs"][0]["logprob"].get<double>(), t["logprob"].get<double>(), 1e-5);
    EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["top_logprobs"][1]["logprob"].get<double>());
    EXPECT_EQ(t["bytes"].size(), t["token"].get<std::string>().size());
  }
  json c = post_ok("/v1/completions", {{"prompt", "Once"}, {"temperature", 0}, {"max_tokens", 5}, {"logprobs", 2}});
  const json& l = c["choices"][0]["logprobs"];
  size_t n = c["usage"]["completion_tokens"];
  ASSERT_EQ(l["tokens"].size(), n);
  ASSERT_EQ(l["token_logprobs"].size(), n);
  ASSERT_EQ(l["top_logprobs"].size(), n);
  ASSERT_EQ(l["text_offset"].size(), n);
  EXPECT_EQ(l["text_offset"][0], 0);
  for (size_t i = 0; i < n; ++i) EXPECT_GE(l["top_logprobs"][i].size(), 1u);
}

TEST_F(ServerTest, StopStringsAreTrimmedFromTheText) {
  json body = {{"prompt", "The quick brown fox"}, {"temperature", 0}, {"max_tokens", 24}, {"ignore_eos", true}};
  std::string full = post_ok("/v1/completions", body)["choices"][0]["text"];
  ASSERT_GE(full.size(), 6u) << full;
  std::string stop = full.substr(full.size() / 2, 2);
  size_t at = full.find(stop);
  body["stop"] = {stop};
  json r = post_ok("/v1/completions", body);
  EXPECT_EQ(r["choices"][0]["text"], full.substr(0, at)) << "stop '" << stop << "' in '" << full << "'";
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  body["stream"] = true;
  auto res = post("/v1/completions", body);
  ASSERT_TRUE(res);
  std::string streamed;
  for (const auto& p : sse_payloads(res->body))
    if (p != "[DONE]") streamed += json::parse(p)["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(streamed, full.substr(0, at));
}

TEST_F(ServerTest, ErrorsAreOpenAiJson) {
  auto expect_error = [](const httplib::Result& res, int status, const std::string& fragment) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    json j = json::parse(res->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << res->body;
    for (const char* key : {"message", "type", "param", "code"}) EXPECT_TRUE(j["error"].contains(key)) << res->body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(fragment), std::string::npos) << res->body;
  };
  expect_error(post_raw(server_->port(), "/v1/chat/completions", "{\"messages\": [}"), 400, "JSON");
  expect_error(post("/v1/chat/completions", {{"messages", kHello}, {"temperature", "x"}}), 400, "temperature");
  expect_error(post("/v1/chat/completions", {{"model", "gpt-4"}, {"messages", kHello}}), 404, "gpt-4");
  expect_error(post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 250}}), 400, "limit");
  expect_error(
      post("/v1/completions", {{"prompt", std::string(300, 'a') + " b c d e f g h i j k l m"}, {"max_tokens", 200}}),
      400, "context length");
  expect_error(post_raw(server_->port(), "/v1/completions", std::string(5000, ' ')), 413, "--max-request-bytes");
  {  // A chunked body (no Content-Length) past the limit: 413 once it is passed, not read whole (it was, without
     // bound).
    httplib::Client cli("127.0.0.1", server_->port());
    cli.set_read_timeout(120);
    const std::string chunk(1024, ' ');
    auto res = cli.Post(
        "/v1/completions",
        [&](size_t offset, httplib::DataSink& sink) {
          if (offset < 80 * 1024) return sink.write(chunk.data(), chunk.size());
          sink.done();
          return true;
        },
        "application/json");
    expect_error(std::move(res), 413, "a chunked body counts its framing");
  }
  expect_error(post("/v1/nothing", json::object()), 404, "/v1/nothing");
  // The server is still fine.
  EXPECT_EQ(post_ok("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}})["choices"].size(), 1u);
}

TEST_F(ServerTest, ThirtyTwoParallelClientsGetTheLoneAnswer) {
  json body = {{"prompt", "In the beginning"}, {"temperature", 0}, {"max_tokens", 12}, {"ignore_eos", true}};
  std::string lone = post_ok("/v1/completions", body)["choices"][0]["text"];
  std::vector<std::string> answers(32);
  std::vector<int> status(32, -1);
  std::vector<std::thread> clients;
  for (int i = 0; i < 32; ++i)
    clients.emplace_back([&, i] {
      auto res = post("/v1/completions", body);
      if (!res) {
        answers[i] = "no response: " + httplib::to_string(res.error());
        return;
      }
      status[i] = res->status;
      json j = json::parse(res->body, nullptr, false);
      if (!j.is_discarded() && j.contains("choices")) answers[i] = j["choices"][0]["text"];
    });
  for (auto& t : clients) t.join();
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(status[i], 200) << "client " << i;
    EXPECT_EQ(answers[i], lone) << "client " << i;
  }
}

TEST_F(ServerTest, ClientThatLeavesCancelsItsGeneration) {
  auto health = [] {
    httplib::Client cli("127.0.0.1", server_->port());
    auto h = cli.Get("/health");
    return h ? json::parse(h->body) : json();
  };
  int64_t cancelled_before = health()["samples_cancelled"];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  // 16 samples x 200 tokens: far longer than the few tokens it takes to notice the client is gone.
  std::string body =
      json{{"prompt", "x"}, {"n", 16}, {"max_tokens", 200}, {"ignore_eos", true}, {"stream", true}}.dump();
  std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(write(fd, request.data(), request.size()), ssize_t(request.size()));
  std::string got;
  char buffer[4096];
  while (got.find("data: ") == std::string::npos) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    ASSERT_GT(n, 0) << got;
    got.append(buffer, size_t(n));
  }
  close(fd);
  json h;
  for (int i = 0; i < 200; ++i) {
    h = health();
    if (h["requests_running"] == 0 && h["engine_requests"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(h["requests_running"], 0) << h;
  EXPECT_EQ(h["engine_requests"], 0) << h;
  // 8 samples decode at once (max_batch 8), the other 8 wait for slots: those at least are cancelled.
  EXPECT_GE(h["samples_cancelled"].get<int64_t>(), cancelled_before + 8) << "the engine stopped the samples: " << h;
  // The engine is free again: a new request is answered.
  EXPECT_EQ(post_ok("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}})["choices"].size(), 1u);
}

TEST(ServerReasoning, ThinkPartIsReasoningContentAlsoWhileStreaming) {
  auto o = tiny_options();
  o.chat_template = "deepseek-r1-distill";  // its generation prompt ends with "<think>\n"
  o.reasoning_parser = "deepseek-r1";
  r1::server::Server server(o);
  server.start();
  httplib::Client cli("127.0.0.1", server.port());
  json body = {{"messages", kHello}, {"temperature", 0}, {"max_tokens", 40}};
  auto whole_res = cli.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(whole_res);
  ASSERT_EQ(whole_res->status, 200) << whole_res->body;
  json message = json::parse(whole_res->body)["choices"][0]["message"];
  std::string reasoning = message["reasoning_content"], content = message["content"];
  EXPECT_FALSE(reasoning.empty()) << "the reply starts inside the <think> block the prompt opened: " << message;
  EXPECT_EQ(reasoning.find("</think>"), std::string::npos);

  body["stream"] = true;
  auto res = cli.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  std::string streamed_reasoning, streamed_content;
  for (const auto& p : ServerTestAccess::payloads(res->body)) {
    if (p == "[DONE]") continue;
    json chunk = json::parse(p);
    const json& delta = chunk["choices"][0]["delta"];
    if (delta.contains("reasoning_content")) streamed_reasoning += delta["reasoning_content"].get<std::string>();
    if (delta.contains("content")) streamed_content += delta["content"].get<std::string>();
  }
  EXPECT_EQ(streamed_reasoning, reasoning);
  EXPECT_EQ(streamed_content, content);

  // "reasoning_format": "none" turns the split off for one request: the text comes back whole.
  body["stream"] = false;
  body["reasoning_format"] = "none";
  auto plain = cli.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(plain);
  json plain_message = json::parse(plain->body)["choices"][0]["message"];
  EXPECT_FALSE(plain_message.contains("reasoning_content"));
  std::string raw = plain_message["content"];
  EXPECT_TRUE(raw == reasoning || raw == reasoning + "</think>" + content) << raw;  // open or closed block
}

namespace {
// A raw loopback connection (for requests httplib's client will not send: trickled, malformed, pipelined).
int connect_raw(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& data) {
  return send(fd, data.data(), data.size(), MSG_NOSIGNAL) == ssize_t(data.size());
}

// What the server sends until it closes the connection or `seconds` pass.
std::string read_until_closed(int fd, double seconds) {
  std::string got;
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left.count())) <= 0) break;
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    got.append(buffer, size_t(n));
  }
  return got;
}
}  // namespace

TEST(ServerAuth, ApiKeyIsRequiredOnV1) {
  auto o = tiny_options();
  o.api_key = "sekret";
  r1::server::Server server(o);
  server.start();
  httplib::Client cli("127.0.0.1", server.port());
  json body = {{"prompt", "x"}, {"max_tokens", 2}};
  auto none = cli.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(json::parse(none->body)["error"]["code"], "invalid_api_key");
  auto wrong = cli.Post("/v1/completions", {{"Authorization", "Bearer sekreT"}}, body.dump(), "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(cli.Get("/v1/models")->status, 401);
  auto right = cli.Post("/v1/completions", {{"Authorization", "Bearer sekret"}}, body.dump(), "application/json");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200) << right->body;
  EXPECT_EQ(cli.Get("/health")->status, 200);  // open, as vLLM's
  // Exact bytes: an extra byte after the key (a NUL ended the C string it was compared as), a second header.
  auto status_of = [&](const std::string& headers) {
    int fd = connect_raw(server.port());
    std::string request = "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + "\r\n";
    send_all(fd, request);
    std::string got = read_until_closed(fd, 10);
    close(fd);
    return got.substr(0, 12);
  };
  EXPECT_EQ(status_of("Authorization: Bearer sekret\r\n"), "HTTP/1.1 200");
  EXPECT_EQ(status_of(std::string("Authorization: Bearer sekret") + '\0' + "\r\n"), "HTTP/1.1 401");
  EXPECT_EQ(status_of(std::string("Authorization: Bearer sekret") + '\0' + "x\r\n"), "HTTP/1.1 401");
  EXPECT_EQ(status_of("Authorization: Bearer sekretx\r\n"), "HTTP/1.1 401");
  EXPECT_EQ(status_of("Authorization: Bearer sekre\r\n"), "HTTP/1.1 401");
  EXPECT_EQ(status_of("Authorization: Bearer sekret\r\nAuthorization: Bearer sekret\r\n"), "HTTP/1.1 401");
  // httplib 0.11.4 percent-decodes header values: the bytes sent are compared, not the decoded ones.
  EXPECT_EQ(status_of("Authorization: Bearer sekret%00\r\n"), "HTTP/1.1 401");
  EXPECT_EQ(status_of("Authorization: Bearer sekre%74\r\n"), "HTTP/1.1 401");
  // The header name is case-insensitive and the whitespace around the value is not part of it (RFC 9110).
  EXPECT_EQ(status_of("authorization:Bearer sekret \t\r\n"), "HTTP/1.1 200");
  server.stop();
  EXPECT_FALSE(cli.Get("/health"));
}

// Bodies nested 150,000 to 400,000 deep (< 1 MiB) in each place a request carries JSON through: 400 naming
// the limit, and the server keeps answering (they overflowed the stack before the parser bounded the depth).
TEST(ServerLimits, DeeplyNestedBodiesAre400AndTheServerStaysUp) {
  auto o = tiny_options();
  o.max_request_bytes = 1 << 20;
  r1::server::Server server(o);
  server.start();
  auto nested_arrays = [](int depth) { return std::string(size_t(depth), '[') + std::string(size_t(depth), ']'); };
  auto nested_objects = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "{\"a\":";
    return s + "{}" + std::string(size_t(depth), '}');
  };
  const std::string user = R"({"role": "user", "content": "hi"})";
  const std::vector<std::string> deep = {
      R"({"messages": [{"role": "user", "content": )" + nested_arrays(400000) + "}]}",
      R"({"messages": [)" + user + R"(], "chat_template_kwargs": )" + nested_objects(150000) + "}",
      R"({"messages": [{"role": "user", "content": [{"type": "text", "text": )" + nested_arrays(400000) + "}]}]}",
      R"({"messages": [{"role": "user", "content": "hi", "extra": )" + nested_objects(150000) + "}]}",
  };
  httplib::Client cli("127.0.0.1", server.port());
  cli.set_read_timeout(60);
  for (const std::string& body : deep) {
    ASSERT_LT(body.size(), size_t(1 << 20));
    auto res = cli.Post("/v1/chat/completions", body, "application/json");
    ASSERT_TRUE(res) << "no response (the server died?)";
    EXPECT_EQ(res->status, 400) << res->body;
    json e = json::parse(res->body)["error"];
    EXPECT_EQ(e["type"], "invalid_request_error");
    EXPECT_NE(e["message"].get<std::string>().find("nested deeper than 512"), std::string::npos) << e;
    EXPECT_TRUE(e.contains("param") && e.contains("code")) << e;
  }
  // At the limit (512 levels with the body's own): parsed, copied and rendered without a crash.
  auto at_limit = cli.Post(
      "/v1/chat/completions",
      R"({"max_tokens": 2, "messages": [)" + user + R"(], "chat_template_kwargs": )" + nested_objects(510) + "}",
      "application/json");
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->status, 200) << at_limit->body;
  auto parts_at_limit =
      cli.Post("/v1/chat/completions", R"({"messages": [{"role": "user", "content": )" + nested_arrays(509) + "}]}",
               "application/json");
  ASSERT_TRUE(parts_at_limit);
  EXPECT_EQ(parts_at_limit->status, 400) << parts_at_limit->body;
  EXPECT_EQ(json::parse(parts_at_limit->body)["error"]["param"], "messages[0].content");
  auto health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// The model directory's generation_config.json is read with the same bound; the error names the file.
TEST(ServerLimits, DeepGenerationConfigIsRefusedNamingTheFile) {
  r1::test::TempDir dir;
  std::filesystem::copy(tiny_model(), dir / "m", std::filesystem::copy_options::recursive);
  std::ofstream(dir / "m" / "generation_config.json") << std::string(600, '[') << std::string(600, ']');
  auto o = tiny_options();
  o.model = dir / "m";
  R1_EXPECT_THROW_WITH(r1::server::Server server(o), r1::Error, "generation_config.json", "nested deeper than 512");
}

namespace {
// Connections that send the start of a request, then one header line per `every` without ever ending it.
class SlowClients {
 public:
  SlowClients(int port, int count, std::chrono::milliseconds every) {
    for (int i = 0; i < count; ++i) {
      int fd = connect_raw(port);
      if (fd >= 0 && send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")) fds_.push_back(fd);
    }
    trickler_ = std::thread([this, every] {
      for (int line = 0; !stop_; ++line) {
        for (int fd : fds_) send_all(fd, "X-Slow-" + std::to_string(line) + ": y\r\n");
        for (auto slept = std::chrono::milliseconds(0); slept < every && !stop_; slept += std::chrono::milliseconds(10))
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  ~SlowClients() {
    stop_ = true;
    trickler_.join();
    for (int fd : fds_) close(fd);
  }
  size_t connected() const { return fds_.size(); }
  // How many of them the server has closed (a read sees the end of the stream) within `seconds`.
  int closed_by_server(double seconds) const {
    int closed = 0;
    for (int fd : fds_) {
      pollfd p{fd, POLLIN, 0};
      char buffer[4096];
      auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
      while (std::chrono::steady_clock::now() < until)
        if (poll(&p, 1, 50) > 0 && recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) <= 0) {
          ++closed;
          break;
        }
    }
    return closed;
  }

 private:
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::thread trickler_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

// 100 connections trickling a header line a second hold threads, yet /health and a completion are answered
// at once (past the 64 pool threads, on overflow threads); past --limit-concurrency a connection gets an
// immediate 503 with a JSON error.
TEST(ServerLimits, SlowClientsCannotStallTheServer) {
  auto o = tiny_options();
  o.http_threads = 64;
  o.limit_concurrency = 128;
  r1::server::Server server(o);
  server.start();
  SlowClients slow(server.port(), 100, std::chrono::milliseconds(1000));
  ASSERT_EQ(slow.connected(), 100u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // every one accepted and being read

  httplib::Client cli("127.0.0.1", server.port());
  cli.set_connection_timeout(10);
  cli.set_read_timeout(10);
  auto start = std::chrono::steady_clock::now();
  auto health = cli.Get("/health");
  double health_s = seconds_since(start);
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  start = std::chrono::steady_clock::now();
  auto completion = httplib::Client("127.0.0.1", server.port())
                        .Post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 4}}.dump(), "application/json");
  double completion_s = seconds_since(start);
  ASSERT_TRUE(completion);
  EXPECT_EQ(completion->status, 200) << completion->body;
  std::printf("with 100 slow clients: /health %.1f ms, a 4-token completion %.1f ms\n", health_s * 1e3,
              completion_s * 1e3);
  // Before, both waited for a slow client to finish: never. A second is far beyond any real answer here.
  EXPECT_LT(health_s, 1.0);
  EXPECT_LT(completion_s, 1.0);
  cli.stop();  // its connection no longer counts

  // 100 held + 40 more against a limit of 128: the last ones get a 503 at once, the others are held.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<int> more;
  for (int i = 0; i < 40; ++i) more.push_back(connect_raw(server.port()));
  for (int fd : more) {
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // never finished: served ones hang
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  int rejected = 0;
  for (int fd : more) {
    std::string got = read_until_closed(fd, 0.1);
    if (got.empty()) continue;
    ++rejected;
    EXPECT_EQ(got.rfind("HTTP/1.1 503", 0), 0u) << got;
    json e = json::parse(got.substr(got.find("\r\n\r\n") + 4))["error"];
    EXPECT_EQ(e["code"], "too_many_connections") << e;
    EXPECT_NE(e["message"].get<std::string>().find("--limit-concurrency"), std::string::npos) << e;
  }
  EXPECT_EQ(rejected, 140 - 128);
  for (int fd : more) close(fd);
}

// A request not read within --request-read-timeout is answered 408 and closed; the connection's thread is
// free again. Keep-alive ends after --keep-alive-max-requests.
TEST(ServerLimits, ReadDeadlineAndKeepAliveLimit) {
  auto o = tiny_options();
  o.request_read_timeout = 1.5;
  o.keep_alive_max_requests = 2;
  r1::server::Server server(o);
  server.start();
  SlowClients slow(server.port(), 3, std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(slow.closed_by_server(10), 3);
  double closed_s = seconds_since(start);
  EXPECT_GT(closed_s, 1.0);
  EXPECT_LT(closed_s, 5.0);  // trickling, they would be read for ever

  int fd = connect_raw(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\": "));
  std::string got = read_until_closed(fd, 10);
  close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;  // a body that never comes, too
  EXPECT_NE(got.find("--request-read-timeout"), std::string::npos) << got;

  fd = connect_raw(server.port());
  ASSERT_GE(fd, 0);
  std::string get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(send_all(fd, get + get + get));
  got = read_until_closed(fd, 10);
  close(fd);
  size_t responses = 0;
  for (size_t at = got.find("HTTP/1.1 200"); at != std::string::npos; at = got.find("HTTP/1.1 200", at + 1))
    ++responses;
  EXPECT_EQ(responses, 2u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;

  // A request httplib cannot parse never reaches a handler: a 400 that says what was wrong, as OpenAI JSON.
  fd = connect_raw(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
  got = read_until_closed(fd, 10);
  close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_NE(got.find("\"malformed_http\""), std::string::npos) << got;
  EXPECT_NE(got.find("chunked framing"), std::string::npos) << got;
}

// Connection options out of range are usage errors naming the option, before the model loads.
TEST(ServerLimits, BadConnectionOptionsAreUsageErrors) {
  auto with = [](auto change) {
    auto o = tiny_options();
    change(o);
    return o;
  };
  using Options = r1::server::ServerOptions;
  R1_EXPECT_THROW_WITH(r1::server::Server(with([](Options& o) { o.http_threads = 0; })), r1::UsageError,
                       "--http-threads");
  R1_EXPECT_THROW_WITH(r1::server::Server(with([](Options& o) { o.limit_concurrency = 10; })), r1::UsageError,
                       "--limit-concurrency (10) must be at least --http-threads (64)");
  R1_EXPECT_THROW_WITH(r1::server::Server(with([](Options& o) { o.request_read_timeout = 0; })), r1::UsageError,
                       "--request-read-timeout");
  R1_EXPECT_THROW_WITH(r1::server::Server(with([](Options& o) { o.timeout_keep_alive = 0; })), r1::UsageError,
                       "--timeout-keep-alive");
  R1_EXPECT_THROW_WITH(r1::server::Server(with([](Options& o) { o.keep_alive_max_requests = 0; })), r1::UsageError,
                       "--keep-alive-max-requests");
}

// The official openai JS client parses our responses, streams and errors. Needs node and the npm package,
// installed on first use into the build's test-assets (skipped, and reported, without npm or the registry).
TEST(ServerClients, OpenAiJsClient) {
  std::filesystem::path modules = std::filesystem::path(R1_TEST_ASSETS) / "openai";
  if (!std::filesystem::exists(modules / "node_modules" / "openai" / "package.json")) {
    std::filesystem::create_directories(modules);
    auto installed = std::system(("command -v npm >/dev/null && timeout 300 npm install --prefix " + modules.string() +
                                  " --no-save --no-audit --no-fund --loglevel=error openai@4 >/dev/null 2>&1")
                                     .c_str());
    if (installed != 0) GTEST_SKIP() << "the npm package openai@4 could not be installed (needs npm and its registry)";
  }
  auto o = tiny_options();
  o.api_key = "k";
  r1::server::Server server(o);
  server.start();
  // The server's own greedy answers, for comparison.
  httplib::Client cli("127.0.0.1", server.port());
  httplib::Headers auth = {{"Authorization", "Bearer k"}};
  auto chat = cli.Post("/v1/chat/completions", auth,
                       json{{"messages", kHello}, {"temperature", 0}, {"max_tokens", 10}}.dump(), "application/json");
  ASSERT_TRUE(chat);
  json expected = json::parse(chat->body)["choices"][0];

  std::string cmd = "node " + std::string(R1_SOURCE_DIR) + "/tests/server/openai-client.mjs " +
                    (modules / "node_modules").string() + " http://127.0.0.1:" + std::to_string(server.port()) +
                    "/v1 k tiny 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << output;
  json r = json::parse(output, nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << output;
  EXPECT_EQ(r["models"], json::array({"tiny"}));
  EXPECT_EQ(r["chat"]["content"], expected["message"]["content"]);
  EXPECT_EQ(r["chat"]["finish_reason"], expected["finish_reason"]);
  EXPECT_EQ(r["stream"]["content"], expected["message"]["content"]);
  EXPECT_EQ(r["stream"]["finish_reason"], expected["finish_reason"]);
  EXPECT_EQ(r["stream"]["usage"], r["chat"]["usage"]);
  EXPECT_GE(r["stream"]["chunks"].get<int>(), 3);
  EXPECT_TRUE(r["completion"]["text"].is_string());
  EXPECT_EQ(r["unknown_model"]["name"], "NotFoundError") << r;
  EXPECT_EQ(r["unknown_model"]["code"], "model_not_found") << r;
  EXPECT_EQ(r["bad_request"]["name"], "BadRequestError") << r;
  EXPECT_EQ(r["bad_request"]["param"], "temperature") << r;
  EXPECT_EQ(r["bad_key"]["name"], "AuthenticationError") << r;
}

namespace {
// A port that was free a moment ago (bound to port 0, then closed; another process could take it meanwhile).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}
}  // namespace

TEST(ServerProcess, ServeAnswersAndStopsCleanlyOnSigterm) {
  int port = free_port();
  ASSERT_GT(port, 0);
  r1::test::TempDir dir;
  std::string log = (dir / "serve.log").string();
  std::string cmd = std::string(R1_CLI) + " serve --model " + tiny_model().string() +
                    " --chat-template chatml --reasoning-parser deepseek-r1 --port " + std::to_string(port) + " > " +
                    log + " 2>&1 & echo $!";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  int pid = 0;
  ASSERT_EQ(fscanf(pipe, "%d", &pid), 1);
  pclose(pipe);
  struct KillOnFailure {  // a failed assertion must not leave the server running
    int pid;
    ~KillOnFailure() {
      if (pid > 0) kill(pid, SIGKILL);
    }
  } guard{pid};
  httplib::Client cli("127.0.0.1", port);
  bool up = false;
  for (int i = 0; i < 300 && !up; ++i) {
    auto h = cli.Get("/health");
    up = h && h->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(up) << r1::test::read_bytes(log);
  auto res = cli.Post("/v1/chat/completions", json{{"messages", kHello}, {"max_tokens", 4}, {"temperature", 0}}.dump(),
                      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_TRUE(json::parse(res->body)["choices"][0]["message"].contains("reasoning_content"))
      << "--reasoning-parser deepseek-r1 adds reasoning_content";
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int exited = -1;
  for (int i = 0; i < 100 && exited < 0; ++i) {
    if (kill(pid, 0) != 0) exited = 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(exited, 0) << "still running after SIGTERM";
  if (exited == 0) guard.pid = 0;
  std::string out = r1::test::read_bytes(log);
  EXPECT_NE(out.find("r1 serve: stopped"), std::string::npos) << out;
  EXPECT_NE(out.find("POST /v1/chat/completions 200"), std::string::npos) << out;
}

TEST(ChatCli, PipedConversationWithCommands) {
  auto o = tiny_options();
  r1::server::Server server(o);
  server.start();
  httplib::Client cli("127.0.0.1", server.port());
  auto res = cli.Post("/v1/chat/completions",
                      json{{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})},
                           {"max_tokens", 8},
                           {"temperature", 0},
                           {"reasoning_format", "deepseek"}}
                          .dump(),
                      "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  json choice = json::parse(res->body)["choices"][0];
  server.stop();
  std::string reasoning = choice["message"]["reasoning_content"], content = choice["message"]["content"];
  std::string expected = (reasoning.empty() ? "" : "<think>\n" + reasoning + "\n</think>\n") + content +
                         (choice["finish_reason"] == "length" ? " [length limit]" : "") + "\n";

  auto run = r1::test::run_r1("chat --model " + tiny_model().string() +
                              " --chat-template chatml --temperature 0 --max-tokens 8 < /dev/null");
  EXPECT_EQ(run.status, 0) << run.output;
  r1::test::TempDir dir;
  r1::test::write_bytes(dir / "in.txt", "hi\n/reset\n/system Be brief.\n/bogus\nhi\n/exit\nnever read\n");
  auto chat = r1::test::run_r1("chat --model " + tiny_model().string() +
                               " --chat-template chatml --temperature 0 --max-tokens 8 < " + (dir / "in.txt").string());
  ASSERT_EQ(chat.status, 0) << chat.output;
  EXPECT_EQ(chat.output.rfind(expected, 0), 0u) << "first reply\n" << chat.output << "\nexpected\n" << expected;
  EXPECT_NE(chat.output.find("(conversation reset)"), std::string::npos) << chat.output;
  EXPECT_NE(chat.output.find("(system message set; conversation reset)"), std::string::npos) << chat.output;
  EXPECT_NE(chat.output.find("unknown command /bogus"), std::string::npos) << chat.output;
  EXPECT_EQ(chat.output.find(">>>"), std::string::npos) << "no prompt when stdin is not a terminal";
  auto bad = r1::test::run_r1("chat --model " + tiny_model().string() + " < /dev/null");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("chat_template"), std::string::npos) << bad.output;
}

// The distillation path end to end: `r1 generate --server` against r1's own server gives, greedily, the same
// completions as `r1 generate --model` on the same model (chat template applied on each side).
TEST(GenerateThroughServer, EqualsLocalGeneration) {
  auto o = tiny_options();
  r1::server::Server server(o);
  server.start();
  r1::test::TempDir dir;
  r1::test::write_bytes(dir / "prompts.jsonl",
                        "{\"prompt\": \"What is 2 + 3?\"}\n{\"prompt\": \"Name a colour.\"}\n"
                        "{\"prompt\": \"Count to three.\"}\n");
  const std::string common = " --input " + (dir / "prompts.jsonl").string() +
                             " --chat-template chatml --temperature 0 --max-new-tokens 12 --num-generations 2"
                             " --group-generations";
  auto local = r1::test::run_r1("generate --model " + tiny_model().string() + common + " --output " +
                                (dir / "local.jsonl").string());
  ASSERT_EQ(local.status, 0) << local.output;
  auto remote = r1::test::run_r1("generate --server http://127.0.0.1:" + std::to_string(server.port()) +
                                 " --server-model tiny" + common + " --output " + (dir / "remote.jsonl").string());
  ASSERT_EQ(remote.status, 0) << remote.output;
  auto rows = [](const std::filesystem::path& p) {
    std::vector<json> out;
    std::istringstream in(r1::test::read_bytes(p));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  };
  auto a = rows(dir / "local.jsonl"), b = rows(dir / "remote.jsonl");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["prompt"], b[i]["prompt"]);
    EXPECT_EQ(a[i]["generations"], b[i]["generations"]) << i;
    EXPECT_EQ(a[i]["generations"].size(), 2u);
  }
  server.stop();
}
