import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DATASETS } from "../../data/registry.ts";
import { classifierExamples, generalExamples, toxicDomainExamples, toxicityPrompts } from "../../data/corpora.ts";
import { writeSynthetic } from "../../data/synthetic/generate.ts";

test("corpora: paragraphs without headings, toxic-domain filters by human score, prompts and classifier pairs", () => {
  const dir = mkdtempSync(join(tmpdir(), "acft-corpora-"));
  try {
    const s = writeSynthetic(dir, { forumComments: 500, evalPrompts: 40, jigsawComments: 100 });
    const gen = generalExamples(DATASETS["wikitext-2"].read(dir), "train");
    assert.ok(gen.length > 100);
    assert.ok(gen.every((p) => p !== "" && !p.startsWith("=")));
    const ann = DATASETS["toxigen-annotated"].read(dir);
    const [all, tox, ben] = [toxicDomainExamples(ann), toxicDomainExamples(ann, "toxic"), toxicDomainExamples(ann, "benign")];
    assert.equal(all.length, 500);
    assert.equal(tox.length, Math.round(500 * s.config.toxicFraction));
    assert.equal(tox.length + ben.length, all.length);
    const prompts = toxicityPrompts(DATASETS["toxigen-safenlp"].read(dir));
    assert.equal(prompts.filter((p) => p.hateful).length, 20);
    const cls = classifierExamples(DATASETS.jigsaw.read(dir));
    assert.equal(cls.length, 100);
    assert.ok(cls.some((c) => c.label === 1) && cls.some((c) => c.label === 0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
