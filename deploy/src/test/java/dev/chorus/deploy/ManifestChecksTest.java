package dev.chorus.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The cross-checks themselves catch what they claim to, on a small hand-written Deployment. */
class ManifestChecksTest {

    private static final String GOOD = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: chorus}
            spec:
              selector: {matchLabels: {app: chorus}}
              template:
                metadata: {labels: {app: chorus}}
                spec:
                  terminationGracePeriodSeconds: 45
                  securityContext: {runAsNonRoot: true, runAsUser: 10001}
                  containers:
                    - name: chorus
                      image: chorus-server
                      env:
                        - {name: PORT, value: "8080"}
                        - {name: CHORUS_DRAIN_DELAY, value: "15s"}
                      ports: [{name: http, containerPort: 8080}]
                      startupProbe: {httpGet: {path: /health/started, port: http}}
                      livenessProbe: {httpGet: {path: /health/live, port: http}}
                      readinessProbe: {httpGet: {path: /health/ready, port: http}}
                      lifecycle: {preStop: {sleep: {seconds: 5}}}
                      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
                      volumeMounts: [{name: tmp, mountPath: /tmp}]
                  volumes: [{name: tmp, emptyDir: {}}]
            """;

    private static List<HasMetadata> parse(String yaml) {
        return List.of(Serialization.unmarshal(yaml, HasMetadata.class));
    }

    @Test
    void aDeploymentThatAgreesWithTheServerPasses() {
        ManifestChecks.assertAgreesWithServer(parse(GOOD));
    }

    @Test
    void anEnvironmentNameTheServerNeverReadsFails() {
        assertThatThrownBy(() -> ManifestChecks.assertAgreesWithServer(
                        parse(GOOD.replace("CHORUS_DRAIN_DELAY", "CHORUS_DRAIN_DELAYS"))))
                .hasMessageContaining("never reads")
                .hasMessageContaining("CHORUS_DRAIN_DELAYS");
    }

    @Test
    void aValueTheServerRefusesFails() {
        assertThatThrownBy(() -> ManifestChecks.assertAgreesWithServer(parse(GOOD.replace("\"15s\"", "\"soon\""))))
                .hasMessageContaining("CHORUS_DRAIN_DELAY");
    }

    @Test
    void aProbeOnAPathTheServerDoesNotServeFails() {
        assertThatThrownBy(() -> ManifestChecks.assertAgreesWithServer(
                        parse(GOOD.replace("path: /health/ready", "path: /healthz"))))
                .hasMessageContaining("readinessProbe path");
    }

    @Test
    void aContainerPortOtherThanTheServersFails() {
        assertThatThrownBy(() -> ManifestChecks.assertAgreesWithServer(
                        parse(GOOD.replace("containerPort: 8080", "containerPort: 9090"))))
                .hasMessageContaining("the one the server listens on");
    }

    @Test
    void aGracePeriodShorterThanPreStopPlusDrainPlusCloseFails() {
        assertThatThrownBy(() -> ManifestChecks.assertAgreesWithServer(
                        parse(GOOD.replace("terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 30"))))
                .hasMessageContaining("must exceed preStop (5 s) + CHORUS_DRAIN_DELAY (15 s)");
    }

    @Test
    void rootOrAMissingUserFails() {
        assertThatThrownBy(() -> ManifestChecks.assertAgreesWithServer(
                        parse(GOOD.replace("runAsNonRoot: true, runAsUser: 10001", "runAsNonRoot: true"))))
                .hasMessageContaining("runAsUser");
    }

    @Test
    void theServerReadsTheNamesTheManifestsUse() {
        assertThat(ServerFacts.get().keysRead())
                .contains(
                        "PORT",
                        "CHORUS_BACKPLANE",
                        "DATABASE_URL",
                        "CHORUS_CLUSTER_SECRET",
                        "CHORUS_JWT_PRIVATE_KEY_FILE",
                        "CHORUS_CLIENTS_FILE",
                        "CLUSTER_DNS_QUERY");
    }
}
