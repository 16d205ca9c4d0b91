// Typed errors of the engine. Every error a user can cause names the culprit and says what to do.
import { Data } from "effect";

export interface Issue {
  readonly path: string;
  readonly message: string;
}

/** A param or input value does not decode through its schema. */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly message: string;
  readonly where: string;
  readonly issues: ReadonlyArray<Issue>;
}> {}

/** `--set key=value` names a pipeline/stage/instance or param that does not exist. */
export class UnknownOverrideKey extends Data.TaggedError("UnknownOverrideKey")<{
  readonly message: string;
  readonly key: string;
  readonly known: ReadonlyArray<string>;
}> {}

export class UnknownPipeline extends Data.TaggedError("UnknownPipeline")<{
  readonly message: string;
  readonly name: string;
  readonly available: ReadonlyArray<string>;
}> {}

/** The pipeline's instances depend on each other in a loop. */
export class CycleError extends Data.TaggedError("CycleError")<{
  readonly message: string;
  readonly cycle: ReadonlyArray<string>;
}> {}

/** A stage input is not connected, or is connected to an instance that does not exist. */
export class MissingInput extends Data.TaggedError("MissingInput")<{
  readonly message: string;
  readonly instance: string;
  readonly input: string;
}> {}

/** Two different instances were given the same id, or a stage/pipeline definition is malformed. */
export class DefinitionError extends Data.TaggedError("DefinitionError")<{
  readonly message: string;
}> {}

/** A stage's run failed (or its worker process died). Failures are never cached. */
export class StageFailed extends Data.TaggedError("StageFailed")<{
  readonly message: string;
  readonly instance: string;
  readonly detail: string;
}> {}

/** An artifact in the store is missing or its bytes do not match its digest. */
export class ArtifactCorrupt extends Data.TaggedError("ArtifactCorrupt")<{
  readonly message: string;
  readonly digest: string;
}> {}

/** Waiting for another process that computes the same instance took too long. */
export class LockTimeout extends Data.TaggedError("LockTimeout")<{
  readonly message: string;
  readonly key: string;
  readonly holder: string;
}> {}

/** An external input (data file or directory) does not exist. */
export class ExternalMissing extends Data.TaggedError("ExternalMissing")<{
  readonly message: string;
  readonly path: string;
}> {}

/** A malformed command line. */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string;
}> {}

/** Errors the CLI reports as a message (no stack trace). */
export type EngineError =
  | DecodeError
  | UnknownOverrideKey
  | UnknownPipeline
  | CycleError
  | MissingInput
  | DefinitionError
  | StageFailed
  | ArtifactCorrupt
  | LockTimeout
  | ExternalMissing
  | UsageError;

const TAGS = new Set([
  "DecodeError", "UnknownOverrideKey", "UnknownPipeline", "CycleError", "MissingInput", "DefinitionError",
  "StageFailed", "ArtifactCorrupt", "LockTimeout", "ExternalMissing", "UsageError",
]);

export const isEngineError = (e: unknown): e is EngineError =>
  typeof e === "object" && e !== null && TAGS.has((e as { _tag?: string })._tag ?? "");
