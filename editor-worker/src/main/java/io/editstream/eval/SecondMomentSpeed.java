package io.editstream.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.editstream.edit.SecondMomentStats;
import io.editstream.model.LanguageModel;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * How fast C0 is computed against what the machine's GEMM allows, measured in one run: float32 Kᵀ K over a block of
 * keys at the model's MLP width (the product C0 is made of), then C0 itself. The bound is the GEMM rate over the
 * 2 d² FLOP per key and layer of the full product; C0 multiplies only the upper triangle's stripes, so it may pass it.
 * Wall-clock and this thread's CPU time both: on a shared machine the CPU time is the steadier of the two (torch runs
 * on the calling thread at one intra-op thread).
 *
 * @param gemmGflops         float32 GFLOP/s of one Kᵀ K product of {@code gemmKeys} keys, wall-clock
 * @param gemmCpuGflops      the same over this thread's CPU time
 * @param keys               keys C0 was computed from (the samples asked, or fewer when the corpus is short)
 * @param seconds            wall-clock seconds of C0
 * @param cpuSeconds         this thread's CPU seconds of C0
 * @param keysPerSecond      keys / seconds
 * @param boundKeysPerSecond gemmGflops · 10⁹ / (2 d² layers)
 * @param fractionOfBound    keysPerSecond / boundKeysPerSecond
 * @param cpuFractionOfBound the same from CPU times (gemmCpuGflops and cpuSeconds)
 * @param loadBefore         the system's one-minute load average before the run
 * @param loadAfter          and after it
 */
public record SecondMomentSpeed(
        @JsonProperty("mlp_dim") int mlpDim,
        @JsonProperty("layers") int layers,
        @JsonProperty("gemm_keys") int gemmKeys,
        @JsonProperty("gemm_gflops") double gemmGflops,
        @JsonProperty("gemm_cpu_gflops") double gemmCpuGflops,
        @JsonProperty("keys") long keys,
        @JsonProperty("seconds") double seconds,
        @JsonProperty("cpu_seconds") double cpuSeconds,
        @JsonProperty("keys_per_second") double keysPerSecond,
        @JsonProperty("bound_keys_per_second") double boundKeysPerSecond,
        @JsonProperty("fraction_of_bound") double fractionOfBound,
        @JsonProperty("cpu_fraction_of_bound") double cpuFractionOfBound,
        @JsonProperty("load_before") double loadBefore,
        @JsonProperty("load_after") double loadAfter) {

    /** Keys of the GEMM measured: as many as one C0 product multiplies. */
    static final int GEMM_KEYS = 4096;

    public static SecondMomentSpeed measure(NDManager manager, LanguageModel model, int[] layers, String corpus, int samples, int window) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        int dim = model.config().mlpDim();
        double gemmFlop = 2.0 * GEMM_KEYS * dim * dim;
        long wall;
        long cpu;
        try (NDManager scope = manager.newSubManager()) {
            NDArray keys = scope.randomNormal(new Shape(GEMM_KEYS, dim));
            keys.transpose().matMul(keys).close(); // warm-up: the first product also pays for its allocations
            wall = System.nanoTime();
            cpu = threads.getCurrentThreadCpuTime();
            try (NDArray product = keys.transpose().matMul(keys)) {
                product.getFloat(0, 0);
            }
            wall = System.nanoTime() - wall;
            cpu = threads.getCurrentThreadCpuTime() - cpu;
        }
        double gflops = gemmFlop / wall;
        double cpuGflops = gemmFlop / cpu;
        long c0Wall = System.nanoTime();
        long c0Cpu = threads.getCurrentThreadCpuTime();
        SecondMomentStats.compute(manager, model, layers, corpus, samples, window);
        long keys = SecondMomentStats.keyCount(model, corpus, samples, window);
        double seconds = (System.nanoTime() - c0Wall) / 1e9;
        double cpuSeconds = (threads.getCurrentThreadCpuTime() - c0Cpu) / 1e9;
        double flopPerKey = 2.0 * dim * dim * layers.length;
        double bound = gflops * 1e9 / flopPerKey;
        double cpuBound = cpuGflops * 1e9 / flopPerKey;
        double loadAfter = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return new SecondMomentSpeed(dim, layers.length, GEMM_KEYS, gflops, cpuGflops, keys, seconds, cpuSeconds,
                keys / seconds, bound, keys / seconds / bound, keys / cpuSeconds / cpuBound, loadBefore, loadAfter);
    }
}
