package io.editstream.model;

import java.io.IOException;

/**
 * A model or tokenizer on disk that cannot be loaded: unsupported architecture, missing tensor, shape mismatch,
 * unsupported dtype, corrupt header. The message names the file and what was expected.
 */
public final class ModelFormatException extends IOException {

    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
