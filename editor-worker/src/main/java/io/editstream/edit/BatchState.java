package io.editstream.edit;

import io.editstream.tensor.FloatMatrix;
import io.editstream.tensor.Safetensors;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What one applied batch added to an editor's state, beyond the weights it changed: per edit layer, the keys the update
 * rule remembered (Cp += K Kᵀ, in the order they were remembered) and, with PRUNE, the change PRUNE's restraint was
 * given. The editor's state after N batches follows from its creation (θ0, C0, hyperparameters, seed) and these N
 * states, so a restarted worker rebuilds it with {@link Editor#restore} instead of optimising every target again. The
 * editor keeps none of them itself: the caller stores each one beside the version it belongs to.
 *
 * <p>With PRUNE, every so many batches the state also carries the restraint's totals after the batch (the raw
 * accumulation and its excess, low-rank factors of rank at most the matrix's smaller side): a restore starts from the
 * last state that has them and replays only the changes after it, so its cost does not grow with the chain.
 *
 * @param keys         per edit layer, the key blocks {@code [mlpDim, requests]} remembered, in order
 * @param pruneChanges per edit layer, the change passed to {@link PruneRestraint#afterEdit}; empty without PRUNE
 * @param pruneTotals  per edit layer, {@link PruneRestraint#totals} after this batch, or empty
 */
public record BatchState(SortedMap<Integer, List<FloatMatrix>> keys, SortedMap<Integer, LowRankDelta> pruneChanges,
                         SortedMap<Integer, PruneRestraint.Totals> pruneTotals) {

    /** The {@code format} entry of the safetensors {@code __metadata__}; another value is another layout. */
    public static final String FORMAT = "editstream.batch-state/2";

    private static final Pattern KEY_NAME = Pattern.compile("keys\\.(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})");
    private static final Pattern PRUNE_NAME = Pattern.compile("prune\\.(0|[1-9][0-9]{0,8})\\.([ab])");
    private static final Pattern TOTALS_NAME = Pattern.compile("prune_(raw|excess)\\.(0|[1-9][0-9]{0,8})\\.([ab])");

    /** A state without PRUNE totals. */
    public BatchState(SortedMap<Integer, List<FloatMatrix>> keys, SortedMap<Integer, LowRankDelta> pruneChanges) {
        this(keys, pruneChanges, new TreeMap<>());
    }

    public BatchState {
        SortedMap<Integer, List<FloatMatrix>> keysCopy = new TreeMap<>();
        keys.forEach((layer, blocks) -> {
            if (blocks.isEmpty()) {
                throw new IllegalArgumentException("layer " + layer + " is listed without keys");
            }
            keysCopy.put(layer, List.copyOf(blocks));
        });
        SortedMap<Integer, LowRankDelta> pruneCopy = new TreeMap<>();
        pruneChanges.forEach((layer, change) -> {
            if (change.layer() != layer) {
                throw new IllegalArgumentException("PRUNE change of layer " + change.layer() + " listed under layer " + layer);
            }
            pruneCopy.put(layer, change);
        });
        SortedMap<Integer, PruneRestraint.Totals> totalsCopy = new TreeMap<>();
        pruneTotals.forEach((layer, totals) -> {
            if (totals.layer() != layer) {
                throw new IllegalArgumentException("PRUNE totals of layer " + totals.layer() + " listed under layer " + layer);
            }
            totalsCopy.put(layer, totals);
        });
        keys = Collections.unmodifiableSortedMap(keysCopy);
        pruneChanges = Collections.unmodifiableSortedMap(pruneCopy);
        pruneTotals = Collections.unmodifiableSortedMap(totalsCopy);
    }

    /**
     * As a safetensors file: {@code keys.<layer>.<i>}, {@code prune.<layer>.a}/{@code .b} and the totals'
     * {@code prune_raw.<layer>.a}/{@code .b} and {@code prune_excess.<layer>.a}/{@code .b}; equal states, equal bytes.
     */
    public byte[] encode() {
        return encode(Map.of());
    }

    /**
     * As {@link #encode()}, with string pairs the caller keeps beside the state in the file's {@code __metadata__} (the
     * worker keeps the batch's requests there); {@link #decode} passes over them.
     */
    public byte[] encode(Map<String, String> metadata) {
        if (metadata.containsKey("format")) {
            throw new IllegalArgumentException("'format' is the state's own metadata entry");
        }
        SortedMap<String, FloatMatrix> tensors = new TreeMap<>();
        keys.forEach((layer, blocks) -> {
            for (int i = 0; i < blocks.size(); i++) {
                tensors.put("keys." + layer + "." + i, blocks.get(i));
            }
        });
        pruneChanges.forEach((layer, change) -> {
            tensors.put("prune." + layer + ".a", change.a());
            tensors.put("prune." + layer + ".b", change.b());
        });
        pruneTotals.forEach((layer, totals) -> {
            tensors.put("prune_raw." + layer + ".a", totals.raw().a());
            tensors.put("prune_raw." + layer + ".b", totals.raw().b());
            if (totals.excess() != null) {
                tensors.put("prune_excess." + layer + ".a", totals.excess().a());
                tensors.put("prune_excess." + layer + ".b", totals.excess().b());
            }
        });
        Map<String, String> pairs = new TreeMap<>(metadata);
        pairs.put("format", FORMAT);
        return Safetensors.encode(tensors, pairs);
    }

    /** Reads what {@link #encode} wrote; anything else (another format, a damaged or foreign file) is an IOException. */
    public static BatchState decode(byte[] bytes) throws IOException {
        String source = "batch state";
        Map<String, FloatMatrix> tensors = Safetensors.decode(bytes, source);
        String format = Safetensors.metadata(bytes, source).get("format");
        if (!FORMAT.equals(format)) {
            throw new IOException(source + ": format " + (format == null ? "missing" : "'" + format + "'") + ", expected '" + FORMAT + "'");
        }
        SortedMap<Integer, SortedMap<Integer, FloatMatrix>> blocks = new TreeMap<>();
        SortedMap<Integer, FloatMatrix[]> factors = new TreeMap<>();
        SortedMap<Integer, FloatMatrix[]> raw = new TreeMap<>();
        SortedMap<Integer, FloatMatrix[]> excess = new TreeMap<>();
        for (Map.Entry<String, FloatMatrix> tensor : tensors.entrySet()) {
            Matcher key = KEY_NAME.matcher(tensor.getKey());
            Matcher prune = PRUNE_NAME.matcher(tensor.getKey());
            Matcher totals = TOTALS_NAME.matcher(tensor.getKey());
            if (key.matches()) {
                blocks.computeIfAbsent(Integer.parseInt(key.group(1)), l -> new TreeMap<>())
                        .put(Integer.parseInt(key.group(2)), tensor.getValue());
            } else if (prune.matches()) {
                factors.computeIfAbsent(Integer.parseInt(prune.group(1)), l -> new FloatMatrix[2])
                        [prune.group(2).equals("a") ? 0 : 1] = tensor.getValue();
            } else if (totals.matches()) {
                (totals.group(1).equals("raw") ? raw : excess).computeIfAbsent(Integer.parseInt(totals.group(2)), l -> new FloatMatrix[2])
                        [totals.group(3).equals("a") ? 0 : 1] = tensor.getValue();
            } else {
                throw new IOException(source + ": unexpected tensor " + tensor.getKey());
            }
        }
        SortedMap<Integer, List<FloatMatrix>> keys = new TreeMap<>();
        for (Map.Entry<Integer, SortedMap<Integer, FloatMatrix>> layer : blocks.entrySet()) {
            // blocks are numbered 0..n-1 in the order they were remembered: a gap means one is missing
            if (layer.getValue().lastKey() != layer.getValue().size() - 1) {
                throw new IOException(source + ": layer " + layer.getKey() + " has key blocks " + layer.getValue().keySet()
                        + ", not 0.." + (layer.getValue().size() - 1));
            }
            keys.put(layer.getKey(), new ArrayList<>(layer.getValue().values()));
        }
        SortedMap<Integer, LowRankDelta> pruneChanges = deltas(factors, source + ": PRUNE change");
        SortedMap<Integer, LowRankDelta> raws = deltas(raw, source + ": PRUNE raw accumulation");
        SortedMap<Integer, LowRankDelta> excesses = deltas(excess, source + ": PRUNE excess");
        if (!raws.keySet().containsAll(excesses.keySet())) {
            throw new IOException(source + ": PRUNE excess of layers " + excesses.keySet() + " without their raw accumulation " + raws.keySet());
        }
        SortedMap<Integer, PruneRestraint.Totals> pruneTotals = new TreeMap<>();
        raws.forEach((layer, delta) -> pruneTotals.put(layer, new PruneRestraint.Totals(delta, excesses.get(layer))));
        return new BatchState(keys, pruneChanges, pruneTotals);
    }

    private static SortedMap<Integer, LowRankDelta> deltas(SortedMap<Integer, FloatMatrix[]> factors, String what) throws IOException {
        SortedMap<Integer, LowRankDelta> deltas = new TreeMap<>();
        for (Map.Entry<Integer, FloatMatrix[]> layer : factors.entrySet()) {
            FloatMatrix a = layer.getValue()[0];
            FloatMatrix b = layer.getValue()[1];
            if (a == null || b == null || a.cols() != b.cols()) {
                throw new IOException(what + " of layer " + layer.getKey() + " needs factors a and b of equal rank");
            }
            deltas.put(layer.getKey(), new LowRankDelta(layer.getKey(), a, b));
        }
        return deltas;
    }
}
