// Param schemas: every field has a default and a description; decoding errors name path, expectation, value.
import { Either, ParseResult, Schema, SchemaAST } from "effect";
import { boundMessage, DecodeError, DefinitionError, type Issue } from "./Errors.ts";

/** A param field: `lr: param(Schema.Number, 3e-4, "learning rate")`. */
export const param = <A, I>(schema: Schema.Schema<A, I, never>, value: NoInfer<A>, description: string) =>
  Schema.optionalWith(schema, { default: () => value }).annotations({ description });

/** A params struct as the engine handles it (field types erased). */
export type Params = Schema.Schema<Record<string, unknown>, Record<string, unknown>, never> & {
  readonly fields: Schema.Struct.Fields;
};
export const asParams = (s: { readonly fields: unknown }): Params => s as unknown as Params;

export interface ParamInfo {
  readonly name: string;
  readonly description: string;
  readonly type: string;
  readonly default: unknown;
}

const typeSide = (schema: Params): SchemaAST.TypeLiteral | undefined => {
  const ast = schema.ast;
  const side = SchemaAST.isTransformation(ast) ? ast.to : ast;
  return SchemaAST.isTypeLiteral(side) ? side : undefined;
};

/** Field names, descriptions, types and defaults, for help texts and error messages. */
export const describeParams = (schema: Params): ParamInfo[] => {
  const defaults = Schema.decodeUnknownSync(schema)({}) as Record<string, unknown>;
  const lit = typeSide(schema);
  return Object.keys(schema.fields).map((name) => {
    const ps = lit?.propertySignatures.find((p) => p.name === name);
    const description = ps ? SchemaAST.getDescriptionAnnotation(ps).pipe((o) => (o._tag === "Some" ? o.value : "")) : "";
    return { name, description, type: ps ? String(ps.type) : "unknown", default: defaults[name] };
  });
};

/** Definition-time check: decoding `{}` must succeed (all defaults) and every field has a description. */
export const checkParamsSchema = (schema: Params, where: string): void => {
  const r = Schema.decodeUnknownEither(schema)({});
  if (Either.isLeft(r))
    throw new DefinitionError({
      message: `${where}: every param needs a default (use param(schema, default, description)):\n${formatIssues(toIssues(r.left))}`,
    });
  const missing = describeParams(schema).filter((p) => p.description === "").map((p) => p.name);
  if (missing.length > 0)
    throw new DefinitionError({ message: `${where}: params without a description: ${missing.join(", ")}` });
};

/** Parse issues as (path, message), dropping the "Expected undefined" alternative of optional fields. */
export const toIssues = (error: ParseResult.ParseError): Issue[] => {
  const all = ParseResult.ArrayFormatter.formatErrorSync(error).map((i) => ({
    path: i.path.map(String).join("."),
    message: boundMessage(i.message), // schema messages quote the actual value, which may be huge
  }));
  const useful = all.filter((i) => !i.message.startsWith("Expected undefined"));
  return useful.length > 0 ? useful : all;
};

const formatIssues = (issues: ReadonlyArray<Issue>): string =>
  issues.map((i) => `  - ${i.path || "<value>"}: ${i.message}`).join("\n");

/** Paths of the non-finite numbers (±Infinity, NaN) in a JSON-like value: JSON and cache keys cannot hold them. */
const nonFinite = (v: unknown, path: string): Issue[] => {
  if (typeof v === "number") return Number.isFinite(v) ? [] : [{ path, message: `Expected a finite number, actual ${v}` }];
  if (Array.isArray(v)) return v.flatMap((x, i) => nonFinite(x, path ? `${path}.${i}` : String(i)));
  if (typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype)
    return Object.entries(v).flatMap(([k, x]) => nonFinite(x, path ? `${path}.${k}` : k));
  return [];
};

/**
 * Decode `input` through `schema`, or fail with a DecodeError naming `where` and every bad path. Numbers
 * must be finite (`--set x=1e309` parses to Infinity, which no output or cache key could hold).
 */
export const decodeWith = <A, I>(schema: Schema.Schema<A, I, never>, input: unknown, where: string): A => {
  const r = Schema.decodeUnknownEither(schema)(input, { errors: "all", onExcessProperty: "error" });
  const raw = Either.isRight(r) ? nonFinite(r.right, "") : toIssues(r.left);
  if (Either.isRight(r) && raw.length === 0) return r.right;
  const issues = raw.map((i) => ({ ...i, path: i.path ? `${where}.${i.path}` : where }));
  throw new DecodeError({ message: `invalid ${where}:\n${formatIssues(issues)}`, where, issues });
};

/** Encode (Type → JSON-able) through `schema`. */
export const encodeWith = <A, I>(schema: Schema.Schema<A, I, never>, value: A, where: string): I => {
  const r = Schema.encodeEither(schema)(value, { errors: "all" });
  if (Either.isRight(r)) return r.right;
  const issues = toIssues(r.left).map((i) => ({ ...i, path: i.path ? `${where}.${i.path}` : where }));
  throw new DecodeError({ message: `cannot encode ${where}:\n${formatIssues(issues)}`, where, issues });
};

/** A `--set` value: JSON when it parses (numbers, booleans, arrays), else the raw string. */
export const parseOverrideValue = (raw: string): unknown => {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
};
