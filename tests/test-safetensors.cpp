// safetensors: bit-exact round trips per dtype, shapes incl. scalars and empty tensors, metadata, header
// alignment, sharded save/load with index, stale-shard clean-up, and rejection of malformed files with
// errors naming the file and the problem.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "r1/error.h"
#include "r1/safetensors.h"
#include "test-helpers.h"

namespace st = r1::safetensors;
using r1::test::TempDir;

namespace {

// Distinct random bytes per dtype (including NaN payloads and -0.0 for floats): equality is by bytes.
at::Tensor sample(at::ScalarType dtype, std::vector<int64_t> shape) {
  if (dtype == at::kBool) return torch::randint(0, 2, shape).to(at::kBool);
  if (at::isFloatingType(dtype)) {
    at::Tensor t = torch::randn(shape).to(dtype);
    if (t.numel() > 2) {
      t.view(-1)[0] = -0.0;
      t.view(-1)[1] = std::numeric_limits<float>::quiet_NaN();
    }
    return t;
  }
  return torch::randint(-100, 100, shape).to(dtype).abs();
}

bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  if (a.numel() == 0) return true;  // empty tensors have no data pointer
  at::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

}  // namespace

TEST(Safetensors, RoundTripIsBitExactForEveryDtype) {
  TempDir dir;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto dtype : {at::kFloat, at::kBFloat16, at::kHalf, at::kDouble, at::kLong, at::kInt, at::kShort, at::kChar,
                     at::kByte, at::kBool})
    tensors.emplace_back(std::string("t.") + c10::toString(dtype), sample(dtype, {3, 5, 7}));
  tensors.emplace_back("scalar", torch::tensor(3.5f).reshape({}));
  tensors.emplace_back("empty", torch::empty({0, 4}));
  tensors.emplace_back("strided", torch::randn({6, 4}).t());  // non-contiguous input
  st::save(dir / "a.safetensors", tensors, {{"format", "pt"}, {"note", "r1 test"}});

  st::File file(dir / "a.safetensors");
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("note"), "r1 test");
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    EXPECT_TRUE(same_bytes(file.get(name), t)) << name;
    EXPECT_TRUE(same_bytes(file.view(name), t)) << name;
  }
  EXPECT_EQ(file.find("t.BFloat16")->dtype, "BF16");
  EXPECT_EQ(file.find("t.Half")->dtype, "F16");
  EXPECT_EQ(file.find("scalar")->shape.size(), 0u);
  // The header is padded so the data section starts 8-byte aligned (zero-copy views).
  std::string bytes = r1::test::read_bytes(dir / "a.safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
}

TEST(Safetensors, ViewOutlivesTheFileObject) {
  TempDir dir;
  at::Tensor t = torch::arange(10, torch::kFloat);
  st::save(dir / "v.safetensors", {{"x", t}});
  at::Tensor view;
  { view = st::File(dir / "v.safetensors").view("x"); }
  EXPECT_TRUE(torch::equal(view, t));
}

TEST(Safetensors, ReadsAnUnalignedFileByCopying) {
  // Writers need not pad the header; a 3-byte-offset F32 tensor must still read correctly.
  TempDir dir;
  std::string header =
      R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}})";
  uint64_t n = header.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  bytes += header;
  bytes += std::string("\x01\x02\x03", 3);
  float values[2] = {1.5f, -2.25f};
  bytes.append(reinterpret_cast<const char*>(values), 8);
  r1::test::write_bytes(dir / "u.safetensors", bytes);
  st::File file(dir / "u.safetensors");
  at::Tensor b = file.view("b");
  EXPECT_FLOAT_EQ(b[0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(b[1].item<float>(), -2.25f);
}

TEST(Safetensors, ShardedRoundTripAndIndex) {
  TempDir dir;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (int i = 0; i < 7; ++i) tensors.emplace_back(fmt::format("w{}", i), sample(at::kBFloat16, {16, 32}));
  auto files = st::save_sharded(dir.path(), tensors, /*max_shard_bytes=*/2 * 16 * 32 * 2);  // 2 tensors per shard
  ASSERT_EQ(files.size(), 5u);                                                              // 4 shards + index
  EXPECT_TRUE(std::filesystem::exists(dir / "model-00001-of-00004.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "model-00004-of-00004.safetensors"));
  auto index = nlohmann::json::parse(r1::test::read_bytes(dir / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), 7u * 16 * 32 * 2);
  EXPECT_EQ(index["weight_map"]["w6"], "model-00004-of-00004.safetensors");

  auto collection = st::TensorCollection::open_directory(dir.path());
  EXPECT_EQ(collection.files().size(), 4u);
  for (const auto& [name, t] : tensors) EXPECT_TRUE(same_bytes(collection.view(name), t)) << name;

  // Re-saving unsharded removes the shards and the index (a stale index must not shadow the new file).
  st::save_sharded(dir.path(), tensors, 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model-00001-of-00004.safetensors"));
  auto single = st::TensorCollection::open_directory(dir.path());
  EXPECT_EQ(single.files().size(), 1u);
  EXPECT_TRUE(same_bytes(single.view("w3"), tensors[3].second));
}

TEST(Safetensors, SaveRejectsDuplicateNames) {
  TempDir dir;
  R1_EXPECT_THROW_WITH(st::save(dir / "d.safetensors", {{"x", torch::ones(1)}, {"x", torch::ones(1)}}), r1::Error,
                       "d.safetensors", "'x' given twice");
  EXPECT_FALSE(std::filesystem::exists(dir / "d.safetensors"));
}

class MalformedSafetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    st::save(dir_ / "good.safetensors", {{"a", torch::arange(6, torch::kFloat)}, {"b", torch::ones({2, 2})}});
    good_ = r1::test::read_bytes(dir_ / "good.safetensors");
  }
  // Writes `bytes` to bad.safetensors and expects opening it to fail with a message naming it + fragment.
  void expect_rejected(const std::string& bytes, const std::string& fragment) {
    r1::test::write_bytes(dir_ / "bad.safetensors", bytes);
    R1_EXPECT_THROW_WITH(st::File(dir_ / "bad.safetensors"), r1::Error, "bad.safetensors", fragment);
  }
  static std::string with_header(const std::string& header, const std::string& data) {
    uint64_t n = header.size();
    return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
  }
  TempDir dir_;
  std::string good_;
};

TEST_F(MalformedSafetensors, Truncated) {
  expect_rejected(good_.substr(0, good_.size() - 4), "truncated");
  expect_rejected(good_.substr(0, 5), "shorter than the 8-byte header");
  expect_rejected(good_.substr(0, 20), "exceeds");
}

TEST_F(MalformedSafetensors, TrailingBytes) { expect_rejected(good_ + "xx", "trailing bytes"); }

TEST_F(MalformedSafetensors, HugeHeaderLength) {
  std::string bytes = good_;
  uint64_t n = uint64_t(1) << 40;
  std::memcpy(bytes.data(), &n, 8);
  expect_rejected(bytes, "100 MB");
}

TEST_F(MalformedSafetensors, BadHeaders) {
  expect_rejected(with_header("[1,2]", ""), "does not start with '{'");
  expect_rejected(with_header("{\"a\": ", ""), "not valid JSON");
  expect_rejected(with_header(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", "abcd"),
                  "unknown dtype 'F33'");
  expect_rejected(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd"), "needs 8 bytes");
  expect_rejected(with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"), "shape");
  expect_rejected(with_header(R"({"a":{"dtype":"F32","shape":[1]}})", "abcd"), "data_offsets");
  expect_rejected(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "abcdefgh"), "gap");
  expect_rejected(
      with_header(
          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
          "abcd"),
      "overlaps");
  expect_rejected(with_header(R"({"__metadata__":{"format":1}})", ""), "metadata value");
}

TEST_F(MalformedSafetensors, MissingTensorAndUnsupportedDtypeAreNamed) {
  st::File file(dir_ / "good.safetensors");
  R1_EXPECT_THROW_WITH(file.view("nope"), r1::Error, "good.safetensors", "'nope'");
  r1::test::write_bytes(dir_ / "u16.safetensors",
                        with_header(R"({"a":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}})", "abcd"));
  st::File u16(dir_ / "u16.safetensors");  // a valid file: only reading the tensor into torch fails
  R1_EXPECT_THROW_WITH(u16.view("a"), r1::Error, "u16.safetensors", "U16");
}

TEST_F(MalformedSafetensors, ShardIndexProblemsAreNamed) {
  TempDir dir;
  auto write_index = [&](const std::string& map) {
    r1::test::write_bytes(dir / "model.safetensors.index.json", R"({"metadata":{},"weight_map":)" + map + "}");
  };
  write_index(R"({"a":"model-00001-of-00002.safetensors"})");
  R1_EXPECT_THROW_WITH(st::TensorCollection::open_directory(dir.path()), r1::Error, "model-00001-of-00002.safetensors",
                       "missing");
  write_index(R"({"a":"../good.safetensors"})");
  R1_EXPECT_THROW_WITH(st::TensorCollection::open_directory(dir.path()), r1::Error, "not a plain file name");
  std::filesystem::copy_file(dir_ / "good.safetensors", dir / "s1.safetensors");
  write_index(R"({"zzz":"s1.safetensors"})");
  R1_EXPECT_THROW_WITH(st::TensorCollection::open_directory(dir.path()), r1::Error, "'zzz'", "does not contain it");
  write_index("[]");
  R1_EXPECT_THROW_WITH(st::TensorCollection::open_directory(dir.path()), r1::Error, "weight_map");
  std::filesystem::remove(dir / "model.safetensors.index.json");
  R1_EXPECT_THROW_WITH(st::TensorCollection::open_directory(dir.path()), r1::Error, "no model.safetensors");
}

TEST_F(MalformedSafetensors, RandomCorruptionsAreRejectedCleanlyOrReadConsistently) {
  // 3000 random mutations (byte flips in the length and header, truncations, extensions): each file either
  // opens and every tensor reads with its declared size, or fails with r1::Error. Never a crash or UB.
  std::mt19937 rng(12345);
  uint64_t header_len;
  std::memcpy(&header_len, good_.data(), 8);
  int rejected = 0, accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = good_;
    switch (rng() % 3) {
      case 0:
        for (int k = 0; k < 1 + int(rng() % 3); ++k) bytes[rng() % (8 + header_len)] = char(rng());
        break;
      case 1:
        bytes.resize(rng() % bytes.size());
        break;
      default:
        bytes += std::string(1 + rng() % 16, char(rng()));
    }
    r1::test::write_bytes(dir_ / "m.safetensors", bytes);
    try {
      st::File f(dir_ / "m.safetensors");
      for (const auto& info : f.tensors()) {
        at::Tensor t;
        try {
          t = f.view(info.name);
        } catch (const r1::Error&) {
          continue;  // a dtype LibTorch lacks
        }
        EXPECT_EQ(uint64_t(t.numel()) * t.element_size(), info.end - info.begin);
      }
      ++accepted;
    } catch (const r1::Error& e) {
      EXPECT_NE(std::string(e.what()).find("m.safetensors"), std::string::npos) << e.what();
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 2000);
  EXPECT_GT(accepted, 0);  // e.g. flips inside a metadata-free name that keep the file valid
}
