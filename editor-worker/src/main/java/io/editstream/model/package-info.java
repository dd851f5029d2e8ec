/**
 * The transformer runtime on DJL: {@link io.editstream.model.LanguageModel} is what the editors and evaluators see;
 * the shared blocks (attention with its causal/padding mask and KV cache, norms, activations, rotary embedding, probe
 * hooks) live here; each family package ({@code llama}, {@code gpt2}) holds only its config, forward pass and
 * tokenizer specifics; {@code format} reads and writes checkpoints (llama2.c, HuggingFace safetensors).
 *
 * <p>Memory: weights belong to the model's manager; every forward pass runs in a sub-manager of the caller's scope
 * and hands back only the logits and captures, attached to that scope.
 */
package io.editstream.model;
