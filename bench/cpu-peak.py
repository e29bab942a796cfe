#!/usr/bin/env python3
"""The CPU's physical peak FLOP/s per dtype, for MFU: cores x FMA units x SIMD lanes x 2 x clock.

Reads /proc/cpuinfo (vendor, family, flags) and measures the clock the cores run at (a chain of dependent
integer adds, one per cycle, compiled with cc; best of 3): VMs report only a nominal clock, and a boosting CPU
runs above it. Without cc: cpufreq's cpuinfo_max_freq, else lscpu's "CPU max MHz", else /proc/cpuinfo's
"cpu MHz". CPU_GHZ=3.7 overrides all of them. Prints JSON: {"fp32_gflops", "bf16_gflops",
"derivation": [lines]}. Per core and cycle:
  fp32  Intel AVX-512: 2 FMA units x 16 lanes x 2 = 64; AMD Zen 4 (family 0x19): AVX-512 runs as two 256-bit
        halves on 2 FMA pipes: 2 x 8 x 2 = 32; AMD Zen 5 (family 0x1a): 2 x 16 x 2 = 64 (512-bit datapath);
        AVX2 + FMA: 2 x 8 x 2 = 32.
  bf16  AMX-BF16: one 16x16x32 tile product (8192 multiply-adds) per 16 cycles = 512 x 2 = 1024;
        AVX512-BF16 (vdpbf16ps, 32 multiply-adds per 512-bit instruction): 2 units x 32 x 2 = 128 (Zen 4: 64);
        otherwise as fp32 (bf16 is widened to fp32).
  bench/cpu-peak.py [--threads N]   (N = cores used; default: all online CPUs)
"""
import argparse
import json
import os
import subprocess
import tempfile

CLOCK_PROGRAM = r"""
#include <stdio.h>
#include <time.h>
int main(void) {
  long n = 100000000, x = 0;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; ++i)  /* 8 dependent adds: 8 cycles; the loop's own ops run beside them */
      __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                       "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ghz = 8.0 * n / ((b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec)) / 1e9;
    if (ghz > best) best = ghz;
  }
  printf("%.3f\n", best);
  return x == 0;
}
"""


def measured_ghz():
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "clock.c"), os.path.join(d, "clock")
        with open(src, "w") as f:
            f.write(CLOCK_PROGRAM)
        if subprocess.run(["cc", "-O2", src, "-o", exe], capture_output=True).returncode != 0:
            return None
        return float(subprocess.run([exe], capture_output=True, text=True).stdout)


def cpuinfo():
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" in line:
                k, v = line.split(":", 1)
                info.setdefault(k.strip(), v.strip())
    return info


def clock_ghz(info):
    if os.environ.get("CPU_GHZ"):
        return float(os.environ["CPU_GHZ"]), "CPU_GHZ from the environment"
    try:
        ghz = measured_ghz()
        if ghz:
            return ghz, "measured: dependent integer adds, one per cycle"
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as f:
            return int(f.read()) / 1e6, "cpufreq cpuinfo_max_freq (max boost)"
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("CPU max MHz:"):
                return float(line.split(":")[1]) / 1e3, "lscpu CPU max MHz"
    except OSError:
        pass
    mhz = float(info.get("cpu MHz", "0") or 0)
    return mhz / 1e3, "/proc/cpuinfo cpu MHz (no boost clock reported: the peak is a lower bound)"


def per_cycle(info):
    flags = set(info.get("flags", "").split())
    vendor = info.get("vendor_id", "")
    family = int(info.get("cpu family", "0"))
    avx512 = "avx512f" in flags
    if vendor == "AuthenticAMD" and family == 0x19 and avx512:
        fp32 = (32, "AMD Zen 4: 2 FMA pipes x 8 fp32 lanes (512-bit ops run as two 256-bit halves) x 2")
        bf16_dot = (64, "AVX512-BF16 at half rate: 2 pipes x 16 bf16 multiply-adds x 2")
    elif vendor == "AuthenticAMD" and family >= 0x1A and avx512:
        fp32 = (64, "AMD Zen 5: 2 FMA pipes x 16 fp32 lanes (512-bit datapath) x 2")
        bf16_dot = (128, "AVX512-BF16: 2 pipes x 32 bf16 multiply-adds x 2")
    elif avx512:
        fp32 = (64, "AVX-512: 2 FMA units x 16 fp32 lanes x 2")
        bf16_dot = (128, "AVX512-BF16: 2 units x 32 bf16 multiply-adds x 2")
    elif "avx2" in flags and "fma" in flags:
        fp32 = (32, "AVX2: 2 FMA units x 8 fp32 lanes x 2")
        bf16_dot = None
    else:
        fp32 = (8, "SSE: 2 units x 4 fp32 lanes (no FMA: one add + one mul per lane)")
        bf16_dot = None
    if "amx_bf16" in flags:
        bf16 = (1024, "AMX-BF16: a 16x16x32 tile product (8192 multiply-adds) per 16 cycles x 2")
    elif bf16_dot and "avx512_bf16" in flags:
        bf16 = bf16_dot
    else:
        bf16 = (fp32[0], "no bf16 instructions: as fp32")
    return vendor, family, fp32, bf16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    info = cpuinfo()
    ghz, clock_source = clock_ghz(info)
    vendor, family, fp32, bf16 = per_cycle(info)
    lines = [f"{info.get('model name', '?')} ({vendor}, family 0x{family:x}), {a.threads} core(s) at {ghz:.2f} GHz "
             f"({clock_source})"]
    out = {}
    for name, (flops, why) in (("fp32", fp32), ("bf16", bf16)):
        gflops = a.threads * flops * ghz
        out[f"{name}_gflops"] = gflops
        lines.append(f"{name} peak = {a.threads} cores x {flops} FLOP/cycle ({why}) x {ghz:.2f} GHz = {gflops:,.0f} GFLOP/s")
    out["derivation"] = lines
    print(json.dumps(out))


if __name__ == "__main__":
    main()
