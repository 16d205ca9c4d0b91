// Typed errors of the ML library. Each names what went wrong, where, and what to do next.
import { Data } from "effect";

/** A config value is out of range or inconsistent (e.g. dModel not divisible by nHeads). */
export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly field: string; readonly message: string }> {}

/** Throw a ConfigError naming the option `field` when `ok` is false. */
export const check = (ok: boolean, field: string, message: string): void => {
  if (!ok) throw new ConfigError({ field, message });
};

/** Training produced a NaN/Inf loss or gradient norm; `step` is the 0-based optimizer step. */
export class NonFiniteLossError extends Data.TaggedError("NonFiniteLossError")<{
  readonly step: number;
  readonly value: number;
  readonly message: string;
}> {}

/** A checkpoint directory is missing, of another format/version, or inconsistent with its header. */
export class CheckpointError extends Data.TaggedError("CheckpointError")<{ readonly path: string; readonly message: string }> {}

/** A tokenizer JSON file is malformed or of an unknown version. */
export class TokenizerError extends Data.TaggedError("TokenizerError")<{ readonly message: string }> {}

/** A requested backend cannot be initialised (package missing, no GPU, native addon not built). */
export class BackendError extends Data.TaggedError("BackendError")<{ readonly backend: string; readonly message: string }> {}

/** A generation/scoring request is invalid (too long for the context, empty continuation, ...). */
export class RequestError extends Data.TaggedError("RequestError")<{ readonly message: string }> {}

/**
 * A model file (Hugging Face directory, safetensors, GGUF) cannot be used: unsupported architecture
 * or dtype, a missing tensor, a shape mismatch, a bad config field. Names the file and, where it
 * applies, the tensor or config field.
 */
export class ModelFormatError extends Data.TaggedError("ModelFormatError")<{
  readonly file: string;
  readonly tensor?: string;
  readonly field?: string;
  readonly message: string;
}> {}
