package io.editstream.cli;

/**
 * A failure the user can act on (an unreachable broker, an unreadable file): the command prints its message as one
 * line on stderr, with no stack trace unless {@code --verbose}, and exits with status 1.
 */
public final class CommandFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CommandFailure(String message) {
        super(message);
    }

    public CommandFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
