package io.editstream.checkpoint;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.editstream.tensor.Sha256;
import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One version of a model: what it was derived from, which edits it applies, and per edited tensor the change and the
 * hash of the tensor as it stands after this version. Holds no timestamps, so a retried write of the same batch gives
 * the same bytes and is a no-op.
 *
 * @param formatVersion  {@value #FORMAT_VERSION}; a reader refuses any other
 * @param parentVersion  the version this one applies to, or null for the base
 * @param sequence       the edit sequence numbers this version applies
 * @param deltas         the tensors this version changes, each with one delta
 * @param snapshots      written every K versions: the full tensor of EVERY tensor edited so far (blob sha256, tensor
 *                       {@code weight}), beside this version's deltas, so a late reader starts here
 * @param tensorSha256   every tensor edited so far, the sha256 of its float32 little-endian values after this version
 * @param editorState    blob the editor needs to continue from this version (opaque to the store), or null
 */
public record Manifest(
        @JsonProperty("format_version") int formatVersion,
        @JsonProperty("model_id") String modelId,
        @JsonProperty("version") long version,
        @JsonProperty("parent_version") Long parentVersion,
        @JsonProperty("base_sha256") String baseSha256,
        @JsonProperty("sequence") SequenceRange sequence,
        @JsonProperty("editor") EditorInfo editor,
        @JsonProperty("deltas") SortedMap<String, Delta> deltas,
        @JsonProperty("snapshots") SortedMap<String, String> snapshots,
        @JsonProperty("tensor_sha256") SortedMap<String, String> tensorSha256,
        @JsonProperty("editor_state") String editorState) {

    public static final int FORMAT_VERSION = 1;

    /**
     * @param first first edit sequence applied
     * @param last  last edit sequence applied; {@code first == last + 1} for a version that applies no new edit
     */
    public record SequenceRange(@JsonProperty("first") long first, @JsonProperty("last") long last) {
        public SequenceRange {
            if (first < 1 || last < first - 1) {
                throw new IllegalArgumentException("not a sequence range: " + first + ".." + last);
            }
        }
    }

    /**
     * @param algorithm             e.g. {@code nse+prune}
     * @param hyperparametersSha256 sha256 of the editor's hyperparameters as the worker read them
     * @param restraint             the restraint applied to the accumulated change (e.g. {@code PRUNE(alpha=e)}), or null
     */
    public record EditorInfo(@JsonProperty("algorithm") String algorithm,
                             @JsonProperty("hyperparameters_sha256") String hyperparametersSha256,
                             @JsonProperty("restraint") String restraint) {
        public EditorInfo {
            if (algorithm == null || algorithm.isBlank()) {
                throw new IllegalArgumentException("the editor needs an algorithm name");
            }
            if (!Sha256.isHex(hyperparametersSha256)) {
                throw new IllegalArgumentException("hyperparameters_sha256 is a sha256, got '" + hyperparametersSha256 + "'");
            }
        }
    }

    public Manifest {
        if (formatVersion != FORMAT_VERSION) {
            throw new IllegalArgumentException("manifest format_version " + formatVersion + " is not the " + FORMAT_VERSION + " this reader knows");
        }
        StoreKeys.checkModelId(modelId);
        if (version < 1) {
            throw new IllegalArgumentException("versions start at 1, got " + version);
        }
        if (parentVersion != null && (parentVersion < 1 || parentVersion >= version)) {
            throw new IllegalArgumentException("version " + version + " cannot have parent " + parentVersion);
        }
        if (!Sha256.isHex(baseSha256)) {
            throw new IllegalArgumentException("base_sha256 is a sha256, got '" + baseSha256 + "'");
        }
        if (sequence == null || editor == null) {
            throw new IllegalArgumentException("a manifest names its sequence range and its editor");
        }
        deltas = sorted(deltas);
        snapshots = sorted(snapshots);
        tensorSha256 = sorted(tensorSha256);
        deltas.keySet().forEach(StoreKeys::checkTensorName);
        tensorSha256.keySet().forEach(StoreKeys::checkTensorName);
        for (String tensor : deltas.keySet()) {
            if (!tensorSha256.containsKey(tensor)) {
                throw new IllegalArgumentException("version " + version + " changes " + tensor + " but gives no hash for it");
            }
        }
        if (!snapshots.isEmpty() && !snapshots.keySet().equals(tensorSha256.keySet())) {
            throw new IllegalArgumentException("version " + version + " snapshots " + snapshots.keySet() + ", not every edited tensor "
                    + tensorSha256.keySet());
        }
        for (String hash : tensorSha256.values()) {
            requireHash(hash, "tensor hash");
        }
        for (String hash : snapshots.values()) {
            requireHash(hash, "snapshot blob");
        }
        if (editorState != null) {
            requireHash(editorState, "editor state blob");
        }
    }

    /** Every blob this version references. */
    public java.util.Set<String> blobs() {
        java.util.Set<String> blobs = new java.util.TreeSet<>(snapshots.values());
        deltas.values().forEach(delta -> blobs.add(delta.blob()));
        if (editorState != null) {
            blobs.add(editorState);
        }
        return blobs;
    }

    /** True when every tensor edited so far can be read from this version alone (a snapshot or a base-relative delta). */
    public boolean standsAlone() {
        if (!snapshots.isEmpty()) {
            return true;
        }
        for (String tensor : tensorSha256.keySet()) {
            Delta delta = deltas.get(tensor);
            if (delta == null || delta.kind() == Delta.Kind.LOW_RANK) {
                return false;
            }
        }
        return true;
    }

    private static void requireHash(String value, String what) {
        if (!Sha256.isHex(value)) {
            throw new IllegalArgumentException("a " + what + " is a sha256, got '" + value + "'");
        }
    }

    private static <V> SortedMap<String, V> sorted(SortedMap<String, V> map) {
        return Collections.unmodifiableSortedMap(map == null ? new TreeMap<>() : new TreeMap<>(map));
    }
}
