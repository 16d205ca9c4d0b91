// Typed errors of the pretrained tokenizer readers (checkpoint files fail with ml/errors.ts's
// ModelFormatError). Each names the file and, where it applies, the field, and says what to do.
import { Data } from "effect";

/** A value as a message quotes it: cut to 200 characters with its length. */
export { quote } from "../../engine/Quote.ts";

/** A pretrained tokenizer (tokenizer.json or a GGUF vocabulary) is malformed, unsupported, or does not fit the model. */
export class TokenizerFormatError extends Data.TaggedError("TokenizerFormatError")<{
  readonly path: string;
  readonly field?: string;
  readonly message: string;
}> {}
