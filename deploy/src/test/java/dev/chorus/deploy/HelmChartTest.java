package dev.chorus.deploy;

import static dev.chorus.deploy.HelmRender.all;
import static dev.chorus.deploy.HelmRender.only;
import static dev.chorus.deploy.HelmRender.render;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.LintResult;
import dev.chorus.ChorusConfig;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HPAScalingPolicy;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Helm chart, offline: lint --strict and template for every {@code ci/*-values.yaml}, every document parsed
 * into its typed model, one test per message of {@code chorus.validateValues}, the schema refusing misspelled
 * keys, and the structural facts the other artifacts and the server rely on.
 */
class HelmChartTest {

    private static final String POSTGRES = "ci/postgres-values.yaml";
    private static final String REDIS = "ci/redis-values.yaml";
    private static final String JGROUPS = "ci/jgroups-values.yaml";
    private static final String HPA = "ci/hpa-values.yaml";
    private static final String INGRESS = "ci/ingress-values.yaml";
    private static final String DEFAULTS = "ci/security-defaults-values.yaml";

    static List<String> ciValuesFiles() {
        return HelmRender.ciValuesFiles();
    }

    // ---- lint and template over the matrix ----

    @Test
    void ciMatrix_coversEveryBackplaneHpaIngressAndTheDefaults() {
        assertThat(ciValuesFiles()).contains(POSTGRES, REDIS, JGROUPS, HPA, INGRESS, DEFAULTS);
    }

    @Test
    void lintStrict_defaultValues_passesWithoutWarnings() {
        assertLintClean(HelmRender.lintStrict(null, Path.of("unused")));
    }

    @ParameterizedTest
    @MethodSource("ciValuesFiles")
    void lintStrict_ciValues_passesWithoutWarnings(String valuesFile, @TempDir Path work) {
        assertLintClean(HelmRender.lintStrict(valuesFile, work));
    }

    /**
     * Proves the merged-copy lint sees the values file. Helm's lint renders in lint mode, where {@code fail}
     * only logs, so validateValues is proved by template below; lint proves the schema and the YAML.
     */
    @Test
    void lintStrict_valuesFileWithMisspelledKey_fails(@TempDir Path work) throws Exception {
        Path values = Files.writeString(work.resolve("typo-values.yaml"), "backplane:\n  typ: postgres\n");

        LintResult result = HelmRender.lintStrict(values.toString(), work);

        assertThat(result.isFailed()).isTrue();
        assertThat(result.getMessages()).anyMatch(m -> m.contains("additional properties 'typ' not allowed"));
    }

    @ParameterizedTest
    @MethodSource("ciValuesFiles")
    void template_ciValues_everyDocumentParsesAsItsTypedModel(String valuesFile) {
        List<HasMetadata> objects = render(valuesFile, Map.of());

        assertThat(objects).isNotEmpty();
        assertThat(objects)
                .filteredOn(o -> o instanceof GenericKubernetesResource)
                .as("only the ServiceMonitor CRD has no typed model in kubernetes-client-api")
                .allSatisfy(o -> assertThat(o.getKind()).isEqualTo("ServiceMonitor"));
        assertThat(objects)
                .allSatisfy(o -> assertThat(o.getMetadata().getName()).isNotBlank());
        only(objects, Deployment.class);
        assertThat(all(objects, Service.class)).hasSizeGreaterThanOrEqualTo(2);
    }

    @ParameterizedTest
    @MethodSource("ciValuesFiles")
    void template_ciValues_agreesWithTheServersOwnCode(String valuesFile) {
        ManifestChecks.assertAgreesWithServer(render(valuesFile, Map.of()));
    }

    @ParameterizedTest
    @MethodSource("ciValuesFiles")
    void template_ciValues_generatesNoSecret(String valuesFile) {
        assertThat(all(render(valuesFile, Map.of()), Secret.class)).isEmpty();
    }

    @Test
    void helmTemplate_olderKubernetes_isRefusedByKubeVersion() {
        assertThatThrownBy(() -> new com.marcnuri.helm.Helm(HelmRender.chart())
                        .template()
                        .withKubeVersion("1.29.9")
                        .call())
                .hasMessageContaining("kubeVersion");
    }

    // ---- chorus.validateValues: one test per message ----

    /** Each test breaks one rule of otherwise valid values and asserts the message that names the fix. */
    @Nested
    class Validation {

        @Test
        void inprocess_withReplicas_isRefused() {
            assertRefused(
                    null,
                    Map.of("replicaCount", "3", "security.signingKey.existingSecret", "k"),
                    "chorus: replicaCount=3 needs a networked backplane: backplane.type=inprocess keeps caches,"
                            + " events and sessions inside one pod. Set backplane.type=postgres (or redis, jgroups),"
                            + " or replicaCount=1.");
        }

        @Test
        void inprocess_withAutoscaling_isRefused() {
            assertRefused(
                    null,
                    Map.of(
                            "autoscaling.enabled", "true",
                            "autoscaling.maxReplicas", "4",
                            "security.signingKey.existingSecret", "k"),
                    "chorus: autoscaling.maxReplicas=4 needs a networked backplane");
        }

        @Test
        void redis_withoutUrlOrSecret_isRefused() {
            assertRefused(
                    REDIS,
                    Map.of("redis.existingSecret", ""),
                    "chorus: redis.url or redis.existingSecret must be set when backplane.type=redis: kubectl create"
                            + " secret generic chorus-redis --from-literal=url=redis://");
        }

        @Test
        void extraEnv_repeatingAVariableTheChartSets_isRefused() {
            assertRefused(
                    POSTGRES,
                    Map.of("extraEnv[0].name", "CHORUS_DRAIN_DELAY", "extraEnv[0].value", "1s"),
                    "chorus: extraEnv repeats CHORUS_DRAIN_DELAY, which the chart sets from its own values",
                    "drain.delaySeconds");
        }

        @Test
        void extraEnv_withAVariableOfItsOwn_isAddedAfterTheChartsOwn() {
            Deployment deployment = only(
                    render(POSTGRES, Map.of("extraEnv[0].name", "CHORUS_WS_PING_INTERVAL", "extraEnv[0].value", "20s")),
                    Deployment.class);
            assertThat(env(deployment, "CHORUS_WS_PING_INTERVAL").getValue()).isEqualTo("20s");
        }

        @Test
        void redis_withPlainUrl_rendersItAsRedisUrl() {
            Deployment deployment = only(
                    render(REDIS, Map.of("redis.existingSecret", "", "redis.url", "redis://cache:6379/0")),
                    Deployment.class);
            assertThat(env(deployment, ChorusConfig.REDIS_URL).getValue()).isEqualTo("redis://cache:6379/0");
        }

        @Test
        void postgres_withoutDatabaseSecret_isRefused() {
            assertRefused(
                    POSTGRES,
                    Map.of("database.existingSecret", ""),
                    "chorus: database.existingSecret must be set when backplane.type=postgres",
                    "kubectl create secret generic chorus-database --from-literal=url=postgres://");
        }

        @Test
        void jgroups_withoutDatabaseSecret_isRefusedForItsLeases() {
            assertRefused(
                    JGROUPS,
                    Map.of("database.existingSecret", ""),
                    "chorus: database.existingSecret must be set when backplane.type=jgroups (the mesh keeps no"
                            + " fenced leases, so session leases and membership live in PostgreSQL)");
        }

        @Test
        void replicas_withoutSigningKey_isRefused() {
            assertRefused(
                    POSTGRES,
                    Map.of("security.signingKey.existingSecret", ""),
                    "chorus: security.signingKey.existingSecret must be set when replicaCount=3 > 1",
                    "kubectl create secret generic chorus-signing-key --from-file=private-key.pem");
        }

        @Test
        void autoscaling_withoutSigningKey_isRefused() {
            assertRefused(
                    HPA,
                    Map.of("security.signingKey.existingSecret", ""),
                    "chorus: security.signingKey.existingSecret must be set when autoscaling.maxReplicas=6 > 1");
        }

        @Test
        void networkedBackplane_withoutClusterSecret_isRefused() {
            assertRefused(
                    JGROUPS,
                    Map.of("security.clusterSecret.existingSecret", ""),
                    "chorus: security.clusterSecret.existingSecret must be set when backplane.type=jgroups",
                    "kubectl create secret generic chorus-cluster --from-literal=cluster-secret=",
                    "or set security.allowUnsigned=true");
        }

        @Test
        void networkedBackplane_withoutClusterSecretButAllowUnsigned_setsTheServersOptOut() {
            Deployment deployment = only(
                    render(
                            POSTGRES,
                            Map.of("security.clusterSecret.existingSecret", "", "security.allowUnsigned", "true")),
                    Deployment.class);

            assertThat(env(deployment, ChorusConfig.ALLOW_UNSIGNED).getValue()).isEqualTo("true");
            assertThat(findEnv(deployment, ChorusConfig.CLUSTER_SECRET)).isEmpty();
        }

        @Test
        void autoscaling_minAboveMax_isRefused() {
            assertRefused(
                    HPA,
                    Map.of("autoscaling.minReplicas", "7"),
                    "chorus: autoscaling.minReplicas=7 is above autoscaling.maxReplicas=6");
        }

        @Test
        void gracePeriod_notAbovePreStopDrainAndClose_isRefused() {
            assertRefused(
                    POSTGRES,
                    Map.of("drain.terminationGracePeriodSeconds", "30"),
                    "chorus: drain.terminationGracePeriodSeconds=30 must exceed drain.preStopSeconds +"
                            + " drain.delaySeconds + drain.closeSeconds = 30");
        }

        @Test
        void serviceMonitor_withoutManagementPort_isRefused() {
            assertRefused(
                    HPA,
                    Map.of("management.enabled", "false"),
                    "chorus: metrics.serviceMonitor.enabled=true needs management.enabled=true");
        }

        @Test
        void severalProblems_areAllReportedInOneFailure() {
            assertThatThrownBy(
                            () -> render(null, Map.of("replicaCount", "2", "drain.terminationGracePeriodSeconds", "1")))
                    .hasMessageContaining("VALUES VALIDATION:")
                    .hasMessageContaining("replicaCount=2 needs a networked backplane")
                    .hasMessageContaining("security.signingKey.existingSecret must be set")
                    .hasMessageContaining("drain.terminationGracePeriodSeconds=1 must exceed");
        }
    }

    // ---- values.schema.json ----

    @Test
    void schema_misspelledTopLevelKey_isRefused() {
        assertThatThrownBy(() -> render(POSTGRES, Map.of("replicaCont", "3")))
                .hasMessageContaining("schema")
                .hasMessageContaining("additional properties 'replicaCont' not allowed");
    }

    @Test
    void schema_misspelledNestedKey_isRefused() {
        assertThatThrownBy(() -> render(POSTGRES, Map.of("security.signingKey.existingSecrt", "k")))
                .hasMessageContaining("at '/security/signingKey': additional properties 'existingSecrt' not allowed");
    }

    @Test
    void schema_unknownBackplane_isRefused() {
        assertThatThrownBy(() -> render(POSTGRES, Map.of("backplane.type", "kafka")))
                .hasMessageContaining("at '/backplane/type': value must be one of");
    }

    @Test
    void schema_closeTimeBelowTheServersCloseBudget_isRefused() throws Exception {
        Map<?, ?> schema = schema();
        Map<?, ?> close = (Map<?, ?>) ((Map<?, ?>)
                        ((Map<?, ?>) ((Map<?, ?>) schema.get("properties")).get("drain")).get("properties"))
                .get("closeSeconds");
        assertThat(((Number) close.get("minimum")).longValue())
                .as("the floor is the server's own close budget, so a grace period checked against it is enough")
                .isEqualTo(dev.chorus.server.ChorusServer.CLOSE_BUDGET.toSeconds());
        assertThatThrownBy(() -> render(POSTGRES, Map.of("drain.closeSeconds", "0")))
                .hasMessageContaining("/drain/closeSeconds");
    }

    @Test
    void schema_closesEveryObjectItDefines() throws Exception {
        Map<?, ?> schema = schema();
        assertThat(openObjects(schema, "")).isEmpty();
    }

    private static Map<?, ?> schema() throws java.io.IOException {
        return io.fabric8.kubernetes.client.utils.Serialization.jsonMapper()
                .readValue(Files.readString(HelmRender.chart().resolve("values.schema.json")), Map.class);
    }

    // ---- structure ----

    @Test
    void deployment_followsTheContract_probesPortsDrainAndSecurity() {
        Deployment deployment = HelmRender.deployment(POSTGRES);
        var pod = deployment.getSpec().getTemplate().getSpec();
        Container chorus = pod.getContainers().getFirst();

        assertThat(chorus.getPorts())
                .anySatisfy(p ->
                        assertThat(p.getName() + ":" + p.getContainerPort()).isEqualTo("http:8080"));
        assertThat(env(deployment, "PORT").getValue()).isEqualTo("8080");
        assertThat(chorus.getStartupProbe().getHttpGet().getPath()).isEqualTo("/health/started");
        assertThat(chorus.getStartupProbe().getPeriodSeconds()).isEqualTo(2);
        assertThat(chorus.getStartupProbe().getFailureThreshold()).isEqualTo(60);
        assertThat(chorus.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/health/ready");
        assertThat(List.of(
                        chorus.getReadinessProbe().getPeriodSeconds(),
                        chorus.getReadinessProbe().getTimeoutSeconds(),
                        chorus.getReadinessProbe().getFailureThreshold()))
                .containsExactly(5, 2, 2);
        assertThat(chorus.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/health/live");
        assertThat(List.of(
                        chorus.getLivenessProbe().getPeriodSeconds(),
                        chorus.getLivenessProbe().getTimeoutSeconds(),
                        chorus.getLivenessProbe().getFailureThreshold()))
                .containsExactly(10, 3, 6);
        assertThat(Stream.of(chorus.getStartupProbe(), chorus.getReadinessProbe(), chorus.getLivenessProbe())
                        .map(p -> p.getHttpGet().getPort().getStrVal()))
                .containsOnly("http");

        assertThat(chorus.getLifecycle().getPreStop().getSleep().getSeconds()).isEqualTo(5L);
        assertThat(env(deployment, ChorusConfig.DRAIN_DELAY).getValue()).isEqualTo("15s");
        assertThat(pod.getTerminationGracePeriodSeconds()).isEqualTo(45L);
        assertThat(env(deployment, ChorusConfig.REPLICA_NAME)
                        .getValueFrom()
                        .getFieldRef()
                        .getFieldPath())
                .isEqualTo("metadata.name");
        assertThat(env(deployment, ChorusConfig.CLUSTER_SECRET)
                        .getValueFrom()
                        .getSecretKeyRef()
                        .getKey())
                .isEqualTo("cluster-secret");
        assertThat(env(deployment, ChorusConfig.DATABASE_URL)
                        .getValueFrom()
                        .getSecretKeyRef()
                        .getName())
                .isEqualTo("chorus-database");
        assertThat(env(deployment, "CHORUS_JWT_PRIVATE_KEY_FILE").getValue())
                .isEqualTo("/etc/chorus/signing/private-key.pem");
        assertThat(env(deployment, "CHORUS_CLIENTS_FILE").getValue()).isEqualTo("/etc/chorus/clients/clients.json");
        assertThat(chorus.getVolumeMounts())
                .extracting(m -> m.getMountPath() + ":" + m.getReadOnly())
                .contains("/tmp:null", "/etc/chorus/signing:true", "/etc/chorus/clients:true");

        assertThat(pod.getTopologySpreadConstraints())
                .extracting(c -> c.getTopologyKey() + "/" + c.getWhenUnsatisfiable())
                .containsExactly("topology.kubernetes.io/zone/ScheduleAnyway", "kubernetes.io/hostname/ScheduleAnyway");
        assertThat(chorus.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(chorus.getResources().getLimits()).containsKey("memory");
    }

    @ParameterizedTest
    @MethodSource("ciValuesFiles")
    void everyPod_runsNonRootReadOnlyWithoutPrivileges(String valuesFile) {
        List<HasMetadata> objects = render(valuesFile, Map.of());
        Stream<Container> containers = Stream.concat(
                all(objects, Deployment.class).stream()
                        .flatMap(d -> d.getSpec().getTemplate().getSpec().getContainers().stream()),
                all(objects, Pod.class).stream().flatMap(p -> p.getSpec().getContainers().stream()));

        assertThat(containers.toList()).isNotEmpty().allSatisfy(c -> {
            var security = c.getSecurityContext();
            assertThat(security.getRunAsNonRoot()).isTrue();
            assertThat(security.getRunAsUser()).isEqualTo(10001L);
            assertThat(security.getAllowPrivilegeEscalation()).isFalse();
            assertThat(security.getReadOnlyRootFilesystem()).isTrue();
            assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
            assertThat(security.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
            assertThat(c.getVolumeMounts())
                    .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/tmp"));
        });
    }

    @Test
    void securityDefaults_areClosed() {
        List<HasMetadata> objects = render(DEFAULTS, Map.of());
        Deployment deployment = only(objects, Deployment.class);

        assertThat(deployment.getSpec().getReplicas()).isEqualTo(1);
        assertThat(findEnv(deployment, ChorusConfig.BACKPLANE))
                .as("unset = in-process")
                .isEmpty();
        assertThat(findEnv(deployment, ChorusConfig.ALLOW_UNSIGNED)).isEmpty();
        assertThat(findEnv(deployment, "CHORUS_MANAGEMENT_PORT")).isEmpty();
        assertThat(env(deployment, ChorusConfig.MAX_INSTANCES).getValue()).isEqualTo("1");
        assertThat(deployment.getSpec().getTemplate().getSpec().getAutomountServiceAccountToken())
                .isFalse();
        assertThat(all(objects, NetworkPolicy.class)).hasSize(1);
        assertThat(all(objects, Ingress.class)).isEmpty();
        assertThat(all(objects, HorizontalPodAutoscaler.class)).isEmpty();
        assertThat(all(objects, PodDisruptionBudget.class))
                .as("minAvailable 1 on one pod would block every node drain")
                .isEmpty();
        assertThat(all(objects, Pod.class))
                .as("no verify Secret named: no test pod")
                .isEmpty();
    }

    @Test
    void maxInstances_followsReplicaCount() {
        Deployment deployment = HelmRender.deployment(POSTGRES);

        assertThat(deployment.getSpec().getReplicas()).isEqualTo(3);
        assertThat(env(deployment, ChorusConfig.MAX_INSTANCES).getValue()).isEqualTo("3");
    }

    @Test
    void maxInstances_followsHpaMaximum_andTheDeploymentLeavesReplicasToTheHpa() {
        List<HasMetadata> objects = render(HPA, Map.of());
        Deployment deployment = only(objects, Deployment.class);
        HorizontalPodAutoscaler hpa = only(objects, HorizontalPodAutoscaler.class);

        assertThat(deployment.getSpec().getReplicas()).isNull();
        assertThat(hpa.getSpec().getMaxReplicas()).isEqualTo(6);
        assertThat(env(deployment, ChorusConfig.MAX_INSTANCES).getValue()).isEqualTo("6");
    }

    @Test
    void hpa_scalesDownAtMostOnePodPer300Seconds() {
        HorizontalPodAutoscaler hpa = only(render(HPA, Map.of()), HorizontalPodAutoscaler.class);

        assertThat(hpa.getApiVersion()).isEqualTo("autoscaling/v2");
        assertThat(hpa.getSpec().getScaleTargetRef().getName()).isEqualTo("chorus");
        List<HPAScalingPolicy> policies =
                hpa.getSpec().getBehavior().getScaleDown().getPolicies();
        assertThat(policies)
                .extracting(p -> p.getType() + ":" + p.getValue() + "/" + p.getPeriodSeconds())
                .containsExactly("Pods:1/300");
    }

    @Test
    void pdb_keepsOneReplicaAvailable() {
        List<HasMetadata> objects = render(POSTGRES, Map.of());
        PodDisruptionBudget pdb = only(objects, PodDisruptionBudget.class);
        Deployment deployment = only(objects, Deployment.class);

        assertThat(pdb.getSpec().getMinAvailable().getIntVal()).isEqualTo(1);
        assertThat(pdb.getSpec().getSelector().getMatchLabels())
                .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
    }

    @Test
    void pdb_isLeftOutWhenTheHpaMayRunOnePod() {
        // minAvailable 1 on a deployment scaled down to one pod would block every node drain.
        assertThat(all(render(HPA, Map.of("autoscaling.minReplicas", "1")), PodDisruptionBudget.class))
                .isEmpty();
        assertThat(all(render(HPA, Map.of()), PodDisruptionBudget.class)).hasSize(1);
    }

    @Test
    void networkPolicy_inProcessBackplaneWithADatabase_reachesPostgres() {
        NetworkPolicy policy =
                only(render(DEFAULTS, Map.of("database.existingSecret", "chorus-database")), NetworkPolicy.class);
        assertThat(policy.getSpec().getEgress().stream().flatMap(rule -> ports(rule.getPorts()).stream()))
                .as("storage on PostgreSQL needs its port on every backplane")
                .contains("5432");
    }

    @Test
    void headlessService_publishesNotReadyPodsOnTheJGroupsPort() {
        List<HasMetadata> objects = render(JGROUPS, Map.of());
        Service headless = service(objects, "chorus-headless");
        Deployment deployment = only(objects, Deployment.class);

        assertThat(headless.getSpec().getClusterIP()).isEqualTo("None");
        assertThat(headless.getSpec().getPublishNotReadyAddresses()).isTrue();
        assertThat(headless.getSpec().getPorts())
                .extracting(p -> p.getName() + ":" + p.getPort())
                .containsExactly("jgroups:7800");
        assertThat(headless.getSpec().getSelector())
                .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
    }

    @Test
    void jgroups_discoversPeersByDnsOnTheHeadlessService() {
        Deployment deployment = HelmRender.deployment(JGROUPS);
        Container chorus =
                deployment.getSpec().getTemplate().getSpec().getContainers().getFirst();

        assertThat(env(deployment, ChorusConfig.BACKPLANE).getValue()).isEqualTo("jgroups");
        assertThat(ChorusConfig.Discovery.valueOf(
                        env(deployment, ChorusConfig.DISCOVERY).getValue().toUpperCase(java.util.Locale.ROOT)))
                .isEqualTo(ChorusConfig.Discovery.DNS);
        assertThat(env(deployment, ChorusConfig.DNS_QUERY).getValue())
                .isEqualTo("chorus-headless." + HelmRender.NAMESPACE + ".svc.cluster.local");
        assertThat(env(deployment, ChorusConfig.CLUSTER_PORT).getValue()).isEqualTo("7800");
        assertThat(env(deployment, ChorusConfig.BIND_ADDRESS)
                        .getValueFrom()
                        .getFieldRef()
                        .getFieldPath())
                .isEqualTo("status.podIP");
        assertThat(chorus.getPorts())
                .anySatisfy(p ->
                        assertThat(p.getName() + ":" + p.getContainerPort()).isEqualTo("jgroups:7800"));
        assertThat(env(deployment, ChorusConfig.DATABASE_URL)
                        .getValueFrom()
                        .getSecretKeyRef()
                        .getName())
                .as("leases and membership in PostgreSQL")
                .isEqualTo("chorus-database");
    }

    @Test
    void jgroupsPort_isOnlyDeclaredForTheJGroupsBackplane() {
        Container chorus = HelmRender.deployment(POSTGRES)
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .getFirst();
        assertThat(chorus.getPorts()).extracting(p -> p.getName()).containsExactly("http");
    }

    @Test
    void redis_takesItsUrlFromTheSecret() {
        Deployment deployment = HelmRender.deployment(REDIS);

        assertThat(env(deployment, ChorusConfig.BACKPLANE).getValue()).isEqualTo("redis");
        assertThat(env(deployment, ChorusConfig.REDIS_URL)
                        .getValueFrom()
                        .getSecretKeyRef()
                        .getName())
                .isEqualTo("chorus-redis");
    }

    @Test
    void helmTestPod_runsVerifyAgainstTheServiceWithTheVerifySecret() {
        List<HasMetadata> objects = render(POSTGRES, Map.of());
        Pod pod = only(objects, Pod.class);
        Container verify = pod.getSpec().getContainers().getFirst();
        Deployment deployment = only(objects, Deployment.class);

        assertThat(pod.getMetadata().getAnnotations()).containsEntry("helm.sh/hook", "test");
        assertThat(verify.getArgs()).containsExactly("verify", "http://chorus:8080");
        assertThat(verify.getCommand())
                .as("the image's ENTRYPOINT runs the jar")
                .isEmpty();
        assertThat(verify.getImage())
                .isEqualTo(deployment
                        .getSpec()
                        .getTemplate()
                        .getSpec()
                        .getContainers()
                        .getFirst()
                        .getImage());
        assertThat(verify.getEnv())
                .extracting(e -> e.getName() + "="
                        + (e.getValue() != null
                                ? e.getValue()
                                : e.getValueFrom().getSecretKeyRef().getName() + "/"
                                        + e.getValueFrom().getSecretKeyRef().getKey()))
                .as("every replica the deployment runs is expected to be live")
                .containsExactly(
                        "CHORUS_VERIFY_MIN_INSTANCES=" + deployment.getSpec().getReplicas(),
                        "CHORUS_VERIFY_CLIENT_ID=chorus-verify/client-id",
                        "CHORUS_VERIFY_CLIENT_SECRET=chorus-verify/client-secret");
        assertThat(pod.getMetadata().getLabels())
                .as("the Services must not route to the test pod")
                .doesNotContainEntry("app.kubernetes.io/component", "server");
        assertThat(service(objects, "chorus").getSpec().getSelector())
                .containsEntry("app.kubernetes.io/component", "server");
    }

    @Test
    void notes_tellHowToVerifyHaWithHelmTestAndTheOneApiCall() {
        assertThat(HelmRender.notes(POSTGRES))
                .contains("Verifying HA")
                .contains("helm test chorus -n " + HelmRender.NAMESPACE)
                .contains("/api/cluster/verify")
                .contains("CHORUS_MAX_INSTANCES=3");
        assertThat(HelmRender.notes(HPA))
                .as("without a verify Secret the notes say how to make one")
                .contains("create secret generic chorus-verify")
                .contains("/api/cluster/verify");
    }

    @Test
    void ingress_pinsOnlyWebSocketsWithACookieAndBalancesTheApi() {
        List<Ingress> ingresses = all(render(INGRESS, Map.of()), Ingress.class);
        assertThat(ingresses).extracting(i -> i.getMetadata().getName()).containsExactly("chorus", "chorus-ws");
        Ingress api = ingresses.get(0);
        Ingress ws = ingresses.get(1);

        assertThat(ws.getSpec().getIngressClassName()).isEqualTo("nginx");
        assertThat(ws.getMetadata().getAnnotations())
                .containsEntry("nginx.ingress.kubernetes.io/affinity", "cookie")
                .containsEntry("nginx.ingress.kubernetes.io/session-cookie-name", "CHORUS_REPLICA")
                .containsEntry("nginx.ingress.kubernetes.io/session-cookie-path", "/ws/")
                .containsKey("nginx.ingress.kubernetes.io/proxy-read-timeout");
        assertThat(api.getMetadata().getAnnotations())
                .as("the API is balanced per request: no affinity outside /ws/")
                .isNullOrEmpty();
        for (Ingress ingress : ingresses) {
            assertThat(ingress.getSpec().getTls().getFirst().getSecretName()).isEqualTo("chorus-tls");
            var backend = ingress.getSpec()
                    .getRules()
                    .getFirst()
                    .getHttp()
                    .getPaths()
                    .getFirst()
                    .getBackend();
            assertThat(backend.getService().getName() + ":"
                            + backend.getService().getPort().getName())
                    .isEqualTo("chorus:http");
        }
        assertThat(ws.getSpec()
                        .getRules()
                        .getFirst()
                        .getHttp()
                        .getPaths()
                        .getFirst()
                        .getPath())
                .isEqualTo("/ws/");
        assertThat(api.getSpec()
                        .getRules()
                        .getFirst()
                        .getHttp()
                        .getPaths()
                        .getFirst()
                        .getPath())
                .isEqualTo("/");
    }

    @Test
    void serviceMonitor_scrapesMetricsOnTheManagementPort() {
        List<HasMetadata> objects = render(HPA, Map.of());
        GenericKubernetesResource monitor = all(objects, GenericKubernetesResource.class).stream()
                .filter(o -> o.getKind().equals("ServiceMonitor"))
                .findFirst()
                .orElseThrow();
        Deployment deployment = only(objects, Deployment.class);

        assertThat(monitor.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
        Map<?, ?> endpoint = (Map<?, ?>) ((List<?>) monitor.get("spec", "endpoints")).getFirst();
        assertThat(endpoint.get("path")).isEqualTo("/metrics");
        assertThat(endpoint.get("port")).isEqualTo("management");
        assertThat(service(objects, "chorus-metrics").getSpec().getPorts())
                .extracting(p -> p.getName() + ":" + p.getPort())
                .containsExactly("management:9000");
        assertThat(service(objects, "chorus").getSpec().getPorts())
                .as("the token-free port stays off the client-facing Service")
                .extracting(p -> p.getName())
                .containsExactly("http");
        assertThat(env(deployment, "CHORUS_MANAGEMENT_PORT").getValue()).isEqualTo("9000");
        assertThat(env(deployment, "CHORUS_MANAGEMENT_HOST")
                        .getValueFrom()
                        .getFieldRef()
                        .getFieldPath())
                .isEqualTo("status.podIP");
    }

    @Test
    void networkPolicy_admitsPeersOnTheJGroupsPortAndEgressToDnsAndPostgres() {
        NetworkPolicy policy = only(render(JGROUPS, Map.of()), NetworkPolicy.class);

        assertThat(policy.getSpec().getPolicyTypes()).containsExactly("Ingress", "Egress");
        var jgroupsIngress = policy.getSpec().getIngress().stream()
                .filter(rule -> ports(rule.getPorts()).contains("7800"))
                .findFirst()
                .orElseThrow();
        assertThat(jgroupsIngress.getFrom().getFirst().getPodSelector().getMatchLabels())
                .isEqualTo(policy.getSpec().getPodSelector().getMatchLabels());
        // JGroups' failure detection listens on the cluster port + 100: without it a crash is noticed only
        // when heartbeats time out.
        assertThat(ports(jgroupsIngress.getPorts())).contains("7900");
        assertThat(policy.getSpec().getEgress().stream().flatMap(rule -> ports(rule.getPorts()).stream()))
                .contains("53", "5432", "7800", "7900")
                .doesNotContain("6379");
    }

    @Test
    void networkPolicy_redisBackplane_allowsEgressToRedis() {
        NetworkPolicy policy = only(render(REDIS, Map.of()), NetworkPolicy.class);

        assertThat(policy.getSpec().getEgress().stream().flatMap(rule -> ports(rule.getPorts()).stream()))
                .contains("53", "5432", "6379")
                .doesNotContain("7800");
    }

    // ---- helpers ----

    private static void assertLintClean(LintResult result) {
        assertThat(result.isFailed())
                .as("lint failed: %s", result.getMessages())
                .isFalse();
        assertThat(result.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    private static void assertRefused(String valuesFile, Map<String, String> sets, String... messageParts) {
        var thrown = assertThatThrownBy(() -> render(valuesFile, sets)).hasMessageContaining("VALUES VALIDATION:");
        for (String part : messageParts) {
            thrown.hasMessageContaining(part);
        }
    }

    private static Optional<EnvVar> findEnv(Deployment deployment, String name) {
        return deployment.getSpec().getTemplate().getSpec().getContainers().getFirst().getEnv().stream()
                .filter(e -> e.getName().equals(name))
                .findFirst();
    }

    private static EnvVar env(Deployment deployment, String name) {
        return findEnv(deployment, name).orElseThrow(() -> new AssertionError("no env " + name));
    }

    private static Service service(List<HasMetadata> objects, String name) {
        return all(objects, Service.class).stream()
                .filter(s -> s.getMetadata().getName().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no Service " + name));
    }

    private static List<String> ports(List<NetworkPolicyPort> ports) {
        return ports == null
                ? List.of()
                : ports.stream()
                        .map(p -> String.valueOf(p.getPort().getValue()))
                        .toList();
    }

    /** JSON pointers of schema objects that accept keys they do not name. */
    private static List<String> openObjects(Map<?, ?> schema, String pointer) {
        Stream<String> here = "object".equals(schema.get("type"))
                        && !Boolean.FALSE.equals(schema.get("additionalProperties"))
                        && !(schema.get("additionalProperties") instanceof Map<?, ?> typed
                                && "string".equals(typed.get("type")))
                ? Stream.of(pointer.isEmpty() ? "/" : pointer)
                : Stream.empty();
        Stream<String> children = Stream.empty();
        if (schema.get("properties") instanceof Map<?, ?> properties) {
            children = properties.entrySet().stream()
                    .flatMap(e -> openObjects((Map<?, ?>) e.getValue(), pointer + "/" + e.getKey()).stream());
        }
        if (schema.get("items") instanceof Map<?, ?> items) {
            children = Stream.concat(children, openObjects(items, pointer + "/items").stream());
        }
        return Stream.concat(here, children).toList();
    }
}
