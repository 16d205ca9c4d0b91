// Every dataset the project knows: its name, the files (relative to the data dir, in the layout of
// ../shared/datasets — see docs/data.md) and its reader. Stages load datasets only through here.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Effect } from "effect";
import { asEffect, type LoadedDataset, type ReadOptions } from "./dataset.ts";
import { UnknownDataset, type DataError } from "./errors.ts";
import { readArc, readPiqa, readWinoGrande, type ArcItem, type PiqaItem, type WinoGrandeItem } from "./readers/choice.ts";
import { JIGSAW_10K_FILE, JIGSAW_HEAD_FILE, readJigsaw, readJigsawHead, type JigsawComment } from "./readers/jigsaw.ts";
import { readMmlu, type MmluQuestion } from "./readers/mmlu.ts";
import { RTP_FILES, readRtp, type RtpPrompt } from "./readers/rtp.ts";
import { SAFENLP_FILE, readSafeNlp, type SafeNlpItem } from "./readers/safenlp.ts";
import { readToxiGenAnnotated, readToxiGenPrompts, type ToxiGenAnnotated, type ToxiGenPrompt } from "./readers/toxigen.ts";
import { readWikiText, type WikiTextLine } from "./readers/wikitext.ts";

export interface DatasetSpec<A> {
  readonly name: string;
  readonly description: string;
  /** Paths (files or directories) relative to the data dir; "found" = the first exists. */
  readonly paths: readonly string[];
  readonly read: (dataDir: string, opts?: ReadOptions) => LoadedDataset<A>;
}

/** Record type per dataset name. */
export interface DatasetRecords {
  "wikitext-2": WikiTextLine;
  "toxigen-prompts": ToxiGenPrompt;
  "toxigen-annotated": ToxiGenAnnotated;
  "toxigen-safenlp": SafeNlpItem;
  jigsaw: JigsawComment;
  "jigsaw-head267": JigsawComment;
  realtoxicityprompts: RtpPrompt;
  mmlu: MmluQuestion;
  piqa: PiqaItem;
  "arc-easy": ArcItem;
  "arc-challenge": ArcItem;
  winogrande: WinoGrandeItem;
}
export type DatasetName = keyof DatasetRecords;

export const DATASETS: { readonly [K in DatasetName]: DatasetSpec<DatasetRecords[K]> } = {
  "wikitext-2": { name: "wikitext-2", description: "WikiText-2 train/valid/test (general corpus; perplexity)", paths: ["wikitext-2/train.txt", "wikitext-2/wiki.train.tokens", "wikitext-2/wiki.train.raw"], read: readWikiText },
  "toxigen-prompts": { name: "toxigen-prompts", description: "ToxiGen demonstration prompts (toxic-domain corpus)", paths: ["toxigen/prompts"], read: readToxiGenPrompts },
  "toxigen-annotated": { name: "toxigen-annotated", description: "ToxiGen human-annotated train split (text + toxicity_human)", paths: ["toxigen/annotated/annotated_train.csv"], read: readToxiGenAnnotated },
  "toxigen-safenlp": { name: "toxigen-safenlp", description: "SafeNLP toxiGen.json (toxicity evaluation prompts)", paths: [SAFENLP_FILE], read: readSafeNlp },
  jigsaw: { name: "jigsaw", description: "Jigsaw toxic comments, 10k subset (classification)", paths: [JIGSAW_10K_FILE], read: readJigsaw },
  "jigsaw-head267": { name: "jigsaw-head267", description: "Jigsaw train.csv head, 267 byte-original rows", paths: [JIGSAW_HEAD_FILE], read: readJigsawHead },
  realtoxicityprompts: { name: "realtoxicityprompts", description: "RealToxicityPrompts (DecodingTrust toxic/non-toxic subsets)", paths: [RTP_FILES.toxic, RTP_FILES.nontoxic], read: readRtp },
  mmlu: { name: "mmlu", description: "MMLU dev/val/test per subject (5-shot)", paths: ["mmlu/dev"], read: readMmlu },
  piqa: { name: "piqa", description: "PIQA validation (0-shot commonsense)", paths: ["piqa/valid.jsonl"], read: readPiqa },
  "arc-easy": { name: "arc-easy", description: "ARC-Easy dev/test", paths: ["arc/ARC-Easy"], read: readArc("Easy") },
  "arc-challenge": { name: "arc-challenge", description: "ARC-Challenge dev/test", paths: ["arc/ARC-Challenge"], read: readArc("Challenge") },
  winogrande: { name: "winogrande", description: "WinoGrande v1.1 dev", paths: ["winogrande/dev.jsonl"], read: readWinoGrande },
};

export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

export const isDatasetName = (s: string): s is DatasetName => Object.hasOwn(DATASETS, s);

/** Whether any of the dataset's paths exists under dataDir. */
export const datasetPresent = (name: DatasetName, dataDir: string): boolean =>
  DATASETS[name].paths.some((p) => existsSync(join(dataDir, p)));

/** Load one dataset by name (strict by default: the first malformed record fails). */
export const loadDataset = <K extends DatasetName>(name: K, dataDir: string, opts: ReadOptions = {}): Effect.Effect<LoadedDataset<DatasetRecords[K]>, DataError> =>
  asEffect(() => (DATASETS[name] as DatasetSpec<DatasetRecords[K]>).read(dataDir, opts));

/** Same, by a name from user input (config or CLI): an unknown name fails with the known list. */
export const loadDatasetByName = (name: string, dataDir: string, opts: ReadOptions = {}): Effect.Effect<LoadedDataset<unknown>, DataError> =>
  isDatasetName(name) ? loadDataset(name, dataDir, opts) : Effect.fail(new UnknownDataset({ name, known: DATASET_NAMES }));

/** The data dir from a flag, else ACFT_DATA_DIR, else undefined (= the synthetic default). */
export const resolveDataDir = (flag?: string): string | undefined => flag ?? (process.env.ACFT_DATA_DIR || undefined);
