"""Runs the PyTorch module of docs/pytorch.md, as written there, for PyTorchPeerTests.cs.

The documentation's ```python block (the one defining LeNet5) is executed unchanged; this file only feeds it files
and writes raw little-endian arrays back. Every file a command names is raw: images float32 [N, 1, 32, 32],
labels int32 [N], results float64.

    forward  DOCS MODEL IMAGES N OUT
        load_lenet(MODEL) in float64; writes softmax(logits) [N, 10].
    train DOCS MODEL IMAGES LABELS N OPTIMIZER STEPS RATE DECAY OUT_STEP OUT_MODEL [MAP_J]
        load_lenet(MODEL) in float64, then STEPS steps on the same N images (mean cross-entropy) with
        torch.optim.SGD (OPTIMIZER "sgd": momentum 0.9) or torch.optim.Adam ("adam:EPS": betas 0.9, 0.999, eps EPS),
        weight decay DECAY; writes every parameter's change (after - before) in state_dict order to OUT_STEP, then
        the trained model, in float32, with the documentation's save_lenet to OUT_MODEL. An RBF model trains on the
        documentation's map_loss with j = MAP_J (an optional last argument, default 10).

The block imports Hugging Face's `safetensors` package. Where that package is missing (Debian 12 has PyTorch but
not safetensors), a stand-in module written from the format's specification (8-byte little-endian header length,
JSON header with dtype / shape / data_offsets and __metadata__, then the tensor bytes) takes its place, and says
so on stderr.
"""

import json
import re
import struct
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F


def safetensors_stand_in():
    """The three functions the documentation uses: safe_open(...).metadata(), load_file, save_file (F32 only)."""

    def read(path):
        data = Path(path).read_bytes()
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + length].decode("utf-8"))
        return header, data[8 + length:]

    class SafeOpen:
        def __init__(self, path, framework):
            self.header, _ = read(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def metadata(self):
            return self.header.get("__metadata__", {})

    def load_file(path):
        header, body = read(path)
        tensors = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            if entry["dtype"] != "F32":
                raise ValueError(f"{path}: {name} is {entry['dtype']}; this stand-in reads F32 only")
            begin, end = entry["data_offsets"]
            tensors[name] = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.float32).reshape(entry["shape"]).clone()
        return tensors

    def save_file(tensors, path, metadata=None):
        header, chunks, offset = {}, [], 0
        if metadata:
            header["__metadata__"] = metadata
        for name, tensor in tensors.items():
            raw = tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
            header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
            chunks.append(raw)
            offset += len(raw)
        text = json.dumps(header, separators=(",", ":")).encode("utf-8")
        text += b" " * (-len(text) % 8)  # the specification pads the header with spaces to an 8-byte boundary
        Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))

    package = types.ModuleType("safetensors")
    package.safe_open = SafeOpen
    package_torch = types.ModuleType("safetensors.torch")
    package_torch.load_file = load_file
    package_torch.save_file = save_file
    package.torch = package_torch
    return package, package_torch


def documentation_module(docs):
    """Executes the documentation's LeNet5 block and returns its namespace."""
    blocks = re.findall(r"```python\n(.*?)```", Path(docs).read_text(encoding="utf-8"), re.S)
    block = next((b for b in blocks if "class LeNet5" in b), None)
    if block is None:
        raise SystemExit(f"{docs}: no ```python block defining LeNet5")
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        print("safetensors package not installed: using the test's stand-in", file=sys.stderr)
        package, package_torch = safetensors_stand_in()
        sys.modules["safetensors"] = package
        sys.modules["safetensors.torch"] = package_torch
    namespace = {"__name__": "lenet_docs"}
    exec(compile(block, f"{docs} (python block)", "exec"), namespace)
    return namespace


def read_images(path, n):
    images = torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.float32)
    if images.numel() != n * 1024:
        raise SystemExit(f"{path}: {images.numel()} floats, expected {n} images of 32x32")
    return images.reshape(n, 1, 32, 32).to(torch.float64)


def write(path, tensor):
    Path(path).write_bytes(tensor.detach().to(torch.float64).contiguous().numpy().astype("<f8").tobytes())


def main(argv):
    command, docs = argv[1], argv[2]
    lenet = documentation_module(docs)
    torch.set_num_threads(1)
    if command == "forward":
        model_path, images_path, n, out = argv[3], argv[4], int(argv[5]), argv[6]
        model = lenet["load_lenet"](model_path).double().eval()
        with torch.no_grad():
            write(out, torch.softmax(model(read_images(images_path, n)), dim=1))
        return 0
    if command == "train":
        model_path, images_path, labels_path, n = argv[3], argv[4], argv[5], int(argv[6])
        optimizer_name, steps, rate, decay = argv[7], int(argv[8]), float(argv[9]), float(argv[10])
        out_step, out_model = argv[11], argv[12]
        map_j = float(argv[13]) if len(argv) > 13 else 10.0
        model = lenet["load_lenet"](model_path).double().train()
        labels = torch.frombuffer(bytearray(Path(labels_path).read_bytes()), dtype=torch.int32).to(torch.int64)
        if labels.numel() != n:
            raise SystemExit(f"{labels_path}: {labels.numel()} labels, expected {n}")
        images = read_images(images_path, n)
        before = [p.detach().clone() for p in model.state_dict().values()]
        if optimizer_name == "sgd":
            optimizer = torch.optim.SGD(model.parameters(), lr=rate, momentum=0.9, weight_decay=decay)
        elif optimizer_name.startswith("adam:"):
            epsilon = float(optimizer_name[len("adam:"):])
            optimizer = torch.optim.Adam(model.parameters(), lr=rate, betas=(0.9, 0.999), eps=epsilon, weight_decay=decay)
        else:
            raise SystemExit(f"unknown optimizer {optimizer_name!r}")
        losses = []
        for _ in range(steps):
            optimizer.zero_grad()
            if model.output_layer == "rbf":
                loss = lenet["map_loss"](model(images), labels, map_j)  # the mean over the batch
            else:
                loss = F.cross_entropy(model(images), labels)  # the mean over the batch
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        after = list(model.state_dict().values())
        write(out_step, torch.cat([(a - b).flatten() for a, b in zip(after, before)]))
        lenet["save_lenet"](model.float(), out_model, dataset=f"pytorch-{optimizer_name.split(':')[0]}")
        print("losses " + " ".join(f"{v:.17g}" for v in losses))
        return 0
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
