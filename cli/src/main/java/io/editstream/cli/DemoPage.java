package io.editstream.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The demo's HTML report: one self-contained file (no scripts, no network) with the table per checkpoint, the facts
 * asked before and after, and plots drawn as inline SVG: the measures against the number of edits, the latency of
 * every edit, and the dead letters by reason.
 */
final class DemoPage {
    private static final int WIDTH = 640;
    private static final int HEIGHT = 260;
    private static final int MARGIN = 48;

    /** A fact asked of the subscriber before the first edit and after the last. */
    record Asked(String prompt, String targetNew, String targetTrue, String before, String after) {
    }

    /**
     * @param summary   lines of the run's summary (the topology's counts, the wall time)
     * @param versions  every committed version of the demo's model, in order
     * @param latencies every applied edit's latency
     * @param dlq       dead letters by reason
     */
    record Content(String model, List<String> summary, List<ChainObserver.VersionRow> versions,
                   List<ChainObserver.EditLatency> latencies, Map<String, Long> dlq, List<Asked> asked) {
    }

    private DemoPage() {
    }

    static void write(Path file, Content content) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, html(content), StandardCharsets.UTF_8);
    }

    static String html(Content c) {
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>editstream demo: ").append(esc(c.model()))
                .append("</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
                        + "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}th{background:#eee}"
                        + "td.l{text-align:left}svg{border:1px solid #ddd;margin:0.5em 0}</style></head><body>\n");
        h.append("<h1>editstream demo: ").append(esc(c.model())).append("</h1>\n<ul>");
        c.summary().forEach(line -> h.append("<li>").append(esc(line)).append("</li>"));
        h.append("</ul>\n<h2>Measures against the number of edits</h2>\n");
        List<double[]> cumulative = new java.util.ArrayList<>();
        long edits = 0;
        for (ChainObserver.VersionRow row : c.versions()) {
            edits += row.edits();
            cumulative.add(new double[] {edits, row.efficacy(), row.specificity(), row.retention()});
        }
        h.append(lines(cumulative, "edits applied", "fraction", 0, 1,
                new String[] {"efficacy", "specificity", "retention"}, new String[] {"#1f77b4", "#2ca02c", "#d62728"}));
        h.append("<h2>Latency per edit</h2>\n");
        h.append(points(c.latencies().stream().map(l -> new double[] {l.sequence(), l.totalMs()}).toList(), "sequence", "ms"));
        h.append("<h2>Dead letters by reason</h2>\n").append(bars(c.dlq()));
        h.append("<h2>Checkpoints</h2>\n<table><tr><th>version</th><th>edits</th><th>efficacy</th><th>specificity</th>"
                + "<th>retention</th><th>delta bytes</th></tr>\n");
        for (ChainObserver.VersionRow row : c.versions()) {
            h.append("<tr><td>").append(row.version()).append("</td><td>").append(row.edits()).append("</td><td>")
                    .append(fraction(row.efficacy())).append("</td><td>").append(fraction(row.specificity())).append("</td><td>")
                    .append(fraction(row.retention())).append("</td><td>").append(row.deltaBytes()).append("</td></tr>\n");
        }
        h.append("</table>\n<h2>Facts asked of the subscriber</h2>\n<table><tr><th>prompt</th><th>before</th><th>after</th>"
                + "<th>correction</th></tr>\n");
        for (Asked a : c.asked()) {
            h.append("<tr><td class=\"l\">").append(esc(a.prompt())).append("</td><td class=\"l\">").append(esc(a.before()))
                    .append("</td><td class=\"l\">").append(esc(a.after())).append("</td><td class=\"l\">")
                    .append(esc(a.targetTrue())).append(" → ").append(esc(a.targetNew())).append("</td></tr>\n");
        }
        h.append("</table>\n</body></html>\n");
        return h.toString();
    }

    static String fraction(double value) {
        return Double.isNaN(value) ? "-" : String.format(Locale.ROOT, "%.3f", value);
    }

    /** Lines of series 1.. of {@code rows} ({x, y1, y2, ...}) against x, on a fixed y range. */
    private static String lines(List<double[]> rows, String xLabel, String yLabel, double yMin, double yMax, String[] names, String[] colours) {
        double xMax = rows.stream().mapToDouble(r -> r[0]).max().orElse(1);
        StringBuilder svg = axes(xLabel, yLabel, 0, Math.max(1, xMax), yMin, yMax);
        for (int s = 0; s < names.length; s++) {
            int series = s + 1;
            StringBuilder path = new StringBuilder();
            for (double[] row : rows) {
                if (!Double.isNaN(row[series])) {
                    path.append(path.length() == 0 ? "M" : " L").append(x(row[0], 0, Math.max(1, xMax))).append(',').append(y(row[series], yMin, yMax));
                    svg.append(String.format(Locale.ROOT, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                            x(row[0], 0, Math.max(1, xMax)), y(row[series], yMin, yMax), colours[s]));
                }
            }
            if (path.length() > 0) {
                svg.append("<path d=\"").append(path).append("\" fill=\"none\" stroke=\"").append(colours[s]).append("\" stroke-width=\"2\"/>");
            }
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" fill=\"%s\" font-size=\"12\">%s</text>",
                    WIDTH - MARGIN - 90, MARGIN / 2 + 14 * s, colours[s], names[s]));
        }
        return svg.append("</svg>\n").toString();
    }

    private static String points(List<double[]> rows, String xLabel, String yLabel) {
        double xMax = Math.max(1, rows.stream().mapToDouble(r -> r[0]).max().orElse(1));
        double yMax = Math.max(1, rows.stream().mapToDouble(r -> r[1]).max().orElse(1));
        StringBuilder svg = axes(xLabel, yLabel, 0, xMax, 0, yMax);
        for (double[] row : rows) {
            svg.append(String.format(Locale.ROOT, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#9467bd\"/>",
                    x(row[0], 0, xMax), y(row[1], 0, yMax)));
        }
        return svg.append("</svg>\n").toString();
    }

    private static String bars(Map<String, Long> counts) {
        double max = Math.max(1, counts.values().stream().mapToLong(Long::longValue).max().orElse(1));
        int rowHeight = 22;
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">", WIDTH, rowHeight * counts.size() + 10));
        int i = 0;
        for (Map.Entry<String, Long> entry : counts.entrySet()) {
            double width = (WIDTH - 260) * entry.getValue() / max;
            int top = 5 + rowHeight * i++;
            svg.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\" font-size=\"12\">%s</text>", top + 14, esc(entry.getKey())));
            svg.append(String.format(Locale.ROOT, "<rect class=\"bar\" x=\"200\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"#ff7f0e\"/>", top, width));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%d</text>", 205 + width, top + 14, entry.getValue()));
        }
        return svg.append("</svg>\n").toString();
    }

    private static StringBuilder axes(String xLabel, String yLabel, double xMin, double xMax, double yMin, double yMax) {
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">", WIDTH, HEIGHT));
        svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>", MARGIN, HEIGHT - MARGIN,
                WIDTH - MARGIN, HEIGHT - MARGIN));
        svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>", MARGIN, MARGIN / 2,
                MARGIN, HEIGHT - MARGIN));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>", WIDTH / 2 - 30, HEIGHT - 10, esc(xLabel)));
        svg.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\" font-size=\"12\">%s</text>", MARGIN / 2 - 6, esc(yLabel)));
        svg.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\" font-size=\"11\">%s</text>", HEIGHT - MARGIN, label(yMin)));
        svg.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\" font-size=\"11\">%s</text>", MARGIN / 2 + 10, label(yMax)));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>", MARGIN, HEIGHT - MARGIN + 14, label(xMin)));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>", WIDTH - MARGIN - 20, HEIGHT - MARGIN + 14,
                label(xMax)));
        return svg;
    }

    private static String label(double value) {
        return value == Math.rint(value) ? Long.toString((long) value) : String.format(Locale.ROOT, "%.2f", value);
    }

    private static double x(double value, double min, double max) {
        return MARGIN + (WIDTH - 2 * MARGIN) * (value - min) / (max - min);
    }

    private static double y(double value, double min, double max) {
        return HEIGHT - MARGIN - (HEIGHT - 1.5 * MARGIN) * (value - min) / (max - min);
    }

    private static String esc(String text) {
        return text == null ? "" : text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
