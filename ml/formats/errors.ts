// Typed errors of the pretrained-checkpoint readers. Each names the file and, where it applies,
// the tensor or metadata field, and says what to do.
import { Data } from "effect";

/** A value as a message quotes it: cut to 200 characters with its length. */
export { quote } from "../../engine/Quote.ts";

/** A checkpoint file is malformed, truncated, of an unsupported version/type, or does not fit the model. */
export class CheckpointFormatError extends Data.TaggedError("CheckpointFormatError")<{
  readonly path: string;
  /** The tensor or metadata field at fault, when there is one. */
  readonly tensor?: string;
  readonly field?: string;
  readonly message: string;
}> {}

/** A pretrained tokenizer (tokenizer.json or a GGUF vocabulary) is malformed, unsupported, or does not fit the model. */
export class TokenizerFormatError extends Data.TaggedError("TokenizerFormatError")<{
  readonly path: string;
  readonly field?: string;
  readonly message: string;
}> {}
