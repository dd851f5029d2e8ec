package io.editstream.train;

/**
 * Everything a training run depends on besides its facts: the same settings and facts give the same weights.
 *
 * @param shape        the architecture
 * @param steps        optimizer steps
 * @param batchSize    sequences per step
 * @param peakRate     AdamW learning rate after warmup (cosine decay to a tenth of it)
 * @param warmupSteps  linear warmup steps
 * @param weightDecay  decoupled weight decay of the matrices
 * @param answerWeight loss weight of the answer tokens (and the EOS after them) relative to the prompt's tokens
 * @param seed         seeds the initial weights and the order of the facts
 * @param logEvery     steps between progress lines
 * @param checkEvery   steps between accuracy checks on a sample of facts (0: none)
 * @param activationL1 weight of the mean |MLP key| of the lookup blocks in the loss (0: none); it makes each input use
 *                     few neurons, so an edit of one subject's neurons leaves the others' alone
 */
public record TrainingSettings(TestbedShape shape, int steps, int batchSize, double peakRate, int warmupSteps,
                               double weightDecay, float answerWeight, long seed, int logEvery, int checkEvery,
                               double activationL1) {

    public TrainingSettings {
        if (steps <= warmupSteps || batchSize <= 0 || peakRate <= 0 || weightDecay < 0 || answerWeight <= 0
                || logEvery <= 0 || checkEvery < 0 || activationL1 < 0) {
            throw new IllegalArgumentException("invalid training settings " + this);
        }
    }

    LearningRateSchedule schedule() {
        return new LearningRateSchedule(peakRate, peakRate / 10, warmupSteps, steps);
    }
}
