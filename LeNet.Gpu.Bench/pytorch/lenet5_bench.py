#!/usr/bin/env python3
"""LeNet-5 in PyTorch with LeNet.Gpu's own weights: the peer for the GPU throughput numbers.

The same network as LeNet.Gpu (docs/pytorch.md), loading a LeNet.Gpu safetensors file with nothing but the
standard library and torch (the `safetensors` package is not needed):

    C1  conv 5x5 1->6 + bias                        (no squashing)
    S2  f(coefficient[m] * (2x2 sum, stride 2) + bias[m])
    C3  conv 5x5 6->16 + bias, Table I applied as zeroed weights (the file already has them zero; masked again here)
    S4  f(coefficient[m] * (2x2 sum) + bias[m])
    C5  f(conv 5x5 16->120 + bias)
    F6  f(linear 120->84)
    OUTPUT linear 84->10, then softmax
    f(a) = 1.7159 * tanh(2a/3) ("scaled-tanh") or sigmoid(a), as the file's metadata says.

Modes
    python3 lenet5_bench.py [--weights FILE] [--batches 1,64,...] [--output table.md]
        Times eager and torch.compile at each batch size on CUDA (images resident on the device, each call ended by
        torch.cuda.synchronize), plus torch.compile end to end (pinned host images in, probabilities and classes back
        in host memory: what LeNet.Gpu's IlgpuInferenceEngine.Predict does). Prints a markdown table of images/s.
        Where torch has no torch.compile (before 2.0), or with --no-compile, only eager is timed and the compiled
        columns say n/a. On the CPU (--device cpu), --threads N sets torch.set_num_threads(N); the table's header
        line says how many threads ran.
    python3 lenet5_bench.py --check [--weights FILE] [--compare FILE]
        Prints the probabilities of 8 fixed images, one line "k p0 ... p9" each. The same images come from
        `dotnet run --project LeNet.Gpu.Bench -c Release -- --probabilities MODEL DEVICE` (CheckInputs.cs);
        --compare reads that output and reports the largest difference (exit status 1 above --tolerance).

    python3 lenet5_bench.py --train [--batches 64] [--threads N] [--min-seconds S]
        Times one training step as LeNet.Gpu's CpuEngineTrainingBenchmarks runs it: forward to the logits,
        cross-entropy (softmax) loss averaged over the batch, backward, SGD with momentum 0.9 (learning rate 0.01),
        on seeded random images in the input range; prints images/s per batch size.

TF32 is switched off (convolutions and matmuls in true FP32, as LeNet.Gpu computes) unless --tf32 is given.
"""

import argparse
import json
import struct
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# Table I (LeCun et al., 1998): the S2 maps feeding each C3 map.
CONNECTIONS = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5], [0, 1, 2, 3], [1, 2, 3, 4],
               [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5], [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
               [0, 1, 2, 3, 4, 5]]

SHAPES = {
    "c1.weight": [6, 1, 5, 5], "c1.bias": [6],
    "s2.coefficient": [6], "s2.bias": [6],
    "c3.weight": [16, 6, 5, 5], "c3.bias": [16],
    "s4.coefficient": [16], "s4.bias": [16],
    "c5.weight": [120, 16, 5, 5], "c5.bias": [120],
    "f6.weight": [84, 120], "f6.bias": [84],
    "output.weight": [10, 84], "output.bias": [10],
}

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_WEIGHTS = REPOSITORY / "LeNet.Gpu" / "Shipped" / "lenet5-digits.safetensors"
CHECK_IMAGES = 8


def read_safetensors(path):
    """(tensors by name as float32 CPU tensors, metadata dict) of a safetensors file, read with struct and json."""
    data = Path(path).read_bytes()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    body = memoryview(data)[8 + header_length:]
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        flat = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.float32)  # little-endian, as written
        tensors[name] = flat.reshape(entry["shape"]).clone()
    missing = set(SHAPES) - set(tensors)
    unknown = set(tensors) - set(SHAPES)
    if missing or unknown:
        raise ValueError(f"{path}: missing tensors {sorted(missing)}, unknown tensors {sorted(unknown)}")
    for name, shape in SHAPES.items():
        if list(tensors[name].shape) != shape:
            raise ValueError(f"{path}: {name} has shape {list(tensors[name].shape)}, expected {shape}")
    return tensors, metadata


class LeNet5(nn.Module):
    """The forward pass of docs/pytorch.md, as plain functions over registered buffers (inference only)."""

    def __init__(self, tensors, squashing="scaled-tanh"):
        super().__init__()
        if squashing not in ("scaled-tanh", "sigmoid"):
            raise ValueError(f"unknown squashing {squashing!r}")
        self.scaled_tanh = squashing == "scaled-tanh"
        mask = torch.zeros(16, 6, 1, 1)
        for o, inputs in enumerate(CONNECTIONS):
            mask[o, inputs] = 1.0
        for name, tensor in tensors.items():
            value = tensor * mask if name == "c3.weight" else tensor
            self.register_buffer(name.replace(".", "_"), value.contiguous())

    def f(self, a):
        # The float32 constants 1.7159f and 2f/3f of LeNet.Gpu.
        return 1.7159 * torch.tanh(a * (2.0 / 3.0)) if self.scaled_tanh else torch.sigmoid(a)

    @staticmethod
    def subsample(x, coefficient, bias):
        block_sum = F.avg_pool2d(x, 2, divisor_override=1)  # the 2x2 sum, not the mean
        return block_sum * coefficient.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)

    def forward(self, x):  # x: [N, 1, 32, 32] -> probabilities [N, 10]
        x = F.conv2d(x, self.c1_weight, self.c1_bias)
        x = self.f(self.subsample(x, self.s2_coefficient, self.s2_bias))
        x = F.conv2d(x, self.c3_weight, self.c3_bias)
        x = self.f(self.subsample(x, self.s4_coefficient, self.s4_bias))
        x = self.f(F.conv2d(x, self.c5_weight, self.c5_bias).flatten(1))
        x = self.f(F.linear(x, self.f6_weight, self.f6_bias))
        return torch.softmax(F.linear(x, self.output_weight, self.output_bias), dim=1)


def load(path):
    tensors, metadata = read_safetensors(path)
    return LeNet5(tensors, metadata.get("squashing", "scaled-tanh"))


def check_images():
    """The 8 fixed images of CheckInputs.cs: pixel (y, x) of image k is -0.1 + 1.275 * (((37k + 11y + 7x) % 23) / 22),
    computed in double and rounded to float32."""
    values = [-0.1 + 1.275 * (((k * 37 + y * 11 + x * 7) % 23) / 22.0)
              for k in range(CHECK_IMAGES) for y in range(32) for x in range(32)]
    return torch.tensor(values, dtype=torch.float64).to(torch.float32).reshape(CHECK_IMAGES, 1, 32, 32)


def format_probabilities(probabilities):
    lines = []
    for k, row in enumerate(probabilities.tolist()):
        lines.append(" ".join([str(k)] + [f"{p:.9g}" for p in row]))
    return "\n".join(lines)


def check(model, device, compare, tolerance):
    with torch.inference_mode():
        probabilities = model(check_images().to(device)).float().cpu()
    print(format_probabilities(probabilities))
    if compare is None:
        return 0
    theirs = {}
    for line in Path(compare).read_text().split("\n"):
        fields = line.split()
        if len(fields) == 11 and fields[0].isdigit():
            theirs[int(fields[0])] = [float(v) for v in fields[1:]]
    if sorted(theirs) != list(range(CHECK_IMAGES)):
        print(f"{compare}: expected lines for images 0..{CHECK_IMAGES - 1}, found {sorted(theirs)}", file=sys.stderr)
        return 1
    worst = max(abs(p - theirs[k][c]) for k, row in enumerate(probabilities.tolist()) for c, p in enumerate(row))
    agree = all(max(range(10), key=lambda c: row[c]) == max(range(10), key=lambda c: theirs[k][c])
                for k, row in enumerate(probabilities.tolist()))
    print(f"largest difference from {compare}: {worst:.3g} (tolerance {tolerance:g}); classes "
          f"{'agree' if agree else 'DIFFER'}")
    return 0 if worst <= tolerance and agree else 1


def time_calls(call, synchronize, min_seconds, min_calls):
    """Mean seconds per call: calls until both min_calls and min_seconds are reached, timed between synchronizes."""
    synchronize()
    calls, start = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        if calls >= min_calls:
            synchronize()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                return elapsed / calls


def benchmark(model, device, batches, compile_mode, min_seconds, warmup, use_compile=True):
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    compiled = torch.compile(model, mode=compile_mode, dynamic=False) if use_compile else None
    generator = torch.Generator().manual_seed(2)
    rows = []
    with torch.inference_mode():
        for batch in batches:
            host = (torch.rand(batch, 1, 32, 32, generator=generator) * 1.275 - 0.1)
            if device.type == "cuda":
                host = host.pin_memory()
            resident = host.to(device)

            def end_to_end():
                probabilities = compiled(host.to(device, non_blocking=True))
                classes = probabilities.argmax(dim=1)
                return probabilities.to("cpu"), classes.to("cpu")  # blocking copies: the answers are in host memory

            row = {"batch": batch}
            cases = [("eager", lambda: model(resident))]
            if compiled is not None:
                cases += [("compiled", lambda: compiled(resident)), ("compiled, host in/out", end_to_end)]
            for name, call in cases:
                for _ in range(warmup):  # the first compiled call of each shape compiles
                    call()
                synchronize()
                seconds = time_calls(call, synchronize, min_seconds, min_calls=5)
                row[name] = batch / seconds
                print(f"batch {batch:>6} {name:<22} {seconds * 1e6:12.1f} us/call {batch / seconds:16,.0f} images/s",
                      file=sys.stderr, flush=True)
            rows.append(row)
    return rows


def table(rows, device_name, compile_mode, tf32, compile_note=None):
    columns = ["eager", "compiled", "compiled, host in/out"]
    compiling = f"torch.compile mode={compile_mode}" if compile_note is None else f"{compile_note}: compiled columns n/a"
    lines = [f"PyTorch {torch.__version__}, {device_name}, {compiling}, "
             f"TF32 {'on' if tf32 else 'off'}; images/s (batch / mean time per call, synchronised)",
             "",
             "| batch | " + " | ".join(columns) + " |",
             "|---:|" + "---:|" * len(columns)]
    for row in rows:
        lines.append(f"| {row['batch']:,} | " +
                     " | ".join(f"{row[c]:,.0f}" if c in row else "n/a" for c in columns) + " |")
    return "\n".join(lines)


def train(model, device, batches, min_seconds, warmup):
    """Images/s of a training step (forward, mean cross-entropy, backward, SGD with momentum) per batch size."""
    parameters = {}
    for name, buffer in list(model.named_buffers()):
        parameters[name] = nn.Parameter(buffer.clone())
    for name, parameter in parameters.items():
        delattr(model, name)
        model.register_parameter(name, parameter)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(3)
    rows = []
    for batch in batches:
        images = (torch.rand(batch, 1, 32, 32, generator=generator) * 1.275 - 0.1).to(device)
        labels = (torch.arange(batch) % 10).to(device)

        def step():
            optimizer.zero_grad(set_to_none=True)
            probabilities = model(images)
            loss = F.nll_loss(torch.log(probabilities), labels)
            loss.backward()
            optimizer.step()

        for _ in range(warmup):
            step()
        seconds = time_calls(step, lambda: None, min_seconds, 3)
        rows.append((batch, batch / seconds))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="LeNet.Gpu safetensors file")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", default="1,64,1024,16384,65536", help="comma-separated batch sizes")
    parser.add_argument("--compile-mode", default="default",
                        help="torch.compile mode: default, reduce-overhead (CUDA graphs), max-autotune, ...")
    parser.add_argument("--min-seconds", type=float, default=0.5, help="time each case at least this long")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="time eager only (compiled columns n/a)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads(N) (intra-op threads on the CPU)")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 in convolutions and matmuls")
    parser.add_argument("--output", help="also write the markdown table to this file")
    parser.add_argument("--check", action="store_true", help="print probabilities of the 8 fixed images")
    parser.add_argument("--compare", help="with --check: output of LeNet.Gpu.Bench --probabilities to compare with")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--train", action="store_true", help="time a training step instead (see Modes)")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    device = torch.device(args.device)
    model = load(args.weights).to(device).eval()

    if args.check:
        return check(model, device, args.compare, args.tolerance)
    if args.train:
        model.train()
        for batch, rate in train(model, device, [int(b) for b in args.batches.split(",") if b], args.min_seconds, args.warmup):
            print(f"train batch {batch}: {rate:,.0f} images/s ({torch.get_num_threads()} threads, PyTorch {torch.__version__})")
        return 0

    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        threads = torch.get_num_threads()
        device_name = f"{device.type.upper()}, {threads} thread{'s' if threads != 1 else ''}"
    compile_note = None
    if not hasattr(torch, "compile"):
        compile_note = "no torch.compile in this PyTorch (eager only)"
    elif args.no_compile:
        compile_note = "torch.compile not used (--no-compile)"
    batches = [int(b) for b in args.batches.split(",") if b]
    rows = benchmark(model, device, batches, args.compile_mode, args.min_seconds, args.warmup,
                     use_compile=compile_note is None)
    text = table(rows, device_name, args.compile_mode, args.tf32, compile_note)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
