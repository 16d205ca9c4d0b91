// The fast CPU path (issue 7): the "acft" tfjs backend with native kernels, fused ops with custom
// gradients (pass `fastOps` to ml/ops.ts setOpsImpl when the backend is active) and a fused AdamW.
export { activateFastPath, FAST_BACKEND, fastInfo, nativeKernelNames, registerFastBackend, setFastThreads } from "./backend.ts";
export { fastOps, causalAttention, gelu, layerNorm, logSoftmax, rmsNorm, rope, softmaxCrossEntropy, swiglu, tokenCrossEntropy } from "./ops.ts";
export { adamwStep, adamwStepReference, type AdamWHyper, type AdamWSlot } from "./adamw.ts";
