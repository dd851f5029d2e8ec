package io.editstream.serving;

/**
 * A completion and the version that produced it, all of it.
 *
 * @param text             the generated text only, without the prompt
 * @param finishReason     {@code stop} when the model ended the text (BOS or EOS), {@code length} at max_tokens or the
 *                         end of the context
 */
public record Completion(String modelId, long version, String text, int promptTokens, int completionTokens, String finishReason) {
}
