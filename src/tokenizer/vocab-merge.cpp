// Vocabulary extension by continued BPE training, and the decomposition of new tokens into base tokens;
// see extend_tokenizer() in r1/tokenizer.h. Continued training (rather than training a separate BPE and
// appending its merges, which the base merges would pre-empt by regrouping the same bytes) guarantees that
// every new merge fires on text like the corpus: base merges all have lower ranks and never involve a new
// token, so encoding = base segmentation followed by the new merges.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "tokenizer/bpe-trainer.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer-impl.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer {
namespace fs = std::filesystem;

namespace {
uint64_t count_code_points(std::string_view s) {
  uint64_t n = 0;
  for (size_t pos = 0; pos < s.size(); ++n) next_code_point(s, pos);
  return n;
}
}  // namespace

Tokenizer extend_tokenizer(const Tokenizer& base, const std::vector<fs::path>& inputs, const ExtendOptions& o,
                           ExtendReport* report) {
  const Tokenizer::Impl& b = base.impl();
  const auto* bpe = dynamic_cast<const BpeModel*>(b.model.get());
  if (bpe == nullptr)
    fail_usage("tokenizer extend: the base tokenizer is {}, only BPE can be extended", base.model_type());
  if (o.add == 0) fail_usage("--add must be positive");
  std::vector<std::string> buffers;
  auto seqs = read_sequences(inputs, o.text_field, buffers);
  auto counts = count_words(b, seqs, o.threads, o.show_progress);

  MergeState st;
  st.id_to_word.assign(base.vocab_size(), std::string());
  for (const auto& [token, id] : bpe->vocab()) {
    st.word_to_id[token] = uint32_t(id);
    st.id_to_word[id] = token;
  }
  for (const AddedToken& t : b.added) st.id_to_word[t.id] = t.content;  // reserved: never reused
  st.next_id = st.id_to_word.size();
  std::vector<std::pair<const std::string*, uint64_t>> words(counts.size());
  std::transform(counts.begin(), counts.end(), words.begin(),
                 [](const auto& wc) { return std::make_pair(&wc.first, wc.second); });
  std::sort(words.begin(), words.end(), [](const auto& x, const auto& y) { return *x.first < *y.first; });
  std::vector<int32_t> ids;
  for (const auto& [word, count] : words) {
    ids.clear();
    bpe->tokenize(*word, ids);
    std::vector<BpeSymbol> w;
    for (int32_t id : ids) w.push_back({uint32_t(id), uint32_t(count_code_points(st.id_to_word[id]))});
    st.words.push_back(std::move(w));
    st.counts.push_back(count);
  }
  const size_t start = st.word_to_id.size();
  BpeTrainerOptions t;
  t.min_frequency = o.min_frequency;
  t.show_progress = o.show_progress;
  run_merges(
      st, t, [&] { return st.word_to_id.size() - start >= o.add; }, st.id_to_word.size() + o.add);

  std::unordered_map<std::string, int32_t> vocab(bpe->vocab().begin(), bpe->vocab().end());
  for (const auto& [token, id] : st.word_to_id) vocab.emplace(token, int32_t(id));
  auto merges = bpe->merges();
  for (auto& m : unique_merges(st)) merges.push_back(std::move(m));
  auto impl = std::make_shared<Tokenizer::Impl>(b);
  impl->model = std::make_shared<BpeModel>(std::move(vocab), std::move(merges), bpe->options(), "extended BPE");
  Tokenizer extended = make_tokenizer(std::move(impl));
  if (report) {
    report->added = st.word_to_id.size() - start;
    report->characters = report->tokens_before = report->tokens_after = 0;
    for (std::string_view s : seqs) {
      report->characters += count_code_points(s);
      report->tokens_before += base.encode(s, false).size();
      report->tokens_after += extended.encode(s, false).size();
    }
  }
  return extended;
}

std::vector<std::vector<int32_t>> decompose_new_tokens(const Tokenizer& base, const Tokenizer& extended) {
  std::vector<std::vector<int32_t>> out;
  for (size_t id = base.vocab_size(); id < extended.vocab_size(); ++id) {
    std::vector<int32_t> one = {int32_t(id)};
    out.push_back(extended.id_to_token(int32_t(id)) ? base.encode(extended.decode(one), false)
                                                    : std::vector<int32_t>{});
  }
  return out;
}

}  // namespace r1::tokenizer
