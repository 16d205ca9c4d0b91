// Typed errors of the fast CPU path.
import { Data } from "effect";

/**
 * The native addon is missing or cannot be loaded, or the "acft" backend cannot be set up.
 * `reason` says why; the message says what to run (acft then falls back to the stock backends).
 */
export class FastBackendError extends Data.TaggedError("FastBackendError")<{
  readonly backend: string;
  readonly reason: string;
  readonly message: string;
}> {}
