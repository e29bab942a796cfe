// BPE merge computation, HF-identical; see bpe-trainer.h for the rules and the two departures.
#include "tokenizer/bpe-trainer.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "common/progress.h"
#include "tokenizer/unicode.h"

namespace r1::tokenizer {

namespace {

using Pair = uint64_t;  // (left id << 32) | right id
Pair make_pair_key(uint32_t a, uint32_t b) { return (uint64_t(a) << 32) | b; }

struct Merge {
  uint64_t count;
  Pair pair;
  std::vector<uint32_t> pos;  // words that held the pair when this entry was pushed (sorted, unique)
};

// std::priority_queue pops the greatest: highest count, then the smallest pair.
struct MergeLess {
  bool operator()(const Merge& a, const Merge& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.pair > b.pair;
  }
};

// HF Word::merge: replaces every (c1, c2) left to right; reports (pair, +-1) for the neighbouring pairs.
void merge_word(std::vector<BpeSymbol>& w, uint32_t c1, uint32_t c2, uint32_t replacement, size_t max_length,
                std::vector<std::pair<Pair, int>>& changes) {
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i].id != c1 || i + 1 >= w.size() || w[i + 1].id != c2) continue;
    BpeSymbol first = w[i], second = w[i + 1];
    BpeSymbol merged{replacement, first.len + second.len};
    if (i > 0) {
      changes.emplace_back(make_pair_key(w[i - 1].id, first.id), -1);
      if (w[i - 1].len + merged.len < max_length) changes.emplace_back(make_pair_key(w[i - 1].id, replacement), 1);
    }
    w[i] = merged;
    w.erase(w.begin() + i + 1);
    if (i + 1 < w.size()) {
      changes.emplace_back(make_pair_key(second.id, w[i + 1].id), -1);
      if (w[i + 1].len + merged.len < max_length) changes.emplace_back(make_pair_key(replacement, w[i + 1].id), 1);
    }
  }
}

}  // namespace

void run_merges(MergeState& st, const BpeTrainerOptions& o, const std::function<bool()>& done, size_t progress_total) {
  auto& words = st.words;
  auto& counts = st.counts;
  const size_t max_length = o.max_token_length.value_or(SIZE_MAX);
  auto add_token = [&](const std::string& s) {
    if (st.word_to_id.count(s)) return;
    while (st.next_id < st.id_to_word.size() && !st.id_to_word[st.next_id].empty()) ++st.next_id;  // skip reserved ids
    uint32_t id = uint32_t(std::max<size_t>(st.next_id, st.id_to_word.size()));
    if (id >= st.id_to_word.size()) st.id_to_word.resize(id + 1);
    st.id_to_word[id] = s;
    st.word_to_id.emplace(s, id);
    st.next_id = id + 1;
  };
  // 4. Pair counts and where each pair occurs.
  std::unordered_map<Pair, int64_t> pair_counts;
  std::unordered_map<Pair, std::vector<uint32_t>> where;
  pair_counts.reserve(words.size() * 4);
  for (uint32_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i];
    for (size_t k = 0; k + 1 < w.size(); ++k) {
      Pair p = make_pair_key(w[k].id, w[k + 1].id);
      pair_counts[p] += int64_t(counts[i]);
      auto& v = where[p];
      if (v.empty() || v.back() != i) v.push_back(i);
    }
  }
  std::priority_queue<Merge, std::vector<Merge>, MergeLess> queue;
  for (auto& [p, pos] : where) {
    int64_t c = pair_counts[p];
    if (c > 0) queue.push({uint64_t(c), p, std::move(pos)});
  }
  where.clear();

  // 5. Merges.
  Progress progress("Computing merges",
                    progress_total > st.id_to_word.size() ? progress_total - st.id_to_word.size() : 0, o.show_progress);
  auto& merges = st.merges;
  std::vector<std::pair<Pair, int>> changes;
  std::vector<std::pair<Pair, uint32_t>> touched;  // (pair, word) with a positive change
  while (!done() && !queue.empty()) {
    Merge top = std::move(const_cast<Merge&>(queue.top()));
    queue.pop();
    uint64_t current = uint64_t(std::max<int64_t>(0, pair_counts[top.pair]));
    if (top.count != current) {
      top.count = current;
      queue.push(std::move(top));
      continue;
    }
    if (top.count < 1 || o.min_frequency > top.count) break;
    uint32_t a = uint32_t(top.pair >> 32), b = uint32_t(top.pair & 0xFFFFFFFF);
    std::string part_b = st.id_to_word[b];
    if (!o.continuing_subword_prefix.empty() && part_b.rfind(o.continuing_subword_prefix, 0) == 0)
      part_b.erase(0, o.continuing_subword_prefix.size());
    std::string token = st.id_to_word[a] + part_b;
    size_t before = st.word_to_id.size();
    add_token(token);
    uint32_t new_id = st.word_to_id[token];
    merges.emplace_back(top.pair, new_id);
    if (st.word_to_id.size() > before) progress.add();

    touched.clear();
    for (uint32_t i : top.pos) {
      changes.clear();
      merge_word(words[i], a, b, new_id, max_length, changes);
      for (const auto& [p, delta] : changes) {
        pair_counts[p] += int64_t(delta) * int64_t(counts[i]);
        if (delta > 0) touched.emplace_back(p, i);
      }
    }
    std::sort(touched.begin(), touched.end());
    for (size_t k = 0; k < touched.size();) {
      Pair p = touched[k].first;
      std::vector<uint32_t> pos;
      for (; k < touched.size() && touched[k].first == p; ++k)
        if (pos.empty() || pos.back() != touched[k].second) pos.push_back(touched[k].second);
      int64_t c = pair_counts[p];
      if (c > 0) queue.push({uint64_t(c), p, std::move(pos)});
    }
  }
  progress.finish();
}

BpeTrainingResult train_bpe_model(const std::unordered_map<std::string, uint64_t>& word_counts,
                                  const BpeTrainerOptions& o) {
  std::unordered_map<std::string, uint32_t> word_to_id;
  std::vector<std::string> id_to_word;
  auto add_token = [&](const std::string& s) {
    if (word_to_id.emplace(s, uint32_t(id_to_word.size())).second) id_to_word.push_back(s);
  };
  // 1. Special tokens.
  for (const auto& s : o.special_tokens) add_token(s);

  // 2. Alphabet: characters weighted by word counts; initial ones forced; optionally limited; code point order.
  std::vector<std::pair<const std::string*, uint64_t>> words_sorted;
  words_sorted.reserve(word_counts.size());
  for (const auto& wc : word_counts) words_sorted.emplace_back(&wc.first, wc.second);
  std::sort(words_sorted.begin(), words_sorted.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::unordered_map<char32_t, uint64_t> alphabet;
  for (const auto& [word, count] : words_sorted)
    for (size_t pos = 0; pos < word->size();) alphabet[next_code_point(*word, pos)] += count;
  for (const auto& s : o.initial_alphabet) {
    size_t pos = 0;
    if (!s.empty()) alphabet[next_code_point(s, pos)] = UINT64_MAX;
  }
  std::vector<std::pair<char32_t, uint64_t>> kept(alphabet.begin(), alphabet.end());
  if (o.limit_alphabet && kept.size() > *o.limit_alphabet) {
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second < b.second : a.first < b.first;
    });
    kept.erase(kept.begin(), kept.begin() + (kept.size() - *o.limit_alphabet));
  }
  std::sort(kept.begin(), kept.end());
  std::unordered_map<char32_t, bool> allowed;
  for (const auto& [cp, count] : kept) {
    std::string s;
    append_utf8(s, cp);
    add_token(s);
    allowed[cp] = true;
  }

  // 3. Words as symbol sequences (characters outside the alphabet are dropped, as HF).
  std::vector<std::vector<BpeSymbol>> words;
  std::vector<uint64_t> counts;
  words.reserve(words_sorted.size());
  counts.reserve(words_sorted.size());
  for (const auto& [word, count] : words_sorted) {
    std::vector<BpeSymbol> w;
    size_t pos = 0;
    while (pos < word->size()) {
      size_t start = pos;
      char32_t cp = next_code_point(*word, pos);
      if (!allowed.count(cp)) continue;
      std::string s;
      if (start > 0) s += o.continuing_subword_prefix;
      s.append(*word, start, pos - start);
      if (pos == word->size()) s += o.end_of_word_suffix;
      add_token(s);
      w.push_back({word_to_id[s], 1});
    }
    words.push_back(std::move(w));
    counts.push_back(count);
  }

  MergeState state{std::move(words), std::move(counts), std::move(word_to_id), std::move(id_to_word), {}};
  run_merges(
      state, o, [&] { return state.word_to_id.size() >= o.vocab_size; }, o.vocab_size);
  BpeTrainingResult result;
  for (const auto& [token, id] : state.word_to_id) result.vocab[token] = int32_t(id);
  result.merges = unique_merges(state);
  return result;
}

std::vector<std::pair<std::string, std::string>> unique_merges(const MergeState& st) {
  // A pair merged twice keeps its last rank (HF collects the merges into a map keyed by pair).
  std::unordered_map<Pair, size_t> last_rank;
  for (size_t r = 0; r < st.merges.size(); ++r) last_rank[st.merges[r].first] = r;
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t r = 0; r < st.merges.size(); ++r) {
    if (last_rank[st.merges[r].first] != r) continue;
    Pair p = st.merges[r].first;
    out.emplace_back(st.id_to_word[uint32_t(p >> 32)], st.id_to_word[uint32_t(p & 0xFFFFFFFF)]);
  }
  return out;
}

}  // namespace r1::tokenizer
