package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Safetensors;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an editor derives from C0 alone before its first edit, per edit layer, float64 {@code [mlpDim, mlpDim]}: the
 * inverse of its system (λ C0 for MEMIT and NSE, μ I for AlphaEdit), AlphaEdit's null-space projector, and for NSE on a
 * neuron subset λ C0 itself. Inverting a 10,240-wide system takes over a minute per layer on one core, so the worker
 * computes it once per base and C0 and reads it back on every restart; an editor created from a stored setup is bit for
 * bit the one that computed it.
 *
 * <p>A layer is one safetensors blob, read only when the editor takes that layer: at a real model's width each is
 * hundreds of megabytes, and reading them all first, or holding C0 beside them, exhausts the heap.
 */
public final class EditorSetup {

    /** The {@code format} entry of a layer blob's safetensors {@code __metadata__}. */
    public static final String FORMAT = "editstream.editor-setup-layer/1";

    /** Where the layer blobs come from: whole safetensors files, position 0. */
    @FunctionalInterface
    public interface LayerBlobs {
        ByteBuffer read(int layer) throws IOException;
    }

    /**
     * One layer's matrices, in the manager they were read into.
     *
     * @param projector AlphaEdit's projector; null for the other algorithms
     * @param system    λ C0 for NSE on a neuron subset; null otherwise
     */
    record Layer(NDArray inverse, NDArray projector, NDArray system) {
    }

    private static final Logger log = LoggerFactory.getLogger(EditorSetup.class);
    private static final String INVERSE = "inverse";
    private static final String PROJECTOR = "projector";
    private static final String SYSTEM = "system";

    private final int dim;
    private final SortedSet<Integer> layers;
    private final LayerBlobs blobs;

    private EditorSetup(int dim, Collection<Integer> layers, LayerBlobs blobs) {
        this.dim = dim;
        this.layers = Collections.unmodifiableSortedSet(new TreeSet<>(layers));
        this.blobs = blobs;
    }

    /** A setup whose layer blobs {@link #encodeLayer} wrote; each is read and checked when the editor takes its layer. */
    public static EditorSetup of(int dim, Collection<Integer> layers, LayerBlobs blobs) {
        return new EditorSetup(dim, layers, blobs);
    }

    /**
     * Computes the setup of the algorithm an editor name starts with ({@code memit}, {@code nse}, {@code alphaedit}),
     * holding each layer's blob in memory.
     *
     * @param manager where the arithmetic runs (the editor's device)
     */
    public static EditorSetup compute(String editorName, EditHyperparameters hyperparameters, Map<Integer, FloatMatrix> c0,
                                      NDManager manager) {
        SequentialEditor.Algorithm algorithm = SequentialEditor.algorithm(editorName);
        Map<Integer, byte[]> encoded = new TreeMap<>();
        int dim = -1;
        for (int layer : hyperparameters.layers()) {
            FloatMatrix moments = c0.get(layer);
            if (moments == null) {
                throw new IllegalArgumentException("no C0 given for edit layer " + layer);
            }
            dim = moments.rows();
            long started = System.nanoTime();
            try (NDManager scope = manager.newSubManager()) {
                Map<String, NDArray> tensors = new LinkedHashMap<>();
                // Cp = 0 before the first edit: the system is λ C0 (MEMIT, NSE) or μ I (AlphaEdit), scaled in float32
                NDArray system = switch (algorithm) {
                    case MEMIT -> moments.toNDArray(scope).mul(hyperparameters.lambda());
                    case NSE -> moments.toNDArray(scope).mul(hyperparameters.nse().lambda());
                    case ALPHAEDIT -> scope.eye(dim).mul(hyperparameters.alphaEdit().ridge());
                };
                NDArray system64 = system.toType(DataType.FLOAT64, false);
                tensors.put(INVERSE, system64.inverse());
                if (algorithm == SequentialEditor.Algorithm.ALPHAEDIT) {
                    EditHyperparameters.AlphaEdit settings = hyperparameters.alphaEdit();
                    tensors.put(PROJECTOR, NullSpaceProjector.compute(scope, moments, settings.nullSpaceThreshold(),
                            settings.relativeThreshold()));
                }
                // only NSE's solve on a neuron subset smaller than the rest reads M itself
                if (algorithm == SequentialEditor.Algorithm.NSE && hyperparameters.nse().neuronFraction() < 1) {
                    tensors.put(SYSTEM, system64);
                }
                encoded.put(layer, encode(layer, dim, tensors));
            }
            log.info("{} setup of layer {} ({} x {}): {} ms", algorithm, layer, dim, dim, (System.nanoTime() - started) / 1_000_000);
        }
        return new EditorSetup(dim, encoded.keySet(), layer -> ByteBuffer.wrap(encoded.get(layer)).order(ByteOrder.LITTLE_ENDIAN));
    }

    private static byte[] encode(int layer, int dim, Map<String, NDArray> tensors) {
        Map<String, Safetensors.Entry> entries = new LinkedHashMap<>();
        long offset = 0;
        for (String name : tensors.keySet()) {
            long bytes = 8L * dim * dim;
            entries.put(name, new Safetensors.Entry(name, "F64", new long[] {dim, dim}, offset, offset + bytes));
            offset += bytes;
        }
        byte[] prefix = Safetensors.header(entries, Map.of("format", FORMAT, "layer", Integer.toString(layer)));
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(prefix.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.put(prefix);
        for (NDArray values : tensors.values()) {
            // row-major float64 in the platform's order, which the format's little-endian bytes must not depend on
            out.asDoubleBuffer().put(values.toByteBuffer().order(ByteOrder.nativeOrder()).asDoubleBuffer());
            out.position(out.position() + 8 * dim * dim);
        }
        return out.array();
    }

    /** Layer {@code layer}'s blob, a safetensors file of F64 tensors: equal setups, equal bytes. */
    public byte[] encodeLayer(int layer) throws IOException {
        if (!layers.contains(layer)) {
            throw new IllegalArgumentException("no setup for layer " + layer + " (layers " + layers + ")");
        }
        ByteBuffer blob = blobs.read(layer).duplicate();
        byte[] bytes = new byte[blob.remaining()];
        blob.get(bytes);
        return bytes;
    }

    public int dim() {
        return dim;
    }

    public SortedSet<Integer> layers() {
        return layers;
    }

    /** Whether this setup is one for an editor on these layers and this width (what each layer holds is checked as it is read). */
    void checkFits(SequentialEditor.Algorithm algorithm, List<Integer> editLayers, int mlpDim) {
        if (dim != mlpDim || !layers.equals(new TreeSet<>(editLayers))) {
            throw new IllegalArgumentException("an editor setup for layers " + layers + " of width " + dim + " does not fit "
                    + algorithm + " on layers " + editLayers + " of width " + mlpDim);
        }
    }

    /**
     * Reads one layer's matrices into {@code manager}; a blob of another format, layer or width, or without what the
     * algorithm needs, is refused naming the layer.
     */
    Layer read(int layer, SequentialEditor.Algorithm algorithm, boolean needsSystem, NDManager manager) {
        String source = "editor setup of layer " + layer;
        try {
            ByteBuffer bytes = blobs.read(layer).duplicate().order(ByteOrder.LITTLE_ENDIAN);
            Safetensors.Layout layout = Safetensors.layout(bytes, source);
            if (!FORMAT.equals(layout.metadata().get("format")) || !Integer.toString(layer).equals(layout.metadata().get("layer"))) {
                throw new IOException(source + ": metadata " + layout.metadata() + ", expected format '" + FORMAT + "' and layer " + layer);
            }
            Map<String, NDArray> read = new TreeMap<>();
            for (Safetensors.Entry entry : layout.entries().values()) {
                long count = (long) dim * dim;
                if (!entry.dtype().equals("F64") || !Arrays.equals(entry.shape(), new long[] {dim, dim})
                        || entry.end() - entry.begin() != 8 * count) {
                    throw new IOException(source + ": tensor " + entry.name() + " is " + entry.dtype() + " "
                            + Arrays.toString(entry.shape()) + ", expected F64 [" + dim + ", " + dim + "]");
                }
                if (!List.of(INVERSE, PROJECTOR, SYSTEM).contains(entry.name())) {
                    throw new IOException(source + ": unexpected tensor " + entry.name());
                }
                ByteBuffer values = bytes.slice(Math.toIntExact(layout.dataStart() + entry.begin()), Math.toIntExact(8 * count))
                        .order(ByteOrder.LITTLE_ENDIAN);
                // a direct buffer in the platform's order becomes the array's memory as it is; others are copied
                read.put(entry.name(), values.isDirect() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN
                        ? manager.create(values, new Shape(dim, dim), DataType.FLOAT64)
                        : manager.create(values.asDoubleBuffer(), new Shape(dim, dim), DataType.FLOAT64));
            }
            boolean alphaEdit = algorithm == SequentialEditor.Algorithm.ALPHAEDIT;
            if (!read.containsKey(INVERSE) || alphaEdit != read.containsKey(PROJECTOR) || needsSystem && !read.containsKey(SYSTEM)) {
                throw new IOException(source + ": holds " + read.keySet() + ", which is not the setup of " + algorithm
                        + (needsSystem ? " on a neuron subset" : ""));
            }
            return new Layer(read.get(INVERSE), read.get(PROJECTOR), needsSystem ? read.get(SYSTEM) : null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
