package io.editstream.train;

import io.editstream.edit.EditRequest;
import io.editstream.eval.CounterFactRecord;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The ways CounterFact words each relation, recovered from the cases themselves (the EasyEdit format carries no
 * relation id): every rewrite prompt is a template of its relation, and a case's locality prompt asks the same
 * relation of another subject, so the template it fills belongs to the same relation. Templates joined that way
 * form the relation's family.
 *
 * <p>The testbed learns each fact through several templates of its relation so that the fact has to live at the
 * subject, where a model meets it whatever the sentence around it: a model taught one fixed sentence per fact
 * recalls it from the sentence as a whole, and no edit at the subject can change it.
 */
public final class RelationTemplates {

    /** A prompt read as a template of a known relation with its subject. */
    public record Filled(String template, String subject) {
    }

    private final List<String> templates;
    private final Map<String, String> parent = new HashMap<>();
    private final Map<String, List<String>> families = new HashMap<>();

    private RelationTemplates(List<String> templates) {
        this.templates = templates;
    }

    /** The relation families of these cases. */
    public static RelationTemplates of(List<CounterFactRecord> cases) {
        Map<String, Boolean> ordered = new LinkedHashMap<>();
        for (CounterFactRecord c : cases) {
            ordered.put(templateOf(c), Boolean.TRUE);
        }
        RelationTemplates relations = new RelationTemplates(List.copyOf(ordered.keySet()));
        for (CounterFactRecord c : cases) {
            String template = templateOf(c);
            relations.root(template);
            relations.read(c.localityPrompt()).ifPresent(other -> relations.join(template, other.template()));
        }
        for (String template : relations.templates) {
            relations.families.computeIfAbsent(relations.root(template), r -> new ArrayList<>()).add(template);
        }
        return relations;
    }

    /** The rewrite prompt of a case with its subject replaced by {}. */
    public static String templateOf(CounterFactRecord c) {
        return EditRequest.template(c.prompt(), c.subject());
    }

    /** The templates of the relation {@code template} belongs to, itself included, in first-seen order. */
    public List<String> family(String template) {
        List<String> family = parent.containsKey(template) ? families.get(root(template)) : null;
        return family == null ? List.of(template) : List.copyOf(family);
    }

    /**
     * The known template a prompt fills, and its subject: the template whose fixed text covers most of the prompt
     * (so "{}, which is located in" wins over "{}, in").
     */
    public Optional<Filled> read(String prompt) {
        return templates.stream()
                .filter(t -> fills(prompt, t))
                .max(Comparator.comparingInt(String::length))
                .map(t -> {
                    int at = t.indexOf("{}");
                    return new Filled(t, prompt.substring(at, prompt.length() - (t.length() - at - 2)));
                });
    }

    private static boolean fills(String prompt, String template) {
        int at = template.indexOf("{}");
        String before = template.substring(0, at);
        String after = template.substring(at + 2);
        return prompt.length() > before.length() + after.length() && prompt.startsWith(before) && prompt.endsWith(after)
                && !prompt.substring(at, prompt.length() - after.length()).isBlank();
    }

    private String root(String template) {
        parent.putIfAbsent(template, template);
        String node = template;
        while (!parent.get(node).equals(node)) {
            parent.put(node, parent.get(parent.get(node)));
            node = parent.get(node);
        }
        return node;
    }

    private void join(String a, String b) {
        String ra = root(a);
        String rb = root(b);
        if (!ra.equals(rb)) {
            parent.put(rb, ra);
        }
    }
}
