// Evaluation tasks of the mini-world in the real formats' roles:
//  - MMLU-style four-choice questions whose answers are facts stated in the general corpus;
//  - PIQA-style two-choice "which solution works" items built from the everyday know-how.
import type { Rng } from "./rng.ts";
import { EVERYDAY } from "./everyday.ts";
import type { Fact, Relation, World } from "./world.ts";

export interface McQuestion { readonly question: string; readonly choices: readonly [string, string, string, string]; readonly answer: "A" | "B" | "C" | "D"; readonly fact: Fact }

/** MMLU subjects of the mini-world and the relations each one asks about. */
export const SUBJECTS: Readonly<Record<string, readonly Relation[]>> = {
  world_geography: ["city_country", "city_river", "river_sea", "country_capital"],
  world_history: ["person_birthplace", "person_profession", "invention_inventor"],
  world_technology: ["invention_purpose", "city_product"],
};

const QUESTION: Readonly<Record<Relation, (s: string) => string>> = {
  city_country: (s) => `In which country is the city of ${s}?`,
  city_river: (s) => `Which river flows through ${s}?`,
  river_sea: (s) => `Into which sea does the ${s} River flow?`,
  country_capital: (s) => `What is the capital of ${s}?`,
  city_product: (s) => `What is the city of ${s} known for?`,
  person_birthplace: (s) => `In which city was ${s} born?`,
  person_profession: (s) => `What was the profession of ${s}?`,
  invention_inventor: (s) => `Who invented the ${s}?`,
  invention_purpose: (s) => `What is the ${s} used for?`,
};

/** How the answer is shown as a choice (rivers get "the … River", purposes "to …"). */
const shown = (rel: Relation, o: string): string => (rel === "city_river" ? `the ${o} River` : rel === "invention_purpose" ? `to ${o}` : o);

const LETTERS = ["A", "B", "C", "D"] as const;

const question = (r: Rng, f: Fact, pool: readonly string[]): McQuestion => {
  const wrong = r.sample([...new Set(pool)].filter((o) => o !== f.object), 3);
  const pos = r.int(4);
  const opts = [...wrong];
  opts.splice(pos, 0, f.object);
  const choices = opts.map((o) => shown(f.relation, o)) as unknown as [string, string, string, string];
  return { question: QUESTION[f.relation](f.subject), choices, answer: LETTERS[pos], fact: f };
};

/**
 * Per subject: `dev` (5, the few-shot examples), `test` questions, and up to `valPerSubject` `val`
 * questions (the role of MMLU's val split: practice questions the pretraining text may include), all
 * on distinct facts — no test fact is asked in dev or val.
 */
export const mmluQuestions = (rng: Rng, facts: readonly Fact[], testPerSubject: number, valPerSubject = 0): Record<string, { dev: McQuestion[]; test: McQuestion[]; val: McQuestion[] }> => {
  const out: Record<string, { dev: McQuestion[]; test: McQuestion[]; val: McQuestion[] }> = {};
  for (const [subject, rels] of Object.entries(SUBJECTS)) {
    const r = rng.fork(`mmlu/${subject}`);
    // only relations with at least 4 distinct objects can have 3 distractors
    const usable = facts.filter((f) => rels.includes(f.relation) && new Set(facts.filter((g) => g.relation === f.relation).map((g) => g.object)).size >= 4);
    const chosen = r.sample(usable, Math.min(usable.length, 5 + testPerSubject));
    const qs = chosen.map((f) => question(r, f, facts.filter((g) => g.relation === f.relation).map((g) => g.object)));
    // val: drawn from the facts left after dev and test (its own stream, so dev/test do not change with it)
    const asked = new Set(chosen);
    const vr = rng.fork(`mmlu-val/${subject}`);
    const rest = usable.filter((f) => !asked.has(f));
    const val = vr.sample(rest, Math.min(rest.length, valPerSubject)).map((f) => question(vr, f, facts.filter((g) => g.relation === f.relation).map((g) => g.object)));
    out[subject] = { dev: qs.slice(0, 5), test: qs.slice(5), val };
  }
  return out;
};

export interface PiqaLike { readonly goal: string; readonly sol1: string; readonly sol2: string; readonly label: 0 | 1 }

/** n two-choice items: goal + a solution with the suitable tool and one with the unsuitable one. */
export const piqaItems = (rng: Rng, n: number): PiqaLike[] => {
  const r = rng.fork("piqa");
  return Array.from({ length: n }, () => {
    const k = r.pick(EVERYDAY);
    const goal = r.pick([`How do I ${k.task}?`, `To ${k.task},`, `${k.task[0].toUpperCase()}${k.task.slice(1)}`]);
    const sol = (tool: string) => r.pick([`Use ${tool}.`, `Take ${tool} and use it.`, `You can do it with ${tool}.`]);
    const label = r.int(2) as 0 | 1;
    const [good, bad] = [sol(k.good), sol(k.bad)];
    return label === 0 ? { goal, sol1: good, sol2: bad, label } : { goal, sol1: bad, sol2: good, label };
  });
};
