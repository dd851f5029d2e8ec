package io.editstream.model;

/** The transformer families the runtime implements; each has its own package holding config, model and tokenizer specifics. */
public enum ModelFamily {
    /** Llama, Mistral and Qwen2: RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP. */
    LLAMA,
    /** GPT-2: LayerNorm, learned positions, GELU (tanh) MLP, Conv1D weights stored {@code [in, out]}. */
    GPT2
}
