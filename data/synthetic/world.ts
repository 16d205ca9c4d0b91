// The synthetic mini-world: generated countries, seas, rivers, cities, people and inventions, and
// the facts that link them. The general corpus states these facts; the MMLU-format questions ask
// them back, so knowledge learned (and forgotten by fine-tuning) is measurable with small models.
import type { Rng } from "./rng.ts";

export interface Country { readonly name: string; readonly capital: string }
export interface River { readonly name: string; readonly sea: string; readonly lengthKm: number }
export interface City {
  readonly name: string; readonly country: string; readonly river: string;
  readonly founded: number; readonly product: string; readonly heldOut: boolean;
}
export interface Person {
  readonly name: string; readonly profession: string; readonly birthCity: string;
  readonly birthYear: number; readonly heldOut: boolean;
}
export interface Invention { readonly name: string; readonly device: string; readonly inventor: string; readonly year: number; readonly purpose: string }

/** A fact as (subject, relation, object); MMLU questions are built from these. */
export type Relation =
  | "city_country" | "city_river" | "river_sea" | "country_capital" | "city_product"
  | "person_birthplace" | "person_profession" | "invention_inventor" | "invention_purpose";
export interface Fact { readonly subject: string; readonly relation: Relation; readonly object: string }

export interface World {
  readonly countries: readonly Country[];
  readonly seas: readonly string[];
  readonly rivers: readonly River[];
  readonly cities: readonly City[];
  readonly people: readonly Person[];
  readonly inventions: readonly Invention[];
}

export interface WorldSizes {
  readonly countries: number;
  readonly rivers: number;
  readonly cities: number;
  readonly people: number;
  readonly inventions: number;
  /** fraction of cities and people whose articles go to valid/test only (never asked in MMLU) */
  readonly heldOutFraction: number;
}

const SYLLABLES = ["ka", "lo", "mi", "ra", "ten", "vor", "bel", "dun", "sa", "ri", "to", "mar", "el", "an", "is", "or", "ul", "fen", "gar", "hol", "ne", "pa", "sul", "tir", "ba", "do", "ke", "lin", "mo", "ru"];
const COUNTRY_ENDINGS = ["ia", "and", "ora", "esh"];
const SEA_NAMES = ["the Northern Sea", "the Amber Sea", "the Quiet Sea", "the Salt Sea", "the Eastern Sea", "the Grey Sea"];
const PRODUCTS = ["salt", "wool", "glass", "silk", "cheese", "timber", "copper", "paper", "wine", "pottery", "rope", "honey"];
const PROFESSIONS = ["painter", "poet", "composer", "physician", "astronomer", "sculptor", "historian", "architect"];
const INVENTOR_PROFESSIONS = ["engineer", "inventor", "clockmaker"];
const MATERIALS = ["copper", "glass", "iron", "silver", "paper", "stone", "wooden", "bronze", "brass", "steel"];
/** device → what it is used for */
export const DEVICES: Readonly<Record<string, string>> = {
  loom: "weave cloth", compass: "find north", lamp: "light dark rooms", clock: "keep time",
  press: "print books", pump: "lift water", lens: "magnify small things", bell: "call people together",
  mill: "grind grain", kettle: "boil water", kiln: "fire pottery", plough: "turn the soil",
  sail: "catch the wind", scale: "weigh goods", saw: "cut timber", telescope: "watch the stars",
};

const cap = (s: string): string => s[0].toUpperCase() + s.slice(1);

/** Draws fresh names: `parts` syllables, never one already used in this world. */
class Namer {
  private readonly used = new Set<string>();
  constructor(private readonly rng: Rng) {}
  next(minParts: number, maxParts: number, ending = ""): string {
    for (let tries = 0; ; tries++) {
      // the pool of short names runs out in big worlds: allow one more syllable as it fills up
      if (tries > 50) maxParts += 1;
      const n = this.rng.range(minParts, maxParts);
      const name = cap(Array.from({ length: n }, () => this.rng.pick(SYLLABLES)).join("") + ending);
      if (!this.used.has(name) && name.length >= 3) { this.used.add(name); return name; }
    }
  }
}

export const buildWorld = (rng: Rng, sizes: WorldSizes): World => {
  const namer = new Namer(rng.fork("names"));
  const r = rng.fork("world");
  const seas = SEA_NAMES.slice(0, Math.min(SEA_NAMES.length, Math.max(2, Math.ceil(sizes.rivers / 6))));
  const rivers: River[] = Array.from({ length: sizes.rivers }, () => ({ name: namer.next(2, 2), sea: r.pick(seas), lengthKm: r.range(40, 900) }));
  const countryNames = Array.from({ length: sizes.countries }, () => namer.next(1, 2, r.pick(COUNTRY_ENDINGS)));
  const cities: City[] = Array.from({ length: sizes.cities }, (_, i) => ({
    name: namer.next(2, 3),
    // round-robin so every country has cities (and a capital)
    country: countryNames[i % countryNames.length],
    river: r.pick(rivers).name,
    founded: r.range(900, 1700),
    product: r.pick(PRODUCTS),
    heldOut: i >= countryNames.length && r.chance(sizes.heldOutFraction),
  }));
  const countries: Country[] = countryNames.map((name, i) => ({ name, capital: cities[i].name }));
  const trainCities = cities.filter((c) => !c.heldOut);
  const firstNames = Array.from({ length: 60 }, () => namer.next(2, 2));
  const people: Person[] = Array.from({ length: sizes.people }, (_, i) => {
    const heldOut = r.chance(sizes.heldOutFraction);
    const home = heldOut ? r.pick(cities) : r.pick(trainCities);
    return {
      // first names may repeat (a small pool, as in real life); surnames are unique
      name: `${firstNames[r.int(firstNames.length)]} ${namer.next(2, 3)}`,
      profession: i < sizes.inventions ? r.pick(INVENTOR_PROFESSIONS) : r.pick(PROFESSIONS),
      birthCity: home.name,
      birthYear: r.range(1500, 1900),
      heldOut,
    };
  });
  const inventors = people.filter((p) => !p.heldOut && INVENTOR_PROFESSIONS.includes(p.profession));
  const combos = r.shuffle(MATERIALS.flatMap((m) => Object.keys(DEVICES).map((d) => [m, d] as const)));
  const inventions: Invention[] = combos.slice(0, Math.min(sizes.inventions, inventors.length, combos.length)).map(([m, d], i) => {
    const inventor = inventors[i];
    return { name: `${m} ${d}`, device: d, inventor: inventor.name, year: inventor.birthYear + r.range(20, 50), purpose: DEVICES[d] };
  });
  return { countries, seas, rivers, cities, people, inventions };
};

/** Every fact about entities that appear in the training corpus (held-out ones excluded). */
export const trainFacts = (w: World): Fact[] => [
  ...w.cities.filter((c) => !c.heldOut).flatMap((c): Fact[] => [
    { subject: c.name, relation: "city_country", object: c.country },
    { subject: c.name, relation: "city_river", object: c.river },
    { subject: c.name, relation: "city_product", object: c.product },
  ]),
  ...w.rivers.map((r): Fact => ({ subject: r.name, relation: "river_sea", object: r.sea })),
  ...w.countries.map((c): Fact => ({ subject: c.name, relation: "country_capital", object: c.capital })),
  ...w.people.filter((p) => !p.heldOut).flatMap((p): Fact[] => [
    { subject: p.name, relation: "person_birthplace", object: p.birthCity },
    { subject: p.name, relation: "person_profession", object: p.profession },
  ]),
  ...w.inventions.flatMap((i): Fact[] => [
    { subject: i.name, relation: "invention_inventor", object: i.inventor },
    { subject: i.name, relation: "invention_purpose", object: i.purpose },
  ]),
];
