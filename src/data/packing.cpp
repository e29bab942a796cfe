// The packed mixture loader (training windows) and sequential evaluation windows, both over the
// concatenation of a source's shards. Not here: the shard format (shards.cpp) or making shards (prepare.cpp).
// Reference behaviour: GPT-2/3 style packing (documents joined with EOS, windows cut across document
// boundaries, no padding), GPT-3's per-source sampling weights, nanoGPT-style (x, y) = window[:-1], window[1:].
// Departures from nanoGPT (which samples random offsets with replacement):
//  1. windows are fixed (stride seq_len, one shared token) and visited in a per-epoch permutation, so an epoch
//     covers every token as a target exactly once;
//  2. the permutation is a keyed 4-round Feistel network with cycle walking (O(1) memory, exact resume).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/hash.h"
#include "r1/data.h"
#include "r1/error.h"
#include "r1/io.h"

namespace r1::data {
namespace fs = std::filesystem;

namespace {

// The shards of one source as one token array.
class ShardSet {
 public:
  explicit ShardSet(const std::vector<fs::path>& paths) {
    for (const fs::path& p : paths) {
      shards_.push_back(TokenShard::open(p));
      starts_.push_back(tokens_);
      tokens_ += shards_.back().size();
      text_bytes_ += shards_.back().info().text_bytes;
      vocab_size_ = std::max(vocab_size_, shards_.back().info().vocab_size);
    }
  }
  uint64_t tokens() const { return tokens_; }
  uint64_t text_bytes() const { return text_bytes_; }
  uint64_t vocab_size() const { return vocab_size_; }
  const std::vector<TokenShard>& shards() const { return shards_; }

  void read(uint64_t offset, size_t count, int64_t* out) const {
    if (offset > tokens_ || count > tokens_ - offset)
      fail("internal: read of tokens [{}, {}) beyond {} tokens", offset, offset + count, tokens_);
    size_t s = size_t(std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin()) - 1;
    while (count > 0) {
      uint64_t local = offset - starts_[s];
      size_t n = size_t(std::min<uint64_t>(count, shards_[s].size() - local));
      shards_[s].read(local, n, out);
      out += n, offset += n, count -= n, ++s;
    }
  }

 private:
  std::vector<TokenShard> shards_;
  std::vector<uint64_t> starts_;  // first token of each shard
  uint64_t tokens_ = 0, text_bytes_ = 0, vocab_size_ = 0;
};

// One tokenizer for every shard; returns its hash.
std::string common_hash(const std::vector<const ShardSet*>& sets) {
  const ShardInfo* first = nullptr;
  for (const ShardSet* set : sets)
    for (const TokenShard& shard : set->shards()) {
      if (!first) first = &shard.info();
      if (shard.info().tokenizer_hash != first->tokenizer_hash)
        fail("{}: made with tokenizer {}, but {} with tokenizer {} (all shards must share one tokenizer)",
             shard.info().path.string(), shard.info().tokenizer_hash, first->path.string(), first->tokenizer_hash);
    }
  return first ? first->tokenizer_hash : std::string();
}

// A pseudo-random bijection of [0, n) keyed by `key`: 4 Feistel rounds on the smallest even-bit power-of-two
// domain holding n (< 4n), cycle-walking values that land outside [0, n).
class Permutation {
 public:
  Permutation(uint64_t n, uint64_t key) : n_(n), key_(key) {
    int bits = 0;
    while (bits < 64 && (uint64_t(1) << bits) < n) ++bits;
    half_ = (bits + 1) / 2;
    mask_ = half_ == 0 ? 0 : (uint64_t(1) << half_) - 1;
  }
  uint64_t operator()(uint64_t i) const {
    if (n_ <= 1) return 0;
    uint64_t x = encrypt(i);
    while (x >= n_) x = encrypt(x);
    return x;
  }

 private:
  uint64_t encrypt(uint64_t x) const {
    uint64_t left = x >> half_, right = x & mask_;
    for (uint64_t round = 0; round < 4; ++round) {
      uint64_t next = left ^ (mix64(key_, round, right) & mask_);
      left = right;
      right = next;
    }
    return (left << half_) | right;
  }
  uint64_t n_, key_, mask_;
  int half_;
};

constexpr uint64_t kRowStream = 0x726f772d736f7572ull;  // "row-sour": keeps the row stream apart from others
constexpr uint64_t kWindowStream = 0x77696e646f777321ull;

}  // namespace

// ---- PackedLoader -------------------------------------------------------------------------------------

struct PackedLoader::Impl {
  struct Source {
    MixtureSource spec;
    std::unique_ptr<ShardSet> set;
    uint64_t windows = 0;
    uint64_t epoch = 0, cursor = 0;  // next window: permutation(epoch)[cursor]
    double cumulative = 0;           // upper end of this source's interval of [0, 1)
  };
  LoaderOptions options;
  std::vector<Source> sources;
  uint64_t rows = 0;  // rows drawn so far: the row-source stream's counter
  std::string hash;
  uint64_t vocab_size = 0;

  size_t pick_source(uint64_t row) const {
    if (sources.size() == 1) return 0;
    double u = unit_interval(mix64(options.seed, kRowStream, row));
    for (size_t s = 0; s + 1 < sources.size(); ++s)
      if (u < sources[s].cumulative) return s;
    return sources.size() - 1;
  }
};

PackedLoader::PackedLoader(LoaderOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (options.sources.empty()) fail_usage("data loader: no sources");
  if (options.seq_len < 1) fail_usage("data loader: seq_len must be at least 1, got {}", options.seq_len);
  double total_weight = 0;
  for (const MixtureSource& src : options.sources) {
    if (!(src.weight > 0) || !std::isfinite(src.weight))
      fail_usage("data source '{}': weight must be positive, got {}", src.name, src.weight);
    if (src.shards.empty()) fail_usage("data source '{}': no shards", src.name);
    total_weight += src.weight;
  }
  m.options = std::move(options);
  const uint64_t L = uint64_t(m.options.seq_len);
  double cumulative = 0;
  std::vector<const ShardSet*> sets;
  for (const MixtureSource& src : m.options.sources) {
    Impl::Source s;
    s.spec = src;
    s.set = std::make_unique<ShardSet>(src.shards);
    if (s.set->tokens() < L + 1)
      fail("data source '{}' ({}): {} tokens, fewer than one window of seq_len+1 = {}", src.name,
           src.shards.front().string(), s.set->tokens(), L + 1);
    s.windows = (s.set->tokens() - 1) / L;
    cumulative += src.weight / total_weight;
    s.cumulative = cumulative;
    m.vocab_size = std::max(m.vocab_size, s.set->vocab_size());
    m.sources.push_back(std::move(s));
    sets.push_back(m.sources.back().set.get());
  }
  m.hash = common_hash(sets);
}

PackedLoader::~PackedLoader() = default;
PackedLoader::PackedLoader(PackedLoader&&) noexcept = default;
PackedLoader& PackedLoader::operator=(PackedLoader&&) noexcept = default;

void PackedLoader::next(int64_t rows, int64_t* out) {
  Impl& m = *impl_;
  const uint64_t L = uint64_t(m.options.seq_len);
  for (int64_t r = 0; r < rows; ++r) {
    size_t s = m.pick_source(m.rows++);
    Impl::Source& src = m.sources[s];
    Permutation perm(src.windows, mix64(m.options.seed ^ kWindowStream, s, src.epoch));
    uint64_t window = perm(src.cursor);
    if (++src.cursor == src.windows) src.cursor = 0, ++src.epoch;
    src.set->read(window * L, size_t(L + 1), out + r * int64_t(L + 1));
  }
}

nlohmann::json PackedLoader::state() const {
  const Impl& m = *impl_;
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : m.sources)
    sources.push_back({{"name", s.spec.name},
                       {"weight", s.spec.weight},
                       {"tokens", s.set->tokens()},
                       {"windows", s.windows},
                       {"epoch", s.epoch},
                       {"cursor", s.cursor}});
  return {{"format", "r1-packed-loader"},
          {"version", 1},
          {"seq_len", m.options.seq_len},
          {"seed", m.options.seed},
          {"tokenizer_hash", m.hash},
          {"rows", m.rows},
          {"sources", sources}};
}

void PackedLoader::load_state(const nlohmann::json& state) {
  Impl& m = *impl_;
  auto get = [&](const nlohmann::json& j, const char* key) -> const nlohmann::json& {
    if (!j.is_object() || !j.contains(key)) fail("data loader state: missing \"{}\"", key);
    return j.at(key);
  };
  try {
    if (get(state, "format") != "r1-packed-loader" || get(state, "version") != 1)
      fail("data loader state: expected format r1-packed-loader version 1, got {} {}", get(state, "format").dump(),
           get(state, "version").dump());
    auto expect = [&](const char* what, const nlohmann::json& found, const nlohmann::json& expected) {
      if (found != expected)
        fail("data loader state does not match this run: {} is {} in the state, {} now", what, found.dump(),
             expected.dump());
    };
    expect("seq_len", get(state, "seq_len"), m.options.seq_len);
    expect("seed", get(state, "seed"), m.options.seed);
    expect("tokenizer_hash", get(state, "tokenizer_hash"), m.hash);
    const auto& sources = get(state, "sources");
    expect("the number of sources", sources.size(), m.sources.size());
    for (size_t i = 0; i < m.sources.size(); ++i) {
      const auto& s = m.sources[i];
      std::string name = "source " + std::to_string(i);
      expect((name + " name").c_str(), get(sources[i], "name"), s.spec.name);
      expect((name + " weight").c_str(), get(sources[i], "weight"), s.spec.weight);
      expect((name + " tokens").c_str(), get(sources[i], "tokens"), s.set->tokens());
      expect((name + " windows").c_str(), get(sources[i], "windows"), s.windows);
      if (get(sources[i], "cursor").get<uint64_t>() >= s.windows)
        fail("data loader state: {} cursor {} is not below its {} windows", name, sources[i]["cursor"].dump(),
             s.windows);
    }
    for (size_t i = 0; i < m.sources.size(); ++i) {
      m.sources[i].epoch = sources[i]["epoch"].get<uint64_t>();
      m.sources[i].cursor = sources[i]["cursor"].get<uint64_t>();
    }
    m.rows = get(state, "rows").get<uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail("data loader state: malformed ({})", json_error_text(e));
  }
}

std::vector<SourceReport> PackedLoader::report(uint64_t planned_tokens) const {
  const Impl& m = *impl_;
  std::vector<SourceReport> out;
  double previous = 0;
  for (const auto& s : m.sources) {
    SourceReport r;
    r.name = s.spec.name;
    r.tokens = s.set->tokens();
    r.windows = s.windows;
    r.share = s.cumulative - previous;
    previous = s.cumulative;
    r.effective_epochs = double(planned_tokens) * r.share / double(s.windows * uint64_t(m.options.seq_len));
    out.push_back(r);
  }
  return out;
}

std::string PackedLoader::format_report(uint64_t planned_tokens) const {
  std::string out = fmt::format("data: {} source(s), seq_len {}, {} planned tokens\n", impl_->sources.size(),
                                impl_->options.seq_len, format_count(int64_t(planned_tokens)));
  for (const SourceReport& r : report(planned_tokens))
    out += fmt::format("  {:<20} {:>10} tokens {:>10} windows  share {:5.1f}%  epochs {:.3f}\n", r.name,
                       format_count(int64_t(r.tokens)), format_count(int64_t(r.windows)), 100 * r.share,
                       r.effective_epochs);
  return out;
}

std::string PackedLoader::tokenizer_hash() const { return impl_->hash; }
int64_t PackedLoader::seq_len() const { return impl_->options.seq_len; }
uint64_t PackedLoader::vocab_size() const { return impl_->vocab_size; }

uint64_t PackedLoader::text_bytes() const {
  uint64_t n = 0;
  for (const auto& s : impl_->sources) n += s.set->text_bytes();
  return n;
}

uint64_t PackedLoader::tokens() const {
  uint64_t n = 0;
  for (const auto& s : impl_->sources) n += s.set->tokens();
  return n;
}

// ---- EvalWindows --------------------------------------------------------------------------------------

struct EvalWindows::Impl {
  std::unique_ptr<ShardSet> set;
  uint64_t seq_len = 0;
  std::string hash;
};

EvalWindows::EvalWindows(std::vector<fs::path> shards, int64_t seq_len) : impl_(std::make_unique<Impl>()) {
  if (seq_len < 1) fail_usage("evaluation windows: seq_len must be at least 1, got {}", seq_len);
  if (shards.empty()) fail_usage("evaluation windows: no shards");
  impl_->set = std::make_unique<ShardSet>(shards);
  impl_->seq_len = uint64_t(seq_len);
  impl_->hash = common_hash({impl_->set.get()});
}

EvalWindows::~EvalWindows() = default;
EvalWindows::EvalWindows(EvalWindows&&) noexcept = default;
EvalWindows& EvalWindows::operator=(EvalWindows&&) noexcept = default;

size_t EvalWindows::size() const {
  uint64_t n = impl_->set->tokens();
  return n <= 1 ? 0 : size_t((n - 1 + impl_->seq_len - 1) / impl_->seq_len);
}

std::vector<int64_t> EvalWindows::window(size_t i) const {
  if (i >= size()) fail("evaluation window {} out of range ({} windows)", i, size());
  uint64_t begin = uint64_t(i) * impl_->seq_len;
  uint64_t end = std::min(begin + impl_->seq_len + 1, impl_->set->tokens());
  std::vector<int64_t> out(end - begin);
  impl_->set->read(begin, out.size(), out.data());
  return out;
}

uint64_t EvalWindows::tokens() const { return impl_->set->tokens(); }
uint64_t EvalWindows::text_bytes() const { return impl_->set->text_bytes(); }
std::string EvalWindows::tokenizer_hash() const { return impl_->hash; }

}  // namespace r1::data
