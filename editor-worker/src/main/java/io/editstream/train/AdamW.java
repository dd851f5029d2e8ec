package io.editstream.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * AdamW by hand over a set of weights: the gradients clipped to a global norm, moments per weight, bias correction,
 * decoupled weight decay on matrices only (decaying a norm gain towards 0 would fight the normalisation).
 *
 * <p>The gradient of every weight is set to zero after each step, because DJL's PyTorch engine accumulates
 * gradients across backward passes. A step whose gradient is not finite is skipped rather than applied: one
 * overflow would otherwise turn every weight into NaN for good.
 */
final class AdamW implements AutoCloseable {

    private record Slot(String name, NDArray weight, NDArray firstMoment, NDArray secondMoment, boolean decays) {
    }

    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final double weightDecay;
    private final double maxGradientNorm;
    private final NDManager state;
    private final List<Slot> slots = new ArrayList<>();
    private int step;

    /** Marks every weight as requiring a gradient and allocates its moments under {@code parent}. */
    AdamW(Map<String, NDArray> weights, double beta1, double beta2, double epsilon, double weightDecay,
          double maxGradientNorm, NDManager parent) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
        this.maxGradientNorm = maxGradientNorm;
        this.state = parent.newSubManager();
        weights.forEach((name, weight) -> {
            weight.setRequiresGradient(true);
            slots.add(new Slot(name, weight, state.zeros(weight.getShape()), state.zeros(weight.getShape()),
                    weight.getShape().dimension() > 1));
        });
    }

    /**
     * Applies one update with learning rate {@code rate} from the gradients of the last backward pass, then zeroes
     * them.
     *
     * @return the global norm of the gradient before clipping; when it is not finite, nothing was updated
     */
    double step(double rate) {
        // Every temporary lives in this scope: DJL attaches a result to its first operand's manager.
        try (NDManager scope = state.newSubManager()) {
            List<NDArray> gradients = new ArrayList<>();
            NDArray squares = null;
            for (Slot slot : slots) {
                NDArray gradient = slot.weight.getGradient();
                gradient.attach(scope);
                gradients.add(gradient);
                NDArray square = gradient.square().sum();
                squares = squares == null ? square : squares.add(square);
            }
            double norm = Math.sqrt(squares.getFloat());
            if (Double.isFinite(norm)) {
                step++;
                update(gradients, rate, norm > maxGradientNorm ? (float) (maxGradientNorm / norm) : 1f);
            }
            for (NDArray gradient : gradients) {
                gradient.set(new NDIndex(":"), 0f);
            }
            return norm;
        }
    }

    private void update(List<NDArray> gradients, double rate, float clip) {
        float firstCorrection = (float) (1 - Math.pow(beta1, step));
        float secondCorrection = (float) (1 - Math.pow(beta2, step));
        for (int i = 0; i < slots.size(); i++) {
            Slot slot = slots.get(i);
            NDArray gradient = gradients.get(i).mul(clip);
            slot.firstMoment.muli(beta1).addi(gradient.mul(1 - beta1));
            slot.secondMoment.muli(beta2).addi(gradient.square().muli(1 - beta2));
            NDArray update = slot.firstMoment.div(firstCorrection);
            update.attach(gradient.getManager());
            NDArray denominator = slot.secondMoment.div(secondCorrection);
            denominator.attach(gradient.getManager());
            update.divi(denominator.sqrt().addi(epsilon)).muli(rate);
            if (slot.decays && weightDecay > 0) {
                slot.weight.muli(1 - rate * weightDecay);
            }
            slot.weight.subi(update);
        }
    }

    @Override
    public void close() {
        state.close();
    }
}
