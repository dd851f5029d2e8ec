package io.editstream.checkpoint.export;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The module a PEFT LoRA adapter attaches to for one edited tensor: an MLP output projection of a Llama-family model
 * ({@code model.layers.N.mlp.down_proj}, an {@code nn.Linear} stored [out, in]) or of GPT-2
 * ({@code transformer.h.N.mlp.c_proj}, a {@code Conv1D} stored [in, out]).
 *
 * @param modulePath the module's name in the model (the tensor name without {@code .weight})
 * @param layer      the transformer block index
 * @param family     the naming scheme it follows
 */
record LoraTarget(String modulePath, int layer, Family family) {

    /** A naming scheme and what PEFT needs to know about its MLP output projection. */
    enum Family {
        LLAMA(Pattern.compile("(model\\.layers\\.(\\d+)\\.mlp\\.down_proj)\\.weight"), "down_proj", false),
        // "mlp.c_proj", not "c_proj": PEFT matches a list entry as a suffix after a dot, and attention has a c_proj too
        GPT2(Pattern.compile("(transformer\\.h\\.(\\d+)\\.mlp\\.c_proj)\\.weight"), "mlp.c_proj", true);

        private final Pattern tensorName;
        private final String targetModule;
        private final boolean fanInFanOut;

        Family(Pattern tensorName, String targetModule, boolean fanInFanOut) {
            this.tensorName = tensorName;
            this.targetModule = targetModule;
            this.fanInFanOut = fanInFanOut;
        }

        /** The {@code target_modules} entry of the adapter config. */
        String targetModule() {
            return targetModule;
        }

        /** True when the weight is stored [in, out] (GPT-2's Conv1D): PEFT's {@code fan_in_fan_out}. */
        boolean fanInFanOut() {
            return fanInFanOut;
        }
    }

    /** The target of an edited tensor; refuses a name that is not a Llama or GPT-2 MLP output projection's weight. */
    static LoraTarget of(String tensor) {
        for (Family family : Family.values()) {
            Matcher match = family.tensorName.matcher(tensor);
            if (match.matches()) {
                return new LoraTarget(match.group(1), Integer.parseInt(match.group(2)), family);
            }
        }
        throw new IllegalArgumentException("cannot export tensor " + tensor + " as a PEFT LoRA adapter: only MLP output projections "
                + "named as in Llama (model.layers.N.mlp.down_proj.weight) or GPT-2 (transformer.h.N.mlp.c_proj.weight) are supported");
    }

    /** The adapter tensor name of {@code lora_A} or {@code lora_B}, as PEFT saves it. */
    String adapterTensor(String lora) {
        return "base_model.model." + modulePath + "." + lora + ".weight";
    }
}
