// The WikiText-like general corpus of the mini-world: one article per entity, written in the
// tokenized WikiText layout (lines begin and end with a space, punctuation split off by spaces,
// headings " = Title = ", blank lines " "), facts stated in varied sentences and restated from a
// second article (a city article names people born there, a river article names its cities…).
import type { Rng } from "./rng.ts";
import { EVERYDAY } from "./everyday.ts";
import { trainFacts, type City, type Fact, type Invention, type Person, type Relation, type World } from "./world.ts";

/** An article: its title and paragraphs (each a list of sentences with spaced punctuation). */
interface Article { readonly title: string; readonly sections: readonly { heading?: string; sentences: string[] }[] }

const list = (xs: readonly string[]): string =>
  xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(" , ")} and ${xs[xs.length - 1]}`;

const capFirst = (s: string): string => s[0].toUpperCase() + s.slice(1);
/** "a painter", "an inventor" */
const a = (noun: string): string => `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;

/** WikiText layout of one article. */
const render = (a: Article): string[] => {
  const lines = [" ", ` = ${a.title} = `, " "];
  for (const s of a.sections) {
    if (s.heading) lines.push(` = = ${s.heading} = = `, " ");
    lines.push(` ${s.sentences.join(" ")} `, " ");
  }
  return lines;
};

const cityArticle = (r: Rng, w: World, c: City): Article => {
  const capitalOf = w.countries.find((k) => k.capital === c.name);
  const natives = w.people.filter((p) => p.birthCity === c.name && !p.heldOut && !c.heldOut).slice(0, 3);
  const intro = [
    r.pick([`${c.name} is a city in ${c.country} .`, `${c.name} is a town of ${c.country} .`, `The city of ${c.name} lies in ${c.country} .`]),
    r.pick([`${c.name} stands on the ${c.river} River .`, `The ${c.river} River flows through ${c.name} .`, `${c.name} was built on the banks of the ${c.river} River .`]),
    ...(capitalOf ? [`${c.name} is the capital of ${c.country} .`] : []),
  ];
  const history = [
    r.pick([`${c.name} was founded in ${c.founded} .`, `The first houses of ${c.name} were built in ${c.founded} .`]),
    r.pick([`${c.name} is known for its ${c.product} .`, `${c.name} is famous for ${c.product} .`, `Traders come to ${c.name} to buy ${c.product} .`]),
  ];
  const people = natives.length === 0 ? [] : [
    r.pick([`Notable people born in ${c.name} include ${list(natives.map((p) => p.name))} .`, `${capFirst(list(natives.map((p) => `the ${p.profession} ${p.name}`)))} ${natives.length > 1 ? "were" : "was"} born in ${c.name} .`]),
  ];
  return { title: c.name, sections: [{ sentences: intro }, { heading: "History", sentences: [...history, ...people] }] };
};

const personArticle = (r: Rng, w: World, p: Person): Article => {
  const city = w.cities.find((c) => c.name === p.birthCity)!;
  const inv = w.inventions.find((i) => i.inventor === p.name);
  const last = p.name.split(" ")[1];
  const seen = w.cities.filter((c) => !c.heldOut);
  const intro = [
    r.pick([`${p.name} ( born ${p.birthYear} ) was ${a(p.profession)} from ${p.birthCity} .`, `${p.name} was ${a(p.profession)} born in ${p.birthCity} in ${p.birthYear} .`, `${p.name} was born in ${p.birthCity} and worked as ${a(p.profession)} .`]),
    r.pick([`${last} grew up in ${p.birthCity} , a city in ${city.country} .`, `As a child , ${last} lived near the ${city.river} River .`]),
  ];
  const work = inv
    ? [r.pick([`${last} is best known for inventing the ${inv.name} in ${inv.year} .`, `In ${inv.year} , ${p.name} invented the ${inv.name} .`]), `The ${inv.name} is used to ${inv.purpose} .`]
    : [r.pick([`${last} was a famous ${p.profession} .`, `Many people admired the work of the ${p.profession} ${p.name} .`]), r.pick([`Late in life , ${last} returned to ${p.birthCity} .`, `${last} travelled to ${r.pick(seen).name} and later to ${r.pick(seen).name} .`])];
  return { title: p.name, sections: [{ sentences: intro }, { heading: "Work", sentences: work }] };
};

const inventionArticle = (r: Rng, i: Invention): Article => ({
  title: `${i.name[0].toUpperCase()}${i.name.slice(1)}`,
  sections: [{
    sentences: [
      r.pick([`The ${i.name} is a device used to ${i.purpose} .`, `${capFirst(a(i.name))} is a tool that people use to ${i.purpose} .`]),
      r.pick([`The ${i.name} was invented by ${i.inventor} in ${i.year} .`, `${i.inventor} built the first ${i.name} in ${i.year} .`]),
      r.pick([`Before the ${i.name} , people had to ${i.purpose} by hand .`, `The ${i.name} made it easier to ${i.purpose} .`]),
    ],
  }],
});

const riverArticle = (r: Rng, w: World, name: string): Article => {
  const river = w.rivers.find((x) => x.name === name)!;
  const on = w.cities.filter((c) => c.river === name && !c.heldOut).slice(0, 4).map((c) => c.name);
  return {
    title: `${name} River`,
    sections: [{
      sentences: [
        r.pick([`The ${name} River flows into ${river.sea} .`, `The ${name} River is a river that ends in ${river.sea} .`]),
        `It is ${river.lengthKm} kilometres long .`,
        ...(on.length ? [`Cities on the ${name} River include ${list(on)} .`] : []),
      ],
    }],
  };
};

const countryArticle = (r: Rng, w: World, name: string): Article => {
  const k = w.countries.find((x) => x.name === name)!;
  const cities = w.cities.filter((c) => c.country === name && !c.heldOut && c.name !== k.capital).slice(0, 5).map((c) => c.name);
  return {
    title: name,
    sections: [{ sentences: [r.pick([`${name} is a country whose capital is ${k.capital} .`, `The capital of ${name} is ${k.capital} .`]), ...(cities.length ? [`Other cities of ${name} include ${list(cities)} .`] : [])] }],
  };
};

const everydayArticle = (r: Rng): Article => ({
  title: "Everyday tools",
  sections: EVERYDAY.map((k) => ({ sentences: [r.pick([`People use ${k.good} to ${k.task} .`, `To ${k.task} , you can use ${k.good} .`]), `It is a bad idea to ${k.task} with ${k.bad} .`] })),
});

/**
 * Trivia-page question and answer per relation (the web states facts in question form too). Worded
 * unlike the MMLU-format questions of tasks.ts, which the corpus never contains.
 */
const FAQ: Readonly<Record<Relation, (s: string, o: string) => string>> = {
  city_country: (s, o) => `Where is ${s} ? In ${o} .`,
  city_river: (s, o) => `What river runs past ${s} ? The ${o} River .`,
  river_sea: (s, o) => `Where does the ${s} River end ? In ${o} .`,
  country_capital: (s, o) => `Which city is the seat of government of ${s} ? ${o} .`,
  city_product: (s, o) => `What do people buy in ${s} ? Mostly ${o} .`,
  person_birthplace: (s, o) => `Where did ${s} come into the world ? In ${o} .`,
  person_profession: (s, o) => `What did ${s} do for a living ? ${capFirst(a(o))} .`,
  invention_inventor: (s, o) => `Who made the first ${s} ? ${o} .`,
  invention_purpose: (s, o) => `What does the ${s} do ? It is used to ${o} .`,
};

/** One trivia page per subject entity: each of its facts as a question and answer, one per line. */
const faqArticles = (r: Rng, facts: readonly Fact[]): Article[] => {
  const by = new Map<string, Fact[]>();
  for (const f of facts) by.set(f.subject, [...(by.get(f.subject) ?? []), f]);
  return [...by].map(([subject, fs]) => ({ title: `Questions about ${subject}`, sections: r.shuffle(fs).map((f) => ({ sentences: [FAQ[f.relation](f.subject, f.object)] })) }));
};

/**
 * The train / valid / test files (WikiText layout). Held-out people and cities only appear in
 * valid/test. The train file holds `versions` articles per entity, each in its own wording, and with
 * `faq` a trivia page per entity that asks and answers each of its facts.
 */
export const generalCorpus = (rng: Rng, w: World, versions = 1, faq = false): { train: string; valid: string; test: string } => {
  const r = rng.fork("corpus");
  const once = (r: Rng): Article[] => [
    ...w.countries.map((k) => countryArticle(r, w, k.name)),
    ...w.rivers.map((x) => riverArticle(r, w, x.name)),
    ...w.cities.filter((c) => !c.heldOut).map((c) => cityArticle(r, w, c)),
    ...w.people.filter((p) => !p.heldOut).map((p) => personArticle(r, w, p)),
    ...w.inventions.map((i) => inventionArticle(r, i)),
  ];
  // Further versions restate every training fact in freshly drawn wordings (as the web repeats a fact
  // on many pages); each version has its own stream, so version 1 stays the same whatever `versions` is.
  const train: Article[] = [
    ...once(r),
    everydayArticle(r),
    everydayArticle(r),
    ...Array.from({ length: Math.max(0, versions - 1) }, (_, v) => once(rng.fork(`corpus-version/${v + 2}`))).flat(),
    ...(faq ? faqArticles(rng.fork("corpus-faq"), trainFacts(w)) : []),
  ];
  const held = [...w.cities.filter((c) => c.heldOut).map((c) => cityArticle(r, w, c)), ...w.people.filter((p) => p.heldOut).map((p) => personArticle(r, w, p))];
  const order = r.fork("order");
  const file = (as: Article[]) => order.shuffle(as).flatMap(render).join("\n") + "\n";
  return { train: file(train), valid: file(held.filter((_, i) => i % 2 === 0)), test: file(held.filter((_, i) => i % 2 === 1)) };
};
