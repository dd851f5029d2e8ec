package io.editstream.checkpoint;

import io.editstream.tensor.Sha256;
import java.util.regex.Pattern;

/**
 * The object keys of a checkpoint store, built here and only here from validated parts: user text never becomes a
 * path. Blobs are shared by every model and addressed by content; everything else sits under its model.
 *
 * <pre>
 * blobs/sha256/ab/abcdef….safetensors        content-addressed blob
 * models/{model}/base.json                    the base: its hash, tensors, stored base tensors
 * models/{model}/versions/00000000000000000042.json   version 42's manifest
 * models/{model}/refs/{name}.json             named blobs kept beside the base (C0, …)
 * derived/{name}.json                         blobs derived from a base that any model on it may reuse, by a name that
 *                                             hashes what they were derived from (C0 of a corpus, an editor's setup)
 * </pre>
 */
public final class StoreKeys {

    /** A model id: a letter or digit, then up to 127 letters, digits, '.', '_' or '-', never '..'. */
    private static final Pattern MODEL_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    /** A tensor name (HuggingFace style, dotted); no separators, no '..'. */
    private static final Pattern TENSOR = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,255}");
    private static final Pattern REF = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");
    private static final Pattern DERIVED = Pattern.compile("[a-z0-9][a-z0-9_-]{0,127}");

    private StoreKeys() {
    }

    public static String blob(String sha256) {
        if (!Sha256.isHex(sha256)) {
            throw new IllegalArgumentException("not a sha256 blob address: '" + sha256 + "'");
        }
        return "blobs/sha256/" + sha256.substring(0, 2) + "/" + sha256 + ".safetensors";
    }

    static final String BLOBS = "blobs/sha256/";

    /** The blob address in a blob key, or null when the key is not a blob's. */
    static String blobAddress(String key) {
        if (!key.startsWith(BLOBS) || !key.endsWith(".safetensors")) {
            return null;
        }
        String name = key.substring(key.lastIndexOf('/') + 1, key.length() - ".safetensors".length());
        return Sha256.isHex(name) ? name : null;
    }

    public static String base(String modelId) {
        return model(modelId) + "base.json";
    }

    public static String manifest(String modelId, long version) {
        if (version < 1) {
            throw new IllegalArgumentException("versions start at 1, got " + version);
        }
        return versions(modelId) + String.format("%020d.json", version);
    }

    static String versions(String modelId) {
        return model(modelId) + "versions/";
    }

    /** The version a manifest key names, or -1 when the key is not a manifest's. */
    static long versionOf(String key) {
        String name = key.substring(key.lastIndexOf('/') + 1);
        if (!name.matches("[0-9]{20}\\.json")) {
            return -1;
        }
        return Long.parseLong(name.substring(0, 20));
    }

    public static String ref(String modelId, String name) {
        if (name == null || !REF.matcher(name).matches()) {
            throw new IllegalArgumentException("not a reference name (lower-case letters, digits, '_', '-'): '" + name + "'");
        }
        return refs(modelId) + name + ".json";
    }

    static String refs(String modelId) {
        return model(modelId) + "refs/";
    }

    static final String DERIVED_REFS = "derived/";

    public static String derived(String name) {
        if (name == null || !DERIVED.matcher(name).matches()) {
            throw new IllegalArgumentException("not a derived blob name (lower-case letters, digits, '_', '-'; at most 128): '" + name + "'");
        }
        return DERIVED_REFS + name + ".json";
    }

    static final String MODELS = "models/";

    public static String model(String modelId) {
        return MODELS + checkModelId(modelId) + "/";
    }

    public static String checkModelId(String modelId) {
        if (modelId == null || !MODEL_ID.matcher(modelId).matches() || modelId.contains("..")) {
            throw new IllegalArgumentException("not a valid model id (letters, digits, '.', '_', '-'; no '/', no '..'): '" + modelId + "'");
        }
        return modelId;
    }

    public static String checkTensorName(String name) {
        if (name == null || !TENSOR.matcher(name).matches() || name.contains("..")) {
            throw new IllegalArgumentException("not a valid tensor name (letters, digits, '.', '_', '-'; no '/', no '..'): '" + name + "'");
        }
        return name;
    }
}
