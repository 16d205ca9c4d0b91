// Pure planning: overrides, decoding errors, cycles, missing inputs, sweeps and dedupe.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Schema } from "effect";
import { plan, parseOverride, dependants, restrict } from "../../engine/Graph.ts";
import { definePipeline } from "../../engine/Pipeline.ts";
import { param } from "../../engine/Params.ts";
import { defineStage, Output } from "../../engine/Stage.ts";
import { chain, swept } from "./fixtures/pipelines.ts";
import { add, emit, parity } from "./fixtures/stages.ts";

const ids = (p: ReturnType<typeof plan>) => p.nodes.map((n) => n.id);

test("plan orders instances topologically and fills defaults", () => {
  const p = plan(chain);
  assert.deepEqual(ids(p), ["a", "b", "sum", "par", "dbl", "dir", "read"]);
  const a = p.byId.get("a")!;
  assert.equal(a.kind, "stage");
  assert.deepEqual(a.kind === "stage" && a.paramsEncoded, { value: 1, tag: "" });
  assert.deepEqual([...dependants(p, "sum")].sort(), ["dbl", "dir", "par", "read"]);
});

test("overrides: pipeline params, stage-wide, then instance-specific wins", () => {
  const p = plan(chain, { overrides: ["chain.a=5", "emit.tag=t", "b.tag=only-b"] });
  const get = (id: string) => { const n = p.byId.get(id)!; return n.kind === "stage" ? n.params : {}; };
  assert.deepEqual(get("a"), { value: 5, tag: "t" });
  assert.deepEqual(get("b"), { value: 2, tag: "only-b" });
});

test("parseOverride splits at the first = outside brackets and the last . before it", () => {
  assert.deepEqual(parseOverride("scale[factor=0.5].factor=2"), { target: "scale[factor=0.5]", param: "factor", value: 2 });
  assert.deepEqual(parseOverride("train.name=abc"), { target: "train", param: "name", value: "abc" });
  assert.deepEqual(parseOverride("p.xs=[1,2]"), { target: "p", param: "xs", value: [1, 2] });
  assert.throws(() => parseOverride("novalue"), (e: any) => e._tag === "UsageError" && /--set "novalue"/.test(e.message));
});

test("an unknown --set key fails and lists the known keys", () => {
  assert.throws(() => plan(chain, { overrides: ["emit.valu=3"] }), (e: any) => {
    assert.equal(e._tag, "UnknownOverrideKey");
    assert.match(e.message, /--set emit\.valu: unknown key\. Did you mean emit\.value\?/);
    assert.ok(e.known.includes("emit.value") && e.known.includes("chain.a") && e.known.includes("writeDir.files"));
    return true;
  });
  assert.throws(() => plan(chain, { overrides: ["nosuch.value=3"] }), (e: any) => e._tag === "UnknownOverrideKey");
  assert.throws(() => plan(chain, { overrides: ["chain.c=3"] }), (e: any) => e._tag === "UnknownOverrideKey" && e.known.includes("chain.b"));
});

test("bad params give a DecodeError naming the instance, param path, expected type and value", () => {
  assert.throws(() => plan(chain, { overrides: ["a.value=abc"] }), (e: any) => {
    assert.equal(e._tag, "DecodeError");
    assert.match(e.message, /a params\.value/);
    assert.match(e.message, /Expected number, actual "abc"/);
    return true;
  });
  assert.throws(() => plan(chain, { overrides: ["chain.b=true"] }), (e: any) => e._tag === "DecodeError" && /pipeline chain params\.b/.test(e.message) && /actual true/.test(e.message));
});

test("a cycle is a CycleError naming the loop", () => {
  const cyc = definePipeline({
    name: "cyc", description: "", params: Schema.Struct({}),
    build: (p) => {
      const x = p.add(parity, { id: "x", inputs: { x: p.ref("z") } });
      const y = p.add(parity, { id: "y", inputs: { x } });
      p.add(parity, { id: "z", inputs: { x: y } });
    },
  });
  assert.throws(() => plan(cyc), (e: any) => e._tag === "CycleError" && /x → y → z → x|y → z → x → y|z → x → y → z/.test(e.message));
});

test("a missing input is a MissingInput naming instance and input", () => {
  const dangling = definePipeline({
    name: "d", description: "", params: Schema.Struct({}),
    build: (p) => void p.add(parity, { id: "x", inputs: { x: p.ref("nope") } }),
  });
  assert.throws(() => plan(dangling), (e: any) => e._tag === "MissingInput" && e.instance === "x" && /"nope"/.test(e.message));
  const unconnected = definePipeline({
    name: "u", description: "", params: Schema.Struct({}),
    build: (p) => void p.add(add, { id: "s", inputs: { a: p.add(emit) } as any }),
  });
  assert.throws(() => plan(unconnected), (e: any) => e._tag === "MissingInput" && e.input === "b" && /input "b" is not connected/.test(e.message));
});

test("wrong input kind and duplicate ids are DefinitionErrors", () => {
  const dirStage = defineStage({
    name: "mkdir", version: 1, module: import.meta.url, params: Schema.Struct({}), inputs: {}, output: Output.directory(),
    run: () => { throw new Error("not run"); },
  });
  const wrongKind = definePipeline({
    name: "w", description: "", params: Schema.Struct({}),
    build: (p) => void p.add(parity, { id: "x", inputs: { x: p.add(dirStage) as any } }),
  });
  assert.throws(() => plan(wrongKind), (e: any) => e._tag === "DefinitionError" && /expects a value but "mkdir" produces a directory/.test(e.message));
  const dup = definePipeline({
    name: "dup", description: "", params: Schema.Struct({}),
    build: (p) => { p.add(emit, { id: "e", params: { value: 1 } }); p.add(emit, { id: "e", params: { value: 2 } }); },
  });
  assert.throws(() => plan(dup), (e: any) => e._tag === "DefinitionError" && /"e" is used by two different instances/.test(e.message));
});

test("definitions require a default and a description on every param", () => {
  assert.throws(() => defineStage({
    name: "nodefault", version: 1, module: import.meta.url, params: Schema.Struct({ x: Schema.Number }), inputs: {}, output: Output.value(Schema.Number),
    run: () => { throw new Error(); },
  }), (e: any) => e._tag === "DefinitionError" && /nodefault/.test(e.message) && /default/.test(e.message));
  assert.throws(() => defineStage({
    name: "nodesc", version: 1, module: import.meta.url,
    params: Schema.Struct({ x: Schema.optionalWith(Schema.Number, { default: () => 1 }) }), inputs: {}, output: Output.value(Schema.Number),
    run: () => { throw new Error(); },
  }), (e: any) => e._tag === "DefinitionError" && /without a description: x/.test(e.message));
  void param;
});

test("a sweep expands into instances; identical keys dedupe (shared upstream)", () => {
  const p = plan(swept);
  // 6 adds + 6 distinct emits (value × tag) + 1 shared base emit
  assert.equal(p.nodes.length, 13);
  assert.equal(p.nodes.filter((n) => n.id === "emit[value=10]").length, 1);
  // --set collapsing the sweep: every emit tag forced to "z" → the (value, tag) emits dedupe to 3
  const q = plan(swept, { overrides: ["emit.tag=z"] });
  const emits = q.nodes.filter((n) => n.kind === "stage" && n.stage.name === "emit");
  assert.equal(emits.length, 4);
  const adds = q.nodes.filter((n) => n.kind === "stage" && n.stage.name === "add");
  assert.equal(adds.length, 3, "add-v-x and add-v-y have identical keys after the override");
  assert.ok(adds.every((n) => n.aliases.length === 1));
});

test("restrict keeps the matching instances and everything they read; a pattern matching nothing is a usage error", () => {
  const p = plan(chain);
  // chain: a, b → sum → par → dbl; sum → dir → read.
  assert.deepEqual(ids(restrict(p, ["par"])), ["a", "b", "sum", "par"]);
  assert.deepEqual(ids(restrict(p, ["d*"])), ["a", "b", "sum", "par", "dbl", "dir"]);
  assert.deepEqual(ids(restrict(p, ["sum", "read"])), ["a", "b", "sum", "dir", "read"]);
  assert.deepEqual(ids(restrict(p, [])), ids(p));
  assert.throws(() => restrict(p, ["nosuch*"]), (e: any) => e._tag === "UsageError" && /--only nosuch\*: no instance of chain matches; ids look like a, b, sum/.test(e.message));
});
