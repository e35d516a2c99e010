"""Reference ViT in PyTorch following timm's VisionTransformer semantics and state-dict names
(Block, ParallelScalingBlock, RmsNorm / LayerNorm, QK-norm, AttentionPoolLatent, 'avg' with
or without fc_norm, 'token' with a class token). Our own code: timm is not imported.

usage: reference_vit.py CONFIG_JSON OUT_DIR
CONFIG_JSON: a vit22b model config plus "batch", "seed", "fuseOutProj" and "loss" ("softmax", the
default: mean cross-entropy; "sigmoid": the mean over examples of the summed per-class binary
cross-entropy against one-hot labels, as vit22b's sigmoid loss).
Writes to OUT_DIR:
  weights.safetensors  the random model's state dict (F32, timm names)
  input.safetensors    images (F32, [B, C, H, W]) and labels (I32, [B])
  reference.safetensors  logits, features, loss and grad.<name> for every parameter, computed in
                       float64 from the same F32 values (so they are the exact answer to compare with)
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class RmsNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def norm_layer(cfg):
    eps = cfg.get("normEps", 1e-6)
    if cfg["norm"] == "layernorm":
        return lambda dim: nn.LayerNorm(dim, eps=eps)
    return lambda dim: RmsNorm(dim, eps)


def act_layer(cfg):
    # timm's nn.GELU is the erf form; its 'gelu_tanh' the tanh form.
    approximate = "tanh" if cfg.get("gelu", "tanh") == "tanh" else "none"
    return lambda: nn.GELU(approximate=approximate)


def attend(q, k, v):
    """q, k, v: [B, H, N, Dh]; softmax(q k^T / sqrt(Dh)) v."""
    scale = q.shape[-1] ** -0.5
    return torch.softmax((q * scale) @ k.transpose(-2, -1), dim=-1) @ v


class Attention(nn.Module):
    def __init__(self, dim, heads, qkv_bias, qk_norm, proj_bias, norm):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.q_norm = norm(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm(self.head_dim) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim, bias=proj_bias)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        y = attend(self.q_norm(q), self.k_norm(k), v)
        return self.proj(y.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden, act, bias=True):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.act = act()
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """timm's LayerScale (init_values): a learned per-channel factor on a residual branch."""

    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, cfg, proj_bias):
        super().__init__()
        d, norm = cfg["width"], norm_layer(cfg)
        self.norm1 = norm(d)
        self.attn = Attention(d, cfg["heads"], cfg["qkvBias"], cfg["qkNorm"], proj_bias, norm)
        self.ls1 = LayerScale(d) if cfg.get("layerScale") else nn.Identity()
        self.norm2 = norm(d)
        self.mlp = Mlp(d, cfg["mlpDim"], act_layer(cfg), bias=proj_bias)
        self.ls2 = LayerScale(d) if cfg.get("layerScale") else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class ParallelScalingBlock(nn.Module):
    def __init__(self, cfg, proj_bias, fuse_out_proj):
        super().__init__()
        d, f, norm = cfg["width"], cfg["mlpDim"], norm_layer(cfg)
        self.heads = cfg["heads"]
        self.head_dim = d // self.heads
        self.in_norm = norm(d)
        self.in_proj = nn.Linear(d, f + 3 * d, bias=cfg["qkvBias"])
        self.in_split = [f, d, d, d]  # [mlp, q, k, v]
        # With qkv_bias the MLP bias lives in in_proj.bias; without, in its own parameter.
        self.mlp_bias = None if cfg["qkvBias"] else nn.Parameter(torch.zeros(f))
        self.q_norm = norm(self.head_dim) if cfg["qkNorm"] else nn.Identity()
        self.k_norm = norm(self.head_dim) if cfg["qkNorm"] else nn.Identity()
        self.mlp_act = act_layer(cfg)()
        if fuse_out_proj:
            self.out_proj = nn.Linear(d + f, d, bias=proj_bias)
            self.attn_out_proj = self.mlp_out_proj = None
        else:
            self.out_proj = None
            self.attn_out_proj = nn.Linear(d, d, bias=proj_bias)
            self.mlp_out_proj = nn.Linear(f, d, bias=proj_bias)

    def forward(self, x):
        B, N, C = x.shape
        x_mlp, q, k, v = torch.split(self.in_proj(self.in_norm(x)), self.in_split, dim=-1)
        if self.mlp_bias is not None:
            x_mlp = x_mlp + self.mlp_bias
        heads = lambda t: t.view(B, N, self.heads, self.head_dim)
        q = self.q_norm(heads(q)).transpose(1, 2)
        k = self.k_norm(heads(k)).transpose(1, 2)
        x_attn = attend(q, k, heads(v).transpose(1, 2)).transpose(1, 2).reshape(B, N, C)
        x_mlp = self.mlp_act(x_mlp)
        if self.out_proj is not None:
            y = self.out_proj(torch.cat((x_attn, x_mlp), dim=-1))
        else:
            y = self.attn_out_proj(x_attn) + self.mlp_out_proj(x_mlp)
        return x + y


class AttentionPoolLatent(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, norm = cfg["width"], norm_layer(cfg)
        self.heads = cfg["heads"]
        self.head_dim = d // self.heads
        self.latent = nn.Parameter(torch.zeros(1, 1, d))
        self.q = nn.Linear(d, d, bias=True)
        self.kv = nn.Linear(d, 2 * d, bias=True)
        self.proj = nn.Linear(d, d)
        self.norm = norm(d)
        self.mlp = Mlp(d, cfg["mlpDim"], act_layer(cfg))

    def forward(self, x):
        B, N, C = x.shape
        q = self.q(self.latent.expand(B, -1, -1)).reshape(B, 1, self.heads, self.head_dim).transpose(1, 2)
        k, v = self.kv(x).reshape(B, N, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        x = self.proj(attend(q, k, v).transpose(1, 2).reshape(B, 1, C))
        x = x + self.mlp(self.norm(x))
        return x[:, 0]


class PatchEmbed(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        p = cfg["patchSize"]
        self.proj = nn.Conv2d(cfg["channels"], cfg["width"], kernel_size=p, stride=p, bias=True)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    def __init__(self, cfg, fuse_out_proj):
        super().__init__()
        d = cfg["width"]
        tokens = (cfg["imageSize"] // cfg["patchSize"]) ** 2
        self.pool = cfg["pool"]
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if self.pool == "token" else None
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + (1 if self.pool == "token" else 0), d))
        if cfg["block"] == "parallel":
            blocks = [ParallelScalingBlock(cfg, True, fuse_out_proj) for _ in range(cfg["depth"])]
        else:
            blocks = [Block(cfg, cfg["mlpBias"]) for _ in range(cfg["depth"])]
        self.blocks = nn.ModuleList(blocks)
        # fc_norm (timm's default for global_pool='avg'): the norm moves after pooling, norm is Identity.
        self.fc_norm_on = bool(cfg.get("fcNorm", False))
        self.norm = nn.Identity() if self.fc_norm_on else norm_layer(cfg)(d)
        self.fc_norm = norm_layer(cfg)(d) if self.fc_norm_on else nn.Identity()
        self.attn_pool = AttentionPoolLatent(cfg) if self.pool == "map" else None
        self.head = nn.Linear(d, cfg["numClasses"])

    def forward(self, images):
        x = self.patch_embed(images)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        if self.pool == "map":
            features = self.attn_pool(x)
        elif self.pool == "gap":
            features = self.fc_norm(x.mean(dim=1))
        else:
            features = x[:, 0]
        return self.head(features), features


def randomize(model, gen):
    """Every parameter random (norm scales near 1), rounded to float32 so F32 files hold them exactly."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if name.endswith("norm.weight") or name.endswith("norm1.weight") or name.endswith("norm2.weight"):
                v = 1 + 0.2 * r
            elif p.dim() >= 2 and name not in ("pos_embed", "cls_token") and not name.endswith("latent"):
                fan_in = p[0].numel()
                v = r / math.sqrt(fan_in)
            else:
                v = 0.3 * r
            p.copy_(v.float().double())


DTYPES = {torch.float32: ("F32", 4), torch.float64: ("F64", 8), torch.int32: ("I32", 4)}


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        dtype, size = DTYPES[t.dtype]
        data = t.numpy().tobytes()
        assert len(data) == t.numel() * size
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for c in chunks:
            f.write(c)


def main():
    cfg = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    gen = torch.Generator().manual_seed(int(cfg.get("seed", 0)))
    model = VisionTransformer(cfg, bool(cfg.get("fuseOutProj", False))).double()
    randomize(model, gen)
    b, c, s = cfg["batch"], cfg["channels"], cfg["imageSize"]
    images = torch.randn((b, c, s, s), generator=gen, dtype=torch.float64).float().double()
    labels = torch.randint(0, cfg["numClasses"], (b,), generator=gen, dtype=torch.int64)

    logits, features = model(images)
    if cfg.get("loss", "softmax") == "sigmoid":
        targets = F.one_hot(labels, cfg["numClasses"]).double()
        loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / b
    else:
        loss = F.cross_entropy(logits, labels)
    loss.backward()

    params = dict(model.named_parameters())
    write_safetensors(os.path.join(out, "weights.safetensors"), {n: p.float() for n, p in params.items()})
    write_safetensors(os.path.join(out, "input.safetensors"), {"images": images.float(), "labels": labels.int()})
    ref = {"logits": logits, "features": features, "loss": loss.reshape(1)}
    ref.update({f"grad.{n}": p.grad for n, p in params.items()})
    write_safetensors(os.path.join(out, "reference.safetensors"), ref)


if __name__ == "__main__":
    main()
