// Typed errors of the engine. Every error a user can cause names the culprit and says what to do.
import { Data } from "effect";
import { count } from "./Quote.ts";

export { boundMessage, quote } from "./Quote.ts";

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

/** The store directory cannot be created, read or written (a file in its place, read-only, no space). */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly message: string;
  readonly path: string;
  readonly code: string;
}> {}

/** The run database cannot be opened, read or written (not an SQLite file, corrupt, disk full). */
export class DatabaseError extends Data.TaggedError("DatabaseError")<{
  readonly message: string;
  readonly path: string;
  readonly code: string;
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
  | StoreError
  | DatabaseError
  | UsageError;

const TAGS = new Set([
  "DecodeError", "UnknownOverrideKey", "UnknownPipeline", "CycleError", "MissingInput", "DefinitionError",
  "StageFailed", "ArtifactCorrupt", "LockTimeout", "ExternalMissing", "StoreError", "DatabaseError", "UsageError",
]);

export const isEngineError = (e: unknown): e is EngineError =>
  typeof e === "object" && e !== null && TAGS.has((e as { _tag?: string })._tag ?? "");

/** Longest error text the engine records or prints for one instance; longer texts keep their start and end. */
export const ERROR_CHARS = 4000;

/** Cut a (multi-line) error text to `max` characters, keeping its head and tail and saying how much was cut. */
export const boundText = (text: string, max = ERROR_CHARS): string => {
  if (text.length <= max) return text;
  const keep = Math.floor((max - 60) / 2);
  return `${text.slice(0, keep)}\n… [${count(text.length - 2 * keep)} characters cut] …\n${text.slice(-keep)}`;
};

const ERRNO_ADVICE: Record<string, string> = {
  ENOSPC: "the disk is full: free space or point --store at another disk",
  EDQUOT: "the disk quota is exhausted: free space or point --store at another disk",
  EROFS: "the filesystem is read-only: point --store (or ACFT_HOME) at a writable directory",
  EACCES: "permission denied: make it writable for this user or point --store at another directory",
  EPERM: "operation not permitted: make it writable for this user or point --store at another directory",
  ENOTDIR: "a path component is a file, not a directory: point --store at a directory",
  EEXIST: "a file is in the way: point --store at a directory",
};

/** The errno code of a filesystem error, if it is one. */
export const errnoOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
};

/** A filesystem failure on the store as a StoreError naming the path and what to do. */
export const storeError = (e: unknown, path: string, doing: string): StoreError => {
  const code = errnoOf(e) ?? "EIO";
  const advice = ERRNO_ADVICE[code] ?? `check the path and the disk (${(e as Error)?.message ?? String(e)})`;
  return new StoreError({ message: `store: cannot ${doing} ${path} (${code}): ${advice}`, path, code });
};
