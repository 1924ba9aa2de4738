package dev.chorus.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * Renders the chart under {@code deploy/helm/chorus} offline with helm-java (Go Helm bundled, no binary, no
 * cluster) and parses every document into its typed fabric8 model, for the chart's tests and the conformance
 * test that starts replicas the way the rendered Deployment describes them.
 */
public final class HelmRender {

    /** The oldest Kubernetes the chart supports (Chart.yaml kubeVersion: native preStop sleep). */
    public static final String KUBE_VERSION = "1.30.0";
    /** Release name of every render: the resources are then named {@code chorus}. */
    public static final String RELEASE = "chorus";
    /** Namespace of every render. */
    public static final String NAMESPACE = "chorus-test";

    private static final String HOOK_KEY = "helm.sh/hook:";
    private static final String RENAMED_HOOK_KEY = "chorus.test/rendered-hook:";
    private static final Pattern DOCUMENT_SEPARATOR = Pattern.compile("(?m)^---\\s*$");

    private HelmRender() {}

    /** The chart directory, found from the module directory (where Maven runs tests) or the repository root. */
    public static Path chart() {
        return Repo.path("deploy/helm/chorus");
    }

    /** The chart's {@code ci/*-values.yaml} files, relative to the chart ({@code ci/postgres-values.yaml}). */
    public static List<String> ciValuesFiles() {
        try (Stream<Path> files = Files.list(chart().resolve("ci"))) {
            return files.map(p -> "ci/" + p.getFileName())
                    .filter(name -> name.endsWith("-values.yaml"))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Renders the chart like {@code helm template chorus deploy/helm/chorus -f valuesFile --set k=v ...} and
     * parses each document.
     *
     * @param valuesFile a values file relative to the chart (for example {@code ci/postgres-values.yaml}), or
     *     null for the defaults alone
     * @param sets {@code --set} overrides applied after the file
     * @throws IllegalStateException with Helm's message when the schema or {@code chorus.validateValues} refuses
     */
    public static List<HasMetadata> render(@Nullable String valuesFile, Map<String, String> sets) {
        return parse(template(valuesFile, sets));
    }

    /** The rendered Deployment of {@code valuesFile} (the conformance test uses {@code ci/postgres-values.yaml}). */
    public static Deployment deployment(@Nullable String valuesFile) {
        return only(render(valuesFile, Map.of()), Deployment.class);
    }

    /**
     * The raw YAML {@code helm template} prints: the manifest and the hooks (the {@code helm test} pod).
     *
     * <p>helm-java's template returns the release manifest only, without hooks. So the chart is rendered from a
     * copy whose {@code helm.sh/hook} annotation key is renamed, which makes Helm treat hooks as plain manifests,
     * and the key is restored in the output: the same templates and values, only Helm's sorting of hooks differs.
     */
    public static String template(@Nullable String valuesFile, Map<String, String> sets) {
        Path chart = chart();
        Path copy = null;
        try {
            copy = Files.createTempDirectory("chorus-chart");
            Path hooksAsManifests = copy.resolve(chart.getFileName().toString());
            copyTree(chart, hooksAsManifests);
            try (Stream<Path> files = Files.walk(hooksAsManifests.resolve("templates"))) {
                for (Path file : files.filter(Files::isRegularFile).toList()) {
                    Files.writeString(file, Files.readString(file).replace(HOOK_KEY, RENAMED_HOOK_KEY));
                }
            }
            TemplateCommand template = new Helm(hooksAsManifests)
                    .template()
                    .withName(RELEASE)
                    .withNamespace(NAMESPACE)
                    .withKubeVersion(KUBE_VERSION);
            if (valuesFile != null) {
                template = template.withValuesFile(chart.resolve(valuesFile));
            }
            for (Map.Entry<String, String> set : sets.entrySet()) {
                template = template.set(set.getKey(), set.getValue());
            }
            return template.call().replace(RENAMED_HOOK_KEY, HOOK_KEY);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteTree(copy);
        }
    }

    /** The NOTES.txt Helm prints after an install, rendered by a client-only dry run. */
    public static String notes(@Nullable String valuesFile) {
        Path chart = chart();
        InstallCommand install = new Helm(chart)
                .install()
                .withName(RELEASE)
                .withNamespace(NAMESPACE)
                .withKubeVersion(KUBE_VERSION)
                .clientOnly()
                .dryRun();
        if (valuesFile != null) {
            install = install.withValuesFile(chart.resolve(valuesFile));
        }
        String output = install.call().getOutput();
        int notes = output.indexOf("NOTES:");
        return notes < 0 ? "" : output.substring(notes);
    }

    /** Every non-empty document of a multi-document YAML stream, as its typed model. */
    public static List<HasMetadata> parse(String yaml) {
        List<HasMetadata> objects = new ArrayList<>();
        for (String document : DOCUMENT_SEPARATOR.split(yaml)) {
            boolean onlyComments =
                    document.lines().map(String::strip).allMatch(line -> line.isEmpty() || line.startsWith("#"));
            if (!onlyComments) {
                objects.add(Serialization.unmarshal(document, HasMetadata.class));
            }
        }
        return objects;
    }

    /** The one object of {@code type}; fails when there are none or several. */
    public static <T extends HasMetadata> T only(List<HasMetadata> objects, Class<T> type) {
        List<T> matching = all(objects, type);
        if (matching.size() != 1) {
            throw new AssertionError("expected one " + type.getSimpleName() + ", got " + matching.size());
        }
        return matching.getFirst();
    }

    /** Every object of {@code type}, in rendering order. */
    public static <T extends HasMetadata> List<T> all(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    /**
     * {@code helm lint --strict} with a values file. helm-java's lint takes no values file, so the chart is
     * copied to {@code workDir} with the file (relative to the chart, or absolute) deep-merged into its
     * values.yaml, which is what {@code -f} does. Lint checks the schema and the rendered YAML; it renders in
     * Helm's lint mode, where {@code fail} only logs, so {@code chorus.validateValues} is seen by {@link
     * #render} alone.
     */
    public static LintResult lintStrict(@Nullable String valuesFile, Path workDir) {
        Path chart = chart();
        if (valuesFile == null) {
            return new Helm(chart).lint().strict().call();
        }
        Path copy = workDir.resolve("chorus");
        try {
            copyTree(chart, copy);
            Map<String, Object> values = readYaml(chart.resolve("values.yaml"));
            merge(values, readYaml(chart.resolve(valuesFile)));
            Files.writeString(
                    copy.resolve("values.yaml"), Serialization.yamlMapper().writeValueAsString(values));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Helm(copy).lint().strict().call();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> readYaml(Path file) throws IOException {
        Object value = Serialization.yamlMapper().readValue(Files.readString(file), Object.class);
        return value instanceof Map<?, ?> map ? new LinkedHashMap<>((Map<String, Object>) map) : new LinkedHashMap<>();
    }

    /** Helm's coalescing: maps merge key by key, anything else in the override replaces. */
    @SuppressWarnings("unchecked")
    private static void merge(Map<String, Object> base, Map<String, Object> override) {
        override.forEach((key, value) -> {
            if (value instanceof Map<?, ?> child && base.get(key) instanceof Map<?, ?> existing) {
                Map<String, Object> merged = new LinkedHashMap<>((Map<String, Object>) existing);
                merge(merged, (Map<String, Object>) child);
                base.put(key, merged);
            } else {
                base.put(key, value);
            }
        });
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path source : paths.toList()) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target);
                }
            }
        }
    }

    private static void deleteTree(@Nullable Path root) {
        if (root == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
