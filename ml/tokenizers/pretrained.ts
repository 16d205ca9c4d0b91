// Pretrained tokenizers: a Hugging Face `tokenizer.json` (byte-level BPE as in GPT-2, Llama-3,
// Qwen2, SmolLM; SentencePiece-style BPE with byte fallback as in Llama-2 and TinyStories), run by
// `@huggingface/tokenizers` (pure JavaScript, no network, no native code), which gives the same ids
// as the Python `tokenizers` library on the committed test corpora.
//
// A loaded tokenizer has the members acft's own tokenizer has (`TextTokenizer`), so it can stand
// where the trained one stands:
//   encode(text, { bos, eos })  ids of `text` with no special tokens added, optionally framed by
//                               BOS / EOS. Special tokens written literally in the text (e.g.
//                               "<|endoftext|>") are recognised as in Hugging Face.
//   decode(ids, { keepSpecials })  text; special tokens dropped unless keepSpecials. No
//                               "clean-up" of spaces before punctuation (Python's default).
//   bos / eos / pad / vocabSize
// Special tokens come from tokenizer_config.json beside tokenizer.json, else from the
// post-processor's template (BOS), else from the usual names; a model with no BOS token uses its
// EOS as BOS (GPT-2 and Qwen2 mark document starts with "<|endoftext|>"); a model with no pad token
// uses its EOS as pad (acft masks padding by position, never by id, so pad == eos is safe).
import type { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { TokenizerError } from "../errors.ts";
import { TOKENIZER_FILE, Tokenizer, type TextTokenizer } from "../tokenizer.ts";

export type { TextTokenizer };

/** Hugging Face's companion file: the special tokens and whether a BOS goes first. */
export const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
import { TokenizerFormatError, quote } from "../formats/errors.ts";

/** A special token given by content (as in tokenizer_config.json) or by id. */
export type SpecialToken = string | number;

export interface PretrainedTokenizerOptions {
  /** Where the tokenizer came from, for messages (a file path). */
  source: string;
  /** tokenizer_config.json's content, when there is one. */
  config?: Record<string, unknown>;
  /** Overrides of the special tokens. */
  bos?: SpecialToken;
  eos?: SpecialToken;
  pad?: SpecialToken;
  /** Whether the model expects a BOS first (default: what the tokenizer's post-processor does). */
  addBos?: boolean;
}

/** Token JSON objects in tokenizer.json / tokenizer_config.json: a string or { content }. */
const tokenContent = (v: unknown): string | undefined =>
  typeof v === "string" ? v : v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string" ? (v as { content: string }).content : undefined;

/** The tokenizer engine, loaded on first use (so that acft processes that never need it do not load it). */
let engine: typeof HfTokenizer | undefined;
const hfTokenizerClass = (): typeof HfTokenizer =>
  (engine ??= (createRequire(import.meta.url)("@huggingface/tokenizers") as { Tokenizer: typeof HfTokenizer }).Tokenizer);

const BOS_NAMES = ["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"];
const EOS_NAMES = ["</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>"];

export class PretrainedTokenizer implements TextTokenizer {
  readonly source: string;
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  /** Whether the model was trained with a BOS first (its post-processor adds one). */
  readonly addBos: boolean;
  /** Ids of the special (added, `special: true`) tokens. */
  readonly specialIds: ReadonlySet<number>;
  private readonly hf: HfTokenizer;
  private readonly json: unknown;

  constructor(json: unknown, o: PretrainedTokenizerOptions) {
    const src = o.source;
    this.json = json;
    const j = json as Record<string, unknown> | null;
    if (!j || typeof j !== "object" || !j.model || typeof j.model !== "object")
      throw new TokenizerFormatError({ path: src, field: "model", message: `${src}: not a Hugging Face tokenizer.json (no "model" object); pass the tokenizer.json saved with the model` });
    const model = j.model as Record<string, unknown>;
    if (model.type !== "BPE")
      throw new TokenizerFormatError({ path: src, field: "model.type", message: `${src}: tokenizer model type ${quote(model.type)} is not supported (supported: "BPE", byte-level or with byte_fallback); acft reads GPT-2, Llama, Qwen2, SmolLM and TinyStories tokenizers` });
    const byteLevel = JSON.stringify(j.pre_tokenizer ?? null).includes('"ByteLevel"');
    if (!byteLevel && model.byte_fallback !== true)
      throw new TokenizerFormatError({ path: src, field: "model.byte_fallback", message: `${src}: a BPE tokenizer needs a ByteLevel pre-tokenizer or model.byte_fallback = true, so that any text can be encoded; this one has neither` });
    if (!model.vocab || typeof model.vocab !== "object" || Array.isArray(model.vocab))
      throw new TokenizerFormatError({ path: src, field: "model.vocab", message: `${src}: model.vocab must be an object of token -> id` });
    try { this.hf = new (hfTokenizerClass())(j, {}); }
    catch (e) { throw new TokenizerFormatError({ path: src, field: "model", message: `${src}: the tokenizer cannot be built (${(e as Error).message.slice(0, 200)})` }); }
    this.source = src;
    const added = (Array.isArray(j.added_tokens) ? j.added_tokens : []) as { id: number; content: string; special?: boolean }[];
    let max = -1;
    for (const id of Object.values(model.vocab as Record<string, number>)) if (id > max) max = id;
    for (const t of added) if (t.id > max) max = t.id;
    this.vocabSize = max + 1;
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));

    const cfg = o.config ?? {};
    const id = (field: string, v: SpecialToken | undefined): number | undefined => {
      if (v === undefined) return undefined;
      const n = typeof v === "number" ? v : this.hf.token_to_id(v);
      if (n === undefined || !Number.isInteger(n) || n < 0 || n >= this.vocabSize)
        throw new TokenizerFormatError({ path: src, field, message: `${src}: special token ${field} = ${quote(v)} is not in the vocabulary (size ${this.vocabSize})` });
      return n;
    };
    const named = (names: string[]): number | undefined => {
      for (const n of names) { const i = this.hf.token_to_id(n); if (i !== undefined) return i; }
      return undefined;
    };
    // The post-processor's first special token, when it adds one before the text.
    const withSpecials = this.hf.encode("a", { add_special_tokens: true }).ids;
    const plain = this.hf.encode("a", { add_special_tokens: false }).ids;
    const templateBos = withSpecials.length > plain.length && withSpecials[0] !== plain[0] ? withSpecials[0] : undefined;
    const eos = id("eos", o.eos) ?? id("eos_token", tokenContent(cfg.eos_token)) ?? named(EOS_NAMES);
    if (eos === undefined)
      throw new TokenizerFormatError({ path: src, field: "eos_token", message: `${src}: no end-of-sequence token found (no eos_token in tokenizer_config.json and none of ${EOS_NAMES.join(" ")} in the vocabulary); pass one explicitly` });
    this.eos = eos;
    this.bos = id("bos", o.bos) ?? id("bos_token", tokenContent(cfg.bos_token)) ?? templateBos ?? named(BOS_NAMES) ?? eos;
    this.pad = id("pad", o.pad) ?? id("pad_token", tokenContent(cfg.pad_token)) ?? eos;
    this.addBos = o.addBos ?? (typeof cfg.add_bos_token === "boolean" ? cfg.add_bos_token : templateBos !== undefined);
  }

  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const ids = text.length ? this.hf.encode(text, { add_special_tokens: false }).ids : [];
    if (opts.bos) ids.unshift(this.bos);
    if (opts.eos) ids.push(this.eos);
    return ids;
  }

  decode(ids: readonly number[], opts: { keepSpecials?: boolean } = {}): string {
    for (const i of ids)
      if (!(Number.isInteger(i) && i >= 0 && i < this.vocabSize))
        throw new TokenizerError({ message: `token id ${i} is outside the vocabulary of ${this.source} (size ${this.vocabSize})` });
    if (ids.length === 0) return "";
    return this.hf.decode([...ids], { skip_special_tokens: !opts.keepSpecials, clean_up_tokenization_spaces: false });
  }

  /** tokenizer.json as loaded, and a tokenizer_config.json naming the special tokens as resolved here. */
  files(): Record<string, unknown> {
    const token = (id: number) => this.hf.id_to_token(id);
    return {
      [TOKENIZER_FILE]: this.json,
      [TOKENIZER_CONFIG_FILE]: { bos_token: token(this.bos), eos_token: token(this.eos), pad_token: token(this.pad), add_bos_token: this.addBos },
    };
  }

  /** The token string of an id (undefined outside the vocabulary). */
  idToToken(id: number): string | undefined { return this.hf.id_to_token(id); }
  /** The id of a token string (undefined when absent). */
  tokenToId(token: string): number | undefined { return this.hf.token_to_id(token); }
}

const readJson = (path: string, what: string): Record<string, unknown> => {
  let text: string;
  try { text = readFileSync(path, "utf8"); }
  catch (e) { throw new TokenizerFormatError({ path, message: `${path}: cannot read the ${what} (${(e as Error).message.slice(0, 200)})` }); }
  try { return JSON.parse(text); }
  catch (e) { throw new TokenizerFormatError({ path, message: `${path}: the ${what} is not valid JSON (${(e as Error).message.slice(0, 200)}); re-save it with the model` }); }
};

/**
 * Load a Hugging Face tokenizer: `path` is a tokenizer.json file or a model directory holding one.
 * A tokenizer_config.json beside it supplies bos/eos/pad and add_bos_token.
 */
export const loadHfTokenizer = (path: string, o: Omit<PretrainedTokenizerOptions, "source" | "config"> = {}): PretrainedTokenizer => {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, "tokenizer.json") : path;
  if (!existsSync(file))
    throw new TokenizerFormatError({ path: file, message: `${file}: no tokenizer.json; a model directory needs the tokenizer.json saved with it (tokenizer.save_pretrained(dir))` });
  const cfgPath = join(dirname(file), TOKENIZER_CONFIG_FILE);
  const config = existsSync(cfgPath) ? readJson(cfgPath, "tokenizer config") : undefined;
  return new PretrainedTokenizer(readJson(file, "tokenizer.json"), { ...o, source: file, config });
};

/**
 * Check that a tokenizer fits a model of `modelVocabSize` embeddings: every id it can produce,
 * its special tokens included, must have a row. (A model may have more rows than the tokenizer
 * has tokens: vocabularies are often padded to a multiple of 64 or 128.)
 */
export const checkTokenizerFits = (tok: TextTokenizer & { source?: string }, modelVocabSize: number, modelSource: string): void => {
  const worst = Math.max(tok.vocabSize - 1, tok.bos, tok.eos, tok.pad);
  if (worst >= modelVocabSize)
    throw new TokenizerFormatError({ path: tok.source ?? "tokenizer", field: "vocab_size", message: `${tok.source ?? "the tokenizer"} has ids up to ${worst} but the model ${modelSource} has only ${modelVocabSize} embedding rows; use the tokenizer saved with this model` });
};

/**
 * A saved tokenizer from its files (`read(name)` gives a file's parsed JSON, or undefined when absent):
 * a Hugging Face tokenizer.json (it has a "model" object) or acft's own byte-level BPE.
 */
export const tokenizerFromFiles = (read: (name: string) => unknown, source: string): TextTokenizer => {
  const json = read(TOKENIZER_FILE);
  const isHf = typeof json === "object" && json !== null && typeof (json as { model?: unknown }).model === "object";
  if (!isHf) return Tokenizer.fromJSON(json);
  const config = read(TOKENIZER_CONFIG_FILE) as Record<string, unknown> | undefined;
  return new PretrainedTokenizer(json, { source, config });
};
