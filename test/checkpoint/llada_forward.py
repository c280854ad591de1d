"""LLaDA's forward pass in numpy, written for the tests from the public modeling_llada.py (LLaDAModel.forward with
LLaDALlamaBlock, RMSLayerNorm, RotaryEmbedding), reading a Hugging Face-layout directory on its own: config.json,
model.safetensors or the shards of model.safetensors.index.json, in F32, BF16 or F16.

    python3 llada_forward.py DIR '[[ids...], ...]' '[[mask...], ...]'   ->   logits as JSON, [B][L][V]

Only the configuration the project exports is accepted (asserted below); the point is an independent reading of the
directory and an independent implementation of the network, to compare with the TypeScript model's logits.
"""
import json
import os
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        buf = data[begin:end]
        if e["dtype"] == "F32":
            x = np.frombuffer(buf, dtype="<f4")
        elif e["dtype"] == "F16":
            x = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        elif e["dtype"] == "BF16":  # bf16 is the high half of a float32
            x = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: {name}: dtype {e['dtype']}")
        out[name] = x.reshape(e["shape"]).astype(np.float32)
    return out


def read_weights(d):
    index = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    w = {}
    for f in files:
        w.update(read_safetensors(os.path.join(d, f)))
    return w


def rms_norm(x, weight, eps):  # RMSLayerNorm: x * rsqrt(mean(x^2) + eps), in float32, times the weight
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope(x, theta):  # RotaryEmbedding: positions cat(freqs, freqs); rotate_half splits the head in two halves
    T, hs = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / theta ** (np.arange(0, hs, 2, dtype=np.float32) / hs)
    freqs = np.outer(np.arange(T, dtype=np.float32), inv_freq)
    pos = np.concatenate([freqs, freqs], axis=-1)
    x1, x2 = x[..., : hs // 2], x[..., hs // 2 :]
    return x * np.cos(pos) + np.concatenate([-x2, x1], axis=-1) * np.sin(pos)


def forward(d, ids, mask):
    c = json.load(open(os.path.join(d, "config.json")))
    assert c["block_type"] == "llama" and c["activation_type"] == "silu" and c["layer_norm_type"] == "rms"
    assert c["rope"] and not c["alibi"] and not c["weight_tying"] and not c["include_bias"]
    w = read_weights(d)
    t = "model.transformer."
    B, T = ids.shape
    H, C = c["n_heads"], c["d_model"]
    eps = c["rms_norm_eps"]
    x = w[t + "wte.weight"][ids]  # (B, T, C)
    # attention_mask -> (1 - mask) * finfo.min added to the scores of padded keys
    bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
    for i in range(c["n_layers"]):
        b = f"{t}blocks.{i}."
        h = rms_norm(x, w[b + "attn_norm.weight"], eps)
        q, k, v = (h @ w[b + p + ".weight"].T for p in ("q_proj", "k_proj", "v_proj"))
        q, k, v = (y.reshape(B, T, H, C // H).transpose(0, 2, 1, 3) for y in (q, k, v))  # (B, nh, T, hs)
        q, k = rope(q, c["rope_theta"]), rope(k, c["rope_theta"])
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(C // H) + bias  # (B, nh, T, T), no causal mask
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        att = (s / s.sum(axis=-1, keepdims=True)) @ v
        x = x + att.transpose(0, 2, 1, 3).reshape(B, T, C) @ w[b + "attn_out.weight"].T
        h = rms_norm(x, w[b + "ff_norm.weight"], eps)
        g = h @ w[b + "ff_proj.weight"].T
        x = x + ((g / (1.0 + np.exp(-g))) * (h @ w[b + "up_proj.weight"].T)) @ w[b + "ff_out.weight"].T
    x = rms_norm(x, w[t + "ln_f.weight"], eps)
    return x @ w[t + "ff_out.weight"].T


if __name__ == "__main__":
    ids = np.array(json.loads(sys.argv[2]), dtype=np.int64)
    mask = np.array(json.loads(sys.argv[3]), dtype=np.float32)
    print(json.dumps(forward(sys.argv[1], ids, mask).astype(np.float64).tolist()))
