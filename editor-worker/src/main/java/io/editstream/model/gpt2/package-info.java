/** GPT-2: config.json and tensor names, and the forward pass. Its tokenizer is a plain HuggingFace tokenizer.json. */
package io.editstream.model.gpt2;
