/**
 * Model files: {@link io.editstream.model.format.ModelLoader} picks the format from the path; llama2.c checkpoints,
 * HuggingFace directories (config.json, safetensors, tokenizer.json) and our own safetensors reader and writer.
 */
package io.editstream.model.format;
