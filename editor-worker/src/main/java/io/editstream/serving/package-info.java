/**
 * Serving checkpoint versions to inference clients: a model that swaps versions between requests, never during one
 * ({@link io.editstream.serving.ServedModel}), and its OpenAI-style completions endpoint on the loopback interface
 * ({@link io.editstream.serving.CompletionServer}). The versions come from the fleet subscriber,
 * {@link io.editstream.checkpoint.follow.CheckpointFollower}.
 */
package io.editstream.serving;
