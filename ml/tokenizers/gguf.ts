// The tokenizer embedded in a GGUF file (`tokenizer.ggml.model` = "llama": SentencePiece-style BPE
// with byte fallback, as Llama-2 and TinyStories use), rebuilt as a Hugging Face tokenizer.json the
// way transformers' GGUF loader rebuilds it, then run by the same engine as any tokenizer.json:
//   vocabulary   tokenizer.ggml.tokens, ids in file order; "<0xNN>" tokens are the byte fallback
//   merges       none are stored: every split of a token into two tokens is a merge, ranked by the
//                merged token's score (higher first), ties by the longer left then right piece,
//                then file order — SentencePiece merges the pair whose piece scores highest
//   pre-tokenizer  Metaspace: spaces become "▁", and one "▁" is put before the text when
//                tokenizer.ggml.add_space_prefix is true (the default)
//   decoder      "▁" -> " ", byte tokens -> bytes, and the prefix space stripped
//   specials     the unknown/BOS/EOS/padding ids and every token of type CONTROL (3) are special
//                tokens; USER_DEFINED (4) ones are matched whole in text.
// BOS/EOS/pad ids come from tokenizer.ggml.{bos,eos,padding}_token_id (0xFFFFFFFF means none;
// a missing pad is the EOS). Whether the model wants BOS first: tokenizer.ggml.add_bos_token,
// default true for this tokenizer model (llama.cpp's default).
import type { GgufFile } from "../formats/gguf.ts";
import { TokenizerFormatError, quote } from "../formats/errors.ts";
import { PretrainedTokenizer } from "./pretrained.ts";

const NO_ID = 0xffffffff;
const TYPE_CONTROL = 3;
const TYPE_USER_DEFINED = 4;

/** Merges implied by a SentencePiece vocabulary and its scores (best first). */
export const mergesFromScores = (tokens: readonly string[], scores: readonly number[]): [string, string][] => {
  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => vocab.set(t, i));
  const scoreOf = new Map<string, number>();
  tokens.forEach((t, i) => scoreOf.set(t, scores[i]));
  const all: { l: string; r: string; score: number; ll: number; lr: number }[] = [];
  for (const [piece, score] of scoreOf) {
    const chars = Array.from(piece);
    const local: { l: string; r: string; score: number; ll: number; lr: number }[] = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join(""), r = chars.slice(k).join("");
      if (vocab.has(l) && vocab.has(r)) local.push({ l, r, score, ll: k, lr: chars.length - k });
    }
    local.sort((a, b) => vocab.get(a.l)! - vocab.get(b.l)! || vocab.get(a.r)! - vocab.get(b.r)!);
    all.push(...local);
  }
  all.sort((a, b) => b.score - a.score || b.ll - a.ll || b.lr - a.lr);
  return all.map((m) => [m.l, m.r]);
};

/** The Hugging Face tokenizer.json equivalent of a GGUF file's "llama" tokenizer. */
export const ggufTokenizerJson = (f: GgufFile): Record<string, unknown> => {
  const m = f.metadata;
  const kind = m["tokenizer.ggml.model"];
  if (kind === undefined)
    throw new TokenizerFormatError({ path: f.path, field: "tokenizer.ggml.model", message: `${f.path}: the GGUF file has no embedded tokenizer (tokenizer.ggml.model is missing); pass a tokenizer.json` });
  if (kind !== "llama")
    throw new TokenizerFormatError({ path: f.path, field: "tokenizer.ggml.model", message: `${f.path}: GGUF tokenizer model ${quote(kind)} is not supported (supported: "llama", SentencePiece-style BPE); pass the model's tokenizer.json instead` });
  const tokens = m["tokenizer.ggml.tokens"];
  const scores = m["tokenizer.ggml.scores"];
  const types = m["tokenizer.ggml.token_type"];
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string") || tokens.length === 0)
    throw new TokenizerFormatError({ path: f.path, field: "tokenizer.ggml.tokens", message: `${f.path}: tokenizer.ggml.tokens must be a non-empty array of strings` });
  if (!Array.isArray(scores) || scores.length !== tokens.length || !scores.every((s) => typeof s === "number"))
    throw new TokenizerFormatError({ path: f.path, field: "tokenizer.ggml.scores", message: `${f.path}: tokenizer.ggml.scores must be ${tokens.length} numbers (one per token) for a "llama" tokenizer` });
  if (types !== undefined && (!Array.isArray(types) || types.length !== tokens.length))
    throw new TokenizerFormatError({ path: f.path, field: "tokenizer.ggml.token_type", message: `${f.path}: tokenizer.ggml.token_type must have one entry per token (${tokens.length})` });
  const specialId = (key: string): number | undefined => {
    const v = m[`tokenizer.ggml.${key}`];
    if (v === undefined || v === NO_ID) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= tokens.length)
      throw new TokenizerFormatError({ path: f.path, field: `tokenizer.ggml.${key}`, message: `${f.path}: tokenizer.ggml.${key} = ${quote(v)} is not a token id (vocabulary of ${tokens.length})` });
    return v;
  };
  const vocab: Record<string, number> = {};
  (tokens as string[]).forEach((t, i) => { vocab[t] = i; });
  const special = new Set<number>();
  for (const k of ["unknown_token_id", "bos_token_id", "eos_token_id", "padding_token_id"]) {
    const id = specialId(k);
    if (id !== undefined) special.add(id);
  }
  const tt = (types ?? []) as number[];
  tt.forEach((t, i) => { if (t === TYPE_CONTROL) special.add(i); });
  const addedIds = [...special, ...tt.flatMap((t, i) => (t === TYPE_USER_DEFINED && !special.has(i) ? [i] : []))].sort((a, b) => a - b);
  const prefix = m["tokenizer.ggml.add_space_prefix"] !== false;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedIds.map((id) => ({ id, content: tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: special.has(id) })),
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: prefix ? "first" : "never", split: false },
    post_processor: { type: "TemplateProcessing", single: [{ Sequence: { id: "A", type_id: 0 } }], pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }], special_tokens: {} },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        ...(prefix ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab, merges: mergesFromScores(tokens as string[], scores as number[]),
    },
  };
};

/** The tokenizer embedded in an opened GGUF file. */
export const loadGgufTokenizer = (f: GgufFile): PretrainedTokenizer => {
  const json = ggufTokenizerJson(f);
  const id = (key: string): number | undefined => {
    const v = f.metadata[`tokenizer.ggml.${key}`];
    return typeof v === "number" && v !== NO_ID ? v : undefined;
  };
  const eos = id("eos_token_id");
  if (eos === undefined)
    throw new TokenizerFormatError({ path: f.path, field: "tokenizer.ggml.eos_token_id", message: `${f.path}: the GGUF tokenizer names no EOS token (tokenizer.ggml.eos_token_id); acft needs one to stop generation` });
  const bos = id("bos_token_id");
  const addBos = f.metadata["tokenizer.ggml.add_bos_token"];
  return new PretrainedTokenizer(json, {
    source: f.path, eos, bos: bos ?? eos, pad: id("padding_token_id") ?? eos,
    addBos: typeof addBos === "boolean" ? addBos : bos !== undefined,
  });
};
