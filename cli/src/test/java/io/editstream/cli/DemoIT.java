package io.editstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.editstream.cli.CommandLineTest.Run;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code editstream demo} in-process on stories260K (the testbed's C0 and setup take minutes; the chain is the same):
 * corrections with every kind of noise go through the topology, the worker and the subscriber, and the report it writes
 * opens in headless Chromium (Debian's {@code chromium}, installed here when missing) without console errors, its
 * screenshot showing the plots' points, lines and bars.
 */
class DemoIT {
    @TempDir
    Path dir;

    @Test
    void theDemoRunsTheWholeChainAndItsReportRendersInChromium() throws Exception {
        Run run = CommandLineTest.run("demo", "--model", "stories", "--facts", "8", "--batch-size", "3", "--out", dir.toString());

        String out = run.out();
        assertEquals(0, run.exitCode(), run.err() + "\n" + out);
        assertTrue(out.contains("superseded     2"), out);
        assertTrue(out.contains("duplicates     3 dropped (2 same correction id, 1 same fact and target)"), out);
        for (String reason : new String[] {"UNDESERIALIZABLE", "MISSING_FIELD", "UNKNOWN_MODEL", "EMPTY_FIELD",
                "PROMPT_WITHOUT_SUBJECT", "TARGET_EQUALS_TRUE"}) {
            assertTrue(out.lines().anyMatch(l -> l.startsWith("  " + reason + " ")), reason + " in\n" + out);
        }
        assertTrue(out.contains("checkpoints:\n  version  edits  efficacy  specificity  retention  delta bytes\n        1"), out);
        String asked = out.substring(out.indexOf("facts asked of the subscriber"), out.indexOf("report: "));
        assertEquals(6, asked.lines().count(), "a heading and five facts asked before and after:\n" + out);
        assertTrue(out.contains("subscriber serves version"), "a progress line: " + out);
        Path report = dir.resolve("report.html");
        assertTrue(out.contains("report: " + report.toAbsolutePath()), out);

        Path screenshot = dir.resolve("report.png");
        String console = chromium(report, screenshot);
        assertFalse(console.contains(":ERROR:CONSOLE") || console.contains("Uncaught"), "console errors:\n" + console);
        BufferedImage image = ImageIO.read(screenshot.toFile());
        assertTrue(pixels(image, 0x1f77b4) > 30, "efficacy drawn");
        assertTrue(pixels(image, 0x9467bd) > 30, "latency points drawn");
        assertTrue(pixels(image, 0xff7f0e) > 300, "dead-letter bars drawn");
    }

    /** Renders {@code page} headless into a PNG; returns Chromium's log (its console messages among them). */
    private static String chromium(Path page, Path png) throws IOException, InterruptedException {
        String binary = requireChromium();
        Path log = png.resolveSibling("chromium.log");
        List<String> command = List.of(binary, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                "--window-size=900,2200", "--screenshot=" + png, page.toUri().toString());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (!process.waitFor(2, TimeUnit.MINUTES)) {
                fail("chromium did not finish within 2 minutes: " + command);
            }
        } finally {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), output);
        assertTrue(Files.size(png) > 0, output);
        return output;
    }

    /**
     * {@code chromium} on the PATH, installed with apt-get (as root, else through sudo) when it is not; the package lists
     * are refreshed first when the install finds nothing to install from (a fresh machine).
     */
    private static String requireChromium() throws IOException, InterruptedException {
        if (onPath("chromium")) {
            return "chromium";
        }
        String output = apt("install", "-y", "chromium");
        if (!onPath("chromium")) {
            output += apt("update") + apt("install", "-y", "chromium");
        }
        if (!onPath("chromium")) {
            fail("chromium is missing and apt-get did not install it:\n" + output);
        }
        return "chromium";
    }

    /** Runs apt-get non-interactively; returns what it printed, its exit status last. */
    private static String apt(String... arguments) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("apt-get"));
        command.addAll(List.of(arguments));
        if (!"root".equals(System.getProperty("user.name"))) {
            command.addAll(0, List.of("sudo", "-n"));
        }
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("DEBIAN_FRONTEND", "noninteractive");
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        boolean finished = process.waitFor(10, TimeUnit.MINUTES);
        if (!finished) {
            process.destroyForcibly();
        }
        return "$ " + String.join(" ", command) + "\n" + output + (finished ? "exit " + process.exitValue() : "timed out") + "\n";
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    private static int pixels(BufferedImage image, int rgb) {
        int count = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if ((image.getRGB(x, y) & 0xffffff) == rgb) {
                    count++;
                }
            }
        }
        return count;
    }
}
