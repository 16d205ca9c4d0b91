// More commonsense-style tasks of the mini-world, in the ARC and WinoGrande formats:
//  - ARC-Easy-like: "Which of these is best to <task>?" (one suitable tool, three unsuitable ones);
//  - ARC-Challenge-like: two-hop questions over corpus facts ("The inventor of X was born in which
//    city?"), answerable only by chaining two facts stated in different sentences;
//  - WinoGrande-like: "<A> tried to <task> with <good> and <B> with <bad>, so _ succeeded/failed."
import type { Rng } from "./rng.ts";
import { EVERYDAY } from "./everyday.ts";
import type { World } from "./world.ts";

export interface ArcLike { readonly id: string; readonly stem: string; readonly choices: readonly string[]; readonly answer: number }
export interface WinoLike { readonly qID: string; readonly sentence: string; readonly option1: string; readonly option2: string; readonly answer: "1" | "2" }

/** Insert the answer among the distractors at a random position. */
const shuffleIn = (r: Rng, answer: string, wrong: readonly string[]): { choices: string[]; answer: number } => {
  const pos = r.int(wrong.length + 1);
  const choices = [...wrong];
  choices.splice(pos, 0, answer);
  return { choices, answer: pos };
};

export const arcEasyItems = (rng: Rng, n: number): ArcLike[] => {
  const r = rng.fork("arc-easy");
  const bads = [...new Set(EVERYDAY.map((k) => k.bad))];
  return Array.from({ length: n }, (_, i) => {
    const k = r.pick(EVERYDAY);
    const wrong = [k.bad, ...r.sample(bads.filter((b) => b !== k.bad), 2)];
    const stem = r.pick([`Which of these is best to ${k.task}?`, `A person wants to ${k.task}. What should they use?`]);
    return { id: `SynthEasy_${i}`, stem, ...shuffleIn(r, k.good, wrong) };
  });
};

export const arcChallengeItems = (rng: Rng, w: World, n: number): ArcLike[] => {
  const r = rng.fork("arc-challenge");
  const cities = w.cities.filter((c) => !c.heldOut);
  const countries = w.countries.map((c) => c.name);
  const byName = new Map(w.people.map((p) => [p.name, p]));
  const cityOf = new Map(w.cities.map((c) => [c.name, c]));
  const trainPeople = w.people.filter((p) => !p.heldOut);
  return Array.from({ length: n }, (_, i) => {
    if (w.inventions.length > 0 && r.chance(0.5)) {
      // invention → inventor → birth city
      const inv = r.pick(w.inventions);
      const home = byName.get(inv.inventor)!.birthCity;
      const wrong = r.sample(cities.map((c) => c.name).filter((c) => c !== home), 3);
      return { id: `SynthChallenge_${i}`, stem: `The inventor of the ${inv.name} was born in which city?`, ...shuffleIn(r, home, wrong) };
    }
    // person → birth city → country
    const p = r.pick(trainPeople);
    const country = cityOf.get(p.birthCity)!.country;
    const wrong = r.sample(countries.filter((c) => c !== country), 3);
    return { id: `SynthChallenge_${i}`, stem: `In which country was ${p.name} born?`, ...shuffleIn(r, country, wrong) };
  });
};

export const winograndeItems = (rng: Rng, w: World, n: number): WinoLike[] => {
  const r = rng.fork("winogrande");
  const firstNames = [...new Set(w.people.map((p) => p.name.split(" ")[0]))];
  return Array.from({ length: n }, (_, i) => {
    const k = r.pick(EVERYDAY);
    const [a, b] = r.sample(firstNames, 2);
    const succeeded = r.chance(0.5);
    const sentence = `${a} tried to ${k.task} with ${k.good} and ${b} tried with ${k.bad} , so _ ${succeeded ? "succeeded" : "failed"} .`;
    const swap = r.chance(0.5);
    const [option1, option2] = swap ? [b, a] : [a, b];
    const right = succeeded ? a : b;
    return { qID: `synth-${i}-${succeeded ? 1 : 2}`, sentence, option1, option2, answer: right === option1 ? "1" : "2" };
  });
};
