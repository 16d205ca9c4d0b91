// The paper's study as a graph (docs/method.md §4–§6), shared by the `paper`, `smoke`, `seeds` and
// `ablations` pipelines. Instance ids name roles ("sft-model", "ours-ad-par/i2/finetune"); none equals
// a stage name, so `--set finetune.lambda=0.3` reaches every instance of the `finetune` stage.
import type { Builder, Ref } from "../engine/Pipeline.ts";
import type { DirOutput, ValueOutput } from "../engine/Stage.ts";
import { contamination } from "../stages/contamination.ts";
import { evalCommonsense } from "../stages/evalCommonsense.ts";
import { evalJigsaw } from "../stages/evalJigsaw.ts";
import { evalMmlu } from "../stages/evalMmlu.ts";
import { evalPerplexity } from "../stages/evalPerplexity.ts";
import { evalToxicity } from "../stages/evalToxicity.ts";
import { filter } from "../stages/filter.ts";
import { finetune } from "../stages/finetune.ts";
import { guided } from "../stages/guided.ts";
import { importModel } from "../stages/importModel.ts";
import { jigsawMix } from "../stages/jigsawMix.ts";
import { jigsawTable } from "../stages/jigsawTable.ts";
import { judge } from "../stages/judge.ts";
import { mix } from "../stages/mix.ts";
import { nado, nadoWarm } from "../stages/nado.ts";
import { oracle } from "../stages/oracle.ts";
import { pretrain } from "../stages/pretrain.ts";
import { rl } from "../stages/rl.ts";
import { sample } from "../stages/sample.ts";
import { sft } from "../stages/sft.ts";
import { synthetic } from "../stages/synthetic.ts";
import { table1, METHODS, type Method } from "../stages/table1.ts";
import { tokenizer } from "../stages/tokenizer.ts";
import { toxicityJudge } from "../stages/toxicityJudge.ts";
import { toxicityByGroup } from "../stages/toxicityByGroup.ts";
import { winrates } from "../stages/winrates.ts";
import type { Schedule } from "../stages/schedules.ts";
import type { PromptSplit } from "../data/corpora.ts";
import { SIZES, type SizeName, type StudySize } from "./sizes.ts";

type Dir = Ref<DirOutput>;
export interface StudyOptions {
  readonly size: SizeName;
  readonly seed: number;
  /** "" = the synthetic world; else an external data dir in the layout of ../shared/datasets. */
  readonly dataDir: string;
  readonly schedule: Schedule;
  /** A pretrained checkpoint (HF directory or .gguf) as the base model; "" or absent = pretrain one. */
  readonly model?: string;
  /** A pretrained checkpoint (HF directory or .gguf) as the win-rate judge; "" or absent = train one (`judgeBudget`). */
  readonly judgeModel?: string;
  /** Prefix of every instance id (the `seeds` pipeline runs one study per seed). */
  readonly prefix?: string;
}

/**
 * The shared upstream: data, mix, tokenizer, base LM, the training oracle, and the evaluation
 * instruments (the win-rate judge LM and the toxicity judge fine-tuned from it). With a pretrained `model`, the
 * base is the imported checkpoint (its content digest in the key) and its own tokenizer serves the
 * judge too: the tokenizer and pretraining stages drop out. The evaluation instruments do not depend
 * on the study seed: every seed is measured with the same rulers.
 */
export interface Upstream {
  readonly S: StudySize; readonly data: Dir; readonly mixed: Dir; readonly bpe: Dir; readonly base: Dir; readonly oracle: Dir;
  readonly judgeLm: Dir; readonly toxJudge: Dir; readonly id: (s: string) => string; readonly seed: number;
}

export const upstream = (p: Builder, o: StudyOptions): Upstream => {
  const S = SIZES[o.size];
  const id = (s: string) => `${o.prefix ?? ""}${s}`;
  // The data does not depend on the study seed: seeds vary the models, not the world.
  const data = o.dataDir !== "" ? p.external(o.dataDir, { id: "data" }) : p.add(synthetic, { id: "data", params: S.synthetic });
  // Which training texts decontamination dropped, and that no overlap with an evaluation item remains.
  p.add(contamination, { id: "contamination", inputs: { data } });
  const mixed = p.add(mix, { id: id("finetune-mix"), params: { seed: o.seed, ...S.mix }, inputs: { data } });
  const orc = p.add(oracle, { id: "toxicity-oracle", params: S.oracle, inputs: { data } });
  // The win-rate judge: a user's checkpoint (`judgeModel`, imported like `model`'s base, its content
  // digest in the key; it scores with its own tokenizer) or an LM trained from scratch on clean general
  // text with the study's tokenizer, on a budget derived from the base's (pipelines/sizes.ts `judgeBudget`).
  const instruments = (bpe: Dir) => {
    const judgeLm = o.judgeModel
      ? p.add(importModel, { id: "judge-lm", params: { contextLength: S.judgeArch.contextLength }, inputs: { checkpoint: p.external(o.judgeModel, { id: "judge-checkpoint" }) } })
      : p.add(judge, { id: "judge-lm", params: { seed: 1, ...S.judgeArch, ...S.judge }, inputs: { tokenizer: bpe, data } });
    const toxJudge = p.add(toxicityJudge, { id: "toxicity-judge", params: S.toxicityJudge, inputs: { lm: judgeLm, oracle: orc, data } });
    return { judgeLm, toxJudge };
  };
  if (o.model) {
    const checkpoint = p.external(o.model, { id: "checkpoint" });
    const imported = (instance: string) => p.add(importModel, { id: instance, params: { contextLength: S.arch.contextLength }, inputs: { checkpoint } });
    const base = imported(id("base-lm"));
    // The instruments are shared by every seed: they read the unprefixed import (the same instance when the prefix is empty).
    return { S, data, mixed, bpe: base, base, oracle: orc, ...instruments(imported("base-lm")), id, seed: o.seed };
  }
  const bpe = p.add(tokenizer, { id: "bpe", params: S.tokenizer, inputs: { data } });
  const base = p.add(pretrain, { id: id("base-lm"), params: { seed: o.seed, ...S.arch, ...S.pretrain }, inputs: { tokenizer: bpe, data } });
  return { S, data, mixed, bpe, base, oracle: orc, ...instruments(bpe), id, seed: o.seed };
};

/** θ_0 → θ_I by the regularised iterations, wired sequentially or in parallel (docs/method.md §4). */
export const iterate = (p: Builder, u: Upstream, o: { name: string; schedule: Schedule; adaptive: boolean; iterations: number; finetune?: Record<string, unknown>; sample?: Record<string, unknown> }) => {
  const { S, id } = u;
  const job = (i: number, j: string) => id(`${o.name}/i${i}/${j}`);
  const sampleOf = (i: number, model: Dir) =>
    p.add(sample, { id: job(i, "sample"), params: { seed: u.seed + i, ...S.sample, ...o.sample }, inputs: { model, oracle: u.oracle, mix: u.mixed } });
  const nadoOf = (i: number, base: Dir, samples: Dir, init?: Dir) => {
    const params = { seed: u.seed + i, ...S.nado };
    return init === undefined
      ? p.add(nado, { id: job(i, "nado"), params, inputs: { base, samples } })
      : p.add(nadoWarm, { id: job(i, "nado"), params, inputs: { base, samples, init } });
  };
  const ft = (i: number, model: Dir, phi: Dir) =>
    p.add(finetune, { id: job(i, "finetune"), params: { seed: u.seed + i, adaptive: o.adaptive, ...S.finetune, ...o.finetune }, inputs: { model, nado: phi, mix: u.mixed } });
  const thetas: Dir[] = [u.base];
  const jobs: Record<string, Dir> = {};
  // Iteration 1 is sequential in both schedules.
  let S1 = sampleOf(1, u.base);
  let phi = nadoOf(1, u.base, S1);
  thetas.push(ft(1, u.base, phi));
  Object.assign(jobs, { [`${o.schedule}_1_sample`]: S1, [`${o.schedule}_1_nado`]: phi, [`${o.schedule}_1_finetune`]: thetas[1] });
  for (let i = 2; i <= o.iterations; i++) {
    const prev = thetas[i - 1];
    if (o.schedule === "sequential") {
      S1 = sampleOf(i, prev);
      phi = nadoOf(i, prev, S1, phi);
      thetas.push(ft(i, prev, phi));
      Object.assign(jobs, { [`sequential_${i}_sample`]: S1, [`sequential_${i}_nado`]: phi, [`sequential_${i}_finetune`]: thetas[i] });
    } else {
      // Parallel: every job of iteration i reads only iteration i−1's outputs — θ_i from (θ_{i−1}, φ_{i−1}),
      // φ_i on S_{i−1} with base θ_{i−1}, S_i from θ_{i−1}; the last iteration needs only its fine-tune.
      thetas.push(ft(i, prev, phi));
      jobs[`parallel_${i}_finetune`] = thetas[i];
      if (i < o.iterations) {
        const nextPhi = nadoOf(i, prev, S1, phi);
        S1 = sampleOf(i, prev);
        phi = nextPhi;
        Object.assign(jobs, { [`parallel_${i}_sample`]: S1, [`parallel_${i}_nado`]: phi });
      }
    }
  }
  return { thetas, phi1: jobs[`${o.schedule}_1_nado`], jobs };
};

export type Evals = { readonly Tox: Ref<ValueOutput>; readonly Mmlu: Ref<ValueOutput>; readonly Cs: Ref<ValueOutput>; readonly Ppl: Ref<ValueOutput> };

/**
 * The toxicity evaluation of one model on one half of the prompts' validation/test split. The test
 * instance keeps the id `eval/<name>/toxicity`; the validation one is `eval/<name>/toxicity-validation`.
 */
export const evaluateToxicitySplit = (p: Builder, u: Upstream, name: string, model: Dir, split: PromptSplit): Ref<ValueOutput> =>
  p.add(evalToxicity, {
    id: u.id(`eval/${name}/toxicity${split === "test" ? "" : `-${split}`}`),
    params: { seed: u.seed, ...u.S.evalToxicity, split }, inputs: { model, data: u.data, judge: u.toxJudge, oracle: u.oracle },
  });

/** The four Table-1 evaluations of one model (`full` = false: toxicity and perplexity only); toxicity on the test split. */
export const evaluate = (p: Builder, u: Upstream, name: string, model: Dir, full = true): Partial<Evals> => {
  const { S, id } = u;
  const ins = { model, data: u.data };
  const out: Partial<Evals> = {
    Tox: evaluateToxicitySplit(p, u, name, model, "test"),
    Ppl: p.add(evalPerplexity, { id: id(`eval/${name}/perplexity`), params: S.evalPerplexity, inputs: ins }),
  };
  if (!full) return out;
  return {
    ...out,
    Mmlu: p.add(evalMmlu, { id: id(`eval/${name}/mmlu`), params: { seed: u.seed, ...S.evalMmlu }, inputs: ins }),
    Cs: p.add(evalCommonsense, { id: id(`eval/${name}/commonsense`), params: { seed: u.seed, ...S.evalCommonsense }, inputs: ins }),
  };
};

/** The seven models of Table 1 (docs/method.md §5). */
export const methods = (p: Builder, u: Upstream, schedule: Schedule) => {
  const { S, id } = u;
  const sftParams = { seed: u.seed, ...S.finetune, steps: S.iterations * S.finetune.steps };
  const sftModel = p.add(sft, { id: id("sft-model"), params: sftParams, inputs: { model: u.base, mix: u.mixed } });
  const filtered = p.add(filter, { id: id("filtered-mix"), inputs: { mix: u.mixed, oracle: u.oracle } });
  const filtration = p.add(sft, { id: id("filtration-model"), params: sftParams, inputs: { model: u.base, mix: filtered } });
  const rlModel = p.add(rl, { id: id("rl-model"), params: { seed: u.seed, ...S.rl }, inputs: { model: sftModel, oracle: u.oracle, mix: u.mixed } });
  const decSamples = p.add(sample, { id: id("nado-decoding/sample"), params: { seed: u.seed, ...S.sample }, inputs: { model: sftModel, oracle: u.oracle, mix: u.mixed } });
  const decNado = p.add(nado, { id: id("nado-decoding/nado"), params: { seed: u.seed, ...S.nado }, inputs: { base: sftModel, samples: decSamples } });
  const nadoModel = p.add(guided, { id: id("nado-decoding/model"), inputs: { model: sftModel, nado: decNado } });
  const tag = schedule === "sequential" ? "seq" : "par";
  const ours = iterate(p, u, { name: `ours-${tag}`, schedule, adaptive: false, iterations: S.iterations });
  const oursAd = iterate(p, u, { name: `ours-ad-${tag}`, schedule, adaptive: true, iterations: S.iterations });
  const models: Record<Method, Dir> = {
    base: u.base, sft: sftModel, filtration, rl: rlModel, nado: nadoModel, ours: ours.thetas[S.iterations], oursAdaptive: oursAd.thetas[S.iterations],
  };
  return { models, oursAd, ours };
};

/**
 * Table 1, toxicity by target group and the win-rate tables over the seven methods. The win rates see
 * the judge's held-out perplexity (the same evalPerplexity as the methods', instance
 * `eval/judge/perplexity`) beside theirs.
 */
export const paperTables = (p: Builder, u: Upstream, models: Record<Method, Dir>, opts: { winrates: boolean; judge?: Dir }) => {
  const evals = Object.fromEntries(METHODS.map(([m]) => [m, evaluate(p, u, m, models[m]) as Evals])) as Record<Method, Evals>;
  const t1Inputs = Object.fromEntries(METHODS.flatMap(([m]) => (["Tox", "Mmlu", "Cs", "Ppl"] as const).map((k) => [`${m}${k}`, evals[m][k]])));
  const table = p.add(table1, { id: u.id("table-1"), inputs: t1Inputs as never });
  const byGroup = p.add(toxicityByGroup, { id: u.id("toxicity-by-group"), inputs: Object.fromEntries(METHODS.map(([m]) => [m, evals[m].Tox])) as never });
  if (opts.winrates && opts.judge) {
    const judgePpl = p.add(evalPerplexity, { id: u.id("eval/judge/perplexity"), params: u.S.evalPerplexity, inputs: { model: opts.judge, data: u.data } });
    const judged = Object.fromEntries(METHODS.flatMap(([m]) => [[m, evals[m].Tox], [`${m}Ppl`, evals[m].Ppl]]));
    p.add(winrates, { id: u.id("win-rates"), inputs: { judge: opts.judge, judgePpl, ...judged } as never });
  }
  return { table, evals, byGroup };
};

/** The Jigsaw table: base as a classifier, SFT / Ours on Jigsaw text, SFT as classifier. */
export const jigsawStudy = (p: Builder, u: Upstream, phi1: Dir) => {
  const { S, id } = u;
  const { steps, batchSize, lr, maxExamples, testItems, prompts, maxChars } = S.jigsaw;
  const split = { seed: u.seed, testItems, maxChars };
  const text = p.add(jigsawMix, { id: id("jigsaw/mix-text"), params: { ...split, mode: "text", maxExamples }, inputs: { data: u.data } });
  const cls = p.add(jigsawMix, { id: id("jigsaw/mix-classifier"), params: { ...split, mode: "classifier", maxExamples }, inputs: { data: u.data } });
  const train = { seed: u.seed, steps, batchSize, lr };
  const models = {
    baseline: u.base,
    sftText: p.add(sft, { id: id("jigsaw/sft-text"), params: train, inputs: { model: u.base, mix: text } }),
    // Ours on Jigsaw: the regulariser's φ is the one trained on the base model's samples (iteration 1).
    oursText: p.add(finetune, { id: id("jigsaw/ours-text"), params: { ...train, adaptive: false }, inputs: { model: u.base, nado: phi1, mix: text } }),
    sftClassifier: p.add(sft, { id: id("jigsaw/sft-classifier"), params: train, inputs: { model: u.base, mix: cls } }),
  };
  const ev = Object.fromEntries(Object.entries(models).map(([k, model]) => [k,
    p.add(evalJigsaw, { id: id(`jigsaw/eval/${k}`), params: { ...split, prompts }, inputs: { model, oracle: u.oracle, data: u.data } })]));
  return p.add(jigsawTable, { id: id("jigsaw-table"), inputs: ev as never });
};

/** The whole paper: Table 1, win rates, Jigsaw. */
export const buildStudy = (p: Builder, o: StudyOptions) => {
  const u = upstream(p, o);
  const { models, oursAd } = methods(p, u, o.schedule);
  const tables = paperTables(p, u, models, { winrates: true, judge: u.judgeLm });
  jigsawStudy(p, u, oursAd.phi1);
  return { u, models, tables };
};
