// Typed errors of the pretrained-checkpoint readers. Each names the file and, where it applies,
// the tensor or metadata field, and says what to do.
import { Data } from "effect";

/** A checkpoint file is malformed, truncated, of an unsupported version/type, or does not fit the model. */
export class CheckpointFormatError extends Data.TaggedError("CheckpointFormatError")<{
  readonly path: string;
  /** The tensor or metadata field at fault, when there is one. */
  readonly tensor?: string;
  readonly field?: string;
  readonly message: string;
}> {}

/** Cut a quoted value to ~200 characters so an error message stays readable. */
export const quote = (v: unknown): string => {
  let s: string;
  try { s = typeof v === "string" ? JSON.stringify(v) : typeof v === "bigint" ? `${v}` : JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}` : x)) ?? String(v); }
  catch { s = String(v); }
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
};

/** A pretrained tokenizer (tokenizer.json or a GGUF vocabulary) is malformed, unsupported, or does not fit the model. */
export class TokenizerFormatError extends Data.TaggedError("TokenizerFormatError")<{
  readonly path: string;
  readonly field?: string;
  readonly message: string;
}> {}
