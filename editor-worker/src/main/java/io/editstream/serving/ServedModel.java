package io.editstream.serving;

import ai.djl.ndarray.NDManager;
import io.editstream.checkpoint.BaseModel;
import io.editstream.checkpoint.CorruptCheckpointException;
import io.editstream.checkpoint.ModelHead;
import io.editstream.checkpoint.follow.VersionSink;
import io.editstream.model.Generation;
import io.editstream.model.Generator;
import io.editstream.model.LanguageModel;
import io.editstream.model.TextTokenizer;
import io.editstream.tensor.FloatMatrix;
import io.editstream.worker.ModelCheckpoints;
import java.io.IOException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A language model serving one checkpoint version at a time. Requests share a read lock for their whole generation and
 * a swap takes the write lock, so a version changes between requests, never during one: a completion is wholly one
 * version's. The lock is fair, so a swap waits only for the requests already running, not for a stream of new ones.
 */
public final class ServedModel implements VersionSink, AutoCloseable {

    private final String modelId;
    private final LanguageModel model;
    private final String baseSha256;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock(true);
    private volatile long version;
    private int[] editedLayers = new int[0];

    /** @param model loaded with its base weights, which this takes over (and closes) */
    public ServedModel(String modelId, LanguageModel model) {
        this.modelId = modelId;
        this.model = model;
        this.baseSha256 = model.weightsSha256();
    }

    public String modelId() {
        return modelId;
    }

    /** The hash of the weights as loaded: the base whose versions this model can serve. */
    public String baseSha256() {
        return baseSha256;
    }

    /** The version serving now (0: the base). */
    public long version() {
        return version;
    }

    /** Requests generating now. */
    public int requestsInFlight() {
        return lock.getReadLockCount();
    }

    public int contextLength() {
        return model.config().maxSeqLen();
    }

    @Override
    public void swapTo(ModelHead head) throws IOException {
        if (!head.base().sha256().equals(baseSha256)) {
            throw new CorruptCheckpointException("model " + modelId + " version " + head.version() + " applies to base " + head.base().sha256()
                    + "; the served weights are base " + baseSha256);
        }
        int[] layers = editableLayers(head.base());
        // read every tensor (base values come from the store) before taking the lock: requests wait for no I/O
        for (int layer : layers) {
            head.tensor(model.mlpOutputName(layer));
        }
        lock.writeLock().lock();
        try {
            ModelCheckpoints.load(model, head, layers);
            editedLayers = layers;
            version = head.version();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** The layers whose MLP output projection the base stores: what any version may change. */
    private int[] editableLayers(BaseModel base) throws CorruptCheckpointException {
        Set<String> unknown = new HashSet<>(base.stored().keySet());
        int[] layers = new int[model.config().layers()];
        int count = 0;
        for (int layer = 0; layer < layers.length; layer++) {
            if (unknown.remove(model.mlpOutputName(layer))) {
                layers[count++] = layer;
            }
        }
        if (!unknown.isEmpty()) {
            throw new CorruptCheckpointException("model " + modelId + ": the store edits tensors " + unknown
                    + ", which are no MLP output projection of the served model");
        }
        return Arrays.copyOf(layers, count);
    }

    /**
     * Greedy completion of {@code prompt} by the version serving when it starts.
     *
     * @param maxTokens how many tokens to generate at most (fewer when the model ends the text or the context is full)
     * @throws IllegalArgumentException for an empty prompt, a max_tokens below 1, or a prompt longer than the context
     */
    public Completion complete(String prompt, int maxTokens) {
        if (prompt == null || prompt.isEmpty()) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max_tokens must be at least 1, got " + maxTokens);
        }
        TextTokenizer tokenizer = model.tokenizer();
        int promptTokens = tokenizer.encode(prompt, true).length;
        if (promptTokens < 2) {
            throw new IllegalArgumentException("the prompt encodes to no token");
        }
        // Generator runs positions 0..steps: BOS is followed by steps + 1 tokens, the prompt's included
        long steps = Math.min((long) maxTokens + promptTokens - 2, model.config().maxSeqLen() - 1L);
        lock.readLock().lock();
        try (NDManager scope = NDManager.newBaseManager(model.device())) {
            long serving = version;
            Generation generation = new Generator(model).greedy(scope, prompt, (int) Math.max(1, steps));
            int[] generated = generation.generatedTokens();
            String promptText = tokenizer.decode(Arrays.copyOf(generation.tokens(), generation.promptLength()));
            String text = generation.text().startsWith(promptText)
                    ? generation.text().substring(promptText.length()) : tokenizer.decode(generated);
            String finish = generated.length < maxTokens && generation.tokens().length < steps + 2 ? "stop" : "length";
            return new Completion(modelId, serving, text, generation.promptLength(), generated.length, finish);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * The sha256 of each editable tensor as the model holds it now (computed, for checks): equal to the version's
     * manifest hashes when the swap put exactly its bits in.
     */
    public SortedMap<String, String> editedTensorSha256() {
        lock.readLock().lock();
        try {
            SortedMap<String, String> hashes = new TreeMap<>();
            for (int layer : editedLayers) {
                String name = model.mlpOutputName(layer);
                hashes.put(name, FloatMatrix.of(model.weights().get(name)).sha256());
            }
            return hashes;
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            model.close();
        } finally {
            lock.writeLock().unlock();
        }
    }
}
