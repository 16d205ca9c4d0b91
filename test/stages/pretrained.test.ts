// A study on a user's pretrained checkpoint (`--model PATH`): the base model is imported from the file,
// its content digest is in the cache key (moving the file reruns nothing; editing it reruns the base
// and what depends on it), and a bad checkpoint fails the import with a typed error naming the file.
// `--judge-model PATH` does the same for the win-rate judge.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../engine/Cli.ts";
import { pipelines } from "../../pipelines/index.ts";
import { exportCommand } from "../../commands.ts";

const FIXTURE = new URL("../fixtures/pretrained/tiny-llama.gguf", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "acft-model-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const acft = async (...args: string[]) => {
  let out = "", err = "";
  const code = await runCli([...args, "--store", join(dir, "store"), "--json"], { pipelines, commands: [exportCommand], io: { out: (s) => void (out += s), err: (s) => void (err += s), tty: false } });
  const last = JSON.parse(out.trim().split("\n").at(-1)!);
  return { code, err, last, status: (id: string) => last.instances?.find((i: { id: string }) => i.id === id)?.status };
};

test("--model: the checkpoint's content is in the key — moved, nothing reruns; edited, the base reruns", async () => {
  const a = join(dir, "a.gguf"), b = join(dir, "b.gguf");
  copyFileSync(FIXTURE, a);
  const first = await acft("run", "smoke", "--model", a, "--only", "eval/base/perplexity");
  assert.equal(first.code, 0, first.err);
  assert.equal(first.status("base-lm"), "ran");
  assert.equal(first.status("eval/base/perplexity"), "ran");

  renameSync(a, b);
  const moved = await acft("run", "smoke", "--model", b, "--only", "eval/base/perplexity");
  assert.equal(moved.code, 0, moved.err);
  assert.ok(moved.last.instances.every((i: { status: string }) => i.status === "cached"), JSON.stringify(moved.last.instances));

  // Change one weight: the last 4 bytes of the file are the end of the last tensor's data (F32).
  const bytes = readFileSync(b);
  bytes.writeFloatLE(bytes.readFloatLE(bytes.length - 4) + 0.5, bytes.length - 4);
  writeFileSync(b, bytes);
  const edited = await acft("run", "smoke", "--model", b, "--only", "eval/base/perplexity");
  assert.equal(edited.code, 0, edited.err);
  assert.equal(edited.status("base-lm"), "ran");
  assert.equal(edited.status("eval/base/perplexity"), "ran");
  assert.equal(edited.status("data"), "cached");

  // acft export: the study's base model as a Hugging Face directory, read back with the same numbers.
  const out = join(dir, "exported");
  const ex = await acft("export", "smoke", "base-lm", "--model", b, "--out", out);
  assert.equal(ex.code, 0, ex.err);
  assert.deepEqual(ex.last.files, ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
  const { loadPretrained, limitContext } = await import("../../ml/pretrained.ts");
  const { lmForward, disposeParams, lmVariables } = await import("../../ml/lm.ts");
  const tf = await import("@tensorflow/tfjs");
  const [src, back] = [await loadPretrained(b), await loadPretrained(out)];
  const cut = limitContext(src.config, src.params, back.config.contextLength);
  const ids = src.tokenizer.encode("Once upon a time, a tiny model", { bos: true });
  assert.deepEqual(back.tokenizer.encode("Once upon a time, a tiny model", { bos: true }), ids);
  const logits = (m: { params: typeof src.params; config: typeof src.config }) =>
    tf.tidy(() => Array.from(lmForward(m.params, m.config, tf.tensor2d([ids], [1, ids.length], "int32")).logits.dataSync()));
  assert.deepEqual(logits(back), logits(cut));
  for (const m of [cut, back]) disposeParams(lmVariables(m.params));
  const again = await acft("export", "smoke", "base-lm", "--model", b, "--out", out);
  assert.equal(again.code, 1);
  assert.match(again.err, /is not empty; export into a new or empty directory/);
});

test("--model with a file that is not a checkpoint: the import fails naming the file; nothing is cached", async () => {
  const bad = join(dir, "bad.gguf");
  writeFileSync(bad, "not a gguf file at all");
  const r = await acft("run", "smoke", "--model", bad, "--only", "base-lm");
  assert.equal(r.code, 1);
  const base = r.last.instances.find((i: { id: string }) => i.id === "base-lm");
  assert.equal(base.status, "failed");
  assert.match(base.error, new RegExp(`${bad}`));
  assert.ok(statSync(bad).size > 0);
});

test("--set nado.baseHidden=true: a NADO on top of the pretrained base's hidden states guides decoding", async () => {
  const r = await acft("run", "smoke", "--model", FIXTURE, "--set", "nado.baseHidden=true", "--only", "eval/nado/toxicity");
  assert.equal(r.code, 0, r.err);
  for (const id of ["nado-decoding/nado", "nado-decoding/model", "eval/nado/toxicity"]) assert.equal(r.status(id), "ran", id);
  const { loadNado } = await import("../../stages/models.ts");
  const { Engine } = await import("../../engine/Runner.ts");
  const e = new Engine(join(dir, "store"));
  try {
    const entry = e.db.lastForInstance("nado-decoding/nado")!;
    const n = await loadNado(e.store.dirPath(entry.output_digest));
    assert.equal(n.cfg.baseHidden, n.cfg.body.dModel, "the NADO reads the base's hidden states");
    assert.ok(n.params.baseProj && Array.from(n.params.baseProj.dataSync()).some((v) => v !== 0), "and learned to use them");
    n.dispose();
  } finally {
    e.close();
  }
});

test("--judge-model: the checkpoint's content is in the judge's key (the win rates with it run in test/stages/smoke.test.ts)", async () => {
  const { Engine } = await import("../../engine/Runner.ts");
  const last = (id: string) => {
    const e = new Engine(join(dir, "store"));
    try {
      return e.db.lastForInstance(id)!;
    } finally {
      e.close();
    }
  };
  const own = await acft("run", "smoke", "--only", "judge-lm");
  assert.equal(own.code, 0, own.err);
  const ownKey = last("judge-lm").cache_key;

  const j = join(dir, "judge.gguf");
  copyFileSync(FIXTURE, j);
  // Bytes no earlier test of this store imported (imports are cached by content and params).
  const fresh = readFileSync(j);
  fresh.writeFloatLE(fresh.readFloatLE(fresh.length - 8) + 0.25, fresh.length - 8);
  writeFileSync(j, fresh);
  const r = await acft("run", "smoke", "--judge-model", j, "--only", "judge-lm");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.status("judge-lm"), "ran");
  const imported = last("judge-lm");
  assert.equal(imported.stage, "importModel");
  assert.notEqual(imported.cache_key, ownKey);

  // Change one weight of the judge: its key changes; moving the file changes nothing.
  const bytes = readFileSync(j);
  bytes.writeFloatLE(bytes.readFloatLE(bytes.length - 4) + 0.5, bytes.length - 4);
  writeFileSync(j, bytes);
  const edited = await acft("run", "smoke", "--judge-model", j, "--only", "judge-lm");
  assert.equal(edited.code, 0, edited.err);
  assert.equal(edited.status("judge-lm"), "ran");
  const editedKey = last("judge-lm").cache_key;
  assert.notEqual(editedKey, imported.cache_key);
  const moved = join(dir, "judge-moved.gguf");
  renameSync(j, moved);
  const again = await acft("run", "smoke", "--judge-model", moved, "--only", "judge-lm");
  assert.equal(again.code, 0, again.err);
  assert.equal(again.status("judge-lm"), "cached");
});
