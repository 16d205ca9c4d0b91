// Loaded datasets → the plain text lists the stages feed to tokenizers, mixing and evaluations.
// The same functions serve the real data and the synthetic default (they share the readers).
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

/** Classifier examples (Jigsaw role): text and the binary `toxic` label. */
export const classifierExamples = (ds: LoadedDataset<JigsawComment>): { text: string; label: 0 | 1 }[] =>
  ds.records.map((r) => ({ text: r.comment_text, label: r.toxic }));
