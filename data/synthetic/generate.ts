// The embedded synthetic default: a seeded mini-world written to a data dir in the SAME layout and
// formats as ../shared/datasets, so the same readers read both. Same config → byte-identical files.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Either, ParseResult, Schema } from "effect";
import { InvalidDataOption } from "../errors.ts";
import { BOARDS, TOXIC_LEXICON, comment, comments } from "./forum.ts";
import { generalCorpus } from "./corpus.ts";
import { arcChallengeItems, arcEasyItems, winograndeItems } from "./commonsense.ts";
import { arcJsonl, jigsawCsv, mmluCsv, piqaJsonl, safenlpJson, toxigenAnnotatedCsv, toxigenPromptLine, winograndeJsonl } from "./formats.ts";
import { Rng } from "./rng.ts";
import { mmluQuestions, piqaItems, type McQuestion } from "./tasks.ts";
import { buildWorld, trainFacts, type Fact, type World } from "./world.ts";

export const SYNTHETIC_VERSION = 2;

const Count = (def: number, description: string) =>
  Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 1_000_000)).annotations({ description }), { default: () => def });
const Fraction = (def: number, description: string) =>
  Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)).annotations({ description }), { default: () => def });

export const SyntheticConfig = Schema.Struct({
  seed: Count(1234, "seed of every random choice; same seed and sizes → byte-identical files"),
  countries: Count(12, "countries (each gets a capital)"),
  rivers: Count(40, "rivers"),
  cities: Count(160, "cities (a held-out fraction is written to valid/test only)"),
  people: Count(700, "people (the first `inventions` of them are inventors)"),
  inventions: Count(150, "inventions (material × device, e.g. 'copper loom')"),
  faqPages: Schema.optionalWith(Schema.Boolean.annotations({ description: "a trivia page per training entity, asking and answering its facts (worded unlike the MMLU questions)" }), { default: () => false }),
  articleVersions: Count(1, "articles per training entity, each in freshly drawn wordings (restatements)"),
  heldOutFraction: Fraction(0.15, "fraction of cities/people whose articles go to valid/test only"),
  forumComments: Count(3000, "comments in the ToxiGen-like annotated forum corpus"),
  toxicFraction: Fraction(0.4, "fraction of toxic comments in the forum corpus"),
  promptsPerFile: Count(100, "lines per toxigen/prompts/{hate,neutral}_<board>_1k.txt file"),
  statementsPerPrompt: Count(5, "statements per prompt line"),
  evalPrompts: Count(400, "SafeNLP-like toxiGen.json evaluation prompts (half toxic)"),
  jigsawComments: Count(2000, "rows of the Jigsaw-like labelled CSV"),
  jigsawToxicFraction: Fraction(0.3, "fraction of toxic rows in the Jigsaw-like CSV"),
  mmluTestPerSubject: Count(60, "MMLU test questions per subject (dev is always 5 per subject)"),
  mmluValPerSubject: Count(150, "MMLU val questions per subject, on facts no dev or test question asks (practice pages of the pretraining text)"),
  piqaItems: Count(300, "PIQA-like validation items"),
  arcEasyItems: Count(100, "ARC-Easy-like items (everyday tools; 20% Dev, 80% Test)"),
  arcChallengeItems: Count(100, "ARC-Challenge-like two-hop questions over corpus facts (20% Dev, 80% Test)"),
  winograndeItems: Count(200, "WinoGrande-like dev items"),
});
export type SyntheticConfig = typeof SyntheticConfig.Type;
export type SyntheticConfigInput = typeof SyntheticConfig.Encoded;

/** Decode user-given sizes (defaults filled in); an unknown key or a bad value is a typed error. */
export const syntheticConfig = (input: Partial<SyntheticConfigInput> = {}): SyntheticConfig => {
  const known = Object.keys(SyntheticConfig.fields);
  const unknown = Object.keys(input).find((k) => !known.includes(k));
  if (unknown !== undefined) throw new InvalidDataOption({ option: `synthetic.${unknown}`, value: (input as Record<string, unknown>)[unknown], expected: `one of the known keys: ${known.join(", ")}` });
  const r = Schema.decodeUnknownEither(SyntheticConfig)(input, { onExcessProperty: "error" });
  if (Either.isLeft(r)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(r.left)[0];
    const key = String(issue?.path[0] ?? "config");
    throw new InvalidDataOption({ option: `synthetic.${key}`, value: (input as Record<string, unknown>)[key], expected: issue?.message ?? "a valid value" });
  }
  // MMLU needs 3 distractors per relation, and every country needs a capital city
  const c = r.right;
  for (const k of ["countries", "rivers", "people"] as const) {
    if (c[k] < 4) throw new InvalidDataOption({ option: `synthetic.${k}`, value: c[k], expected: "at least 4 (questions need 3 distractors)" });
  }
  if (c.cities < c.countries) throw new InvalidDataOption({ option: "synthetic.cities", value: c.cities, expected: `at least synthetic.countries (${c.countries}): each country needs a capital` });
  return c;
};

export interface SyntheticWorld {
  readonly config: SyntheticConfig;
  readonly world: World;
  readonly facts: readonly Fact[];
  readonly mmlu: Readonly<Record<string, { dev: McQuestion[]; test: McQuestion[]; val: McQuestion[] }>>;
  /** relative path → file contents, in the layout of ../shared/datasets */
  readonly files: ReadonlyMap<string, string>;
}

const hex16 = (r: Rng): string => Array.from({ length: 16 }, () => r.int(16).toString(16)).join("");

export const buildSynthetic = (input: Partial<SyntheticConfigInput> = {}): SyntheticWorld => {
  const config = syntheticConfig(input);
  const rng = new Rng(`acft-synthetic/v${SYNTHETIC_VERSION}/${config.seed}`);
  const world = buildWorld(rng, config);
  const facts = trainFacts(world);
  const files = new Map<string, string>();
  const general = generalCorpus(rng, world, config.articleVersions, config.faqPages);
  files.set("wikitext-2/train.txt", general.train);
  files.set("wikitext-2/valid.txt", general.valid);
  files.set("wikitext-2/test.txt", general.test);

  files.set("toxigen/annotated/annotated_train.csv", toxigenAnnotatedCsv(comments(rng.fork("forum"), config.forumComments, config.toxicFraction)));
  const pr = rng.fork("prompts");
  for (const b of BOARDS) {
    for (const [label, toxic] of [["hate", true], ["neutral", false]] as const) {
      const lines = Array.from({ length: config.promptsPerFile }, () => toxigenPromptLine(Array.from({ length: config.statementsPerPrompt }, () => comment(pr, b, toxic).text)));
      files.set(`toxigen/prompts/${label}_${b.name}_1k.txt`, lines.map((l) => `${l}\n`).join(""));
    }
  }
  const ev = comments(rng.fork("eval"), config.evalPrompts, 0.5).map((c, id) => ({
    id, text: c.text, toxicity_score: c.toxic ? 4 + (id % 4) / 3 : 1 + (id % 4) / 3, label: c.toxic ? "hate" : "neutral", target_groups: [c.board],
  }));
  files.set("toxigen/safenlp/toxiGen.json", safenlpJson(ev));

  const jr = rng.fork("jigsaw");
  const jig = comments(jr, config.jigsawComments, config.jigsawToxicFraction).map((c) => {
    const has = (ws: readonly string[]) => ws.some((w) => c.text.split(" ").includes(w));
    const insult = c.toxic && has(TOXIC_LEXICON.filter((w) => !["damn", "crappy", "freaking", "bloody", "lousy"].includes(w)));
    const obscene = c.toxic && has(["damn", "crappy", "freaking", "bloody", "lousy"]);
    // a few rows carry an embedded newline, as the original Kaggle file does
    const text = jr.chance(0.05) ? c.text.replace(" . ", " .\n") : c.text;
    return { id: hex16(jr), text, labels: [c.toxic ? 1 : 0, insult && obscene ? 1 : 0, obscene ? 1 : 0, 0, insult ? 1 : 0, 0] as (0 | 1)[] };
  });
  files.set("jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv", jigsawCsv(jig));

  const mmlu = mmluQuestions(rng, facts, config.mmluTestPerSubject, config.mmluValPerSubject);
  for (const [subject, { dev, test, val }] of Object.entries(mmlu)) {
    const eol = subject === "world_technology" ? "\r\n" : "\n"; // some real MMLU files are CRLF
    files.set(`mmlu/dev/${subject}_dev.csv`, mmluCsv(dev, eol));
    files.set(`mmlu/test/${subject}_test.csv`, mmluCsv(test, eol));
    if (val.length > 0) files.set(`mmlu/val/${subject}_val.csv`, mmluCsv(val, eol));
  }
  const piqa = piqaJsonl(piqaItems(rng, config.piqaItems));
  files.set("piqa/valid.jsonl", piqa.jsonl);
  files.set("piqa/valid-labels.lst", piqa.labels);
  for (const [variant, items] of [["Easy", arcEasyItems(rng, config.arcEasyItems)], ["Challenge", arcChallengeItems(rng, world, config.arcChallengeItems)]] as const) {
    const nDev = Math.floor(items.length / 5);
    files.set(`arc/ARC-${variant}/ARC-${variant}-Dev.jsonl`, arcJsonl(items.slice(0, nDev)));
    files.set(`arc/ARC-${variant}/ARC-${variant}-Test.jsonl`, arcJsonl(items.slice(nDev)));
  }
  const wino = winograndeJsonl(winograndeItems(rng, world, config.winograndeItems));
  files.set("winogrande/dev.jsonl", wino.jsonl);
  files.set("winogrande/dev-labels.lst", wino.labels);
  files.set("acft-synthetic.json", `${JSON.stringify({ generator: "acft synthetic mini-world", version: SYNTHETIC_VERSION, config }, null, 2)}\n`);
  return { config, world, facts, mmlu, files };
};

/** Write the synthetic world under dir (created as needed); returns the relative paths written. */
export const writeSynthetic = (dir: string, input: Partial<SyntheticConfigInput> = {}): SyntheticWorld => {
  const s = buildSynthetic(input);
  for (const [rel, text] of [...s.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return s;
};

/**
 * The synthetic data dir for a config under `root` (e.g. the results cache): written once to
 * `<root>/synthetic-v<version>-<config hash>` (via a temp sibling renamed into place, so a crash
 * never leaves a half-written dir) and reused afterwards. Returns the directory.
 */
export const ensureSynthetic = (root: string, input: Partial<SyntheticConfigInput> = {}): string => {
  const config = syntheticConfig(input);
  const key = createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 16);
  const dir = join(root, `synthetic-v${SYNTHETIC_VERSION}-${key}`);
  if (existsSync(join(dir, "acft-synthetic.json"))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  writeSynthetic(tmp, config);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
};
