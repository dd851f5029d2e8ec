package io.editstream.streams;

import io.editstream.events.EditRequest;

/**
 * What a correction is about: the model, the subject and the normalised prompt template. Two corrections of the
 * same fact with different targets conflict (supersession); with the same target they are duplicates.
 */
record Fact(String modelId, String subject, String promptTemplate) {

    static Fact of(String modelId, EditRequest request) {
        return new Fact(modelId, request.getSubject(), request.getPromptTemplate());
    }

    /** An unambiguous store key (each part length-prefixed, so no separator can collide with the text). */
    String key() {
        return modelId.length() + ":" + modelId + subject.length() + ":" + subject + promptTemplate;
    }
}
