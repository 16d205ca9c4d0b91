// Pretrained tokenizers against Hugging Face `tokenizers` / transformers (references by
// scripts/fixtures/gguf_tokenizers.py): ids on a varied corpus and on the shared datasets' lines,
// decoding, special tokens, the GGUF-embedded tokenizer, and typed errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TokenizerError } from "../../../ml/errors.ts";
import { TokenizerFormatError } from "../../../ml/formats/errors.ts";
import { type GgufFile, openGguf } from "../../../ml/formats/gguf.ts";
import { ggufTokenizerJson, loadGgufTokenizer, mergesFromScores, readGgufTokenizer } from "../../../ml/tokenizers/gguf.ts";
import { type PretrainedTokenizer, type TextTokenizer, checkTokenizerFits, loadHfTokenizer } from "../../../ml/tokenizers/pretrained.ts";
import { Tokenizer as AcftTokenizer } from "../../../ml/tokenizer.ts";

const FIX = new URL("../../fixtures/pretrained/", import.meta.url).pathname;
const SHARED = new URL("../../../../shared/", import.meta.url).pathname;
const STORIES = join(SHARED, "models", "stories260K.gguf");
const tmp = mkdtempSync(join(tmpdir(), "acft-tok-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

interface Ref { ids: number[]; ids_special: number[]; decoded: string }
const refs = JSON.parse(readFileSync(join(FIX, "tokenizer-refs.json"), "utf8")) as { texts: string[]; refs: Record<string, Ref[]>; converted: Record<string, { added_tokens: { content: string }[] }> };
const texts = refs.texts;
const SPECIAL_LITERALS = /<\|endoftext\|>|<s>|<\/s>|<unk>|<\|begin_of_text\|>/;

/** ids (plain and as the model expects), decoding, and round trips on every corpus line. */
const matchesReferences = (tok: PretrainedTokenizer, r: Ref[], opts: { checkSpecialFraming: boolean }) => {
  assert.equal(r.length, texts.length);
  let roundTrips = 0;
  texts.forEach((text, i) => {
    const what = `line ${i} ${JSON.stringify(text).slice(0, 60)}`;
    assert.deepEqual(tok.encode(text), r[i].ids, what);
    if (opts.checkSpecialFraming) assert.deepEqual(tok.encode(text, { bos: tok.addBos }), r[i].ids_special, `${what} (with special tokens)`);
    assert.equal(tok.decode(r[i].ids), r[i].decoded, `${what} (decode)`);
    // decode(encode(text)) gives text back wherever the reference does (a SentencePiece-style
    // tokenizer loses one leading space of a text that starts with one; specials written in the
    // text are dropped by decode; an NFC normaliser gives back the NFC form)
    if (r[i].decoded === text) {
      assert.equal(tok.decode(tok.encode(text)), text, `${what} (round trip)`);
      roundTrips++;
    } else assert.ok(SPECIAL_LITERALS.test(text) || /^\s/.test(text) || r[i].decoded === text.normalize("NFC"), `${what}: the reference does not round-trip`);
  });
  assert.ok(roundTrips >= texts.length - 4, `only ${roundTrips} lines round-trip`);
};

const hf = (name: string) => loadHfTokenizer(join(FIX, `tokenizer-${name}.json`));

test("GPT-2-style byte-level BPE matches Hugging Face tokenizers on every corpus line", () => {
  const tok = hf("gpt2");
  matchesReferences(tok, refs.refs.gpt2, { checkSpecialFraming: true });
  const eot = tok.tokenToId("<|endoftext|>")!;
  assert.deepEqual([tok.bos, tok.eos, tok.pad], [eot, eot, eot], "GPT-2 has one special token: BOS = EOS = PAD = <|endoftext|>");
  assert.equal(tok.addBos, false);
  assert.deepEqual(tok.encode("Hello", { bos: true, eos: true }), [eot, ...tok.encode("Hello"), eot]);
});

test("Llama-3-style byte-level BPE (Split regex, BOS template) matches on every corpus line", () => {
  const tok = hf("llama3");
  matchesReferences(tok, refs.refs.llama3, { checkSpecialFraming: true });
  assert.equal(tok.bos, tok.tokenToId("<|begin_of_text|>"));
  assert.equal(tok.eos, tok.tokenToId("<|end_of_text|>"));
  assert.equal(tok.pad, tok.eos, "no pad token: EOS is used");
  assert.equal(tok.addBos, true, "the template adds BOS");
});

test("Qwen2-style byte-level BPE (NFC normaliser, Qwen2 split regex, no BOS) matches on every corpus line", () => {
  const tok = hf("qwen2");
  matchesReferences(tok, refs.refs.qwen2, { checkSpecialFraming: true });
  const eot = tok.tokenToId("<|endoftext|>")!;
  assert.deepEqual([tok.bos, tok.eos, tok.pad, tok.addBos], [eot, eot, eot, false], "no BOS token: BOS = EOS = <|endoftext|>");
  // NFC: a combining sequence and its precomposed form give the same ids
  assert.deepEqual(tok.encode("e\u0301"), tok.encode("é"));
});

test("SentencePiece-style BPE with byte fallback (tokenizer.json) matches on every corpus line", () => {
  const tok = hf("sp");
  matchesReferences(tok, refs.refs.sp, { checkSpecialFraming: true });
  assert.deepEqual([tok.bos, tok.eos, tok.pad, tok.addBos], [1, 2, 2, true]);
  // byte fallback: a character outside the vocabulary becomes its UTF-8 bytes <0xNN> = 3 + byte
  const ids = tok.encode("中");
  assert.deepEqual(ids.slice(-3), [...new TextEncoder().encode("中")].map((b) => 3 + b));
  assert.equal(tok.idToToken(3 + 0x0a), "<0x0A>");
});

test("special tokens: literal specials in text are matched as in Hugging Face; decode drops them unless kept", () => {
  const tok = hf("sp");
  const ids = tok.encode("a</s>b");
  assert.ok(ids.includes(2), "the literal </s> is the EOS token");
  assert.ok(!tok.decode(ids).includes("</s>"));
  assert.ok(tok.decode(ids, { keepSpecials: true }).includes("</s>"));
  assert.equal(tok.decode([]), "");
  assert.deepEqual(tok.encode(""), []);
  assert.deepEqual(tok.encode("", { bos: true }), [1]);
  assert.throws(() => tok.decode([tok.vocabSize]), (e: unknown) => e instanceof TokenizerError && /outside the vocabulary/.test(e.message));
});

test("tokenizer_config.json beside tokenizer.json sets bos/eos/pad; explicit options override", () => {
  const dir = join(tmp, "model");
  mkdirSync(dir);
  writeFileSync(join(dir, "tokenizer.json"), readFileSync(join(FIX, "tokenizer-sp.json")));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ bos_token: { content: "<s>" }, eos_token: "</s>", pad_token: "<unk>", add_bos_token: false }));
  const tok = loadHfTokenizer(dir);
  assert.deepEqual([tok.bos, tok.eos, tok.pad, tok.addBos], [1, 2, 0, false]);
  assert.equal(loadHfTokenizer(dir, { pad: 2 }).pad, 2);
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|nope|>" }));
  assert.throws(() => loadHfTokenizer(dir), (e: unknown) => e instanceof TokenizerFormatError && e.field === "eos_token" && /"<\|nope\|>" is not in the vocabulary/.test(e.message));
});

test("a loaded tokenizer has the members acft's own tokenizer has", () => {
  const own: TextTokenizer = new AcftTokenizer([[104, 105]]);
  const loaded: TextTokenizer = hf("gpt2");
  for (const t of [own, loaded]) {
    const ids = t.encode("hi there", { bos: true, eos: true });
    assert.equal(ids[0], t.bos);
    assert.equal(ids[ids.length - 1], t.eos);
    assert.equal(t.decode(ids), "hi there");
    assert.ok(t.pad < t.vocabSize);
  }
});

// --- GGUF-embedded tokenizer -----------------------------------------------------------------------

test("GGUF tokenizer: rebuilt tokenizer.json equals transformers' conversion, ids match on every line", async () => {
  const f = await openGguf(join(FIX, "tiny-llama.gguf"));
  f.close();
  assert.deepEqual(ggufTokenizerJson(f), refs.converted["gguf-tiny"]);
  const tok = loadGgufTokenizer(f);
  matchesReferences(tok, refs.refs["gguf-tiny"], { checkSpecialFraming: false });
  assert.deepEqual([tok.bos, tok.eos, tok.pad, tok.vocabSize, tok.addBos], [1, 2, 2, 859, true]);
  // the same vocabulary as a tokenizer.json (merges from training, not from scores) tokenises alike,
  // except at a leading space (Metaspace adds no "▁" before one; the Prepend normaliser does) and
  // after a special token
  const sp = hf("sp");
  for (const text of texts.filter((x) => !/^\s/.test(x) && !SPECIAL_LITERALS.test(x))) assert.deepEqual(tok.encode(text), sp.encode(text), text);
});

const ggufTok = async (name: string) => { const f = await openGguf(join(FIX, `${name}.gguf`)); f.close(); return { f, tok: loadGgufTokenizer(f) }; };

test("GGUF byte-level (gpt2) tokenizers: GPT-2 regex and Llama-3 split, equal to transformers' conversion", async () => {
  for (const [name, base] of [["gguf-gpt2", "gpt2"], ["gguf-llama3", "llama3"]] as const) {
    const { f, tok } = await ggufTok(name);
    // Two deliberate differences from transformers' conversion: (1) its GPT-2 class adds its default
    // "<|endoftext|>" to a vocabulary that lacks it (an id past the model's embeddings); (2) for the
    // Llama-3 family acft takes a word that is a token whole (ignore_merges), as llama.cpp and
    // Llama-3's own tokenizer.json do.
    const ref = refs.converted[name] as { added_tokens: { content: string }[]; model: Record<string, unknown> };
    const extra = ref.added_tokens.filter((t) => t.content === "<|endoftext|>" && !(f.metadata["tokenizer.ggml.tokens"] as string[]).includes(t.content));
    const llama3 = base === "llama3";
    assert.deepEqual(ggufTokenizerJson(f), { ...ref, added_tokens: ref.added_tokens.filter((t) => !extra.includes(t)), model: { ...ref.model, ignore_merges: llama3 } }, name);
    const r = refs.refs[name];
    let sameAsTransformers = 0;
    texts.forEach((text, i) => {
      const what = `${name}: ${JSON.stringify(text).slice(0, 60)}`;
      // the same ids as the tokenizer.json the GGUF vocabulary came from, on every line
      assert.deepEqual(tok.encode(text), refs.refs[base][i].ids, what);
      assert.equal(tok.decode(refs.refs[base][i].ids), refs.refs[base][i].decoded, `${what} (decode)`);
      if (JSON.stringify(tok.encode(text)) === JSON.stringify(r[i].ids)) {
        assert.equal(tok.decode(r[i].ids), r[i].decoded, `${what} (decode)`);
        sameAsTransformers++;
      }
      else assert.ok((extra.length && text.includes("<|endoftext|>")) || (llama3 && /zebra/.test(text)), `${what}: differs from transformers`);
    });
    assert.ok(sameAsTransformers >= texts.length - 2);
    assert.equal(tok.addBos, llama3, "BOS by default for the Llama-3 family only (llama.cpp)");
  }
  const { f, tok } = await ggufTok("gguf-llama3");
  assert.deepEqual([tok.bos, tok.eos, tok.pad], [0, 1, 1]);
  // a token written with characters outside GPT-2's byte alphabet is respelled from its UTF-8 bytes
  const stub = { ...f, metadata: { ...f.metadata, "tokenizer.ggml.tokens": ["<|x|>", " x", "\n", "中"], "tokenizer.ggml.token_type": [3, 1, 1, 1], "tokenizer.ggml.merges": [] } };
  const json = ggufTokenizerJson(stub) as { model: { vocab: Record<string, number> }; added_tokens: { content: string }[] };
  assert.deepEqual(json.model.vocab, { "<|x|>": 0, "Ġx": 1, "Ċ": 2, "ä¸Ń": 3 });
  assert.deepEqual(json.added_tokens.map((t) => t.content), ["<|x|>"]);
});

test("stories260K's GGUF tokenizer matches transformers on every corpus line", async (t) => {
  if (!existsSync(STORIES)) return t.skip(`stories260K.gguf not found at ${STORIES} (the shared models folder is absent)`);
  const ref = JSON.parse(readFileSync(join(FIX, "stories260K-refs.json"), "utf8"));
  const f = await openGguf(STORIES);
  f.close();
  assert.deepEqual(ggufTokenizerJson(f), ref.converted);
  const tok = loadGgufTokenizer(f);
  matchesReferences(tok, ref.refs, { checkSpecialFraming: false });
  assert.deepEqual([tok.bos, tok.eos, tok.pad, tok.vocabSize], [1, 2, 2, 512], "pad id 0xFFFFFFFF in the file: EOS is used");
  assert.equal(tok.decode(tok.encode("Once upon a time")), "Once upon a time");
});

/**
 * SentencePiece BPE written from its definition, independent of any tokenizer library: "▁" for
 * spaces and one in front, then repeatedly merge the adjacent pair whose joined piece is in the
 * vocabulary with the highest score (leftmost on ties); pieces outside the vocabulary become their
 * UTF-8 bytes <0xNN>.
 */
const sentencePieceIds = (tokens: string[], scores: number[], text: string): number[] => {
  const id = new Map(tokens.map((t, i) => [t, i]));
  const sym = Array.from("▁" + text.replaceAll(" ", "▁"));
  for (;;) {
    let best = -1, bestScore = -Infinity;
    for (let i = 0; i + 1 < sym.length; i++) {
      const j = id.get(sym[i] + sym[i + 1]);
      if (j !== undefined && scores[j] > bestScore) { best = i; bestScore = scores[j]; }
    }
    if (best < 0) break;
    sym.splice(best, 2, sym[best] + sym[best + 1]);
  }
  return sym.flatMap((p) => id.has(p) ? [id.get(p)!] : [...new TextEncoder().encode(p)].map((b) => id.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)!));
};

test("GGUF tokenizers give the ids SentencePiece's definition gives from the vocabulary and scores", async (t) => {
  const files = [join(FIX, "tiny-llama.gguf"), ...(existsSync(STORIES) ? [STORIES] : [])];
  if (files.length === 1) t.diagnostic(`stories260K.gguf not found at ${STORIES}: checking the fixture only`);
  for (const path of files) {
    const f = await openGguf(path);
    f.close();
    const tok = loadGgufTokenizer(f);
    const tokens = f.metadata["tokenizer.ggml.tokens"] as string[], scores = f.metadata["tokenizer.ggml.scores"] as number[];
    let n = 0;
    for (const text of texts.filter((x) => x.length > 0 && !/^\s/.test(x) && !SPECIAL_LITERALS.test(x))) {
      assert.deepEqual(tok.encode(text), sentencePieceIds(tokens, scores, text), `${path}: ${JSON.stringify(text).slice(0, 60)}`);
      n++;
    }
    assert.ok(n >= 20);
  }
});

test("mergesFromScores ranks by the merged piece's score, then longer left, then longer right piece", () => {
  const tokens = ["a", "b", "c", "ab", "bc", "abc"];
  const scores = [0, 0, 0, -1, -2, -0.5];
  assert.deepEqual(mergesFromScores(tokens, scores), [["ab", "c"], ["a", "bc"], ["a", "b"], ["b", "c"]]);
  // characters outside the BMP split as one character
  assert.deepEqual(mergesFromScores(["😀", "x", "😀x"], [0, 0, -1]), [["😀", "x"]]);
});

// --- shared datasets ---------------------------------------------------------------------------------

test("ids equal the references on lines of the shared datasets", async (t) => {
  const ds = JSON.parse(readFileSync(join(FIX, "dataset-refs.json"), "utf8")) as { lines: { file: string; file_sha256: string; first: number; last: number; ids_sha256: Record<string, string[]> }[] };
  const toks: Record<string, TextTokenizer> = { gpt2: hf("gpt2"), llama3: hf("llama3"), qwen2: hf("qwen2"), sp: hf("sp") };
  const tiny = await openGguf(join(FIX, "tiny-llama.gguf"));
  tiny.close();
  toks["gguf-tiny"] = loadGgufTokenizer(tiny);
  if (existsSync(STORIES)) toks.stories260K = await readGgufTokenizer(STORIES);
  // the byte-level GGUF tokenizers hold the same vocabularies as tokenizer-gpt2/llama3.json
  const alsoAs: Record<string, TextTokenizer> = { gpt2: (await ggufTok("gguf-gpt2")).tok, llama3: (await ggufTok("gguf-llama3")).tok };
  let checked = 0;
  for (const e of ds.lines) {
    const p = join(SHARED, "datasets", e.file);
    if (!existsSync(p)) { t.diagnostic(`skipped ${e.file}: not found under ${SHARED}datasets`); continue; }
    const raw = readFileSync(p);
    if (createHash("sha256").update(raw).digest("hex") !== e.file_sha256) { t.diagnostic(`skipped ${e.file}: it differs from the file the references were made from`); continue; }
    const lines = raw.toString("utf8").split("\n");
    for (const [name, hashes] of Object.entries(e.ids_sha256)) {
      const tok = toks[name];
      if (!tok) continue;
      hashes.forEach((h, k) => {
        const n = e.first + k;
        for (const [which, tk] of [[name, tok], ...(alsoAs[name] ? [[`gguf-${name}`, alsoAs[name]]] : [])] as [string, TextTokenizer][]) {
          const ids = tk.encode(lines[n - 1]);
          assert.equal(createHash("sha256").update(ids.join(",")).digest("hex").slice(0, 16), h, `${which}: ${e.file} line ${n}`);
          checked++;
        }
      });
    }
  }
  if (checked === 0) return t.skip(`../shared/datasets not found at ${SHARED}datasets`);
  t.diagnostic(`${checked} dataset lines checked`);
});

// --- bad input ---------------------------------------------------------------------------------------

const rejects = (fn: () => unknown, re: RegExp, field?: string) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TokenizerFormatError, `expected TokenizerFormatError, got ${e}`);
    assert.match(e.message, re);
    if (field) assert.equal(e.field, field);
    return true;
  });

test("unsupported tokenizer.json model type, missing byte coverage, bad JSON, missing file", () => {
  const sp = JSON.parse(readFileSync(join(FIX, "tokenizer-sp.json"), "utf8"));
  const write = (name: string, content: string) => { const p = join(tmp, name); writeFileSync(p, content); return p; };
  const uni = write("unigram.json", JSON.stringify({ ...sp, model: { type: "Unigram", vocab: [["a", 0]] } }));
  rejects(() => loadHfTokenizer(uni), new RegExp(`${uni}: tokenizer model type "Unigram" is not supported \\(supported: "BPE"`), "model.type");
  const noFallback = write("nofb.json", JSON.stringify({ ...sp, model: { ...sp.model, byte_fallback: false } }));
  rejects(() => loadHfTokenizer(noFallback), /needs a ByteLevel pre-tokenizer or model\.byte_fallback = true/, "model.byte_fallback");
  const bad = write("bad.json", "{ not json");
  rejects(() => loadHfTokenizer(bad), /bad\.json: the tokenizer\.json is not valid JSON/);
  rejects(() => loadHfTokenizer(join(tmp, "none")), /no tokenizer\.json/);
});

test("GGUF tokenizer of an unsupported kind, or inconsistent metadata", async () => {
  const f = await openGguf(join(FIX, "tiny-llama.gguf"));
  f.close();
  const withMeta = (m: Record<string, unknown>): GgufFile => ({ ...f, metadata: { ...f.metadata, ...m } });
  rejects(() => ggufTokenizerJson(withMeta({ "tokenizer.ggml.model": "rwkv" })), /GGUF tokenizer model "rwkv" is not supported \(supported: "llama", SentencePiece-style BPE; "gpt2", byte-level BPE\)/, "tokenizer.ggml.model");
  rejects(() => ggufTokenizerJson(withMeta({ "tokenizer.ggml.model": "gpt2" })), /a "gpt2" tokenizer needs tokenizer\.ggml\.merges/, "tokenizer.ggml.merges");
  const { f: g } = await ggufTok("gguf-llama3");
  rejects(() => ggufTokenizerJson({ ...g, metadata: { ...g.metadata, "tokenizer.ggml.pre": "tekken" } }), /pre-tokenizer "tekken" is not supported/, "tokenizer.ggml.pre");
  rejects(() => ggufTokenizerJson(withMeta({ "tokenizer.ggml.model": undefined })), /has no embedded tokenizer/, "tokenizer.ggml.model");
  rejects(() => ggufTokenizerJson(withMeta({ "tokenizer.ggml.scores": [1, 2] })), /tokenizer\.ggml\.scores must be 859 numbers/, "tokenizer.ggml.scores");
  rejects(() => ggufTokenizerJson(withMeta({ "tokenizer.ggml.bos_token_id": 5000 })), /bos_token_id = 5000 is not a token id/, "tokenizer.ggml.bos_token_id");
});

test("checkTokenizerFits: a tokenizer with more ids than the model has rows is rejected", async () => {
  const tok = hf("gpt2");
  checkTokenizerFits(tok, tok.vocabSize, "model.gguf");
  checkTokenizerFits(tok, tok.vocabSize + 64, "model.gguf");
  rejects(() => checkTokenizerFits(tok, tok.vocabSize - 1, "model.gguf"), new RegExp(`has ids up to ${tok.vocabSize - 1} but the model model\\.gguf has only ${tok.vocabSize - 1} embedding rows`), "vocab_size");
});

test("saved and read back through its files, a tokenizer encodes and frames text identically (HF styles and acft's own)", async () => {
  const { tokenizerFromFiles } = await import("../../../ml/tokenizers/pretrained.ts");
  const { trainTokenizer } = await import("../../../ml/tokenizer.ts");
  const gguf = await openGguf(join(FIX, "tiny-llama.gguf"));
  const tokenizers: Array<[string, TextTokenizer]> = [
    ...["gpt2", "llama3", "qwen2", "sp"].map((n): [string, TextTokenizer] => [n, loadHfTokenizer(join(FIX, `tokenizer-${n}.json`), n === "sp" ? { addBos: true } : {})]),
    ["gguf", loadGgufTokenizer(gguf)],
    ["acft", trainTokenizer(texts, { vocabSize: 300 })],
  ];
  gguf.close();
  for (const [name, tok] of tokenizers) {
    const files = JSON.parse(JSON.stringify(tok.files())) as Record<string, unknown>; // as written to disk
    const back = tokenizerFromFiles((f) => files[f], `${name}/tokenizer.json`);
    assert.equal(back.constructor, tok.constructor, name);
    for (const k of ["vocabSize", "bos", "eos", "pad"] as const) assert.equal(back[k], tok[k], `${name}.${k}`);
    if ("addBos" in tok) assert.equal((back as PretrainedTokenizer).addBos, (tok as PretrainedTokenizer).addBos, `${name}.addBos`);
    for (const text of texts) {
      assert.deepEqual(back.encode(text, { bos: true, eos: true }), tok.encode(text, { bos: true, eos: true }), `${name}: ${text.slice(0, 40)}`);
      assert.equal(back.decode(tok.encode(text)), tok.decode(tok.encode(text)), name);
    }
  }
});
