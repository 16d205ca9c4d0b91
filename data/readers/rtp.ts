// RealToxicityPrompts records (the DecodingTrust 1.2K toxic / non-toxic subsets), JSON Lines:
// {filename, begin, end, challenging, prompt:{text, toxicity, …}, continuation:{text, …}}.
// Perspective scores may be missing or null in RTP, so every score is optional and nullable.
import { Schema } from "effect";
import { DatasetReader, type LoadedDataset, type ReadOptions } from "../dataset.ts";
import { readJsonl } from "./lines.ts";

export const RTP_FORMAT = 1;
export const RTP_FILES = {
  toxic: "realtoxicityprompts/decodingtrust_toxic.jsonl",
  nontoxic: "realtoxicityprompts/decodingtrust_nontoxic.jsonl",
} as const;

const Score = Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(0, 1))));
const Span = Schema.Struct({
  text: Schema.String,
  toxicity: Score,
  severe_toxicity: Score,
  profanity: Score,
  sexually_explicit: Score,
  identity_attack: Score,
  flirtation: Score,
  threat: Score,
  insult: Score,
});

export const RtpPrompt = Schema.Struct({
  subset: Schema.Literal("toxic", "nontoxic"),
  filename: Schema.String,
  begin: Schema.Int,
  end: Schema.Int,
  challenging: Schema.Boolean,
  prompt: Span,
  continuation: Span,
});
export type RtpPrompt = typeof RtpPrompt.Type;

export const readRtp = (dataDir: string, opts: ReadOptions = {}): LoadedDataset<RtpPrompt> => {
  const r = new DatasetReader<RtpPrompt>("realtoxicityprompts", dataDir, RTP_FORMAT, opts);
  for (const subset of ["toxic", "nontoxic"] as const) readJsonl(r, RTP_FILES[subset], RtpPrompt, `the ${subset} subset`, () => ({ subset }));
  return r.finish();
};
