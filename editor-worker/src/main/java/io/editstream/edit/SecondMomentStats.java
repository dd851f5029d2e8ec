package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.editstream.model.ForwardResult;
import io.editstream.model.LanguageModel;
import io.editstream.model.Probe;
import io.editstream.model.TokenBatch;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * C0 = E[k kᵀ]: the uncentred second moment of the MLP keys of a layer over a text corpus, the knowledge an
 * edit must preserve. Expensive (a pass over the corpus), so it is cached in a directory the caller owns,
 * keyed by the model's weights, the layer, the corpus and the sample count.
 *
 * <p>When the corpus holds more positions than samples, the keys come from lines spread evenly over all of it, not
 * from its beginning: a corpus in some order (the testbed's facts, case by case) would otherwise give the second
 * moment of its first part only, and leave the knowledge in the rest unprotected.
 */
public final class SecondMomentStats {

    private static final Logger log = LoggerFactory.getLogger(SecondMomentStats.class);
    private static final int MAGIC = 0x43304b4b; // "C0KK"
    /** Part of the cache key: C0 files computed by another sampling scheme are not this C0. */
    private static final String SAMPLING = "lines-spread|c0-format-2";
    /**
     * Tokens per forward pass at most (whole windows; one window when it is longer). Small passes are cheaper per key
     * here: at 1,024 tokens the testbed's pass cost twice the CPU time per key of 256 (its MLP intermediates grow past
     * what the allocator reuses).
     */
    private static final int TOKENS_PER_FORWARD = 256;
    /** Keys gathered (float32) before one product Kᵀ K. */
    private static final int KEYS_PER_PRODUCT = 4096;
    /** Products summed in float32 before the sum is added to the float64 one. */
    private static final int PRODUCTS_PER_FOLD = 16;
    /** Stripes of rows of Kᵀ K, each multiplied from its diagonal block on (see {@link Accumulator}). */
    private static final int STRIPES = 16;

    private SecondMomentStats() {
    }

    /**
     * C0 of each layer, from {@code cacheDir} when present, otherwise computed in one pass over the corpus
     * (all layers at once) and written there atomically.
     *
     * @param corpus  the text; split into lines, which are cut into windows of at most {@code window} tokens
     * @param samples how many keys (token positions) to average
     */
    public static Map<Integer, FloatMatrix> loadOrCompute(NDManager manager, LanguageModel model, int[] layers,
                                                          String corpus, int samples, int window, Path cacheDir) {
        String corpusSha = sha256(corpus);
        Map<Integer, FloatMatrix> result = new LinkedHashMap<>();
        List<Integer> missing = new ArrayList<>();
        for (int layer : layers) {
            Path file = cacheFile(cacheDir, model.weightsSha256(), layer, corpusSha, samples);
            if (Files.exists(file)) {
                result.put(layer, read(file, model.config().mlpDim()));
                log.info("C0 of layer {} read from {}", layer, file);
            } else {
                missing.add(layer);
            }
        }
        if (!missing.isEmpty()) {
            int[] todo = missing.stream().mapToInt(Integer::intValue).toArray();
            Map<Integer, FloatMatrix> computed = compute(manager, model, todo, corpus, samples, window);
            for (int layer : todo) {
                Path file = cacheFile(cacheDir, model.weightsSha256(), layer, corpusSha, samples);
                write(file, computed.get(layer));
                result.put(layer, computed.get(layer));
            }
        }
        Map<Integer, FloatMatrix> ordered = new LinkedHashMap<>();
        for (int layer : layers) {
            ordered.put(layer, result.get(layer));
        }
        return ordered;
    }

    /** One pass over the corpus, every requested layer's keys captured by the same forward passes. */
    public static Map<Integer, FloatMatrix> compute(NDManager manager, LanguageModel model, int[] layers,
                                                    String corpus, int samples, int window) {
        if (samples <= 0 || window < 2) {
            throw new IllegalArgumentException("need samples > 0 and window >= 2, got " + samples + ", " + window);
        }
        int mlpDim = model.config().mlpDim();
        int width = Math.min(window, model.config().maxSeqLen());
        List<int[]> windows = windows(model, corpus, width, samples);
        try (NDManager scope = manager.newSubManager()) {
            Map<Integer, Accumulator> sums = new LinkedHashMap<>();
            for (int layer : layers) {
                sums.put(layer, new Accumulator(scope, mlpDim));
            }
            long counted = 0;
            long lastLog = System.nanoTime();
            for (int start = 0, end; start < windows.size() && counted < samples; start = end) {
                end = start;
                for (int tokens = 0; end < windows.size() && (end == start || tokens + windows.get(end).length <= TOKENS_PER_FORWARD); end++) {
                    tokens += windows.get(end).length;
                }
                List<int[]> rows = windows.subList(start, end);
                try (NDManager batchScope = scope.newSubManager()) {
                    TokenBatch batch = TokenBatch.of(rows);
                    // the keys are all this pass needs: the LM head runs at one position only
                    Probe probe = Probe.none().captureMlpKeys(layers).logitsAt(new int[] {0}, new int[] {0});
                    ForwardResult result = model.forward(batchScope, batch, probe);
                    long take = Math.min(samples - counted, rows.stream().mapToInt(r -> r.length).sum());
                    for (int layer : layers) {
                        sums.get(layer).add(realPositions(batchScope, result.mlpKey(layer), batch, take));
                    }
                    counted += take;
                }
                if (System.nanoTime() - lastLog > 5_000_000_000L) {
                    log.info("C0 of layers {}: {} / {} keys", Arrays.toString(layers), counted, samples);
                    lastLog = System.nanoTime();
                }
            }
            log.info("C0 of layers {} from {} keys", Arrays.toString(layers), counted);
            Map<Integer, FloatMatrix> result = new LinkedHashMap<>();
            for (int layer : layers) {
                result.put(layer, sums.get(layer).mean(counted));
            }
            return result;
        }
    }

    /** How many keys {@link #compute} takes from this corpus with these settings (fewer than asked when it is short). */
    public static long keyCount(LanguageModel model, String corpus, int samples, int window) {
        int width = Math.min(window, model.config().maxSeqLen());
        return Math.min(samples, windows(model, corpus, width, samples).stream().mapToLong(w -> w.length).sum());
    }

    /**
     * Σ k kᵀ of one layer's keys. Keys wait (float32) until {@value #KEYS_PER_PRODUCT} have gathered; their product then
     * goes into a float32 sum, one GEMM per stripe of {@value #STRIPES}; every {@value #PRODUCTS_PER_FOLD} products the
     * float32 sum is added to the float64 one. Kᵀ K is symmetric, so each stripe of rows is multiplied from its
     * diagonal block rightwards only (17/32 of the full product's arithmetic at 16 stripes) and the lower triangle is
     * mirrored once at the end. Converting and adding a d × d matrix costs about as much as a GEMM over a thousand keys
     * at the testbed's 10,240 neurons, so it is done rarely: the cost is the GEMM's.
     */
    static final class Accumulator {
        private final NDManager owner;
        private final int dim;
        /** First neuron of each stripe, and {@code dim} at the end. */
        private final long[] bounds;
        private final NDArray[] sums64;
        private final NDArray[] sums32;
        private final List<NDArray> pending = new ArrayList<>();
        private NDManager pendingScope;
        private long pendingKeys;
        private int products;

        Accumulator(NDManager owner, int dim) {
            this.owner = owner;
            this.dim = dim;
            int stripes = Math.min(STRIPES, dim);
            bounds = new long[stripes + 1];
            for (int i = 0; i <= stripes; i++) {
                bounds[i] = (long) dim * i / stripes;
            }
            sums64 = new NDArray[stripes];
            sums32 = new NDArray[stripes];
            for (int i = 0; i < stripes; i++) {
                sums64[i] = owner.zeros(new Shape(bounds[i + 1] - bounds[i], dim - bounds[i]), DataType.FLOAT64);
            }
            pendingScope = owner.newSubManager();
        }

        /** Keys {@code [n, dim]}, float32; kept until the next product. */
        void add(NDArray keys) {
            keys.attach(pendingScope);
            pending.add(keys);
            pendingKeys += keys.getShape().get(0);
            if (pendingKeys >= KEYS_PER_PRODUCT) {
                multiply();
            }
        }

        private void multiply() {
            if (pending.isEmpty()) {
                return;
            }
            try (NDManager productScope = owner.newSubManager()) {
                NDArray keys = pending.size() == 1 ? pending.get(0) : NDArrays.concat(new NDList(pending));
                keys.attach(productScope);
                for (int i = 0; i < sums64.length; i++) {
                    NDArray stripe = keys.get(new NDIndex(":, " + bounds[i] + ":" + bounds[i + 1])).transpose();
                    NDArray product = stripe.matMul(keys.get(new NDIndex(":, " + bounds[i] + ":")));
                    if (sums32[i] == null) {
                        product.attach(owner);
                        sums32[i] = product;
                    } else {
                        sums32[i].addi(product);
                    }
                }
            }
            pending.clear();
            pendingScope.close();
            pendingScope = owner.newSubManager();
            pendingKeys = 0;
            if (++products >= PRODUCTS_PER_FOLD) {
                fold();
            }
        }

        private void fold() {
            for (int i = 0; i < sums32.length; i++) {
                if (sums32[i] != null) {
                    sums64[i].addi(sums32[i].toType(DataType.FLOAT64, false));
                    sums32[i].close();
                    sums32[i] = null;
                }
            }
            products = 0;
        }

        /** Σ k kᵀ / count, float32 {@code [dim, dim]}, the lower triangle the mirror of the upper. */
        FloatMatrix mean(long count) {
            multiply();
            fold();
            pendingScope.close();
            float[] values = new float[Math.multiplyExact(dim, dim)];
            for (int i = 0; i < sums64.length; i++) {
                int first = (int) bounds[i];
                int end = (int) bounds[i + 1];
                int cols = dim - first;
                float[] stripe;
                try (NDArray mean = sums64[i].div(count); NDArray single = mean.toType(DataType.FLOAT32, false)) {
                    stripe = single.toFloatArray();
                }
                for (int r = first; r < end; r++) {
                    int from = (r - first) * cols;
                    System.arraycopy(stripe, from + r - first, values, r * dim + r, dim - r);
                    // the upper triangle's mirror below the diagonal (within the diagonal block too: the GEMM does
                    // not promise a symmetric result)
                    for (int c = r + 1; c < dim; c++) {
                        values[c * dim + r] = stripe[from + c - first];
                    }
                }
            }
            return new FloatMatrix(dim, dim, values);
        }
    }

    /** The first {@code take} real (unpadded) key rows of a batch, row-major: {@code [take, mlpDim]}. */
    private static NDArray realPositions(NDManager scope, NDArray keys, TokenBatch batch, long take) {
        List<Long> flat = new ArrayList<>();
        int width = batch.maxLength();
        for (int r = 0; r < batch.size() && flat.size() < take; r++) {
            for (int p = 0; p < batch.length(r) && flat.size() < take; p++) {
                flat.add((long) r * width + p);
            }
        }
        NDArray index = scope.create(flat.stream().mapToLong(Long::longValue).toArray());
        return keys.reshape(-1, keys.getShape().get(2)).get(index);
    }

    /**
     * Token windows of the corpus, line by line: every line when the corpus has at most {@code samples} positions,
     * otherwise every n-th line, the smallest n for which the lines taken hold about {@code samples} positions at most.
     */
    private static List<int[]> windows(LanguageModel model, String corpus, int width, int samples) {
        List<int[]> lines = new ArrayList<>();
        long total = 0;
        for (String line : corpus.split("\n")) {
            if (!line.isBlank()) {
                int[] ids = model.tokenizer().encode(line.strip(), true);
                lines.add(ids);
                total += ids.length;
            }
        }
        if (lines.isEmpty()) {
            throw new IllegalArgumentException("the C0 corpus has no text");
        }
        long stride = Math.max(1, (total + samples - 1) / samples);
        List<int[]> windows = new ArrayList<>();
        for (int i = 0; i < lines.size(); i += (int) stride) {
            int[] ids = lines.get(i);
            for (int start = 0; start < ids.length; start += width) {
                windows.add(Arrays.copyOfRange(ids, start, Math.min(ids.length, start + width)));
            }
        }
        return windows;
    }

    /**
     * A name for the C0 of {@code layers} computed from a corpus with these settings on these weights: another
     * weights, corpus, sample count, window or sampling scheme is another name.
     */
    public static String key(String weightsSha256, int[] layers, String corpusSha256, int samples, int window) {
        return sha256(weightsSha256 + "|" + Arrays.toString(layers) + "|" + corpusSha256 + "|" + samples + "|" + window + "|" + SAMPLING);
    }

    static Path cacheFile(Path cacheDir, String weightsSha256, int layer, String corpusSha256, int samples) {
        String key = sha256(weightsSha256 + "|" + layer + "|" + corpusSha256 + "|" + samples + "|" + SAMPLING);
        return cacheDir.resolve("c0-layer" + layer + "-" + key.substring(0, 32) + ".bin");
    }

    static void write(Path file, FloatMatrix c0) {
        try {
            Files.createDirectories(file.getParent());
            Path temp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
            try {
                try (OutputStream raw = Files.newOutputStream(temp);
                     DataOutputStream out = new DataOutputStream(new BufferedOutputStream(raw, 1 << 16))) {
                    out.writeInt(MAGIC);
                    out.writeInt(c0.rows());
                    out.writeInt(c0.cols());
                    for (float value : c0.data()) {
                        out.writeFloat(value);
                    }
                }
                try {
                    Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(temp);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot write C0 cache " + file + ": " + e.getMessage(), e);
        }
    }

    static FloatMatrix read(Path file, int mlpDim) {
        try (InputStream raw = Files.newInputStream(file);
             DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 16))) {
            if (in.readInt() != MAGIC) {
                throw new IllegalStateException("not a C0 cache file: " + file);
            }
            int rows = in.readInt();
            int cols = in.readInt();
            if (rows != mlpDim || cols != mlpDim) {
                throw new IllegalStateException("C0 cache " + file + " is " + rows + "x" + cols + ", expected " + mlpDim + "x" + mlpDim);
            }
            float[] values = new float[rows * cols];
            for (int i = 0; i < values.length; i++) {
                values[i] = in.readFloat();
            }
            return new FloatMatrix(rows, cols, values);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read C0 cache " + file + ": " + e.getMessage(), e);
        }
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
