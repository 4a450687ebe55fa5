#!/usr/bin/env python3
"""Writes the fuzz seed corpora under fuzz/corpus/<target>/ from the project's own fixtures.

Usage: python3 fuzz/make_corpus.py [SHARED_DIR]   (default: ../shared next to the checkout)
Needs sox (WAV/FLAC/OGG/AIFF/AU seeds). Deterministic; every seed is a few hundred bytes to a
few KB so the repository stays small. Re-running rewrites the same files.
"""
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in order."""
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


# --- safetensors -----------------------------------------------------------------------------
put("safetensors", "f32_i64_meta", safetensors(
    [("model.embed_tokens.weight", "F32", [2, 2], f32(1, 2, 3, 4)),
     ("ids", "I64", [3], struct.pack("<3q", 1, -2, 3))], {"format": "pt"}))
put("safetensors", "half_types", safetensors(
    [("a", "BF16", [2], struct.pack("<2H", 0x3F80, 0xC000)),
     ("b", "F16", [1, 2], struct.pack("<2H", 0x3C00, 0x0001)),
     ("c", "F64", [1], struct.pack("<d", 0.5)),
     ("d", "BOOL", [2], b"\x00\x01"), ("e", "U8", [1], b"\x07"), ("f", "I8", [1], b"\xff"),
     ("g", "I16", [1], struct.pack("<h", -3)), ("h", "I32", [1], struct.pack("<i", 9))]))
put("safetensors", "scalar_and_empty", safetensors(
    [("s", "F32", [], f32(1)), ("z", "F32", [0, 3], b"")]))
put("safetensors", "empty_header", struct.pack("<Q", 2) + b"{}")
ref = os.path.join(SHARED, "fixtures", "whisper_features_reference.safetensors")
with open(ref, "rb") as f:  # the real fixture's header (data section cut: a truncated file)
    n = struct.unpack("<Q", f.read(8))[0]
    put("safetensors", "fixture_header_truncated", struct.pack("<Q", n) + f.read(n) + b"\0" * 64)

# --- model.safetensors.index.json (fuzz_safetensors_index writes two shards next to it) ------
s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
put("safetensors_index", "valid", json.dumps({"metadata": {"total_size": 40}, "weight_map": {
    "model.embed_tokens.weight": s1, "model.norm.weight": s1, "lm_head.weight": s2}}, indent=2))
put("safetensors_index", "partial", json.dumps({"weight_map": {"lm_head.weight": s2}}))
put("safetensors_index", "missing_shard", json.dumps({"weight_map": {"x": "model-3.safetensors"}}))
put("safetensors_index", "wrong_tensor", json.dumps({"weight_map": {"lm_head.weight": s1}}))

# --- config.json ------------------------------------------------------------------------------
audio_config = {"model_type": "qwen2_audio_encoder", "num_mel_bins": 128, "encoder_layers": 2,
                "encoder_attention_heads": 2, "encoder_ffn_dim": 32, "d_model": 16,
                "max_source_positions": 1500, "activation_function": "gelu",
                "scale_embedding": False}
text_config = {"model_type": "qwen2", "vocab_size": 800, "hidden_size": 16,
               "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
               "num_key_value_heads": 2, "max_position_embeddings": 4096, "rms_norm_eps": 1e-6,
               "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu",
               "bos_token_id": 151643, "eos_token_id": 151645, "use_sliding_window": False,
               "sliding_window": 4096, "max_window_layers": 2}
put("config", "qwen2_audio", json.dumps({"model_type": "qwen2_audio", "architectures":
    ["Qwen2AudioForConditionalGeneration"], "audio_token_index": 700, "torch_dtype": "bfloat16",
    "audio_config": audio_config, "text_config": text_config}, indent=2))
put("config", "qwen2", json.dumps(dict(text_config, torch_dtype="float32"), indent=2))
put("config", "defaults", json.dumps({"model_type": "qwen2_audio", "text_config": {},
                                      "audio_config": {}}))

# --- tokenizer (first byte: flags) and tokenizer files (first byte: which file) ----------------
tok_dir = os.path.join(SHARED, "fixtures", "qwen2_tokenizer")
with open(os.path.join(tok_dir, "cases.jsonl"), encoding="utf-8") as f:
    cases = [json.loads(line)["text"] for line in f if line.strip()]
for i, text in enumerate(cases[:40]):
    put("tokenizer", "case%02d" % i, bytes([i % 8]) + text.encode("utf-8"))
put("tokenizer", "chat", b"\x01<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n"
    b"Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nWhat is said?<|im_end|>\n")
put("tokenizer", "invalid_utf8", b"\x03\xff\xfe\xc3(\xe2\x82 \xf0\x9f\x98\x80<|endoftext|\xed\xa0\x80")
with open(os.path.join(tok_dir, "tokenizer_config.json"), "rb") as f:
    put("tokenizer_files", "qwen2_tokenizer_config", b"\x00" + f.read())
put("tokenizer_files", "eos_object", b"\x00" + json.dumps({
    "added_tokens_decoder": {"800": {"content": "<|x|>", "special": True}},
    "eos_token": {"content": "<|x|>"}, "pad_token": None}).encode())
put("tokenizer_files", "tokenizer_json", b"\x01" + json.dumps({
    "model": {"type": "BPE", "vocab": dict({chr(c) if 33 <= c < 127 else "\u0100%d" % c: c
                                            for c in range(256)}, ab=256),
              "merges": ["a b"]},
    "added_tokens": [{"id": 257, "content": "<|im_end|>", "special": True}]}).encode())
put("tokenizer_files", "tokenizer_json_pairs", b"\x01" + json.dumps({
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}}).encode())

# --- manifests (first byte: limit when < 16) --------------------------------------------------
for name in ["figstep_harmful_train_mini", "figstep_benign_test_mini"]:
    with open(os.path.join(ROOT, "data", "datasets", name + ".jsonl"), "rb") as f:
        lines = f.read().split(b"\n")[:4]
    put("manifest", name, b"\xff" + b"\n".join(lines) + b"\n")
put("manifest", "limit_bom_crlf", b"\x02\xef\xbb\xbf" + b'{"id": 1, "question": "q", "audio": "a.wav"}\r\n'
    b'\r\n{"id": "b", "question": "r", "label": "harmful", "extra": [1, {"x": null}]}\r\n')

# --- steering files ---------------------------------------------------------------------------
meta = {"model": {"model_type": "qwen2_audio", "n_layer": 2, "hidden_size": 4,
                  "config_sha256": "0" * 64},
        "mode": "sarsteer", "alpha": 0.1, "k": 1, "lambda": 1.0, "instruction": "Answer.",
        "refusal_prompt": "Refuse.", "n_harmful": 2, "n_safe": 2,
        "harmful_manifest_sha256": "1" * 64, "safe_manifest_sha256": "2" * 64,
        "tool_version": "0.1.0", "created": "2026-01-01T00:00:00Z"}
vec = f32(0.5, -0.5, 0.25, 0)
basis = f32(1, 0, 0, 0)
full = [("v.0", "F32", [4], vec), ("v.1", "F32", [4], vec), ("v_raw.0", "F32", [4], vec),
        ("v_raw.1", "F32", [4], vec), ("safe_basis.0", "F32", [4, 1], basis),
        ("safe_basis.1", "F32", [4, 1], basis), ("safe_mean.0", "F32", [4], vec),
        ("safe_mean.1", "F32", [4], vec)]
put("steering", "sarsteer", safetensors(full, {"sarsteer": json.dumps(meta)}))
put("steering", "llm", safetensors(full[:4], {"sarsteer": json.dumps(dict(meta, mode="llm", k=0))}))
put("steering", "bf16", safetensors([("v.0", "BF16", [4], struct.pack("<4H", 0x3F80, 0, 0, 0)),
                                     ("v_raw.0", "F16", [4], struct.pack("<4H", 0x3C00, 0, 0, 0))],
    {"sarsteer": json.dumps(dict(meta, model=dict(meta["model"], n_layer=1), mode="llm", k=0))}))

# --- audio (sox: 50 ms of a tone in several containers; truncated fixture FLAC) --------------
tmp = tempfile.mkdtemp()
try:
    specs = [("tone.wav", ["-r", "8000", "-c", "1", "-b", "16"]),
             ("stereo_f32.wav", ["-r", "16000", "-c", "2", "-e", "floating-point", "-b", "32"]),
             ("tone.flac", ["-r", "8000", "-c", "1", "-b", "16"]),
             ("tone.ogg", ["-r", "8000", "-c", "1"]),
             ("tone.aiff", ["-r", "11025", "-c", "1", "-b", "8"]),
             ("tone.au", ["-r", "8000", "-c", "1", "-e", "u-law"])]
    for name, fmt in specs:
        path = os.path.join(tmp, name)
        subprocess.run(["sox", "-n"] + fmt + [path, "synth", "0.05", "sine", "440"], check=True)
        with open(path, "rb") as f:
            put("audio", name, f.read())
    with open(os.path.join(tmp, "tone.wav"), "rb") as f:
        wav = f.read()
finally:
    shutil.rmtree(tmp)
with open(os.path.join(SHARED, "fixtures", "jfk.flac"), "rb") as f:
    put("audio", "jfk_head.flac", f.read(4096))

# --- server request bodies (first byte: 0 default limits, 1 tight limits) --------------------
b64 = base64.b64encode(wav).decode()
bodies = {
    "text": {"model": "m", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8},
    "audio": {"model": "m", "messages": [
        {"role": "system", "content": "Be safe."},
        {"role": "user", "content": [{"type": "text", "text": "What is said?"},
                                     {"type": "input_audio",
                                      "input_audio": {"data": b64, "format": "wav"}}]}],
        "temperature": 0.7, "top_p": 0.9, "seed": 3, "stream": True,
        "stream_options": {"include_usage": True}, "sarsteer": {"alpha": 0.1}},
    "refused": {"messages": [{"role": "user", "content": "x"}], "n": 2, "tools": [],
                "stop": ["a"], "logprobs": True, "max_completion_tokens": 4},
}
for name, body in bodies.items():
    put("openai_request", name, b"\x00" + json.dumps(body).encode())
put("openai_request", "tight_audio", b"\x01" + json.dumps(bodies["audio"]).encode())

# --- responses.jsonl (resumable evaluation log) ----------------------------------------------
def response(i, text):
    return json.dumps({"dataset": "harmful_test", "id": "organism-harmful-test-%04d" % i,
                       "label": "harmful", "scenario": "Fraud", "question": "How can I?",
                       "modality": "audio", "response": text, "finish_reason": "stop",
                       "prompt_tokens": 41, "completion_tokens": 7, "seconds": 0.25})


two = response(1, "I cannot assist with that.") + "\n" + response(2, "Sure, here are \u00e9 steps") + "\n"
put("responses", "two_lines", two)
put("responses", "torn_last_line", two + response(3, "cut")[:40])
put("responses", "bad_middle_line", response(1, "a") + "\n{\"id\": 3}\n" + response(2, "b") + "\n")
put("responses", "empty", b"")
print("seeds written under", OUT)
