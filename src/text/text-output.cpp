// Generated ids -> visible text, stop-string holdback and trimming, and the <think> split (see
// text-output.h). The reasoning split follows vLLM's DeepSeekR1ReasoningParser: text before `</think>` is
// reasoning (a leading `<think>` is dropped; when the prompt opened the block, the output starts inside it);
// an output that never closes the block is all reasoning; everything after `</think>` is content, verbatim.
#include "text/text-output.h"

#include <algorithm>

namespace r1::text {
namespace {
constexpr std::string_view kOpen = "<think>", kClose = "</think>";

// Length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
}  // namespace

TextPolicy::TextPolicy(const tokenizer::Tokenizer& tok, std::vector<int32_t> eos_ids)
    : tokenizer_(tok), hidden_(std::move(eos_ids)), vocab_size_(int64_t(tok.vocab_size())) {
  for (auto id : {tok.bos_id(), tok.eos_id(), tok.pad_id()})
    if (id) hidden_.push_back(*id);
  if (const auto& unk = tok.config().unk_token)
    if (auto id = tok.token_to_id(*unk)) hidden_.push_back(*id);
  std::sort(hidden_.begin(), hidden_.end());
  hidden_.erase(std::unique(hidden_.begin(), hidden_.end()), hidden_.end());
}

bool TextPolicy::visible(int32_t id) const {
  return id >= 0 && id < vocab_size_ && !std::binary_search(hidden_.begin(), hidden_.end(), id);
}

std::string TextPolicy::decode(const std::vector<int32_t>& ids) const {
  std::vector<int32_t> shown;
  shown.reserve(ids.size());
  for (int32_t id : ids)
    if (visible(id)) shown.push_back(id);
  return tokenizer_.decode(shown);
}

ReasoningSplitter::ReasoningSplitter(ReasoningStart start)
    : state_(start == ReasoningStart::kOff           ? State::kOff
             : start == ReasoningStart::kInReasoning ? State::kReasoning
                                                     : State::kDetect) {}

void ReasoningSplitter::push(std::string_view text, TextDelta& out) {
  if (state_ == State::kOff || state_ == State::kContent) {
    out.content += text;
    return;
  }
  held_ += text;
  if (state_ == State::kDetect) {
    size_t start = 0;
    while (start < held_.size() && is_space(held_[start])) ++start;
    std::string_view rest = std::string_view(held_).substr(start);
    if (rest.size() >= kOpen.size() && rest.substr(0, kOpen.size()) == kOpen) {
      held_ = std::string(rest.substr(kOpen.size()));
      state_ = State::kReasoning;
    } else if (rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest) {
      return;  // whitespace or a partial "<think>": wait
    } else {
      state_ = State::kContent;
      out.content += held_;
      held_.clear();
      return;
    }
  }
  // kReasoning
  size_t close = held_.find(kClose);
  if (close != std::string::npos) {
    out.reasoning += held_.substr(0, close);
    out.content += held_.substr(close + kClose.size());
    held_.clear();
    state_ = State::kContent;
    return;
  }
  size_t keep = partial_tag_suffix(held_, kClose);
  out.reasoning += held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
}

void ReasoningSplitter::finish(TextDelta& out) {
  if (state_ == State::kReasoning)
    out.reasoning += held_;
  else
    out.content += held_;
  held_.clear();
}

bool prompt_opens_reasoning(std::string_view prompt) {
  while (!prompt.empty() && is_space(prompt.back())) prompt.remove_suffix(1);
  size_t open = prompt.rfind(kOpen);
  return open != std::string_view::npos && open + kOpen.size() == prompt.size();
}

SampleText::SampleText(const TextPolicy& policy, const std::vector<std::string>& stop, ReasoningStart reasoning,
                       std::vector<int32_t> extra_hidden)
    : policy_(&policy),
      decoder_(policy.tokenizer()),
      extra_hidden_(std::move(extra_hidden)),
      stop_(stop),
      splitter_(reasoning) {
  for (const auto& s : stop) holdback_ = std::max(holdback_, s.empty() ? 0 : s.size() - 1);
}

TextDelta SampleText::release(size_t end) {
  TextDelta out;
  if (end > released_) {
    splitter_.push(std::string_view(text_).substr(released_, end - released_), out);
    released_ = end;
  }
  return out;
}

TextDelta SampleText::push(int32_t id) {
  if (finished_ || !policy_->visible(id) ||
      std::find(extra_hidden_.begin(), extra_hidden_.end(), id) != extra_hidden_.end())
    return {};
  size_t before = text_.size();
  text_ += decoder_.push(id);
  size_t end = text_.size() > holdback_ ? text_.size() - holdback_ : 0;
  // The token that completes a stop string is the last one the engine sends: release only up to the match.
  size_t from = before > holdback_ ? before - holdback_ : 0;
  for (const std::string& s : stop_)
    if (size_t at = text_.find(s, from); at != std::string::npos) end = std::min(end, at);
  while (end > released_ && end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) --end;
  TextDelta out = release(std::max(end, released_));
  content_ += out.content;
  reasoning_ += out.reasoning;
  return out;
}

TextDelta SampleText::finish(engine::FinishReason reason, const std::string& stop_string) {
  if (finished_) return {};
  finished_ = true;
  text_ += decoder_.finish();
  size_t end = text_.size();
  if (reason == engine::FinishReason::kStopString) {
    size_t from = released_ > holdback_ ? released_ - holdback_ : 0;
    size_t at = std::string::npos;
    for (const std::string& s : stop_string.empty() ? stop_ : std::vector<std::string>{stop_string})
      if (!s.empty()) at = std::min(at, text_.find(s, from));
    if (at != std::string::npos) end = std::max(at, released_);
  }
  TextDelta out = release(end);
  splitter_.finish(out);
  content_ += out.content;
  reasoning_ += out.reasoning;
  return out;
}

}  // namespace r1::text
