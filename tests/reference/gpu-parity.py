#!/usr/bin/env python3
"""Parity of r1 with the real transformers and peft, on a machine that has them (scripts/gpu-check.sh runs it
on the GPU machine). Five cases, each logits of the same left-padded batch (3 rows of 40 tokens, rows 1 and 2
padded by 5 and 17; only real tokens compared):

  r1-llama       `r1 model init`: Llama 3 (grouped-query 8:2, llama3 RoPE scaling, untied head), loaded by
                 AutoModelForCausalLM
  r1-qwen2       `r1 model init`: Qwen2 (q/k/v biases, 6:2 heads, tied head, rope_theta 1e6)
  r1-llama-lora  a LoRA adapter (all linear layers, r 8) trained by `r1 sft --use_peft true` on CUDA in bf16,
                 loaded by peft's PeftModel on the r1-llama base
  hf-llama       transformers' save_pretrained (random weights, rope_theta 50000), loaded by r1
  hf-qwen2       likewise for Qwen2 (rope_theta 1e6)

Settings per case: CPU fp32 (transformers on the CPU vs r1's CPU forward, which runs r1's own kernels), CUDA fp32
(both attention paths of r1: the fused scaled_dot_product_attention and the explicit matmul + softmax) and CUDA
bf16 (weights loaded in bf16 on both sides). The measure is max |r1 - HF| / max |HF| over the real tokens.
Tolerances: fp32 1e-5. bf16 rounds every operation to 8 significant bits, and its error compounds through the
layers into several percent of the logits (the same on both sides, in their own orders), so bf16 is held to the
reference's own bf16 error e = |HF bf16 - HF fp32|: r1's bf16 logits within 2.5 e of transformers' bf16 logits
and within 2 e of its fp32 logits (r1's bf16 no less accurate than twice transformers'). The adapter row states
how far the adapter moves the logits, so its parity is not the base model's.

    python3 tests/reference/gpu-parity.py --r1 build/r1 --test-gpu build/tests/test-gpu --work /tmp/parity \\
        --out parity.json [--lib DIR]    (--lib: prepended to r1's LD_LIBRARY_PATH only)

r1's logits come from test-gpu's GpuParity test (R1_PARITY_DIR=work). Exit status 0 when every row is within
its tolerance. Prints a Markdown table and writes every number to --out. An H200's run (transformers 5.17, peft
0.21, PyTorch 2.11 + CUDA 13): tests/reference/gpu-parity-h200.json.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "tests" / "golden" / "tokenizer" / "r1-bpe"
FP32_TOLERANCE = 1e-5
BF16_VS_BF16 = 2.5  # x transformers' own bf16 error
BF16_VS_FP32 = 2.0
VOCAB = 1280  # the golden BPE tokenizer has 1200 tokens (the LoRA run trains on text)

R1_CONFIGS = {
    "r1-llama": {"model_type": "llama", "vocab_size": VOCAB, "hidden_size": 256, "intermediate_size": 512,
                 "num_hidden_layers": 3, "num_attention_heads": 8, "num_key_value_heads": 2,
                 "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 128,
                 "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
                 "tie_word_embeddings": False, "initializer_range": 0.1},
    "r1-qwen2": {"model_type": "qwen2", "vocab_size": VOCAB, "hidden_size": 192, "intermediate_size": 384,
                 "num_hidden_layers": 3, "num_attention_heads": 6, "num_key_value_heads": 2,
                 "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "max_position_embeddings": 128,
                 "tie_word_embeddings": True, "initializer_range": 0.1},
}
HF_CONFIGS = {  # (model_type, keyword arguments, rope_theta)
    "hf-llama": ("llama", dict(vocab_size=VOCAB, hidden_size=256, intermediate_size=512, num_hidden_layers=3,
                               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                               rms_norm_eps=1e-5, tie_word_embeddings=False), 50000.0),
    "hf-qwen2": ("qwen2", dict(vocab_size=VOCAB, hidden_size=128, intermediate_size=256, num_hidden_layers=3,
                               num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=128,
                               rms_norm_eps=1e-6, tie_word_embeddings=True), 1000000.0),
}

# ---- safetensors (the format is small; our own reader and writer keep this script to torch alone) ----------------
DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.bfloat16: "BF16"}


def save_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    by_name = {v: k for k, v in DTYPES.items()}
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = by_name[entry["dtype"]]
        if dtype == torch.bfloat16:
            t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype)
        out[name] = t.reshape(entry["shape"]).clone()
    return out


# ---- the transformers / peft side ----------------------------------------------------------------------------------
class Transformers:
    """transformers' and peft's models: write random models, compute logits."""

    def __init__(self):
        import transformers
        self.transformers = transformers
        self.major = int(transformers.__version__.split(".")[0])

    def versions(self):
        import peft
        return {"transformers": self.transformers.__version__, "peft": peft.__version__}

    def _dtype_kwargs(self, dtype):
        return {"dtype": dtype} if self.major >= 5 else {"torch_dtype": dtype}

    def write_model(self, name, out_dir):
        model_type, kwargs, theta = HF_CONFIGS[name]
        if self.major >= 5:  # transformers 5 keeps rope_theta inside rope_parameters
            kwargs = dict(kwargs, rope_parameters={"rope_type": "default", "rope_theta": theta})
        else:
            kwargs = dict(kwargs, rope_theta=theta)
        config = self.transformers.AutoConfig.for_model(model_type, **kwargs)
        torch.manual_seed(5 if model_type == "llama" else 6)
        model = self.transformers.AutoModelForCausalLM.from_config(config).float()
        with torch.no_grad():  # weights large enough that every term moves the logits
            for pname, p in model.named_parameters():
                if pname.endswith("norm.weight"):
                    p.copy_(1.0 + 0.1 * torch.randn_like(p))
                else:
                    p.normal_(0.0, 0.1)
        model.save_pretrained(out_dir)
        written = json.loads((Path(out_dir) / "config.json").read_text())
        return {k: written[k] for k in ("rope_theta", "rope_scaling", "rope_parameters", "dtype", "torch_dtype")
                if k in written}

    def logits(self, model_dir, adapter, dtype, device, ids, mask):
        model = self.transformers.AutoModelForCausalLM.from_pretrained(model_dir, **self._dtype_kwargs(dtype))
        if adapter:
            from peft import PeftModel
            model = PeftModel.from_pretrained(model, adapter)
        model = model.to(device).eval()
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: positions count real tokens, as r1's
        with torch.no_grad():
            out = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device))
        return out.logits.float().cpu()


# ---- helpers -------------------------------------------------------------------------------------------------------
def run(cmd, env=None, timeout=600):
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    start = time.time()
    done = subprocess.run([str(c) for c in cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    print(done.stdout, end="", flush=True)
    print(f"  (exit {done.returncode}, {time.time() - start:.1f} s)", flush=True)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {done.returncode}")
    return done.stdout


def relative(got, want, real):
    g, w = got[real].double(), want[real].double()
    return float((g - w).abs().max() / w.abs().max().clamp_min(1e-30)), float((g - w).abs().max())


def batch(seed):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 1200, (3, 40), generator=gen)
    mask = torch.ones(3, 40, dtype=torch.int64)
    for row, pad in ((1, 5), (2, 17)):
        mask[row, :pad] = 0
        ids[row, :pad] = 0
    return ids, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--r1", required=True)
    ap.add_argument("--test-gpu", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lib", default="", help="prepended to LD_LIBRARY_PATH for r1's processes only")
    args = ap.parse_args()
    hf = Transformers()
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    work = Path(args.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ)
    if args.lib:
        env["LD_LIBRARY_PATH"] = args.lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    report = {"versions": dict(hf.versions(), torch=torch.__version__, cuda=torch.version.cuda,
                               device=torch.cuda.get_device_name(0) if cuda else "cpu"),
              "tolerances": {"float32": FP32_TOLERANCE,
                             "bfloat16": f"{BF16_VS_BF16} e vs transformers bf16, {BF16_VS_FP32} e vs its fp32, "
                                         "e = |transformers bf16 - transformers fp32|"},
              "measure": "max |r1 - HF| / max |HF| over the real (unpadded) tokens", "cases": []}
    print(json.dumps(report["versions"]), flush=True)

    # 1. Models written by r1 (+ the tokenizer, for the LoRA run's text).
    cases = []
    ids, mask = batch(1)
    save_safetensors(work / "inputs.safetensors", {"input_ids": ids, "attention_mask": mask})
    for name, config in R1_CONFIGS.items():
        (work / f"{name}.json").write_text(json.dumps(config))
        run([args.r1, "--seed", "3", "model", "init", "--config", work / f"{name}.json", "--out", work / name], env)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(TOKENIZER / f, work / name / f)
        cases.append({"name": name, "model": str(work / name), "inputs": str(work / "inputs.safetensors"),
                      "written_by": "r1 model init"})

    # 2. A PEFT adapter written by r1: LoRA SFT on CUDA in bf16 (a high learning rate, so it moves the logits).
    with open(work / "chat.jsonl", "w") as f:
        for i in range(32):
            f.write(json.dumps({"messages": [{"role": "user", "content": f"What is {i} + {i}?"},
                                             {"role": "assistant", "content": f"It is {2 * i}."}]}) + "\n")
    run([args.r1, "sft", "--device", device, "--model_name_or_path", work / "r1-llama", "--dataset_name",
         work / "chat.jsonl", "--chat_template", "chatml", "--use_peft", "true", "--lora_r", "8", "--lora_alpha", "16",
         "--lora_dropout", "0", "--lora_target_modules", "all-linear", "--learning_rate", "2e-2", "--max_steps", "6",
         "--per_device_train_batch_size", "8", "--logging_steps", "2", "--bf16", "true", "--save_strategy", "no",
         "--output_dir", work / "r1-llama-lora"], env)
    cases.append({"name": "r1-llama-lora", "model": str(work / "r1-llama"), "adapter": str(work / "r1-llama-lora"),
                  "inputs": str(work / "inputs.safetensors"), "written_by": "r1 sft --use_peft (CUDA, bf16)"})

    # 3. Models written by transformers.
    written = {}
    for name in HF_CONFIGS:
        written[name] = hf.write_model(name, work / name)
        print(f"{name}: transformers wrote {json.dumps(written[name])}", flush=True)
        cases.append({"name": name, "model": str(work / name), "inputs": str(work / "inputs.safetensors"),
                      "written_by": "transformers save_pretrained"})
    report["transformers_rope_keys"] = written
    (work / "cases.json").write_text(json.dumps(cases, indent=1))

    # 4. r1's logits (test-gpu's GpuParity test), then transformers' / peft's, then the comparison.
    run([args.test_gpu, "--gtest_filter=GpuParity.*"], dict(env, R1_PARITY_DIR=str(work)))
    ok = True
    real = mask.bool()
    for case in cases:
        r1 = load_safetensors(work / f"{case['name']}.r1.safetensors")
        adapter = case.get("adapter")
        hf32_cpu = hf.logits(case["model"], adapter, torch.float32, "cpu", ids, mask)
        rows = [("CPU fp32", r1["cpu_float32"], hf32_cpu, FP32_TOLERANCE)]
        entry = {"name": case["name"], "written_by": case["written_by"], "rows": []}
        if cuda:
            hf32 = hf.logits(case["model"], adapter, torch.float32, "cuda", ids, mask)
            hf16 = hf.logits(case["model"], adapter, torch.bfloat16, "cuda", ids, mask)
            e = relative(hf16, hf32, real)[0]  # transformers' own bf16 error
            rows += [("CUDA fp32, fused attention", r1["cuda_float32"], hf32, FP32_TOLERANCE),
                     ("CUDA fp32, explicit attention", r1["cuda_float32_explicit"], hf32, FP32_TOLERANCE),
                     ("CUDA bf16 vs transformers bf16", r1["cuda_bfloat16"], hf16, BF16_VS_BF16 * e),
                     ("CUDA bf16 vs transformers fp32", r1["cuda_bfloat16"], hf32, BF16_VS_FP32 * e)]
            entry["bf16_from_fp32"] = {"r1": relative(r1["cuda_bfloat16"], hf32, real)[0], "hf": e}
        if adapter:  # how much the adapter moves the logits (so its parity is not the base model's)
            base = hf.logits(case["model"], None, torch.float32, "cpu", ids, mask)
            entry["adapter_effect"] = relative(hf32_cpu, base, real)[0]
        for setting, got, want, tolerance in rows:
            rel, diff = relative(got, want, real)
            passed = rel <= tolerance and bool(torch.isfinite(got[real]).all())
            ok = ok and passed
            entry["rows"].append({"setting": setting, "relative": rel, "max_abs": diff,
                                  "max_abs_logit": float(want[real].abs().max()), "tolerance": tolerance,
                                  "pass": passed})
        report["cases"].append(entry)
    report["pass"] = ok
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")

    print("\n| case | written by | setting | max abs diff | relative | tolerance | |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for entry in report["cases"]:
        for r in entry["rows"]:
            print(f"| {entry['name']} | {entry['written_by']} | {r['setting']} | {r['max_abs']:.2e} | "
                  f"{r['relative']:.2e} | {r['tolerance']:.1e} | {'ok' if r['pass'] else 'FAIL'} |")
    for entry in report["cases"]:
        if "bf16_from_fp32" in entry:
            b = entry["bf16_from_fp32"]
            print(f"{entry['name']}: bf16 vs fp32 logits: r1 {b['r1']:.2e}, transformers {b['hf']:.2e}")
        if "adapter_effect" in entry:
            print(f"{entry['name']}: the adapter moves the logits by {entry['adapter_effect']:.2e} (relative)")
    print(f"\nparity: {'PASS' if ok else 'FAIL'} ({args.out})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
