package io.editstream.edit;

/**
 * An editor cannot apply a request of a batch: the request cannot be read on this model (see {@link Editor#check}), or
 * its target or update came out NaN or infinite. Nothing of the batch stays applied: the model and the editor's state
 * are as they were before the call (NSE's targets prepared for the batch are spent), so the caller can drop the request
 * and apply the rest.
 */
public final class EditRejectedException extends RuntimeException {

    private final int requestIndex;
    private final String reason;

    /**
     * @param requestIndex the request's position in the batch
     * @param reason       why, in words
     */
    public EditRejectedException(int requestIndex, String reason) {
        super("edit request " + requestIndex + " of the batch rejected: " + reason);
        this.requestIndex = requestIndex;
        this.reason = reason;
    }

    public int requestIndex() {
        return requestIndex;
    }

    public String reason() {
        return reason;
    }
}
