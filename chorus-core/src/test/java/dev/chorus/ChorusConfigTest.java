package dev.chorus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.chorus.ChorusConfig.BackplaneKind;
import dev.chorus.ChorusConfig.Discovery;
import dev.chorus.ChorusConfig.HostPort;
import dev.chorus.wire.EnvelopeCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ChorusConfigTest {

    @Test
    void defaultEnvelopeLimit_isTheWireFormatsDefault() {
        assertThat(ChorusConfig.DEFAULT_MAX_ENVELOPE_BYTES).isEqualTo(EnvelopeCodec.DEFAULT_MAX_BYTES);
        assertThat(ChorusConfig.defaults().maxEnvelopeBytes())
                .isEqualTo(EnvelopeCodec.forCluster("chorus").maxBytes());
    }

    @Test
    void defaults_areOneReplicaInProcess() {
        ChorusConfig config = ChorusConfig.defaults();

        assertThat(config.backplane()).isEqualTo(BackplaneKind.INPROCESS);
        assertThat(config.channel()).isEqualTo("chorus");
        assertThat(config.discovery()).isEqualTo(Discovery.MULTICAST);
        assertThat(config.clusterPort()).isEqualTo(7800);
        assertThat(config.drainDelay()).isEqualTo(Duration.ofSeconds(15));
        assertThat(config.maxEnvelopeBytes()).isEqualTo(1 << 20);
        assertThat(config.clusterSecret()).isEmpty();
        assertThat(config.maxInstances()).isEmpty();
        assertThat(config.replicaName()).isEmpty();
    }

    @Test
    void from_readsEveryVariable() {
        ChorusConfig config = ChorusConfig.from(Map.of(
                "CHORUS_REPLICA_NAME", "api-7f9c-2",
                "CHORUS_BACKPLANE", "JGroups",
                "CHORUS_CHANNEL", "orders_prod",
                "CLUSTER_DISCOVERY", "tcp",
                "CLUSTER_INITIAL_HOSTS", "10.0.0.1[7800], node-b.local[7801]",
                "CLUSTER_PORT", "7900",
                "CHORUS_CLUSTER_SECRET", "0123456789abcdef-secret",
                "CHORUS_MAX_INSTANCES", "3",
                "CHORUS_DRAIN_DELAY", "500ms",
                "CHORUS_MAX_ENVELOPE_BYTES", "256KiB")::get);

        assertThat(config.replicaName()).contains("api-7f9c-2");
        assertThat(config.allowUnsigned()).isFalse();
        assertThat(config.backplane()).isEqualTo(BackplaneKind.JGROUPS);
        assertThat(config.channel()).isEqualTo("orders_prod");
        assertThat(config.discovery()).isEqualTo(Discovery.TCP);
        assertThat(config.initialHosts())
                .containsExactly(new HostPort("10.0.0.1", 7800), new HostPort("node-b.local", 7801));
        assertThat(config.clusterPort()).isEqualTo(7900);
        assertThat(config.clusterSecret()).map(Secret::reveal).contains("0123456789abcdef-secret");
        assertThat(config.maxInstances()).hasValue(3);
        assertThat(config.drainDelay()).isEqualTo(Duration.ofMillis(500));
        assertThat(config.maxEnvelopeBytes()).isEqualTo(256 * 1024);
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "CHORUS_BACKPLANE      | kafka            | CHORUS_BACKPLANE=redis",
                "CHORUS_CHANNEL        | Orders           | CHORUS_CHANNEL=orders_prod",
                "CHORUS_CHANNEL        | 9lives           | CHORUS_CHANNEL=orders_prod",
                "CLUSTER_DISCOVERY     | gossip           | CLUSTER_DISCOVERY=TCP",
                "CLUSTER_PORT          | 70000            | CLUSTER_PORT=7800",
                "CLUSTER_PORT          | seven            | CLUSTER_PORT=7800",
                "CLUSTER_INITIAL_HOSTS | 10.0.0.1:7800    | 10.0.0.1[7800]",
                "CHORUS_MAX_INSTANCES  | 0                | CHORUS_MAX_INSTANCES=3",
                "CHORUS_DRAIN_DELAY    | soon             | CHORUS_DRAIN_DELAY=15s",
                "CHORUS_MAX_ENVELOPE_BYTES | 12           | CHORUS_MAX_ENVELOPE_BYTES=1MiB",
                "DATABASE_URL          | mysql://db/x     | postgres://",
                "REDIS_URL             | localhost:6379   | redis://",
                "CHORUS_REDIS_LEASE_REPLICAS | -1         | CHORUS_REDIS_LEASE_REPLICAS=1",
                "CHORUS_REDIS_LEASE_REPLICAS | some       | CHORUS_REDIS_LEASE_REPLICAS=1",
                "CHORUS_REPLICA_NAME   | has spaces in it | CHORUS_REPLICA_NAME=api-7f9c-2",
            })
    void from_invalidValue_namesVariableValueAndExample(String variable, String value, String example) {
        assertThatThrownBy(() -> ChorusConfig.from(Map.of(variable, value)::get))
                .isInstanceOfSatisfying(
                        ConfigurationException.class,
                        e -> assertThat(e.variable()).isEqualTo(variable))
                .hasMessageContaining(variable)
                .hasMessageContaining(value)
                .hasMessageContaining(example);
    }

    @Test
    void redisLeaseReplicas_isAutoByDefaultOrANumber() {
        assertThat(ChorusConfig.defaults().redisLeaseReplicas()).isEmpty();
        assertThat(ChorusConfig.from(Map.of("CHORUS_REDIS_LEASE_REPLICAS", "AUTO")::get)
                        .redisLeaseReplicas())
                .isEmpty();
        assertThat(ChorusConfig.from(Map.of("CHORUS_REDIS_LEASE_REPLICAS", "0")::get)
                        .redisLeaseReplicas())
                .hasValue(0);
        assertThat(ChorusConfig.from(Map.of("CHORUS_REDIS_LEASE_REPLICAS", "2")::get)
                        .redisLeaseReplicas())
                .hasValue(2);
    }

    @Test
    void cacheReplication_isOnByDefaultAndAcceptsOnOffOnly() {
        assertThat(ChorusConfig.defaults().cacheReplication()).isTrue();
        assertThat(ChorusConfig.from(Map.of("CHORUS_CACHE_REPLICATION", "OFF")::get)
                        .cacheReplication())
                .isFalse();
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_CACHE_REPLICATION", "maybe")::get))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_CACHE_REPLICATION='maybe' is neither on nor off");
    }

    @Test
    void from_severalProblems_reportsThemAllAtOnce() {
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_BACKPLANE", "kafka", "CLUSTER_PORT", "0")::get))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("2 configuration problems")
                .hasMessageContaining("CHORUS_BACKPLANE='kafka'")
                .hasMessageContaining("CLUSTER_PORT='0'");
    }

    @Test
    void from_shortSecret_isRejectedWithoutEchoingIt() {
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_CLUSTER_SECRET", "hunter2")::get))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("CHORUS_CLUSTER_SECRET")
                .hasMessageContaining("at least 16")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void from_secretFile_isReadWithoutItsTrailingNewline_andExclusiveWithTheVariable(@TempDir Path dir)
            throws IOException {
        Path file = dir.resolve("cluster-secret");
        Files.writeString(file, "0123456789abcdef-secret\n");
        ChorusConfig fromFile = ChorusConfig.from(Map.of("CHORUS_CLUSTER_SECRET_FILE", file.toString())::get);
        assertThat(fromFile.clusterSecret()).contains(new Secret("0123456789abcdef-secret"));

        assertThatThrownBy(() -> ChorusConfig.from(Map.of(
                        "CHORUS_CLUSTER_SECRET_FILE",
                        file.toString(),
                        "CHORUS_CLUSTER_SECRET",
                        "0123456789abcdef-secret")::get))
                .hasMessageContaining("are both set");
        assertThatThrownBy(() -> ChorusConfig.from(Map.of(
                        "CHORUS_CLUSTER_SECRET_FILE", dir.resolve("missing").toString())::get))
                .isInstanceOf(ConfigurationException.class)
                .satisfies(e ->
                        assertThat(((ConfigurationException) e).variable()).isEqualTo("CHORUS_CLUSTER_SECRET_FILE"))
                .hasMessageContaining("cannot be read");
        Files.writeString(file, "hunter2\n");
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_CLUSTER_SECRET_FILE", file.toString())::get))
                .hasMessageContaining("at least 16")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void from_transportWithoutItsUrl_saysWhatToSet() {
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_BACKPLANE", "postgres")::get))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("DATABASE_URL");
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_BACKPLANE", "redis")::get))
                .hasMessageContaining("REDIS_URL");
        assertThatThrownBy(
                        () -> ChorusConfig.from(Map.of("CHORUS_BACKPLANE", "jgroups", "CLUSTER_DISCOVERY", "DNS")::get))
                .hasMessageContaining("CLUSTER_DNS_QUERY");
        assertThatThrownBy(
                        () -> ChorusConfig.from(Map.of("CHORUS_BACKPLANE", "jgroups", "CLUSTER_DISCOVERY", "TCP")::get))
                .hasMessageContaining("CLUSTER_INITIAL_HOSTS");
    }

    @Test
    void from_networkedBackplaneWithoutASecret_isRefusedSayingHowToMakeOne() {
        for (Map<String, String> env : List.of(
                Map.of("CHORUS_BACKPLANE", "postgres", "DATABASE_URL", "postgres://u@db:5432/app"),
                Map.of("CHORUS_BACKPLANE", "redis", "REDIS_URL", "redis://cache:6379"),
                Map.of("CHORUS_BACKPLANE", "jgroups"))) {
            assertThatThrownBy(() -> ChorusConfig.from(env::get))
                    .as(env.get("CHORUS_BACKPLANE"))
                    .isInstanceOf(ConfigurationException.class)
                    .satisfies(e ->
                            assertThat(((ConfigurationException) e).variable()).isEqualTo("CHORUS_CLUSTER_SECRET"))
                    .hasMessageContaining(env.get("CHORUS_BACKPLANE") + " backplane needs a cluster secret")
                    .hasMessageContaining("openssl rand -base64 32")
                    .hasMessageContaining("CHORUS_ALLOW_UNSIGNED=true");
        }
    }

    @Test
    void from_allowUnsigned_isTheExplicitOptOut_andInProcessNeedsNoSecret() {
        ChorusConfig open = ChorusConfig.from(Map.of(
                "CHORUS_BACKPLANE", "redis", "REDIS_URL", "redis://cache:6379", "CHORUS_ALLOW_UNSIGNED", "true")::get);
        assertThat(open.allowUnsigned()).isTrue();
        assertThat(open.clusterSecret()).isEmpty();
        assertThat(open.toString()).contains("allowUnsigned=true");

        assertThat(ChorusConfig.defaults().allowUnsigned()).isFalse();
        assertThat(ChorusConfig.defaults().backplane()).isEqualTo(BackplaneKind.INPROCESS);
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_ALLOW_UNSIGNED", "maybe")::get))
                .hasMessageContaining("CHORUS_ALLOW_UNSIGNED='maybe' is neither true nor false");
    }

    @Test
    void from_replayWindow_defaultsToFiveMinutes_parsesDurations_andRefusesLessThanASecond() {
        assertThat(ChorusConfig.defaults().replayWindow()).isEqualTo(Duration.ofMinutes(5));
        assertThat(ChorusConfig.from(Map.of("CHORUS_REPLAY_WINDOW", "90s")::get).replayWindow())
                .isEqualTo(Duration.ofSeconds(90));
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_REPLAY_WINDOW", "200ms")::get))
                .hasMessageContaining("CHORUS_REPLAY_WINDOW='200ms' is shorter than 1s")
                .hasMessageContaining("NTP");
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("CHORUS_REPLAY_WINDOW", "soon")::get))
                .hasMessageContaining("CHORUS_REPLAY_WINDOW='soon'");
    }

    @Test
    void from_badUrl_isReportedWithThePasswordMasked() {
        assertThatThrownBy(() -> ChorusConfig.from(Map.of("REDIS_URL", "http://user:topsecret@cache:6379")::get))
                .hasMessageContaining("REDIS_URL")
                .hasMessageNotContaining("topsecret");
    }

    @Test
    void toString_masksPasswordsAndSecrets() {
        Map<String, String> env = new HashMap<>();
        env.put("CHORUS_BACKPLANE", "redis");
        env.put("REDIS_URL", "rediss://app:pa55word@cache.internal:6380/0");
        env.put("DATABASE_URL", "postgres://chorus:dbpass@db:5432/chorus");
        env.put("CHORUS_CLUSTER_SECRET", "a-very-secret-cluster-key");

        String printed = ChorusConfig.from(env::get).toString();

        assertThat(printed)
                .contains("rediss://app:****@cache.internal:6380/0")
                .contains("postgres://chorus:****@db:5432/chorus")
                .doesNotContain("pa55word", "dbpass", "a-very-secret-cluster-key");
    }

    @Test
    void blankValues_countAsUnset() {
        ChorusConfig config = ChorusConfig.from(Map.of("CHORUS_BACKPLANE", "  ", "CHORUS_CHANNEL", "")::get);

        assertThat(config.backplane()).isEqualTo(BackplaneKind.INPROCESS);
        assertThat(config.channel()).isEqualTo("chorus");
    }

    @Test
    void durations_acceptCommonForms() {
        for (var entry : Map.of(
                        "15s", Duration.ofSeconds(15),
                        "15", Duration.ofSeconds(15),
                        "250ms", Duration.ofMillis(250),
                        "2m", Duration.ofMinutes(2),
                        "1h", Duration.ofHours(1),
                        "PT1.5S", Duration.ofMillis(1500),
                        "0", Duration.ZERO)
                .entrySet()) {
            assertThat(ChorusConfig.parseDuration(entry.getKey()))
                    .as(entry.getKey())
                    .isEqualTo(entry.getValue());
        }
        for (String bad : List.of("fast", "-1s", "1.5s", "P", "99999999999999999999s")) {
            assertThat(ChorusConfig.parseDuration(bad)).as(bad).isNull();
        }
    }

    @Test
    void secret_derivesIndependentKeysPerPurpose_andItsFingerprintIsNoneOfThem() throws Exception {
        Secret secret = new Secret("0123456789abcdef-secret");
        byte[] mac = secret.derive(Secret.ENVELOPE_MAC);

        assertThat(mac).hasSize(32).isNotEqualTo(secret.bytes());
        assertThat(secret.derive("another purpose")).hasSize(32).isNotEqualTo(mac);
        assertThat(new Secret("0123456789abcdef-secret").derive(Secret.ENVELOPE_MAC))
                .isEqualTo(mac);
        String hexKey = java.util.HexFormat.of().formatHex(mac);
        assertThat(hexKey).doesNotStartWith(secret.fingerprint());
        // HKDF-SHA256 (RFC 5869) for one block: HMAC(HMAC(salt, secret), purpose || 0x01). Every replica and
        // every version must derive alike, so the construction is pinned here independently.
        byte[] prk = hmac("chorus-kdf-salt-v1".getBytes(StandardCharsets.UTF_8), secret.bytes());
        byte[] info = (Secret.ENVELOPE_MAC + "\u0001").getBytes(StandardCharsets.UTF_8);
        assertThat(mac).isEqualTo(hmac(prk, info));
    }

    private static byte[] hmac(byte[] key, byte[] data) throws Exception {
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(key, "HmacSHA256"));
        return mac.doFinal(data);
    }

    @Test
    void secret_printsOnlyAFingerprint() {
        Secret secret = new Secret("0123456789abcdef-secret");

        assertThat(secret.toString()).doesNotContain("0123456789abcdef-secret").contains(secret.fingerprint());
        assertThat(secret.fingerprint()).hasSize(16).isNotEqualTo(new Secret("another-secret-value").fingerprint());
    }

    @Test
    void maskUrl_hidesUserInfoAndQueryPasswords() {
        assertThat(Secrets.maskUrl("redis://:pw@host:6379")).isEqualTo("redis://:****@host:6379");
        assertThat(Secrets.maskUrl("redis://user:pw@host:6379/0")).isEqualTo("redis://user:****@host:6379/0");
        assertThat(Secrets.maskUrl("redis://host:6379")).isEqualTo("redis://host:6379");
        assertThat(Secrets.maskUrl("jdbc:postgresql://db/x?user=a&password=pw&ssl=true"))
                .isEqualTo("jdbc:postgresql://db/x?user=a&password=****&ssl=true");
    }

    @Test
    void replicaId_equalityIsTheUuidAndNamesAreValidated() {
        ReplicaId a = ReplicaId.random("api-1");
        ReplicaId copy = ReplicaId.of(a.uuid(), null);

        assertThat(copy).isEqualTo(a).hasSameHashCodeAs(a);
        assertThat(ReplicaId.random()).isNotEqualTo(a);
        assertThat(a.shortForm()).startsWith("api-1/").hasSize("api-1/".length() + 8);
        assertThat(ReplicaId.random("  ").name()).isNull();
        assertThatThrownBy(() -> ReplicaId.random("bad name")).isInstanceOf(ChorusException.class);
    }
}
