package io.editstream.cli;

import io.editstream.checkpoint.CheckpointStore;
import io.editstream.checkpoint.export.PeftExport;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code editstream checkpoints export}: a version as a PEFT LoRA adapter or as a full HuggingFace model directory. */
// no mixinStandardHelpOptions: its -V/--version would take the name --version, which here names the checkpoint version
@Command(name = "export",
        description = "Export a version for serving: a PEFT LoRA adapter of its change from the base (PEFT, vLLM, SGLang) "
                + "or a full HuggingFace model directory.")
final class CheckpointsExportCommand implements Callable<Integer> {

    /** What to write. */
    enum Format { peft, hf }

    @Spec
    CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Mixin
    CheckpointsCommand.StoreOption storeOption;

    @Option(names = "--model", required = true, paramLabel = "M", description = "The model id in the store.")
    String model;

    @Option(names = "--version", required = true, paramLabel = "V", description = "The version to export.")
    long version;

    @Option(names = "--format", required = true, paramLabel = "peft|hf",
            description = "peft: adapter_config.json + adapter_model.safetensors; hf: config, tokenizer and model.safetensors.")
    Format format;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "A new (or empty) directory to write.")
    Path out;

    @Option(names = "--max-rank", paramLabel = "R",
            description = "peft: the most singular directions kept per tensor (default: " + PeftExport.DEFAULT_MAX_RANK
                    + "; vLLM serves at most " + PeftExport.VLLM_MAX_RANK + ").")
    Integer maxRank;

    @Option(names = "--base-model", paramLabel = "DIR",
            description = "hf: the base model's HuggingFace directory (or 'testbed'); its weights must hash to the store's base.")
    Path baseModel;

    @Override
    public Integer call() {
        if (format == Format.hf && baseModel == null) {
            throw new ParameterException(spec.commandLine(), "--format hf needs --base-model DIR");
        }
        if (format == Format.hf && maxRank != null) {
            throw new ParameterException(spec.commandLine(), "--max-rank applies to --format peft only");
        }
        if (format == Format.peft && baseModel != null) {
            throw new ParameterException(spec.commandLine(), "--base-model applies to --format hf only");
        }
        if (maxRank != null && maxRank < 1) {
            throw new ParameterException(spec.commandLine(), "--max-rank must be at least 1, got " + maxRank);
        }
        PrintWriter stdout = spec.commandLine().getOut();
        try (CheckpointStore store = storeOption.open()) {
            if (format == Format.peft) {
                int cap = maxRank == null ? PeftExport.DEFAULT_MAX_RANK : maxRank;
                PeftExport.Result result = new PeftExport(store).export(model, version, cap, out);
                for (Map.Entry<String, PeftExport.TensorExport> tensor : result.tensors().entrySet()) {
                    stdout.printf(Locale.ROOT, "%s rank %d energy kept %.6f%n", tensor.getKey(), tensor.getValue().rank(),
                            tensor.getValue().energyKept());
                }
                stdout.printf(Locale.ROOT, "wrote a PEFT LoRA adapter of rank %d to %s: %.6f of the change's energy kept%n",
                        result.rank(), out, result.energyKept());
                if (result.rank() > PeftExport.VLLM_MAX_RANK) {
                    stdout.printf("note: rank %d exceeds %d, the most vLLM serves%n", result.rank(), PeftExport.VLLM_MAX_RANK);
                }
            } else {
                HuggingFaceExport.Result result = HuggingFaceExport.export(store, model, version, ModelOptions.resolve(baseModel), out);
                stdout.printf("wrote model %s version %d (%d edited tensors, %s) to %s%n", model, version, result.editedTensors(),
                        result.dtypeNote(), out);
            }
            stdout.flush();
            return 0;
        } catch (IOException e) {
            throw new CommandFailure("cannot export model " + model + " version " + version + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new CommandFailure(e.getMessage(), e);
        }
    }
}
