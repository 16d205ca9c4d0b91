// Public API of the evaluations: what stages import.
export * from "./types.ts";
export { EvalTaskError, generateAll, scoreRequests, type EvalOptions } from "./batch.ts";
export { argmax, evaluateMultipleChoice, type GroupResult, type ItemScore, type MultipleChoiceResult, type MultipleChoiceTask } from "./multipleChoice.ts";
export { MMLU_LETTERS, evaluateMmlu, formatMmluClozeExample, formatMmluExample, formatSubject, mmluPrompt, mmluTask, type MmluFormulation, type MmluOptions, type MmluResult } from "./mmlu.ts";
export { arcTask, evaluateCommonsense, piqaTask, winograndeRequests, winograndeTask, type CommonsenseData, type CommonsenseResult } from "./commonsense.ts";
export { TOXIGEN_GENERATION, evaluateToxicity, type Generation, type ToxicityOptions, type ToxicityResult } from "./toxicity.ts";
export { evaluatePerplexity, lmTokenScorer, stridedWindows, type PerplexityOptions, type PerplexityResult, type TokenScorer, type Window } from "./perplexity.ts";
export { evaluateWinRates, judgeScores, pairCounts, winRateMatrix, winRatePairs, type MethodGenerations, type WinRatePair, type WinRateResult } from "./winrate.ts";
export { JIGSAW_MAX_CHARS, JIGSAW_NO, JIGSAW_YES, evaluateJigsaw, evaluateJigsawClassifier, jigsawPrompt, jigsawTrainingText, type JigsawClassifierResult, type JigsawResult } from "./jigsaw.ts";
