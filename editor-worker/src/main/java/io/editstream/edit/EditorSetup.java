package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Safetensors;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an editor derives from C0 alone before its first edit, per edit layer: the inverse of its system (λ C0 for MEMIT
 * and NSE, μ I for AlphaEdit) and AlphaEdit's null-space projector, float64 {@code [mlpDim, mlpDim]} row-major. Inverting
 * a 10,240-wide system takes over a minute per layer on one core, so the worker computes it once per base and C0 and
 * reads it back on every restart; an editor created from a stored setup is bit for bit the one that computed it.
 *
 * @param inverses   per edit layer, the inverse of the system before any edit
 * @param projectors per edit layer, AlphaEdit's projector P; empty for the other algorithms
 */
public record EditorSetup(int dim, SortedMap<Integer, double[]> inverses, SortedMap<Integer, double[]> projectors) {

    /** The {@code format} entry of a layer blob's safetensors {@code __metadata__}. */
    public static final String FORMAT = "editstream.editor-setup-layer/1";

    private static final Logger log = LoggerFactory.getLogger(EditorSetup.class);
    private static final String INVERSE = "inverse";
    private static final String PROJECTOR = "projector";

    public EditorSetup {
        for (Map<Integer, double[]> matrices : List.of(inverses, projectors)) {
            matrices.forEach((layer, values) -> {
                if (values.length != (long) dim * dim) {
                    throw new IllegalArgumentException("layer " + layer + ": " + values.length + " values for a " + dim + " x " + dim + " matrix");
                }
            });
        }
        if (!projectors.isEmpty() && !projectors.keySet().equals(inverses.keySet())) {
            throw new IllegalArgumentException("projectors for layers " + projectors.keySet() + " but inverses for " + inverses.keySet());
        }
        inverses = Collections.unmodifiableSortedMap(new TreeMap<>(inverses));
        projectors = Collections.unmodifiableSortedMap(new TreeMap<>(projectors));
    }

    /**
     * Computes the setup of the algorithm an editor name starts with ({@code memit}, {@code nse}, {@code alphaedit}).
     *
     * @param manager where the arithmetic runs (the editor's device)
     */
    public static EditorSetup compute(String editorName, EditHyperparameters hyperparameters, Map<Integer, FloatMatrix> c0,
                                      NDManager manager) {
        SequentialEditor.Algorithm algorithm = SequentialEditor.algorithm(editorName);
        SortedMap<Integer, double[]> inverses = new TreeMap<>();
        SortedMap<Integer, double[]> projectors = new TreeMap<>();
        int dim = -1;
        for (int layer : hyperparameters.layers()) {
            FloatMatrix moments = c0.get(layer);
            if (moments == null) {
                throw new IllegalArgumentException("no C0 given for edit layer " + layer);
            }
            dim = moments.rows();
            long started = System.nanoTime();
            try (NDManager scope = manager.newSubManager()) {
                // Cp = 0 before the first edit: the system is λ C0 (MEMIT, NSE) or μ I (AlphaEdit), scaled in float32
                NDArray system = switch (algorithm) {
                    case MEMIT -> moments.toNDArray(scope).mul(hyperparameters.lambda());
                    case NSE -> moments.toNDArray(scope).mul(hyperparameters.nse().lambda());
                    case ALPHAEDIT -> scope.eye(dim).mul(hyperparameters.alphaEdit().ridge());
                };
                inverses.put(layer, system.toType(DataType.FLOAT64, false).inverse().toDoubleArray());
                if (algorithm == SequentialEditor.Algorithm.ALPHAEDIT) {
                    EditHyperparameters.AlphaEdit settings = hyperparameters.alphaEdit();
                    projectors.put(layer, NullSpaceProjector.compute(scope, moments, settings.nullSpaceThreshold(),
                            settings.relativeThreshold()).toDoubleArray());
                }
            }
            log.info("{} setup of layer {} ({} x {}): {} ms", algorithm, layer, dim, dim, (System.nanoTime() - started) / 1_000_000);
        }
        return new EditorSetup(dim, inverses, projectors);
    }

    /** Layer {@code layer}'s inverse (and projector) as a safetensors file of F64 tensors; equal setups, equal bytes. */
    public byte[] encodeLayer(int layer) {
        double[] inverse = inverses.get(layer);
        if (inverse == null) {
            throw new IllegalArgumentException("no setup for layer " + layer + " (layers " + inverses.keySet() + ")");
        }
        Map<String, double[]> tensors = new LinkedHashMap<>();
        tensors.put(INVERSE, inverse);
        if (projectors.containsKey(layer)) {
            tensors.put(PROJECTOR, projectors.get(layer));
        }
        Map<String, Safetensors.Entry> entries = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, double[]> tensor : tensors.entrySet()) {
            long bytes = 8L * tensor.getValue().length;
            entries.put(tensor.getKey(), new Safetensors.Entry(tensor.getKey(), "F64", new long[] {dim, dim}, offset, offset + bytes));
            offset += bytes;
        }
        byte[] prefix = Safetensors.header(entries, Map.of("format", FORMAT, "layer", Integer.toString(layer)));
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(prefix.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.put(prefix);
        for (double[] values : tensors.values()) {
            out.asDoubleBuffer().put(values);
            out.position(out.position() + 8 * values.length);
        }
        return out.array();
    }

    /**
     * Reads the layer blobs {@link #encodeLayer} wrote, by layer; a blob of another format, layer or width is an
     * IOException naming it.
     */
    public static EditorSetup decode(int dim, Map<Integer, byte[]> layers) throws IOException {
        return decode(dim, layers.keySet(), layers::get);
    }

    /** Where the layer blobs come from, read one at a time: each is hundreds of megabytes at a real model's width. */
    @FunctionalInterface
    public interface LayerBlobs {
        byte[] read(int layer) throws IOException;
    }

    /** As {@link #decode(int, Map)}, reading each layer's blob only when its turn comes. */
    public static EditorSetup decode(int dim, Collection<Integer> layers, LayerBlobs blobs) throws IOException {
        SortedMap<Integer, double[]> inverses = new TreeMap<>();
        SortedMap<Integer, double[]> projectors = new TreeMap<>();
        for (int layer : layers) {
            String source = "editor setup of layer " + layer;
            byte[] bytes = blobs.read(layer);
            Map<String, String> metadata = Safetensors.metadata(bytes, source);
            if (!FORMAT.equals(metadata.get("format")) || !Integer.toString(layer).equals(metadata.get("layer"))) {
                throw new IOException(source + ": metadata " + metadata + ", expected format '" + FORMAT + "' and layer " + layer);
            }
            int dataStart = Math.toIntExact(8 + Safetensors.headerLength(ByteBuffer.wrap(bytes, 0, 8), bytes.length, source));
            byte[] json = Arrays.copyOfRange(bytes, 8, dataStart);
            for (Safetensors.Entry entry : Safetensors.parseHeader(json, bytes.length - dataStart, source).values()) {
                long count = (long) dim * dim;
                if (!entry.dtype().equals("F64") || !Arrays.equals(entry.shape(), new long[] {dim, dim})
                        || entry.end() - entry.begin() != 8 * count) {
                    throw new IOException(source + ": tensor " + entry.name() + " is " + entry.dtype() + " "
                            + Arrays.toString(entry.shape()) + ", expected F64 [" + dim + ", " + dim + "]");
                }
                double[] values = new double[Math.toIntExact(count)];
                ByteBuffer.wrap(bytes, Math.toIntExact(dataStart + entry.begin()), values.length * 8).slice()
                        .order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(values);
                switch (entry.name()) {
                    case INVERSE -> inverses.put(layer, values);
                    case PROJECTOR -> projectors.put(layer, values);
                    default -> throw new IOException(source + ": unexpected tensor " + entry.name());
                }
            }
            if (!inverses.containsKey(layer)) {
                throw new IOException(source + ": no inverse");
            }
        }
        return new EditorSetup(dim, inverses, projectors);
    }

    /** Whether this setup is one for an editor of {@code algorithm} on these layers and this width. */
    void checkFits(SequentialEditor.Algorithm algorithm, List<Integer> layers, int mlpDim) {
        if (dim != mlpDim || !inverses.keySet().equals(new TreeSet<>(layers))
                || (algorithm == SequentialEditor.Algorithm.ALPHAEDIT) == projectors.isEmpty()) {
            throw new IllegalArgumentException("an editor setup for layers " + inverses.keySet() + " of width " + dim
                    + (projectors.isEmpty() ? "" : " with projectors") + " does not fit " + algorithm + " on layers " + layers
                    + " of width " + mlpDim);
        }
    }

    NDArray inverse(int layer, NDManager manager) {
        return manager.create(inverses.get(layer), new Shape(dim, dim));
    }

    NDArray projector(int layer, NDManager manager) {
        return manager.create(projectors.get(layer), new Shape(dim, dim));
    }
}
