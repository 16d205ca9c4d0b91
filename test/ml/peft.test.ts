// PEFT LoRA adapters (ml/formats/peft.ts; fixtures by scripts/fixtures/peft_lora.py and
// scripts/fixtures/peft_export.ts + peft_lora_check.py): adapters saved by PEFT load into acft and give
// PEFT's float64 logits within 1e-4, adapted and merged; acft's own trained adapters load in PEFT with
// the same logits (check.json) and rebuild byte for byte; write -> read is lossless; bad adapters are
// typed errors naming the file and the field or tensor.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { ModelFormatError } from "../../ml/errors.ts";
import { loadHfDirectory } from "../../ml/formats/hf.ts";
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readPeftAdapter, writePeftAdapter } from "../../ml/formats/peft.ts";
import { readSafetensors } from "../../ml/formats/safetensors.ts";
import { type LMConfig, type LMParams, disposeParams, lmForward, lmVariables } from "../../ml/lm.ts";
import { type LoraParams, disposeLora, loraAdapter, mergeLora } from "../../ml/lora.ts";
import { FIX, PEFT_EXPORTED, trainAndExportAdapter } from "./peftExport.ts";

await tf.setBackend("cpu");
const PEFT = join(FIX, "peft");
const tmp = mkdtempSync(join(tmpdir(), "acft-peft-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

interface Reference { inputs: number[][]; logits: number[][][]; mergedLogits: number[][][] }

const maxAbsErr = (p: LMParams, c: LMConfig, inputs: number[][], want: number[][][], lora?: LoraParams): number => {
  let err = 0;
  inputs.forEach((row, s) => {
    const got = tf.tidy(() => lmForward(p, c, tf.tensor2d([row], undefined, "int32"), lora ? { adapter: loraAdapter(lora) } : {}).logits.arraySync()[0]);
    got.forEach((g, t) => g.forEach((x, v) => { err = Math.max(err, Math.abs(x - want[s][t][v])); }));
  });
  return err;
};

for (const name of ["gpt2", "llama"] as const) {
  test(`${name}: an adapter saved by PEFT gives PEFT's logits, adapted and merged`, async () => {
    const r = JSON.parse(readFileSync(join(PEFT, name, "reference.json"), "utf8")) as Reference;
    const { config: c, params: p } = await loadHfDirectory(join(FIX, name));
    const lora = await readPeftAdapter(join(PEFT, name), c);
    try {
      const base = maxAbsErr(p, c, r.inputs, r.logits);
      assert.ok(base > 1, `the adapter moves the logits (base differs by ${base})`);
      const adapted = maxAbsErr(p, c, r.inputs, r.logits, lora);
      mergeLora(p, lora);
      const merged = maxAbsErr(p, c, r.inputs, r.mergedLogits);
      console.log(`  ${name}: ${lora.modules.length} modules; adapted max |diff| ${adapted.toExponential(2)}, merged ${merged.toExponential(2)} (base was ${base.toFixed(2)} away)`);
      assert.ok(adapted <= 1e-4, `adapted logits: max |diff| ${adapted}`);
      assert.ok(merged <= 1e-4, `merged logits: max |diff| ${merged}`);
    } finally {
      disposeLora(lora);
      disposeParams(lmVariables(p));
    }
  });

  test(`${name}: writing a PEFT adapter and reading it back is lossless, with PEFT's names and shapes`, async () => {
    const { config: c, params: p } = await loadHfDirectory(join(FIX, name));
    const lora = await readPeftAdapter(join(PEFT, name), c);
    const out = join(tmp, `rt-${name}`);
    await writePeftAdapter(out, lora, c);
    const back = await readPeftAdapter(out, c);
    try {
      const theirs = await readSafetensors(join(PEFT, name, ADAPTER_WEIGHTS));
      const ours = await readSafetensors(join(out, ADAPTER_WEIGHTS));
      assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
      for (const [k, t] of theirs) assert.deepEqual(ours.get(k)!.shape, t.shape, k);
      const cfg = JSON.parse(readFileSync(join(out, ADAPTER_CONFIG), "utf8"));
      assert.equal(cfg.fan_in_fan_out, name === "gpt2");
      assert.equal(back.scale, lora.scale);
      back.modules.forEach((m, i) => {
        assert.deepEqual(m.a.dataSync(), lora.modules[i].a.dataSync());
        assert.deepEqual(m.b.dataSync(), lora.modules[i].b.dataSync());
      });
    } finally {
      disposeLora(lora);
      disposeLora(back);
      disposeParams(lmVariables(p));
    }
  });
}

test("PEFT loaded acft's trained adapters with the same logits; the export is still byte for byte what it checked", async () => {
  const check = JSON.parse(readFileSync(join(PEFT, "export", "check.json"), "utf8"));
  assert.equal(check.pass, true);
  for (const name of Object.keys(PEFT_EXPORTED) as (keyof typeof PEFT_EXPORTED)[]) {
    const m = check.models[name];
    assert.ok(m && m.maxAbsLogitDiff <= 1e-4 && m.adaptedModules > 0, `${name}: PEFT vs acft logits ${m?.maxAbsLogitDiff}`);
    const out = join(tmp, `ex-${name}`);
    await trainAndExportAdapter(name, out);
    for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS, "acft_logits.json"])
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(PEFT, "export", name, f))),
        `${name}/${f} differs from the committed export that PEFT checked: rerun scripts/fixtures/peft_export.ts and peft_lora_check.py`);
    // the adapter was trained: B is not zero any more
    const { config: c, params: p } = await loadHfDirectory(join(FIX, name));
    const lora = await readPeftAdapter(out, c);
    assert.ok(lora.modules.every((u) => u.b.dataSync().some((x) => x !== 0)), `${name}: an untrained B`);
    disposeLora(lora);
    disposeParams(lmVariables(p));
  }
});

test("bad adapters are typed errors naming the file and the field or tensor", async () => {
  const { config: c, params: p } = await loadHfDirectory(join(FIX, "llama"));
  const { config: gpt2 } = await loadHfDirectory(join(FIX, "gpt2")).then((m) => { disposeParams(lmVariables(m.params)); return m; });
  const variant = async (label: string, edit: (cfg: Record<string, unknown>) => void, tensors?: (bytes: Buffer) => Buffer): Promise<string> => {
    const d = join(tmp, `bad-${label}`);
    cpSync(join(PEFT, "llama"), d, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(d, ADAPTER_CONFIG), "utf8"));
    edit(cfg);
    writeFileSync(join(d, ADAPTER_CONFIG), JSON.stringify(cfg));
    if (tensors) writeFileSync(join(d, ADAPTER_WEIGHTS), tensors(readFileSync(join(d, ADAPTER_WEIGHTS))));
    return d;
  };
  const expect = async (dir: string, config: LMConfig, want: { field?: string; tensor?: RegExp; message: RegExp }) => {
    await assert.rejects(readPeftAdapter(dir, config), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError, `not a ModelFormatError: ${e}`);
      assert.ok(e.file.startsWith(dir), e.file);
      if (want.field) assert.equal(e.field, want.field);
      if (want.tensor) assert.match(e.tensor ?? "", want.tensor);
      assert.match(e.message, want.message);
      assert.ok(e.message.length < 600);
      return true;
    });
  };
  await expect(await variant("dora", (x) => { x.use_dora = true; }), c, { field: "use_dora", message: /DoRA/ });
  await expect(await variant("type", (x) => { x.peft_type = "IA3"; }), c, { field: "peft_type", message: /LORA/ });
  await expect(await variant("rank", (x) => { x.r = 5; }), c, { tensor: /lora_A/, message: /shape \[3,32\], expected \[5,32\]/ });
  await expect(await variant("alpha", (x) => { x.lora_alpha = "x".repeat(1000); }), c, { field: "lora_alpha", message: /positive number/ });
  await expect(await variant("pattern", (x) => { x.rank_pattern = { q_proj: 8 }; }), c, { field: "rank_pattern", message: /per-module ranks/ });
  await expect(await variant("more", (x) => { x.target_modules = ["q_proj", "v_proj", "o_proj", "gate_proj", "down_proj", "k_proj"]; }), c,
    { tensor: /layers\.0\.self_attn\.k_proj\.lora_A/, message: /missing/ });
  await expect(await variant("fewer", (x) => { x.target_modules = ["q_proj", "v_proj", "o_proj", "gate_proj"]; }), c, { tensor: /down_proj/, message: /unexpected tensor/ });
  await expect(join(PEFT, "llama"), gpt2, { field: "target_modules", message: /another model/ });
  await expect(join(tmp, "nowhere"), c, { message: /adapter_config\.json/ });
  disposeParams(lmVariables(p));
});
