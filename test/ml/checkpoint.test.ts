import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadLM, saveLM, trainCheckpointHooks } from "../../ml/checkpoint.ts";
import { PRESETS, disposeParams, initLM, lmForward, lmLoss, lmVariables } from "../../ml/lm.ts";
import { train } from "../../ml/train.ts";
import { perturbedLM, randomIds } from "./helpers.ts";

await tf.setBackend("cpu");
const c = PRESETS.tiny;
const tmp = mkdtempSync(join(tmpdir(), "acft-ckpt-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test("save -> load gives identical logits, config and meta", async () => {
  const p = perturbedLM(c, 4);
  const ids = tf.tensor2d(randomIds(2, 12, c.vocabSize, 1), undefined, "int32");
  const dir = join(tmp, "lm");
  await saveLM(dir, p, c, { tokenizer: "tok.json" });
  const q = await loadLM(dir);
  assert.deepEqual(q.config, c);
  assert.deepEqual(q.meta, { tokenizer: "tok.json" });
  const a = tf.tidy(() => lmForward(p, c, ids).logits.dataSync());
  const b = tf.tidy(() => lmForward(q.params, q.config, ids).logits.dataSync());
  assert.deepEqual(b, a);
  ids.dispose();
  disposeParams(lmVariables(p));
  disposeParams(lmVariables(q.params));
});

test("a wrong magic, version, truncated data or missing dir is a CheckpointError with a hint", async () => {
  const p = initLM(c, 1);
  const dir = join(tmp, "bad");
  await saveLM(dir, p, c);
  disposeParams(lmVariables(p));
  const header = join(dir, "checkpoint.json");
  const good = readFileSync(header, "utf8");
  const isCkptErr = (re: RegExp) => (e: { _tag: string; message: string }) => e._tag === "CheckpointError" && re.test(e.message);
  writeFileSync(header, good.replace('"ACFT-CKPT"', '"GGUF"'));
  await assert.rejects(loadLM(dir), isCkptErr(/not an acft checkpoint/));
  writeFileSync(header, good.replace('"version": 1', '"version": 2'));
  await assert.rejects(loadLM(dir), isCkptErr(/version 2.*re-create/));
  writeFileSync(header, good);
  truncateSync(join(dir, "tensors.bin"), 100);
  await assert.rejects(loadLM(dir), isCkptErr(/truncated/));
  await assert.rejects(loadLM(join(tmp, "nowhere")), isCkptErr(/no checkpoint/));
});

test("training checkpoint hooks on disk: a resumed run equals an uninterrupted one", async () => {
  const data = randomIds(4, 9, c.vocabSize, 3);
  const run = async (dir: string | undefined, interruptAt?: number) => {
    const p = initLM(c, 2);
    const vars = lmVariables(p);
    let ran = 0;
    await train({
      variables: vars, steps: 4, optimizer: { lr: 1e-2, weightDecay: 0.1 }, batches: (s) => data.slice(s % 2 * 2, s % 2 * 2 + 2),
      loss: (b: number[][]) => lmLoss(p, c, tf.tensor2d(b, undefined, "int32")),
      onProgress: (pr) => { ran++; if (pr.done === interruptAt) throw new Error("killed"); },
      checkpoint: dir ? trainCheckpointHooks(dir, 2, c, { stage: "test" }) : undefined,
    }).catch((e: Error) => { if (e.message !== "killed") throw e; });
    const out = { wte: Array.from(vars.wte.dataSync()), ran };
    disposeParams(vars);
    return out;
  };
  const straight = await run(undefined);
  assert.equal(straight.ran, 4);
  const dir = join(tmp, "train");
  await run(dir, 3); // saved after step 2, killed in step 3
  const header = JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8"));
  assert.equal(header.meta.step, 2);
  assert.equal(header.optimizerT, 2);
  const resumed = await run(dir);
  assert.equal(resumed.ran, 2, "the resumed run executed only steps 2 and 3");
  assert.deepEqual(resumed.wte, straight.wte);
});
