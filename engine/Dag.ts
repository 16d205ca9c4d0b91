// Drawing a plan: indented text or a Mermaid flowchart.
import type { Plan, PlanNode } from "./Graph.ts";

const label = (n: PlanNode): string => (n.kind === "external" ? `external ${n.path}` : `${n.id} (${n.stage.name} v${n.stage.version})`);

export const dagText = (p: Plan): string =>
  p.nodes
    .map((n) => {
      const ins = n.kind === "stage" ? Object.entries(n.inputs).map(([k, v]) => `${k} ← ${v}`) : [];
      const alias = n.aliases.length > 0 ? `  [also: ${n.aliases.join(", ")}]` : "";
      return `${label(n)}${alias}${ins.length > 0 ? `\n    ${ins.join("\n    ")}` : ""}`;
    })
    .join("\n");

export const dagMermaid = (p: Plan): string => {
  const ids = new Map(p.nodes.map((n, i) => [n.id, `n${i}`]));
  const esc = (s: string) => s.replace(/"/g, "#quot;");
  const lines = ["flowchart TD"];
  for (const n of p.nodes) lines.push(`  ${ids.get(n.id)}${n.kind === "external" ? `[("${esc(n.path)}")]` : `["${esc(label(n))}"]`}`);
  for (const n of p.nodes)
    if (n.kind === "stage") for (const [k, v] of Object.entries(n.inputs)) lines.push(`  ${ids.get(v)} -->|${esc(k)}| ${ids.get(n.id)}`);
  return lines.join("\n");
};
