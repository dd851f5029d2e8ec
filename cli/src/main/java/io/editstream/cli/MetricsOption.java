package io.editstream.cli;

import java.io.IOException;

import picocli.CommandLine.Option;

/** {@code --metrics-port}: a command's Prometheus {@code /metrics} and {@code /health} on 127.0.0.1. */
final class MetricsOption {
    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve GET /metrics (Prometheus) and GET /health on http://127.0.0.1:PORT (0: any free port).")
    Integer port;

    /** A started endpoint when --metrics-port is given, else a registry nobody scrapes; the caller closes it. */
    Telemetry start() throws IOException {
        Telemetry telemetry = new Telemetry();
        if (port != null) {
            if (port < 0 || port > 65_535) {
                telemetry.close();
                throw new CommandFailure("--metrics-port takes 0..65535, got " + port);
            }
            try {
                telemetry.serve(port);
            } catch (IOException | RuntimeException e) {
                telemetry.close();
                throw e;
            }
        }
        return telemetry;
    }
}
