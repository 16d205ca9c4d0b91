// Where every file of the canonical data-dir layout comes from: the public repository, the commit
// and the path (raw-file URLs at that commit), with the sha256 the fetcher verifies.
// The per-file table (manifest-table.ts) is generated from ../shared/datasets/SHA256SUMS by
// data/tools/build-manifest-table.ts; this file holds the rules that turn a destination path
// into its canonical URL, and the honest notes on files that are not plain copies.
import { FILE_TABLE } from "./manifest-table.ts";

export const RAW_BASE = "https://raw.githubusercontent.com";

interface Source {
  /** destination prefix in the data dir */
  readonly dest: string;
  readonly repo: string;
  readonly commit: string;
  /** path in the repository for a destination path (relative to `dest`) */
  readonly src: (rest: string) => string;
  readonly license: string;
}

const SOURCES: readonly Source[] = [
  { dest: "wikitext-2/", repo: "pytorch/examples", commit: "77f55b912142e11fcfdf5b530231fb9c52f181e8", src: (f) => `word_language_model/data/wikitext-2/${f}`, license: "CC BY-SA 3.0" },
  { dest: "jigsaw_toxic/commentdetoxifier_train_10k/", repo: "ChaoChienHung/CommentDetoxifier", commit: "488b70250fa11c13a35888f21d815f39a3d0decc", src: () => "data/train_10k.csv", license: "CC0 labels, CC BY-SA 3.0 text" },
  { dest: "jigsaw_toxic/practical_nlp_head267/", repo: "keitakurita/Practical_NLP_in_PyTorch", commit: "10b9143f479019aa12734f46c4aa9d75e6097595", src: () => "data/jigsaw/train.csv", license: "CC0 labels, CC BY-SA 3.0 text" },
  { dest: "realtoxicityprompts/", repo: "AI-secure/DecodingTrust", commit: "161ae8321ced62f45fcd9ceb412e05b47c603cd4", src: (f) => `data/toxicity/user_prompts/${f.replace(/^decodingtrust_/, "")}`, license: "Apache-2.0" },
  { dest: "mmlu/", repo: "stanford-cs336/assignment5-alignment", commit: "eb2c562e05802d3c9ee4c4ec2eec43b104d77e9e", src: (f) => `data/mmlu/${f}`, license: "MIT" },
  { dest: "piqa/", repo: "ybisk/ybisk.github.io", commit: "21edab439af693b961be2f069e8690a88d3b4e37", src: (f) => `piqa/data/${f}`, license: "AFL-3.0" },
  { dest: "arc/", repo: "RazvanDu/TemporalRNNs", commit: "7216ec675f3ff6af23b62e5e674dbc1ed6c61530", src: (f) => f, license: "CC BY-SA 4.0" },
  { dest: "winogrande/", repo: "RazvanDu/TemporalRNNs", commit: "7216ec675f3ff6af23b62e5e674dbc1ed6c61530", src: (f) => `winogrande_1.1/${f}`, license: "CC BY" },
  { dest: "toxigen/safenlp/", repo: "microsoft/SafeNLP", commit: "e351b6cb892284cf843b88e363b1a6dbaded584e", src: (f) => `data/${f}`, license: "MIT + CDLA-Permissive-2.0" },
  { dest: "toxigen/annotated/", repo: "Sanjana-Srinidhi/Hate-speech-detection", commit: "558b470eb4c0d456205a0d85a4f0a9c2ef9c14df", src: () => "data/toxigen.csv", license: "MIT + CDLA-Permissive-2.0" },
  { dest: "toxigen/", repo: "microsoft/TOXIGEN", commit: "01517e814639e0334c920a3c502036c8158aac87", src: (f) => f, license: "MIT + CDLA-Permissive-2.0" },
];

/** Files whose canonical copy is not a plain byte copy from its URL, or has a caveat worth stating. */
const NOTES: Readonly<Record<string, string>> = {
  "wikitext-2/train.txt":
    "the shared copy was REBUILT byte-exact from token ids (its git blob id 2d84b35a equals the blob at this URL); fetched from the canonical URL it must match the same sha256",
  "toxigen/annotated/annotated_train.csv":
    "third-party copy of Hugging Face toxigen-data annotated_train.csv with CRLF turned into LF (the official file is behind an HF login and is CRLF); no copy of the 940-row annotated test split exists",
  "jigsaw_toxic/commentdetoxifier_train_10k/train_10k.csv":
    "10k subset, whitespace-normalised and toxic-enriched (47% toxic); the full Kaggle train.csv needs a Kaggle account",
};

export interface ManifestEntry {
  readonly dest: string;
  readonly url: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly repo: string;
  readonly commit: string;
  readonly license: string;
  readonly note?: string;
}

const entry = ([dest, sha256, bytes]: readonly [string, string, number]): ManifestEntry => {
  const s = SOURCES.find((x) => dest.startsWith(x.dest));
  if (s === undefined) throw new Error(`manifest: no source rule for ${dest}`); // a defect in this file
  const path = s.src(dest.slice(s.dest.length)).split("/").map(encodeURIComponent).join("/");
  return { dest, url: `${RAW_BASE}/${s.repo}/${s.commit}/${path}`, sha256, bytes, repo: s.repo, commit: s.commit, license: s.license, ...(NOTES[dest] ? { note: NOTES[dest] } : {}) };
};

export const MANIFEST: readonly ManifestEntry[] = FILE_TABLE.map(entry);

/** Datasets that cannot be fetched from any canonical URL without an account (stated by `acft data fetch`). */
export const NOT_FETCHABLE: readonly string[] = [
  "WikiText-2 raw (wiki.*.raw): the official archive (S3, wikitext-2-raw-v1.zip) is a zip, not in this layout; only the tokenized v1 files are fetched",
  "ToxiGen machine-generated corpus (toxigen.csv, 250,951 rows) and the annotated test split: Hugging Face, login required",
  "Jigsaw full train.csv: Kaggle, account required",
  "HellaSwag, BoolQ, OpenBookQA, SIQA: not in the manifest",
];
