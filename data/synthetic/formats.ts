// Serialisers that write the mini-world in the byte layouts of the real datasets
// (quirks included: Python bytes literals, CRLF pretty-printed JSON, literal "\n" separators).
import { csvRow } from "../csv.ts";
import type { Comment } from "./forum.ts";
import type { ArcLike, WinoLike } from "./commonsense.ts";
import type { McQuestion, PiqaLike } from "./tasks.ts";

/** Python's repr() of s.encode("utf-8"): b'…' (or b"…" when s has ' but no "). */
export const pyBytesLiteral = (s: string): string => {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const b of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(b);
    if (c === "\\" || c === q) out += `\\${c}`;
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if (b < 0x20 || b >= 0x7f) out += `\\x${b.toString(16).padStart(2, "0")}`;
    else out += c;
  }
  return `b${q}${out}${q}`;
};

/** A 1-5 rating written like the ToxiGen CSV (integers plain, thirds as 1.666666667). */
const rating = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(9));

/** Mean of three annotator ratings, all in the toxic (4-5) or benign (1-2) band. */
const ratings = (toxic: boolean, k: number): number => (toxic ? 4 : 1) + (k % 4) / 3;

export const toxigenAnnotatedCsv = (cs: readonly Comment[]): string => {
  const header = "text,target_group,factual?,ingroup_effect,lewd,framing,predicted_group,stereotyping,intent,toxicity_ai,toxicity_human,predicted_author,label,actual_method";
  const rows = cs.map((c, i) => {
    const h = ratings(c.toxic, i);
    return csvRow([
      pyBytesLiteral(c.text), c.board, "opinion", "doesn't use in-group language", "doesn't contain lewd content",
      c.toxic ? "disagreement" : "neither", "it is unclear who is referenced", "doesn't use positive stereotyping",
      rating(h), rating(ratings(c.toxic, i + 1)), rating(h), "human", c.toxic ? "hate" : "neutral", i % 2 === 0 ? "TopK" : "CBS",
    ]);
  });
  return [header, ...rows].join("\n"); // like the source: LF, no final newline
};

/** One prompt line: statements "- s" joined by the literal two characters \n, ending "\n-". */
export const toxigenPromptLine = (statements: readonly string[]): string => `${statements.map((s) => `- ${s}`).join("\\n")}\\n-`;

const pyFloat = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));

/** The SafeNLP toxiGen.json layout: one pretty-printed array, CRLF, 8-space fields. */
export const safenlpJson = (items: readonly { id: number; text: string; toxicity_score: number; label: string; target_groups: readonly string[] }[]): string => {
  const el = (x: (typeof items)[number]) =>
    [
      `        "id": ${x.id},`,
      `        "text": ${JSON.stringify(x.text)},`,
      `        "toxicity_score": ${pyFloat(x.toxicity_score)},`,
      `        "label": "${x.label}",`,
      `        "target_groups": [${x.target_groups.map((g) => JSON.stringify(g)).join(", ")}]`,
    ].join("\r\n");
  return `[{\r\n${items.map(el).join("\r\n    }, {\r\n")}\r\n    }\r\n]`;
};

export const jigsawCsv = (rows: readonly { id: string; text: string; labels: readonly (0 | 1)[] }[]): string =>
  ["id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate", ...rows.map((r) => csvRow([r.id, r.text, ...r.labels.map(String)]))].join("\n") + "\n";

export const mmluCsv = (qs: readonly McQuestion[], eol: "\n" | "\r\n"): string =>
  qs.map((q) => csvRow([q.question, ...q.choices, q.answer]) + eol).join("");

export const piqaJsonl = (items: readonly PiqaLike[]): { jsonl: string; labels: string } => ({
  jsonl: items.map((p) => `{"goal": ${JSON.stringify(p.goal)}, "sol1": ${JSON.stringify(p.sol1)}, "sol2": ${JSON.stringify(p.sol2)}}\n`).join(""),
  labels: items.map((p) => `${p.label}\n`).join(""),
});

/** ARC jsonl: {"id", "question": {"stem", "choices": [{"text", "label"}]}, "answerKey"} per line. */
export const arcJsonl = (items: readonly ArcLike[]): string =>
  items.map((q) => `${JSON.stringify({ id: q.id, question: { stem: q.stem, choices: q.choices.map((text, i) => ({ text, label: "ABCDE"[i] })) }, answerKey: "ABCDE"[q.answer] })}\n`).join("");

/** WinoGrande dev.jsonl + dev-labels.lst. */
export const winograndeJsonl = (items: readonly WinoLike[]): { jsonl: string; labels: string } => ({
  jsonl: items.map((x) => `{"qID": ${JSON.stringify(x.qID)}, "sentence": ${JSON.stringify(x.sentence)}, "option1": ${JSON.stringify(x.option1)}, "option2": ${JSON.stringify(x.option2)}, "answer": "${x.answer}"}\n`).join(""),
  labels: items.map((x) => `${x.answer}\n`).join(""),
});
