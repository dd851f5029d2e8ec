package io.editstream.corrections;

import java.util.List;
import java.util.Map;

import io.editstream.events.CorrectionEvent;
import io.editstream.events.EditRequest;
import io.editstream.events.Supersession;

/**
 * Upper bounds of the bytes events take in Avro binary, from their texts' UTF-8 lengths: what the byte limits on
 * corrections and batches are checked against without encoding anything. Each bound counts every string's UTF-8
 * bytes plus the longest length prefix (5 bytes), and a fixed allowance for the numbers, unions and framing.
 */
public final class EncodedSize {
    /** The Confluent wire header: magic byte and 4-byte schema id. */
    public static final int WIRE_HEADER = 5;
    /** A batch's own fields (model id aside): sequence numbers, timestamps, array framing. */
    public static final int FIXED_BATCH_FIELDS = 64;
    private static final int PER_TEXT = 5;
    private static final int FIXED_FIELDS = 64;

    private EncodedSize() {
    }

    /** The correction on the wire (header included); -1 when a text has no UTF-8 encoding. */
    public static long of(CorrectionEvent c) {
        long size = WIRE_HEADER + FIXED_FIELDS;
        for (CharSequence text : new CharSequence[] {c.getCorrectionId(), c.getModelId(), c.getSubject(),
                c.getPrompt(), c.getTargetNew(), c.getTargetTrue(), c.getSource()}) {
            size = add(size, text);
        }
        size = add(size, c.getParaphrases());
        size = add(size, c.getNeighborhoodPrompts());
        return add(size, c.getTraceContext());
    }

    /** One edit inside a batch; -1 when a text has no UTF-8 encoding. */
    public static long of(EditRequest e) {
        long size = FIXED_FIELDS;
        for (CharSequence text : new CharSequence[] {e.getCorrectionId(), e.getSubject(), e.getPromptTemplate(),
                e.getTargetNew(), e.getTargetTrue(), e.getSource()}) {
            size = add(size, text);
        }
        size = add(size, e.getParaphrases());
        size = add(size, e.getNeighborhoodPrompts());
        return add(size, e.getTraceContext());
    }

    /** One supersession inside a batch; -1 when a text has no UTF-8 encoding. */
    public static long of(Supersession s) {
        return add(add(add(16, s.getCorrectionId()), s.getSupersededBy()), s.getTargetNew());
    }

    /** The UTF-8 length of the text, or -1 when it has an unpaired surrogate (and so no UTF-8 encoding). */
    public static int utf8Length(CharSequence text) {
        int bytes = 0;
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (ch < 0x80) {
                bytes += 1;
            } else if (ch < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(ch)) {
                if (i + 1 == text.length() || !Character.isLowSurrogate(text.charAt(i + 1))) {
                    return -1;
                }
                bytes += 4;
                i++;
            } else if (Character.isLowSurrogate(ch)) {
                return -1;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    private static long add(long size, CharSequence text) {
        if (size < 0 || text == null) {
            return size;
        }
        int bytes = utf8Length(text);
        return bytes < 0 ? -1 : size + PER_TEXT + bytes;
    }

    private static long add(long size, List<? extends CharSequence> texts) {
        if (texts != null) {
            for (CharSequence text : texts) {
                size = add(size, text);
            }
        }
        return size + PER_TEXT;
    }

    private static long add(long size, Map<? extends CharSequence, ? extends CharSequence> texts) {
        if (texts != null) {
            for (var entry : texts.entrySet()) {
                size = add(add(size, entry.getKey()), entry.getValue());
            }
        }
        return size + PER_TEXT;
    }
}
