package dev.chorus.jgroups;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.spi.InetAddressResolver;
import java.net.spi.InetAddressResolverProvider;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.InitialDirContext;
import org.jspecify.annotations.Nullable;

/**
 * The test JVM's name resolver: names under {@code chorus.test} are asked of the test's dnsmasq, everything else
 * of the JDK's resolver. JGroups resolves SRV targets with the system resolver, which in a Kubernetes pod asks
 * the cluster DNS; this plays that part here, where the host's resolver knows nothing of the test domain.
 */
public final class TestDomainResolver extends InetAddressResolverProvider {

    /** The dnsmasq to ask, {@code host:port}; null while no DNS test runs. */
    static volatile @Nullable String server;

    @Override
    public InetAddressResolver get(Configuration configuration) {
        InetAddressResolver builtin = configuration.builtinResolver();
        return new InetAddressResolver() {
            @Override
            public Stream<InetAddress> lookupByName(String host, LookupPolicy policy) throws UnknownHostException {
                String name = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
                String dns = server;
                if (dns == null || !name.toLowerCase(Locale.ROOT).endsWith(".chorus.test")) {
                    return builtin.lookupByName(host, policy);
                }
                return aRecords(dns, name).stream();
            }

            @Override
            public String lookupByAddress(byte[] addr) throws UnknownHostException {
                return builtin.lookupByAddress(addr);
            }
        };
    }

    private static List<InetAddress> aRecords(String dns, String name) throws UnknownHostException {
        Hashtable<String, String> env = new Hashtable<>();
        env.put("java.naming.factory.initial", "com.sun.jndi.dns.DnsContextFactory");
        env.put("java.naming.provider.url", "dns://" + dns);
        try {
            Attribute a = new InitialDirContext(env)
                    .getAttributes(name, new String[] {"A"})
                    .get("A");
            List<InetAddress> result = new ArrayList<>();
            if (a != null) {
                NamingEnumeration<?> values = a.getAll();
                while (values.hasMore()) {
                    result.add(InetAddress.getByAddress(
                            name,
                            InetAddress.getByName(values.next().toString()).getAddress()));
                }
            }
            if (result.isEmpty()) {
                throw new UnknownHostException(name + ": no A record at " + dns);
            }
            return result;
        } catch (NamingException e) {
            throw new UnknownHostException(name + ": " + e.getMessage());
        }
    }

    @Override
    public String name() {
        return "chorus-test-domain";
    }
}
