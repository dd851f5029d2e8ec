package io.editstream.model;

/** Turns text into token ids and back, the way the model was trained. */
public interface TextTokenizer extends AutoCloseable {

    /**
     * Token ids of {@code text}, without special tokens except a leading BOS when asked for.
     *
     * @param addBos prepend {@link #bosId()} (ignored when the tokenizer has none)
     */
    int[] encode(String text, boolean addBos);

    /** Text of the ids, special tokens (BOS, EOS) dropped. */
    String decode(int[] ids);

    /** Number of ids the tokenizer can produce. */
    int vocabSize();

    /** Beginning-of-sequence id, -1 if the tokenizer has none. */
    int bosId();

    /** End-of-sequence id, -1 if the tokenizer has none. */
    int eosId();

    /** This tokenizer as a HuggingFace {@code tokenizer.json} document, so one loader serves every model. */
    String toHuggingFaceJson();

    @Override
    void close();
}
