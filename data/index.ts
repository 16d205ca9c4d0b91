// Public API of data/: what stages and the CLI import.
export type { LoadedDataset, ReadOptions } from "./dataset.ts";
export * from "./errors.ts";
export { DATASETS, DATASET_NAMES, datasetPresent, isDatasetName, loadDataset, loadDatasetByName, resolveDataDir, type DatasetName, type DatasetRecords } from "./registry.ts";
export { classifierExamples, generalExamples, toxicDomainExamples, toxicityPrompts } from "./corpora.ts";
export { mixCorpora, regularisedExamples, type Domain, type Mix, type MixedExample, type MixOptions } from "./mix.ts";
export { buildSynthetic, ensureSynthetic, writeSynthetic, syntheticConfig, SyntheticConfig, SYNTHETIC_VERSION, type SyntheticWorld } from "./synthetic/generate.ts";
export { MANIFEST, NOT_FETCHABLE, type ManifestEntry } from "./manifest.ts";
export { fetchDatasets, fetchDatasetsEffect, type FetchOptions, type FetchProgress, type FetchedFile } from "./fetch.ts";
export { dataCheck, dataFetch, checkPassed, type DataCheckReport, type DatasetCheck } from "./cli.ts";
export { detokenizeWikiText, wikitextSplit } from "./readers/wikitext.ts";
export { mmluQuestions, mmluSubjects } from "./readers/mmlu.ts";
export type { WikiTextLine } from "./readers/wikitext.ts";
export type { ToxiGenAnnotated, ToxiGenPrompt } from "./readers/toxigen.ts";
export type { SafeNlpItem } from "./readers/safenlp.ts";
export type { JigsawComment } from "./readers/jigsaw.ts";
export type { RtpPrompt } from "./readers/rtp.ts";
export type { MmluQuestion } from "./readers/mmlu.ts";
export type { ArcItem, PiqaItem, WinoGrandeItem } from "./readers/choice.ts";
