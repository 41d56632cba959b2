#!/usr/bin/python3
"""Writes fuzz_hf_model seeds: a tiny random LLaMA (width 8, one layer, 16
tokens) in the Hugging Face layout, as one model.safetensors and as two
shards with an index, packed in the harness's input format."""
import json
import random
import struct
import sys

SEP = b"\n--slmrec-fuzz-file--\n"
H, HEADS, KV, HD, FFN, VOCAB = 8, 2, 1, 4, 16, 16
CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H,
          "num_attention_heads": HEADS, "num_key_value_heads": KV, "head_dim": HD, "intermediate_size": FFN,
          "num_hidden_layers": 1, "vocab_size": VOCAB, "max_position_embeddings": 32, "rms_norm_eps": 1e-6,
          "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False, "torch_dtype": "float32"}
TENSORS = [("model.embed_tokens.weight", [VOCAB, H]),
           ("model.layers.0.input_layernorm.weight", [H]),
           ("model.layers.0.self_attn.q_proj.weight", [HEADS * HD, H]),
           ("model.layers.0.self_attn.k_proj.weight", [KV * HD, H]),
           ("model.layers.0.self_attn.v_proj.weight", [KV * HD, H]),
           ("model.layers.0.self_attn.o_proj.weight", [H, HEADS * HD]),
           ("model.layers.0.post_attention_layernorm.weight", [H]),
           ("model.layers.0.mlp.gate_proj.weight", [FFN, H]),
           ("model.layers.0.mlp.up_proj.weight", [FFN, H]),
           ("model.layers.0.mlp.down_proj.weight", [H, FFN]),
           ("model.norm.weight", [H]),
           ("lm_head.weight", [VOCAB, H])]


def safetensors(tensors):
    rng = random.Random(7)
    header, data = {}, b""
    for name, shape in tensors:
        n = 1
        for s in shape:
            n *= s
        raw = struct.pack("<%df" % n, *[rng.gauss(0.0, 0.1) for _ in range(n)])
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def main(out_dir):
    config = json.dumps(CONFIG).encode()
    with open(f"{out_dir}/single", "wb") as f:
        f.write(b"\x00" + config + SEP + b"{}" + SEP + safetensors(TENSORS))
    first, second = TENSORS[:6], TENSORS[6:]
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {name: names[0] for name, _ in first} | {name: names[1] for name, _ in second}
    index = json.dumps({"metadata": {}, "weight_map": weight_map}).encode()
    with open(f"{out_dir}/sharded", "wb") as f:
        f.write(b"\x01" + config + SEP + index + SEP + safetensors(first) + SEP + safetensors(second))


if __name__ == "__main__":
    main(sys.argv[1])
