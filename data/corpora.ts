// Loaded datasets → the plain text lists the stages feed to tokenizers, mixing and evaluations.
// The same functions serve the real data and the synthetic default (they share the readers).
import { createHash } from "node:crypto";
import type { LoadedDataset } from "./dataset.ts";
import type { JigsawComment } from "./readers/jigsaw.ts";
import type { SafeNlpItem } from "./readers/safenlp.ts";
import type { ToxiGenAnnotated } from "./readers/toxigen.ts";
import { detokenizeWikiText, type WikiSplit, type WikiTextLine } from "./readers/wikitext.ts";

/**
 * General-domain examples: the paragraphs of one WikiText split (headings and blank lines dropped),
 * trimmed; tokenized-v1 number splits ("1 @,@ 000") undone when `detokenize` (default true).
 */
export const generalExamples = (ds: LoadedDataset<WikiTextLine>, split: WikiSplit, detokenize = true): string[] =>
  ds.records
    .filter((l) => l.split === split && l.text.trim() !== "" && !/^ = .* = $/.test(l.text))
    .map((l) => (detokenize && l.format === "tokens" ? detokenizeWikiText(l.text) : l.text).trim());

/**
 * Toxic-domain examples (the ToxiGen role): the annotated texts, both harmful and benign — the
 * paper fine-tunes on the whole domain and lets the regulariser handle the attribute. Pass
 * `only: "toxic" | "benign"` to filter by the human judgement (toxicity_human > 3).
 */
export const toxicDomainExamples = (ds: LoadedDataset<ToxiGenAnnotated>, only?: "toxic" | "benign"): string[] =>
  ds.records
    .filter((r) => only === undefined || (r.toxicity_human > 3) === (only === "toxic"))
    .map((r) => r.text.trim())
    .filter((t) => t !== "");

/** Toxicity-evaluation prompts (SafeNLP toxiGen.json role): text + whether the prompt itself is hateful. */
export const toxicityPrompts = (ds: LoadedDataset<SafeNlpItem>): { text: string; hateful: boolean; groups: readonly string[] }[] =>
  ds.records.map((r) => ({ text: r.text.trim(), hateful: r.label === "hate", groups: r.target_groups }));

/** The two halves of the toxicity-evaluation prompts: settings are chosen on `validation`, reported on `test`. */
export type PromptSplit = "validation" | "test";
export const PROMPT_SPLITS = ["test", "validation"] as const satisfies readonly PromptSplit[];

/**
 * The fixed, data-level split of a toxicity-evaluation prompt: the first 32 bits of sha256(UTF-8 text),
 * below 2^31 → validation, else test. A function of the text alone, so it is the same for every seed,
 * size and subset, ~half of the prompts land on each side, and duplicate texts never straddle the split.
 */
export const toxicityPromptSplit = (text: string): PromptSplit =>
  createHash("sha256").update(text, "utf8").digest().readUInt32BE(0) < 0x80000000 ? "validation" : "test";

/** Classifier examples (Jigsaw role): text and the binary `toxic` label. */
export const classifierExamples = (ds: LoadedDataset<JigsawComment>): { text: string; label: 0 | 1 }[] =>
  ds.records.map((r) => ({ text: r.comment_text, label: r.toxic }));
