/**
 * The testbed: a small Llama trained by the project on CounterFact's true facts, so that editing benchmarks run on a
 * model that knows what it is asked to change. {@link io.editstream.train.WordTokenizer} builds the tokenizer from
 * the training text, {@link io.editstream.train.TestbedTrainer} trains the weights (AdamW by hand, CPU, fixed seed),
 * {@link io.editstream.train.FactRecall} measures what the model knows.
 */
package io.editstream.train;
