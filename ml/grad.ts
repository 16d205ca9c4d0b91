// Gradient helpers tfjs lacks.
import * as tf from "@tensorflow/tfjs";

/** Identity in the forward pass, zero gradient in the backward pass (tfjs has no tf.stopGradient). */
export const stopGradient = <T extends tf.Tensor>(x: T): T =>
  tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return { value: a.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  }) as unknown as Parameters<typeof tf.customGrad>[0])(x) as T;
