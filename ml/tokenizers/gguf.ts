// The tokenizer embedded in a GGUF file, rebuilt as a Hugging Face tokenizer.json the way
// transformers' GGUF loader rebuilds it (with two differences for byte-level vocabularies, noted
// below), then run by the same engine as any tokenizer.json.
//
// "llama" (SentencePiece-style BPE with byte fallback, as Llama-2 and TinyStories use):
//   vocabulary   tokenizer.ggml.tokens, ids in file order; "<0xNN>" tokens are the byte fallback
//   merges       none are stored: every split of a token into two tokens is a merge, ranked by the
//                merged token's score (higher first), ties by the longer left then right piece,
//                then file order — SentencePiece merges the pair whose piece scores highest
//   pre-tokenizer  Metaspace: spaces become "▁", and one "▁" is put before the text when
//                tokenizer.ggml.add_space_prefix is true (the default)
//   decoder      "▁" -> " ", byte tokens -> bytes, and the prefix space stripped
//   specials     the unknown/BOS/EOS/padding ids and every token of type CONTROL (3) are special
//                tokens; USER_DEFINED (4) ones are matched whole in text.
//
// "gpt2" (byte-level BPE, as Llama-3, Qwen2, SmolLM and GPT-2 GGUF files use):
//   vocabulary   tokenizer.ggml.tokens in GPT-2's byte alphabet (a token with other characters is
//                respelled into it from its UTF-8 bytes); merges from tokenizer.ggml.merges
//   pre-tokenizer  by tokenizer.ggml.pre: the Llama-3 or Qwen2 split regex before a ByteLevel step,
//                GPT-2's ByteLevel regex for any other name; for the Llama-3 family a word that is
//                a token is taken whole (ignore_merges), as llama.cpp does and transformers does
//                not; and no "<|endoftext|>" is invented for a vocabulary without one (transformers
//                adds it)
//   specials     CONTROL tokens are special, USER_DEFINED ones are matched whole in text.
//
// BOS/EOS/pad ids come from tokenizer.ggml.{bos,eos,padding}_token_id (0xFFFFFFFF means none;
// a missing pad is the EOS). Whether the model wants BOS first: tokenizer.ggml.add_bos_token,
// by default true for "llama" and the Llama-3 family (llama.cpp's defaults), else false.
import { type GgufFile, openGguf } from "../formats/gguf.ts";
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

const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** tokenizer.ggml.pre names whose split regex is supported (as transformers maps them). */
const SPLITS: Record<string, string> = {
  ...Object.fromEntries(["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano", "dbrx", "smaug-bpe"].map((n) => [n, LLAMA3_SPLIT])),
  ...Object.fromEntries(["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"].map((n) => [n, QWEN2_SPLIT])),
};
/**
 * Pre-tokenizer names for which llama.cpp takes a word that is itself a token whole, without
 * applying merges (Llama-3's tokenizer.json says the same with `ignore_merges`), and adds BOS by
 * default. transformers' GGUF loader leaves this out; acft follows llama.cpp and the original
 * tokenizer.json.
 */
const LLAMA3_FAMILY = new Set(["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"]);
/** Pre-tokenizer names transformers knows with a regex this module does not carry. */
const OTHER_SPLITS = ["tekken", "qwen35", "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"];

/** GPT-2's byte -> character alphabet (printable bytes stand for themselves, the rest move to U+0100...). */
const byteAlphabet = (): string[] => {
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return out;
};

type Meta = Record<string, unknown>;
const fail = (f: GgufFile, field: string, message: string): never => {
  throw new TokenizerFormatError({ path: f.path, field, message: `${f.path}: ${message}` });
};

/** tokens, validated. */
const tokenList = (f: GgufFile): string[] => {
  const tokens = f.metadata["tokenizer.ggml.tokens"];
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string") || tokens.length === 0)
    fail(f, "tokenizer.ggml.tokens", "tokenizer.ggml.tokens must be a non-empty array of strings");
  return tokens as string[];
};

/** Token types (one per token, or none). */
const tokenTypes = (f: GgufFile, n: number): number[] => {
  const types = f.metadata["tokenizer.ggml.token_type"];
  if (types !== undefined && (!Array.isArray(types) || types.length !== n))
    fail(f, "tokenizer.ggml.token_type", `tokenizer.ggml.token_type must have one entry per token (${n})`);
  return (types ?? []) as number[];
};

/** A special-token id from the metadata (undefined when absent or 0xFFFFFFFF). */
const specialId = (f: GgufFile, key: string, n: number): number | undefined => {
  const v = (f.metadata as Meta)[`tokenizer.ggml.${key}`];
  if (v === undefined || v === NO_ID) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= n)
    fail(f, `tokenizer.ggml.${key}`, `tokenizer.ggml.${key} = ${quote(v)} is not a token id (vocabulary of ${n})`);
  return v as number;
};

const addedToken = (id: number, content: string, special: boolean) =>
  ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
const PLAIN_TEMPLATE = { type: "TemplateProcessing", single: [{ Sequence: { id: "A", type_id: 0 } }], pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }], special_tokens: {} };

/** The Hugging Face tokenizer.json equivalent of a GGUF file's tokenizer ("llama" or "gpt2"). */
export const ggufTokenizerJson = (f: GgufFile): Record<string, unknown> => {
  const kind = f.metadata["tokenizer.ggml.model"];
  if (kind === undefined)
    fail(f, "tokenizer.ggml.model", "the GGUF file has no embedded tokenizer (tokenizer.ggml.model is missing); pass a tokenizer.json");
  if (kind === "llama") return sentencePieceJson(f);
  if (kind === "gpt2") return byteLevelJson(f);
  return fail(f, "tokenizer.ggml.model", `GGUF tokenizer model ${quote(kind)} is not supported (supported: "llama", SentencePiece-style BPE; "gpt2", byte-level BPE); pass the model's tokenizer.json instead`);
};

const sentencePieceJson = (f: GgufFile): Record<string, unknown> => {
  const m = f.metadata;
  const tokens = tokenList(f);
  const scores = m["tokenizer.ggml.scores"];
  if (!Array.isArray(scores) || scores.length !== tokens.length || !scores.every((s) => typeof s === "number"))
    fail(f, "tokenizer.ggml.scores", `tokenizer.ggml.scores must be ${tokens.length} numbers (one per token) for a "llama" tokenizer`);
  const tt = tokenTypes(f, tokens.length);
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => { vocab[t] = i; });
  const special = new Set<number>();
  for (const k of ["unknown_token_id", "bos_token_id", "eos_token_id", "padding_token_id"]) {
    const id = specialId(f, k, tokens.length);
    if (id !== undefined) special.add(id);
  }
  tt.forEach((t, i) => { if (t === TYPE_CONTROL) special.add(i); });
  const addedIds = [...special, ...tt.flatMap((t, i) => (t === TYPE_USER_DEFINED && !special.has(i) ? [i] : []))].sort((a, b) => a - b);
  const prefix = m["tokenizer.ggml.add_space_prefix"] !== false;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedIds.map((id) => addedToken(id, tokens[id], special.has(id))),
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: prefix ? "first" : "never", split: false },
    post_processor: PLAIN_TEMPLATE,
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
      vocab, merges: mergesFromScores(tokens, scores as number[]),
    },
  };
};

const byteLevelJson = (f: GgufFile): Record<string, unknown> => {
  const tokens = tokenList(f);
  const tt = tokenTypes(f, tokens.length);
  const merges = f.metadata["tokenizer.ggml.merges"];
  if (!Array.isArray(merges) || !merges.every((x) => typeof x === "string" && x.split(" ").length === 2))
    fail(f, "tokenizer.ggml.merges", `a "gpt2" tokenizer needs tokenizer.ggml.merges as "left right" strings`);
  const pre = f.metadata["tokenizer.ggml.pre"];
  if (typeof pre === "string" && OTHER_SPLITS.includes(pre))
    fail(f, "tokenizer.ggml.pre", `pre-tokenizer ${quote(pre)} is not supported (supported: ${quote(Object.keys(SPLITS))} and GPT-2's); pass the model's tokenizer.json instead`);
  const alphabet = byteAlphabet();
  const inAlphabet = new Set(alphabet);
  const utf8 = new TextEncoder();
  const spelled = (t: string) => Array.from(t).every((c) => inAlphabet.has(c));
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => { vocab[spelled(t) ? t : Array.from(utf8.encode(t), (b) => alphabet[b]).join("")] = i; });
  const added = tt.flatMap((t, i) =>
    t === TYPE_CONTROL && spelled(tokens[i]) ? [addedToken(i, tokens[i], true)] : t === TYPE_USER_DEFINED ? [addedToken(i, tokens[i], false)] : []);
  const split = typeof pre === "string" ? SPLITS[pre] : undefined;
  const byteLevel = (useRegex: boolean) => ({ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: split
      ? { type: "Sequence", pretokenizers: [{ type: "Split", pattern: { Regex: split }, behavior: "Isolated", invert: false }, byteLevel(false)] }
      : byteLevel(true),
    post_processor: PLAIN_TEMPLATE,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
      fuse_unk: false, byte_fallback: false, ignore_merges: typeof pre === "string" && LLAMA3_FAMILY.has(pre),
      vocab, merges: (merges as string[]).map((x) => x.split(" ") as [string, string]),
    },
  };
};

/** The tokenizer embedded in an opened GGUF file. */
export const loadGgufTokenizer = (f: GgufFile): PretrainedTokenizer => {
  const json = ggufTokenizerJson(f);
  const n = tokenList(f).length;
  const eos = specialId(f, "eos_token_id", n);
  if (eos === undefined)
    fail(f, "tokenizer.ggml.eos_token_id", "the GGUF tokenizer names no EOS token (tokenizer.ggml.eos_token_id); acft needs one to stop generation");
  const bos = specialId(f, "bos_token_id", n);
  const addBos = f.metadata["tokenizer.ggml.add_bos_token"];
  return new PretrainedTokenizer(json, {
    source: f.path, eos, bos: bos ?? eos, pad: specialId(f, "padding_token_id", n) ?? eos,
    addBos: typeof addBos === "boolean" ? addBos
      : bos !== undefined && (f.metadata["tokenizer.ggml.model"] === "llama" || LLAMA3_FAMILY.has(f.metadata["tokenizer.ggml.pre"] as string)),
  });
};

/** The tokenizer embedded in the GGUF file at `path` (reads the header only). */
export const readGgufTokenizer = async (path: string): Promise<PretrainedTokenizer> => {
  const f = await openGguf(path);
  f.close();
  return loadGgufTokenizer(f);
};
