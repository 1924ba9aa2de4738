package dev.chorus.server.destinations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Which addresses a webhook may reach: every internal kind refused by default, IPv4 hidden in IPv6 judged
 * by the IPv4 address, the allow-list and the switch opening only what they say, and names checked on every
 * address they resolve to, each time. No test here touches DNS or the network: names go to a fake resolver.
 */
class TargetPolicyTest {

    @Test
    void of_everyInternalKind_isNotPublic() throws Exception {
        Map<String, AddressKind> kinds = Map.ofEntries(
                Map.entry("127.0.0.1", AddressKind.LOOPBACK),
                Map.entry("127.255.0.9", AddressKind.LOOPBACK),
                Map.entry("::1", AddressKind.LOOPBACK),
                Map.entry("169.254.169.254", AddressKind.LINK_LOCAL),
                Map.entry("fe80::1", AddressKind.LINK_LOCAL),
                Map.entry("febf::1", AddressKind.LINK_LOCAL),
                Map.entry("10.0.0.1", AddressKind.PRIVATE),
                Map.entry("172.16.0.1", AddressKind.PRIVATE),
                Map.entry("172.31.255.255", AddressKind.PRIVATE),
                Map.entry("192.168.1.1", AddressKind.PRIVATE),
                Map.entry("fec0::1", AddressKind.PRIVATE),
                Map.entry("100.64.0.1", AddressKind.SHARED),
                Map.entry("100.127.255.254", AddressKind.SHARED),
                Map.entry("fd00::1", AddressKind.UNIQUE_LOCAL),
                Map.entry("fc00::1", AddressKind.UNIQUE_LOCAL),
                Map.entry("64:ff9b:1::1", AddressKind.UNIQUE_LOCAL),
                Map.entry("224.0.0.1", AddressKind.MULTICAST),
                Map.entry("239.255.255.250", AddressKind.MULTICAST),
                Map.entry("ff02::1", AddressKind.MULTICAST),
                Map.entry("0.0.0.0", AddressKind.UNSPECIFIED),
                Map.entry("0.1.2.3", AddressKind.UNSPECIFIED),
                Map.entry("::", AddressKind.UNSPECIFIED),
                Map.entry("255.255.255.255", AddressKind.BROADCAST),
                Map.entry("192.0.2.1", AddressKind.DOCUMENTATION),
                Map.entry("2001:db8::1", AddressKind.DOCUMENTATION),
                Map.entry("240.0.0.1", AddressKind.RESERVED),
                Map.entry("198.18.0.1", AddressKind.RESERVED),
                Map.entry("2001::1", AddressKind.RESERVED),
                Map.entry("100::1", AddressKind.RESERVED),
                // IPv4 inside IPv6 is judged by where it leads.
                Map.entry("::ffff:127.0.0.1", AddressKind.LOOPBACK),
                Map.entry("::ffff:169.254.169.254", AddressKind.LINK_LOCAL),
                Map.entry("::ffff:10.0.0.1", AddressKind.PRIVATE),
                Map.entry("::127.0.0.1", AddressKind.LOOPBACK),
                Map.entry("64:ff9b::a00:1", AddressKind.PRIVATE),
                Map.entry("2002:7f00:1::", AddressKind.LOOPBACK),
                Map.entry("2002:a9fe:a9fe::", AddressKind.LINK_LOCAL),
                // Public, on both sides of every private boundary.
                Map.entry("8.8.8.8", AddressKind.PUBLIC),
                Map.entry("172.15.255.255", AddressKind.PUBLIC),
                Map.entry("172.32.0.1", AddressKind.PUBLIC),
                Map.entry("100.63.255.255", AddressKind.PUBLIC),
                Map.entry("100.128.0.1", AddressKind.PUBLIC),
                Map.entry("11.0.0.1", AddressKind.PUBLIC),
                Map.entry("2606:4700::1111", AddressKind.PUBLIC),
                Map.entry("64:ff9b::808:808", AddressKind.PUBLIC));
        for (Map.Entry<String, AddressKind> e : kinds.entrySet()) {
            assertThat(AddressKind.of(literal(e.getKey()))).as(e.getKey()).isEqualTo(e.getValue());
        }
    }

    @Test
    void of_ipv4MappedKeptAsIpv6_isJudgedByItsIpv4Address() throws Exception {
        // The JDK turns a mapped literal into an Inet4Address; bytes from elsewhere may stay IPv6.
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = 127;
        mapped[15] = 1;
        InetAddress address = Inet6Address.getByAddress(null, mapped, -1);

        assertThat(address).isInstanceOf(Inet6Address.class);
        assertThat(AddressKind.of(address)).isEqualTo(AddressKind.LOOPBACK);
    }

    @Test
    void checkUrl_internalLiteralsByDefault_areRefusedNamingTheFix() {
        TargetPolicy policy = new TargetPolicy(Set.of(), false, noLookups());
        for (String url : List.of(
                "http://127.0.0.1:8080/",
                "http://[::1]/",
                "http://0.0.0.0/",
                "http://[::]/",
                "http://169.254.169.254/latest/meta-data/",
                "http://10.0.0.1/",
                "http://[fd00::1]/",
                "http://[fe80::1]/",
                "http://[::ffff:127.0.0.1]/",
                "http://[::ffff:a9fe:a9fe]/",
                "http://100.64.0.1/",
                "http://192.168.0.1/",
                "http://224.0.0.1/",
                "http://255.255.255.255/")) {
            assertThatThrownBy(() -> policy.checkUrl(URI.create(url)))
                    .as(url)
                    .isInstanceOf(TargetPolicy.Blocked.class)
                    .hasMessageContaining("url '" + url + "'")
                    .hasMessageContaining("use a public http(s) URL");
        }
        assertThatThrownBy(() -> policy.checkUrl(URI.create("http://10.0.0.1/")))
                .hasMessageContaining("a private address")
                .hasMessageContaining("CHORUS_WEBHOOK_HOSTS")
                .hasMessageContaining("CHORUS_WEBHOOK_ALLOW_PRIVATE=true");
    }

    @Test
    void checkUrl_addressesInOtherForms_areRefusedBeforeAnyLookup() {
        TargetPolicy policy = new TargetPolicy(Set.of(), false, noLookups());
        for (String url :
                List.of("http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://1.2.3.04/")) {
            assertThatThrownBy(() -> policy.checkUrl(URI.create(url)))
                    .as(url)
                    .isInstanceOf(TargetPolicy.Blocked.class)
                    .hasMessageContaining("four decimal numbers");
        }
        // java.net.URI itself finds no host in 127.1: refused too, still without a lookup.
        assertThatThrownBy(() -> policy.checkUrl(URI.create("http://127.1/"))).hasMessageContaining("has no host");
    }

    @Test
    void checkCreation_aNameResolvingInward_isRefusedWithoutShowingTheAddress() {
        TargetPolicy policy = new TargetPolicy(Set.of(), false, fake(Map.of("db.internal", "10.1.2.3")));

        assertThatThrownBy(() -> policy.checkCreation(URI.create("https://db.internal/hook")))
                .isInstanceOf(TargetPolicy.Blocked.class)
                .hasMessageContaining("url host 'db.internal' resolves to a private address")
                .hasMessageNotContaining("10.1.2.3");
        assertThatThrownBy(() -> policy.checkCreation(URI.create("https://nowhere.test/")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not resolve");
    }

    @Test
    void resolve_aNameWithOneInternalAddressAmongPublicOnes_isRefusedWhole() {
        TargetPolicy policy =
                new TargetPolicy(Set.of(), false, fake(Map.of("mixed.test", "203.0.114.1,127.0.0.1,8.8.4.4")));

        assertThatThrownBy(() -> policy.resolve("mixed.test"))
                .isInstanceOf(TargetPolicy.Blocked.class)
                .hasMessageContaining("127.0.0.1, a loopback address");
    }

    @Test
    void resolve_aNameRepointedInwardAfterItWasAccepted_isRefusedAtTheNextConnection() throws Exception {
        Deque<String> answers = new ArrayDeque<>(List.of("8.8.8.8", "8.8.8.8", "169.254.169.254"));
        TargetPolicy policy =
                new TargetPolicy(Set.of(), false, host -> new InetAddress[] {literal(answers.removeFirst())});

        policy.checkCreation(URI.create("https://rebind.test/"));
        assertThat(policy.resolve("rebind.test"))
                .extracting(InetAddress::getHostAddress)
                .containsExactly("8.8.8.8");
        assertThatThrownBy(() -> policy.resolve("rebind.test"))
                .isInstanceOf(TargetPolicy.Blocked.class)
                .hasMessageContaining("169.254.169.254, a link-local address");
    }

    @Test
    void allowList_onlyListedHostsAreReached_andTheyMayBeInternal() throws Exception {
        TargetPolicy policy = new TargetPolicy(
                Set.of("hooks.internal", "127.0.0.1", "[::1]", "Metadata.Internal."),
                false,
                fake(Map.of(
                        "hooks.internal", "10.0.0.7",
                        "metadata.internal", "169.254.169.254",
                        "other.test", "8.8.8.8")));

        policy.checkCreation(URI.create("http://hooks.internal:8080/"));
        policy.checkCreation(URI.create("http://127.0.0.1:8080/"));
        policy.checkCreation(URI.create("http://[0:0:0:0:0:0:0:1]/"));
        assertThat(policy.resolve("metadata.internal")).hasSize(1);
        assertThatThrownBy(() -> policy.checkUrl(URI.create("https://other.test/")))
                .isInstanceOf(TargetPolicy.Blocked.class)
                .hasMessageContaining("is not in CHORUS_WEBHOOK_HOSTS")
                .hasMessageContaining("add 'other.test'");
        assertThatThrownBy(() -> policy.resolve("other.test")).isInstanceOf(TargetPolicy.Blocked.class);
        // Listing a host never makes a multicast or unspecified address a receiver.
        TargetPolicy listedZero = new TargetPolicy(Set.of("0.0.0.0"), true, noLookups());
        assertThatThrownBy(() -> listedZero.checkUrl(URI.create("http://0.0.0.0/")))
                .hasMessageContaining("never a webhook receiver");
    }

    @Test
    void allowPrivate_opensPrivateNetworks_butNotLinkLocalOrNeverKinds() {
        TargetPolicy policy = new TargetPolicy(Set.of(), true, noLookups());

        policy.checkUrl(URI.create("http://127.0.0.1:9000/"));
        policy.checkUrl(URI.create("http://10.0.0.1/"));
        policy.checkUrl(URI.create("http://[fd00::1]/"));
        assertThatThrownBy(() -> policy.checkUrl(URI.create("http://169.254.169.254/")))
                .hasMessageContaining("a link-local address")
                .hasMessageContaining("only for a host the operator lists in CHORUS_WEBHOOK_HOSTS");
        assertThatThrownBy(() -> policy.checkUrl(URI.create("http://224.0.0.1/")))
                .hasMessageContaining("never a webhook receiver");
    }

    @Test
    void normalize_sameHostWrittenDifferently_isOneHost() {
        assertThat(TargetPolicy.normalize("[::1]")).isEqualTo(TargetPolicy.normalize("0:0:0:0:0:0:0:1"));
        assertThat(TargetPolicy.normalize("Hooks.Example.ORG.")).isEqualTo("hooks.example.org");
    }

    private static InetAddress literal(String address) {
        return TargetPolicy.literal(address)
                .orElseThrow(() -> new AssertionError(address + " is not an address literal"));
    }

    /** A resolver that fails the test if asked: literals must never be looked up. */
    private static TargetPolicy.Resolver noLookups() {
        return host -> {
            throw new AssertionError("looked up " + host);
        };
    }

    /** Names to comma-separated address literals; any other name does not resolve. */
    private static TargetPolicy.Resolver fake(Map<String, String> names) {
        return host -> {
            String addresses = names.get(host);
            if (addresses == null) {
                if (TargetPolicy.literal(host).isPresent()) {
                    return new InetAddress[] {TargetPolicy.literal(host).get()};
                }
                throw new UnknownHostException(host);
            }
            List<InetAddress> list = new ArrayList<>();
            for (String address : addresses.split(",")) {
                list.add(literal(address));
            }
            return list.toArray(InetAddress[]::new);
        };
    }
}
