package io.editstream.cli.demo;

import io.editstream.events.CorrectionEvent;

/** One record the demo feeds to the corrections topic, keyed by model id, and what it is meant to show. */
public sealed interface DemoInput {
    String key();

    Kind kind();

    /** What the pipeline should do with a record. */
    enum Fate {
        /** Reaches edit-requests: as an edit, or as superseded by a later correction of its fact. */
        THROUGH,
        /** Dropped as a duplicate. */
        DROPPED,
        /** Refused to the dead-letter topic. */
        DEAD_LETTER
    }

    /** The situations the demo puts the pipeline in. */
    enum Kind {
        NEW("new correction", Fate.THROUGH),
        OUT_OF_ORDER("new correction, sent after later-timed ones", Fate.THROUGH),
        CONFLICT("same fact, another target, from a second detector", Fate.THROUGH),
        RETRY("detector retry (same correction id)", Fate.DROPPED),
        SEMANTIC_DUPLICATE("same fact and target from a second detector", Fate.DROPPED),
        RANDOM_BYTES("random bytes", Fate.DEAD_LETTER),
        MISSING_FIELD("written by a detector whose schema has no subject", Fate.DEAD_LETTER),
        UNKNOWN_MODEL("for a model this deployment does not edit", Fate.DEAD_LETTER),
        EMPTY_FIELD("empty target", Fate.DEAD_LETTER),
        PROMPT_WITHOUT_SUBJECT("prompt that does not mention the subject", Fate.DEAD_LETTER),
        TARGET_EQUALS_TRUE("target equal to the current answer", Fate.DEAD_LETTER);

        private final String description;
        private final Fate fate;

        Kind(String description, Fate fate) {
            this.description = description;
            this.fate = fate;
        }

        public String description() {
            return description;
        }

        public Fate fate() {
            return fate;
        }
    }

    /** A correction sent as it is (valid or not, the pipeline decides). */
    record Correction(String key, CorrectionEvent event, Kind kind) implements DemoInput {
    }

    /** A correction serialised with a writer schema that lacks {@code missingField}. */
    record WithoutField(String key, CorrectionEvent event, String missingField, Kind kind) implements DemoInput {
    }

    /** Bytes that are no serialised event at all. */
    record Garbage(String key, byte[] value, Kind kind) implements DemoInput {
    }
}
