package dev.chorus.server.auth;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.chorus.ConfigurationException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The OAuth clients allowed to get tokens (client-credentials grant), from {@value #CLIENTS} or {@value
 * #CLIENTS_FILE}.
 *
 * <p>Each client is stored with {@code secretHash = "sha256:" + hex(SHA-256(secret))}, never the secret.
 * A single unsalted SHA-256 is the right tool here, as in API-token stores, because client secrets are
 * machine-generated with at least {@value #MIN_SECRET_LENGTH} random characters (for example {@code openssl
 * rand -base64 32}): a guess has no better odds than guessing the secret itself, and a slow password hash
 * would only make every token request slower. Human-chosen passwords must never be used as client secrets.
 */
public final class Clients {

    /** A JSON array of clients: {@code [{"id":..., "secretHash":"sha256:...", "user":..., "tenant":..., "roles":[...]}]}. */
    public static final String CLIENTS = "CHORUS_CLIENTS";
    /** Path to a file holding the same JSON array as {@value #CLIENTS}. */
    public static final String CLIENTS_FILE = "CHORUS_CLIENTS_FILE";
    /** Shortest secret {@link #hash(String)} accepts: 32 random characters are out of reach of guessing. */
    public static final int MIN_SECRET_LENGTH = 32;

    private static final String EXAMPLE = "[{\"id\":\"web\",\"secretHash\":\"sha256:<64 hex digits>\","
            + "\"user\":\"alice\",\"tenant\":\"acme\",\"roles\":[\"reader\",\"writer\"]}]";
    private static final Pattern CLIENT_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Pattern SECRET_HASH = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final Set<String> FIELDS = Set.of("id", "secretHash", "user", "tenant", "roles", "agents");
    /** An agent id pattern: agent-id characters and '*' for any run of them. */
    private static final Pattern AGENT_PATTERN = Pattern.compile("[A-Za-z0-9._~*-]{1,128}");

    private static final String REFUSED = "invalid client credentials";
    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            // Parse errors must not quote the document back: it may hold a secret pasted by mistake.
            .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            .build();

    /**
     * One configured client; the secret is kept only as its SHA-256 digest. {@code agents} are the agent ids
     * it may connect as (with the {@code agent} role), as patterns where '*' matches any run of characters.
     */
    private record Client(
            String id, byte[] secretDigest, String user, String tenant, Set<String> roles, List<Pattern> agents) {}

    private final Map<String, Client> clients;
    // Compared against when the id is unknown, so an unknown id costs the same hash and compare as a known one.
    private final byte[] unknownDigest = digest("chorus-unknown-client");

    private Clients(Map<String, Client> clients) {
        this.clients = Map.copyOf(clients);
    }

    /**
     * Reads the clients from {@value #CLIENTS} or {@value #CLIENTS_FILE}; when neither is set there are none
     * ({@link #isEmpty()}), and the server decides whether to fall back to {@link #demo(String)}.
     *
     * @throws ConfigurationException if both are set or the JSON is invalid, naming the entry and field
     */
    public static Clients fromEnvironment(Function<String, @Nullable String> env) {
        Objects.requireNonNull(env, "env");
        String json = get(env, CLIENTS);
        String file = get(env, CLIENTS_FILE);
        if (json != null && file != null) {
            throw new ConfigurationException(
                    CLIENTS,
                    CLIENTS + " and " + CLIENTS_FILE + " are both set; set only one of them (for example "
                            + CLIENTS_FILE + "=/run/secrets/chorus-clients.json)");
        }
        if (json != null) {
            return parse(json, CLIENTS, CLIENTS);
        }
        if (file != null) {
            return parse(readFile(file), CLIENTS_FILE, CLIENTS_FILE + "='" + file + "'");
        }
        return new Clients(Map.of());
    }

    /**
     * The single client {@code demo} (user {@code demo}, tenant {@code demo}, every role, any agent) with the
     * given secret, for the embedded single-replica default only: a newcomer's first try may do anything.
     */
    public static Clients demo(String secret) {
        if (secret.isEmpty()) {
            throw new IllegalArgumentException("the demo client needs a non-empty secret");
        }
        return new Clients(Map.of(
                "demo", new Client("demo", digest(secret), "demo", "demo", Roles.ALL, List.of(agentPattern("*")))));
    }

    /**
     * The {@code secretHash} to configure for a secret: {@code "sha256:" + lower-case hex of SHA-256(UTF-8)}.
     *
     * @throws IllegalArgumentException if the secret is shorter than {@value #MIN_SECRET_LENGTH} characters
     */
    public static String hash(String secret) {
        if (secret.length() < MIN_SECRET_LENGTH) {
            // Never echo the secret, not even a short one.
            throw new IllegalArgumentException("a client secret must be at least " + MIN_SECRET_LENGTH
                    + " random characters, this one has " + secret.length()
                    + " (generate one with 'openssl rand -base64 32')");
        }
        return "sha256:" + HexFormat.of().formatHex(digest(secret));
    }

    /**
     * Checks a client's credentials in constant time and returns who its tokens speak for.
     *
     * @throws AuthenticationException with the same message for an unknown id and a wrong secret, so ids
     *     cannot be probed
     */
    public Principal authenticate(@Nullable String clientId, @Nullable String secret) {
        Client client = clientId == null ? null : clients.get(clientId);
        byte[] presented = digest(secret == null ? "" : secret);
        boolean matches = MessageDigest.isEqual(presented, client == null ? unknownDigest : client.secretDigest());
        if (client == null || secret == null || !matches) {
            throw new AuthenticationException(REFUSED);
        }
        return new Principal(client.id(), client.user(), client.tenant(), client.roles());
    }

    /** Whether no client is configured. */
    public boolean isEmpty() {
        return clients.isEmpty();
    }

    /** How many clients are configured. */
    public int size() {
        return clients.size();
    }

    /** The configured client ids, safe to log. */
    public Set<String> ids() {
        return Set.copyOf(clients.keySet());
    }

    @Override
    public String toString() {
        return "Clients" + clients.keySet().stream().sorted().toList();
    }

    private static @Nullable String get(Function<String, @Nullable String> env, String variable) {
        String value = env.apply(variable);
        return value == null || value.isBlank() ? null : value.strip();
    }

    private static String readFile(String file) {
        try {
            return Files.readString(Path.of(file), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw fileProblem(file, "does not exist");
        } catch (IOException | InvalidPathException e) {
            throw fileProblem(
                    file, "cannot be read as UTF-8 text (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static ConfigurationException fileProblem(String file, String what) {
        return new ConfigurationException(
                CLIENTS_FILE,
                CLIENTS_FILE + "='" + file + "' " + what + "; point it at a JSON file such as " + EXAMPLE);
    }

    /** Parses and validates every entry, reporting all problems at once; {@code source} names the input. */
    private static Clients parse(String json, String variable, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            // Only the position: Jackson's own message may quote a token of the input, which could be a secret.
            String position = e.getLocation() == null
                    ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column "
                            + e.getLocation().getColumnNr();
            throw new ConfigurationException(
                    variable,
                    source + " is not valid JSON" + position + "; it must be a JSON array such as " + EXAMPLE);
        }
        if (root == null || !root.isArray()) {
            throw new ConfigurationException(
                    variable, source + " must be a JSON array of clients, for example " + EXAMPLE);
        }
        if (root.isEmpty()) {
            throw new ConfigurationException(
                    variable,
                    source + " is an empty array, so no client could get a token; list at least one client, for"
                            + " example " + EXAMPLE);
        }
        List<String> problems = new ArrayList<>();
        Map<String, Client> clients = new LinkedHashMap<>();
        for (int i = 0; i < root.size(); i++) {
            Client client = entry(root.get(i), source + "[" + i + "]", problems);
            if (client != null && clients.putIfAbsent(client.id(), client) != null) {
                problems.add(source + "[" + i + "] (id '" + client.id() + "'): id is already used by an earlier"
                        + " entry; every client needs its own id");
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigurationException(
                    variable,
                    problems.size() == 1
                            ? problems.get(0)
                            : problems.size() + " problems in " + source + ":\n  - " + String.join("\n  - ", problems));
        }
        return new Clients(clients);
    }

    private static @Nullable Client entry(JsonNode node, String at, List<String> problems) {
        if (!node.isObject()) {
            problems.add(
                    at + " is not a JSON object; each client looks like " + EXAMPLE.substring(1, EXAMPLE.length() - 1));
            return null;
        }
        int before = problems.size();
        String id = text(node, "id");
        boolean validId = id != null && CLIENT_ID.matcher(id).matches();
        String where = validId ? at + " (id '" + id + "')" : at;
        if (!validId) {
            problems.add(where + ": field id must be 1 to 64 letters, digits, '.', '_' or '-' (for example \"web\")");
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                problems.add(where + ": unknown field '" + name + "' (the fields are "
                        + FIELDS.stream().sorted().toList()
                        + (name.toLowerCase(Locale.ROOT).contains("secret")
                                ? "; configure secretHash, the output of Clients.hash(secret), never the secret itself"
                                : "")
                        + ")");
            }
        }
        String secretHash = text(node, "secretHash");
        if (secretHash == null || !SECRET_HASH.matcher(secretHash).matches()) {
            // Never echo the value: a secret may have been pasted here instead of its hash.
            problems.add(where + ": field secretHash must be \"sha256:\" followed by 64 lower-case hex digits,"
                    + " the SHA-256 of the client secret (Clients.hash(secret), or \"sha256:\" and the hex printed by"
                    + " 'printf %s \"$SECRET\" | sha256sum')");
        }
        String user = text(node, "user");
        if (!validName(user)) {
            problems.add(where + ": field user must be 1 to 128 printable characters, no spaces at either end,"
                    + " naming who the client acts for (for example \"alice\")");
        }
        String tenant = text(node, "tenant");
        if (!validName(tenant)) {
            problems.add(where + ": field tenant must be 1 to 128 printable characters, no spaces at either end,"
                    + " naming the client's tenant (for example \"acme\")");
        }
        Set<String> roles = roles(node.get("roles"), where, problems);
        List<Pattern> agents = agents(node.get("agents"), where, problems);
        if (problems.size() > before) {
            return null;
        }
        byte[] digest = HexFormat.of().parseHex(secretHash.substring("sha256:".length()));
        return new Client(id, digest, user, tenant, roles, agents);
    }

    private static @Nullable String text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value != null && value.isTextual() ? value.asText() : null;
    }

    private static Set<String> roles(@Nullable JsonNode roles, String where, List<String> problems) {
        if (roles == null || roles.isNull()) {
            return Set.of();
        }
        Set<String> result = new LinkedHashSet<>();
        for (JsonNode role : roles.isArray() ? roles : List.<JsonNode>of()) {
            if (!role.isTextual() || role.asText().isBlank()) {
                result.clear();
                break;
            }
            result.add(role.asText());
        }
        if (!roles.isArray() || result.size() < roles.size()) {
            problems.add(where + ": field roles must be an array of non-blank strings (for example"
                    + " [\"reader\",\"writer\"]) or left out");
            return Set.of();
        }
        for (String role : result) {
            if (!Roles.ALL.contains(role)) {
                problems.add(where + ": unknown role '" + role + "' (the roles are "
                        + Roles.ALL.stream().sorted().toList() + ")");
            }
        }
        return result;
    }

    private static List<Pattern> agents(@Nullable JsonNode agents, String where, List<String> problems) {
        if (agents == null || agents.isNull()) {
            return List.of();
        }
        List<Pattern> result = new ArrayList<>();
        for (JsonNode agent : agents.isArray() ? agents : List.<JsonNode>of()) {
            if (!agent.isTextual() || !AGENT_PATTERN.matcher(agent.asText()).matches()) {
                problems.add(where + ": field agents must be an array of agent ids, '*' matching any run of"
                        + " characters (for example [\"sensor-*\"]), not " + agent);
                return List.of();
            }
            result.add(agentPattern(agent.asText()));
        }
        if (!agents.isArray()) {
            problems.add(where + ": field agents must be an array of agent ids (for example [\"sensor-*\"])");
        }
        return List.copyOf(result);
    }

    private static Pattern agentPattern(String glob) {
        String[] parts = glob.split("\\*", -1);
        StringBuilder regex = new StringBuilder();
        for (int i = 0; i < parts.length; i++) {
            if (i > 0) {
                regex.append(".*");
            }
            regex.append(Pattern.quote(parts[i]));
        }
        return Pattern.compile(regex.toString());
    }

    /*
     * Tenant and user names: 1 to 128 characters, no control characters, no spaces at either end. Everything
     * that names them inside the server keeps tenant and name as separate fields, so any other character is
     * safe; the bound keeps logs and keys readable.
     */
    private static boolean validName(@Nullable String name) {
        return name != null
                && !name.isEmpty()
                && name.length() <= 128
                && name.strip().equals(name)
                && name.chars().noneMatch(Character::isISOControl);
    }

    /**
     * Whether client {@code clientId} may connect as agent {@code agentId}: its {@code agents} patterns, or,
     * without any, the agent id equal to its user.
     */
    public boolean mayBeAgent(String clientId, String agentId) {
        Client client = clients.get(clientId);
        if (client == null) {
            return false;
        }
        if (client.agents().isEmpty()) {
            return client.user().equals(agentId);
        }
        return client.agents().stream().anyMatch(p -> p.matcher(agentId).matches());
    }

    private static byte[] digest(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK ships SHA-256", e);
        }
    }
}
