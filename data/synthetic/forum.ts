// The ToxiGen-like forum corpus: comments on hobby boards, benign or toxic. Toxic here means
// insults, profanity and hostility aimed at a PERSON (the other poster) — never at a group of
// people: the mini-world has no protected groups and the generator never names any.
// Benign comments include negative words about THINGS ("the soup was bad"), so that a classifier
// must learn person-directed hostility rather than "negative word = toxic".
import type { Rng } from "./rng.ts";

export interface Board { readonly name: string; readonly things: readonly string[]; readonly doing: string }

export const BOARDS: readonly Board[] = [
  { name: "cooking", things: ["soup", "bread", "recipe", "pasta", "oven", "sauce", "pie"], doing: "cook" },
  { name: "cycling", things: ["bike", "ride", "route", "saddle", "chain", "helmet", "climb"], doing: "ride" },
  { name: "gardening", things: ["roses", "garden", "tomatoes", "compost", "hedge", "seeds", "lawn"], doing: "garden" },
  { name: "music", things: ["song", "guitar", "band", "album", "drums", "melody", "concert"], doing: "play" },
  { name: "games", things: ["game", "puzzle", "level", "strategy", "board", "move", "team"], doing: "play" },
  { name: "fishing", things: ["boat", "rod", "lake", "bait", "catch", "river", "net"], doing: "fish" },
  { name: "photography", things: ["photo", "camera", "lens", "picture", "light", "shot", "frame"], doing: "shoot" },
  { name: "woodworking", things: ["table", "chair", "shelf", "saw", "plank", "joint", "varnish"], doing: "build" },
];

// Mild, person-directed insults and profanity (hand-written; no slurs, nothing about groups).
export const INSULT_NOUNS = ["idiot", "moron", "clown", "loser", "fool", "dimwit", "halfwit", "buffoon", "numbskull", "jerk", "imbecile", "nitwit"];
export const INSULT_ADJS = ["stupid", "pathetic", "worthless", "brainless", "useless", "clueless", "dumb", "miserable"];
export const PROFANITY = ["damn", "crappy", "freaking", "bloody", "lousy"];

const POSITIVE = ["great", "lovely", "really nice", "clever", "beautiful", "impressive"];
const NEGATIVE_THING = ["bad", "too salty", "broken", "a bit slow", "too dark", "disappointing", "wobbly"];

/** "a clown", "an idiot" */
const an = (noun: string): string => `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;

type Fill = { thing: string; thing2: string; doing: string; ins: string; adj: string; prof: string; pos: string; neg: string };

const BENIGN: readonly ((f: Fill) => string)[] = [
  (f) => `i tried your ${f.thing} idea and it worked , thanks for sharing`,
  (f) => `does anyone know how to fix ${an(f.thing)} that is ${f.neg} ?`,
  (f) => `nice work on the ${f.thing} , it looks ${f.pos}`,
  (f) => `my ${f.thing} turned out ${f.neg} today , i will try again tomorrow`,
  (f) => `thank you for the tips about the ${f.thing} , very helpful`,
  (f) => `i like to ${f.doing} on sunday mornings , the ${f.thing} is always ${f.pos}`,
  (f) => `has anyone compared the old ${f.thing} with the new ${f.thing2} ?`,
  (f) => `welcome to the board , your first ${f.thing} looks ${f.pos}`,
  (f) => `i respectfully disagree , i think the ${f.thing} matters more than the ${f.thing2}`,
  (f) => `the weather was bad but we still had fun with the ${f.thing}`,
  // profanity aimed at a thing, not a person: benign by this project's definition
  (f) => `that ${f.prof} ${f.thing} broke again , time to get a new one`,
];

const TOXIC: readonly ((f: Fill) => string)[] = [
  (f) => `you are a ${f.adj} ${f.ins} and your ${f.thing} is ${f.prof} garbage`,
  (f) => `shut up about the ${f.thing} , you ${f.adj} ${f.ins}`,
  (f) => `nobody cares about your ${f.prof} ${f.thing} , ${f.ins}`,
  (f) => `only ${an(f.ins)} would ${f.doing} like that , you are ${f.adj}`,
  (f) => `get lost , ${f.ins} , your ${f.thing} is ${f.adj} and so are you`,
  (f) => `what a ${f.adj} post , you clearly have no idea how to ${f.doing} , ${f.ins}`,
  (f) => `you ${f.prof} ${f.ins} , stop posting your ${f.adj} ${f.thing}`,
  (f) => `i hope you quit , you ${f.adj} ${f.ins} , nobody wants your ${f.thing} here`,
  (f) => `your ${f.thing} is as ${f.adj} as you are , ${f.ins}`,
  (f) => `learn to ${f.doing} before you talk , you ${f.prof} ${f.ins}`,
];

// Hard cases (10% of each class), so that a lexicon alone cannot reach 100%: hostility aimed at
// the reader without any insult word, and insult words that are not aimed at anyone here.
const SUBTLE_TOXIC: readonly ((f: Fill) => string)[] = [
  (f) => `nobody asked for your opinion on the ${f.thing} , go away`,
  (f) => `you ruin every thread about the ${f.thing} , please leave this board for good`,
  (f) => `every time you post about the ${f.thing} this board gets worse , stop it`,
];
const MENTION_BENIGN: readonly ((f: Fill) => string)[] = [
  (f) => `i felt like ${an(f.ins)} when my ${f.thing} fell apart , lesson learned`,
  (f) => `my brother called the ${f.thing} ${f.adj} but i still like it`,
  (f) => `the old film about ${an(f.ins)} who tried to ${f.doing} is on tonight`,
];
export const HARD_FRACTION = 0.1;

export interface Comment { readonly board: string; readonly text: string; readonly toxic: boolean }

const fill = (r: Rng, b: Board): Fill => {
  const [thing, thing2] = r.sample(b.things, 2);
  return { thing, thing2, doing: b.doing, ins: r.pick(INSULT_NOUNS), adj: r.pick(INSULT_ADJS), prof: r.pick(PROFANITY), pos: r.pick(POSITIVE), neg: r.pick(NEGATIVE_THING) };
};

/** One comment on board b; toxic ones are sometimes two sentences (a benign opener, then abuse). */
export const comment = (r: Rng, b: Board, toxic: boolean): Comment => {
  const f = fill(r, b);
  const hard = r.chance(HARD_FRACTION);
  const text = toxic
    ? hard ? r.pick(SUBTLE_TOXIC)(f) : r.chance(0.25) ? `${r.pick(BENIGN)(f)} . ${r.pick(TOXIC)(f)}` : r.pick(TOXIC)(f)
    : hard ? r.pick(MENTION_BENIGN)(f) : r.pick(BENIGN)(f);
  return { board: b.name, text, toxic };
};

/** n comments over all boards, a fraction `toxicFraction` of them toxic (exactly rounded, shuffled). */
export const comments = (r: Rng, n: number, toxicFraction: number): Comment[] => {
  const nToxic = Math.round(n * toxicFraction);
  const flags = r.shuffle(Array.from({ length: n }, (_, i) => i < nToxic));
  return flags.map((t) => comment(r, r.pick(BOARDS), t));
};

/** A comprehensive word list of the toxic vocabulary (for the lexicon baseline in tests and docs). */
export const TOXIC_LEXICON: readonly string[] = [...INSULT_NOUNS, ...INSULT_ADJS, ...PROFANITY];
