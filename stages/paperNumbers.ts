// The paper's own numbers (docs/method.md §7), printed beside ours for reference — never used in a computation.
// Table 1 of Meng et al. 2024: ToxiGen % toxic ↓ / MMLU ↑ / commonsense ↑. The paper's "Baseline" is the
// model fine-tuned on the mix without control, i.e. our SFT row; it has no row for the pretrained base.

export const PAPER_TABLE1: Readonly<Record<string, { readonly llama: readonly [number, number, number]; readonly falcon: readonly [number, number, number] }>> = {
  sft: { llama: [23, 35.1, 75.6], falcon: [14, 27.2, 76.1] },
  filtration: { llama: [21.9, 34.6, 75.1], falcon: [13.6, 26.4, 74.9] },
  rl: { llama: [15.2, 33.6, 73.2], falcon: [9.8, 25.4, 74.4] },
  nado: { llama: [15.2, 31.1, 71.4], falcon: [7.3, 23.6, 72.5] },
  ours: { llama: [15.2, 30.4, 71.9], falcon: [7.1, 23.1, 71.8] },
  oursAdaptive: { llama: [14.2, 33.9, 73.6], falcon: [7.3, 26.1, 74.5] },
};

/** Jigsaw (Llama-7B): toxicity of own generations ↓ and ROC-AUC ↑. */
export const PAPER_JIGSAW: Readonly<Record<string, { readonly toxicity: number; readonly roc_auc: number }>> = {
  baseline: { toxicity: 0.315, roc_auc: 0.91 },
  sftText: { toxicity: 0.344, roc_auc: 0.966 },
  oursText: { toxicity: 0.288, roc_auc: 0.959 },
  sftClassifier: { toxicity: 0.314, roc_auc: 0.972 },
};
