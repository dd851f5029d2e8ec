/** The Llama family (Llama, Mistral, Qwen2): config.json and tensor names, the forward pass, and llama2.c's tokenizer. */
package io.editstream.model.llama;
