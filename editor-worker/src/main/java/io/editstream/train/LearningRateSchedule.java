package io.editstream.train;

/** Linear warmup to {@code peak}, then a cosine decay to {@code floor} at {@code totalSteps}. */
public record LearningRateSchedule(double peak, double floor, int warmupSteps, int totalSteps) {

    public LearningRateSchedule {
        if (peak <= 0 || floor < 0 || floor > peak || warmupSteps < 0 || totalSteps <= warmupSteps) {
            throw new IllegalArgumentException("invalid learning rate schedule " + this);
        }
    }

    /** Rate of step {@code step} (1-based). */
    public double at(int step) {
        if (step <= warmupSteps) {
            return peak * step / warmupSteps;
        }
        double progress = Math.min(1.0, (double) (step - warmupSteps) / (totalSteps - warmupSteps));
        return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
    }
}
