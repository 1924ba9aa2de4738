package dev.chorus.server.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.nimbusds.jose.Algorithm;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.BadJWSException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.EncryptedJWT;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import dev.chorus.ChorusConfig;
import dev.chorus.ConfigurationException;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Issues and verifies the RS256 bearer tokens (JWTs) of this cluster.
 *
 * <p>Verification trusts only this replica's own {@link SigningKey}: in a correct deployment every replica
 * has the same key, so a token from any replica verifies everywhere, and a replica with a different key
 * rejects it as signed by an unknown key instead of silently trusting a second key. Every rejection is an
 * {@link AuthenticationException} whose message says why; bad input never escapes as another exception.
 */
public final class Tokens {

    /** The {@code iss} claim issued and required; {@value #DEFAULT_ISSUER} by default. */
    public static final String ISSUER = "CHORUS_JWT_ISSUER";
    /** The {@code aud} claim issued and required; {@value #DEFAULT_AUDIENCE} by default. */
    public static final String AUDIENCE = "CHORUS_JWT_AUDIENCE";
    /** How long an issued token is valid, such as {@code PT15M}, {@code 900s} or {@code 15m}. */
    public static final String TTL = "CHORUS_TOKEN_TTL";

    public static final String DEFAULT_ISSUER = "chorus";
    public static final String DEFAULT_AUDIENCE = "chorus";
    public static final Duration DEFAULT_TTL = Duration.ofMinutes(15);
    /** Longest accepted token lifetime: a leaked bearer token is valid until it expires, nothing revokes it. */
    public static final Duration MAX_TTL = Duration.ofHours(24);
    /** How far replica clocks may disagree before {@code exp} and {@code nbf} are enforced. */
    public static final Duration CLOCK_SKEW = Duration.ofSeconds(30);
    /** How many verified tokens a replica remembers. */
    static final int VERIFIED_CACHE_SIZE = 10_000;

    /** How long a refused token is answered from memory. */
    static final Duration REFUSED_FOR = Duration.ofSeconds(10);

    /** Longest token {@link #verify} parses; ours are well under 2 KiB, so more is not ours. */
    static final int MAX_TOKEN_LENGTH = 8 * 1024;

    private static final Pattern PRINTABLE_NAME = Pattern.compile("[A-Za-z0-9+_.-]{1,32}");

    private final SigningKey key;
    private final String issuer;
    private final String audience;
    private final Duration ttl;
    private final Clock clock;
    private final RSASSASigner signer;
    private final DefaultJWTProcessor<SecurityContext> processor;
    // Verifying RS256 costs about 100 µs, more than serving a cached read: each distinct token is checked once.
    private final Cache<String, Verified> verified = Caffeine.newBuilder()
            .maximumSize(VERIFIED_CACHE_SIZE)
            .expireAfterWrite(MAX_TTL)
            .build();
    /*
     * Refused tokens by SHA-256, for a short while: a client that retries the same bad token (or a flood of
     * copies of one) costs a hash and a lookup, not a parse and a signature check. Short, so that a token
     * refused for being not yet valid is looked at again soon; keyed by hash, so its size is bounded.
     */
    private final Cache<String, String> refused = Caffeine.newBuilder()
            .maximumSize(VERIFIED_CACHE_SIZE)
            .expireAfterWrite(REFUSED_FOR)
            .build();

    private Tokens(Builder b) {
        this.key = b.key;
        this.issuer = b.issuer;
        this.audience = b.audience;
        this.ttl = b.ttl;
        this.clock = b.clock;
        this.signer = new RSASSASigner(key.privateKey());
        this.processor = new DefaultJWTProcessor<>();
        // Pinned to RS256 and to our one key: the header's alg, jwk, jku or x5u never choose the key.
        processor.setJWSKeySelector(new JWSVerificationKeySelector<>(
                JWSAlgorithm.RS256, new ImmutableJWKSet<>(new JWKSet(key.publicJwk()))));
        processor.setJWTClaimsSetVerifier(new ClaimsVerifier());
    }

    /**
     * Reads {@value #ISSUER}, {@value #AUDIENCE} and {@value #TTL}, each optional.
     *
     * @throws ConfigurationException if {@value #TTL} is not a duration from 1s to 24h, naming its value
     */
    public static Tokens fromEnvironment(Function<String, @Nullable String> env, SigningKey key) {
        Objects.requireNonNull(env, "env");
        Builder builder = builder(key);
        String iss = get(env, ISSUER);
        if (iss != null) {
            builder.issuer(iss);
        }
        String aud = get(env, AUDIENCE);
        if (aud != null) {
            builder.audience(aud);
        }
        String ttl = get(env, TTL);
        if (ttl != null) {
            Duration parsed = ChorusConfig.parseDuration(ttl);
            if (parsed == null
                    || parsed.compareTo(Duration.ofSeconds(1)) < 0
                    || parsed.compareTo(MAX_TTL) > 0
                    || parsed.getNano() != 0) {
                throw new ConfigurationException(
                        TTL,
                        TTL + "='" + ttl + "' is not a whole number of seconds from 1s to 24h such as PT15M, 900s or"
                                + " 15m (for example " + TTL + "=15m)");
            }
            builder.ttl(parsed);
        }
        return builder.build();
    }

    /** A builder with the defaults, for tests and for callers that do not read the environment. */
    public static Builder builder(SigningKey key) {
        return new Builder(key);
    }

    /** A freshly signed token and how many seconds it stays valid, as an OAuth token response reports them. */
    public record Issued(String token, long expiresIn) {
        @Override
        public String toString() {
            // A bearer token is a credential: never print it.
            return "Issued[token=****, expiresIn=" + expiresIn + "]";
        }
    }

    /** Signs a token for {@code principal}, valid from now for the configured lifetime. */
    public Issued issue(Principal principal) {
        // JWT times are whole seconds; truncating keeps exp - iat exactly the ttl.
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(issuer)
                .audience(audience)
                .subject(principal.user())
                .issueTime(Date.from(now))
                .notBeforeTime(Date.from(now))
                .expirationTime(Date.from(now.plus(ttl)))
                .jwtID(UUID.randomUUID().toString())
                .claim("tenant", principal.tenant())
                .claim("roles", principal.roles().stream().sorted().toList())
                .claim("client_id", principal.clientId())
                .build();
        JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.RS256)
                .keyID(key.keyId())
                .type(JOSEObjectType.JWT)
                .build();
        SignedJWT jwt = new SignedJWT(header, claims);
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException("signing with this replica's RSA key failed", e);
        }
        return new Issued(jwt.serialize(), ttl.toSeconds());
    }

    /**
     * Checks a compact token's algorithm, key, signature, issuer, audience and validity window, and returns
     * the principal it speaks for.
     *
     * @throws AuthenticationException saying why the token is refused; nothing else, whatever the input
     */
    public Principal verify(@Nullable String token) {
        return grant(token).principal();
    }

    /** A verified token: who it speaks for and when it expires (null when it carries no expiry). */
    public record Grant(Principal principal, @Nullable Instant expires) {}

    /**
     * Like {@link #verify}, with the token's expiry: a WebSocket opened with it is closed then.
     *
     * @throws AuthenticationException saying why the token is refused; nothing else, whatever the input
     */
    public Grant grant(@Nullable String token) {
        if (token == null || token.isBlank()) {
            throw new AuthenticationException("missing token");
        }
        if (token.length() > MAX_TOKEN_LENGTH) {
            throw new AuthenticationException("malformed token: longer than " + MAX_TOKEN_LENGTH + " characters");
        }
        String compact = token.strip();
        Verified known = verified.getIfPresent(compact);
        if (known != null) {
            // The same string passed every check before; only time can have made it invalid since.
            Instant now = clock.instant();
            if (now.isBefore(known.expires().plus(CLOCK_SKEW))
                    && now.isAfter(known.notBefore().minus(CLOCK_SKEW))) {
                return new Grant(known.principal(), known.expires());
            }
            verified.invalidate(compact);
        }
        String digest = digest(compact);
        String reason = refused.getIfPresent(digest);
        if (reason != null) {
            throw new AuthenticationException(reason);
        }
        try {
            return check(compact);
        } catch (AuthenticationException e) {
            refused.put(digest, e.getMessage());
            throw e;
        }
    }

    private static String digest(String token) {
        try {
            return java.util.HexFormat.of()
                    .formatHex(java.security.MessageDigest.getInstance("SHA-256")
                            .digest(token.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK ships SHA-256", e);
        }
    }

    private Grant check(String compact) {
        SignedJWT jwt = parse(compact);
        JWTClaimsSet claims;
        try {
            claims = processor.process(jwt, null);
        } catch (Refused e) {
            throw new AuthenticationException(e.getMessage());
        } catch (BadJWSException e) {
            throw new AuthenticationException(
                    "token signature is invalid: it was altered or not signed with this cluster's key");
        } catch (BadJOSEException e) {
            throw new AuthenticationException("token rejected: " + e.getMessage());
        } catch (JOSEException | RuntimeException e) {
            // A crafted header can still trip the library; the caller must see a 401, not a 500.
            throw new AuthenticationException("malformed token: it could not be verified");
        }
        Principal principal;
        try {
            List<String> roles = claims.getStringListClaim("roles");
            principal = new Principal(
                    claims.getStringClaim("client_id"),
                    claims.getSubject(),
                    claims.getStringClaim("tenant"),
                    roles == null ? Set.of() : Set.copyOf(roles));
        } catch (ParseException | RuntimeException e) {
            throw new AuthenticationException("malformed token: a claim has the wrong type");
        }
        if (claims.getExpirationTime() != null) {
            Instant notBefore = claims.getNotBeforeTime() == null
                    ? Instant.MIN.plus(CLOCK_SKEW)
                    : claims.getNotBeforeTime().toInstant();
            verified.put(
                    compact,
                    new Verified(
                            principal, notBefore, claims.getExpirationTime().toInstant()));
        }
        return new Grant(
                principal,
                claims.getExpirationTime() == null
                        ? null
                        : claims.getExpirationTime().toInstant());
    }

    /** A token that passed every check, and the window in which it is valid. */
    private record Verified(Principal principal, Instant notBefore, Instant expires) {}

    /** The issuer this replica puts in and requires of tokens. */
    public String issuer() {
        return issuer;
    }

    /** The audience this replica puts in and requires of tokens. */
    public String audience() {
        return audience;
    }

    /** How long issued tokens stay valid. */
    public Duration ttl() {
        return ttl;
    }

    /** The key this replica signs and verifies with. */
    public SigningKey signingKey() {
        return key;
    }

    @Override
    public String toString() {
        return "Tokens[issuer=" + issuer + ", audience=" + audience + ", ttl=" + ttl + ", kid=" + key.keyId() + "]";
    }

    /** Parses the compact form and refuses, with a precise reason, anything that is not RS256 with our kid. */
    private SignedJWT parse(String token) {
        JWT jwt;
        try {
            jwt = JWTParser.parse(token);
        } catch (ParseException | RuntimeException e) {
            throw new AuthenticationException(
                    "malformed token: expected three base64url parts (header.payload.signature) holding JSON");
        }
        if (jwt instanceof PlainJWT) {
            throw new AuthenticationException("token is not signed (alg none); only RS256 tokens are accepted");
        }
        if (jwt instanceof EncryptedJWT || !(jwt instanceof SignedJWT signed)) {
            throw new AuthenticationException("encrypted tokens are not accepted; only RS256 tokens are");
        }
        Algorithm alg = signed.getHeader().getAlgorithm();
        if (!JWSAlgorithm.RS256.equals(alg)) {
            throw new AuthenticationException("token algorithm " + printable(alg == null ? null : alg.getName())
                    + " is not accepted; only RS256 tokens are");
        }
        String kid = signed.getHeader().getKeyID();
        if (kid == null) {
            throw new AuthenticationException("token has no key id (kid); tokens issued by Chorus always carry one");
        }
        if (!kid.equals(key.keyId())) {
            throw new AuthenticationException("token was signed by an unknown key: its kid is not this replica's key "
                    + key.keyId() + "; every replica must be given the same " + SigningKey.PRIVATE_KEY);
        }
        try {
            signed.getJWTClaimsSet();
        } catch (ParseException e) {
            throw new AuthenticationException("malformed token: its payload is not a JSON object of valid claims");
        }
        return signed;
    }

    /** Echoes an attacker-chosen name only when it is short and plain. */
    private static String printable(@Nullable String name) {
        return name != null && PRINTABLE_NAME.matcher(name).matches() ? name : "(unprintable)";
    }

    private static String quoted(@Nullable Object value) {
        String text = String.valueOf(value);
        return text.length() <= 64 && text.chars().noneMatch(Character::isISOControl)
                ? "'" + text + "'"
                : "(a " + text.length() + "-character value)";
    }

    private static @Nullable String get(Function<String, @Nullable String> env, String variable) {
        String value = env.apply(variable);
        return value == null || value.isBlank() ? null : value.strip();
    }

    /** A claims rejection whose message is already meant for the caller. */
    private static final class Refused extends BadJWTException {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    /**
     * Our checks first, each with a precise reason; then nimbus's own checks of the same rules, which must
     * agree, so a case we overlooked is still refused.
     */
    private final class ClaimsVerifier extends DefaultJWTClaimsVerifier<SecurityContext> {

        ClaimsVerifier() {
            super(
                    Set.of(audience),
                    new JWTClaimsSet.Builder().issuer(issuer).build(),
                    Set.of("sub", "exp", "tenant", "client_id"),
                    Set.of());
            setMaxClockSkew((int) CLOCK_SKEW.toSeconds());
        }

        @Override
        public void verify(JWTClaimsSet claims, @Nullable SecurityContext context) throws BadJWTException {
            if (!issuer.equals(claims.getIssuer())) {
                throw new Refused(
                        claims.getIssuer() == null
                                ? "token has no issuer (iss); expected '" + issuer + "'"
                                : "token issuer " + quoted(claims.getIssuer()) + " is not the expected '" + issuer
                                        + "'");
            }
            List<String> aud = claims.getAudience();
            if (aud == null || !aud.contains(audience)) {
                throw new Refused(
                        aud == null || aud.isEmpty()
                                ? "token has no audience (aud); expected '" + audience + "'"
                                : "token audience " + quoted(aud) + " does not include the expected '" + audience
                                        + "'");
            }
            Instant now = clock.instant();
            Date exp = claims.getExpirationTime();
            if (exp == null) {
                throw new Refused("token has no expiry (exp)");
            }
            // The same boundaries as DefaultJWTClaimsVerifier, so the two checks never disagree.
            if (!exp.toInstant().plus(CLOCK_SKEW).isAfter(now)) {
                throw new Refused("token expired at " + exp.toInstant() + "; get a new one");
            }
            Date nbf = claims.getNotBeforeTime();
            if (nbf != null && !nbf.toInstant().minus(CLOCK_SKEW).isBefore(now)) {
                throw new Refused("token is not valid before " + nbf.toInstant()
                        + "; the issuing replica's clock is ahead of this one's");
            }
            if (claims.getSubject() == null || claims.getSubject().isBlank()) {
                throw new Refused("token has no subject (sub)");
            }
            requireText(claims, "tenant");
            requireText(claims, "client_id");
            try {
                claims.getStringListClaim("roles");
            } catch (ParseException e) {
                throw new Refused("token claim roles is not an array of strings");
            }
            super.verify(claims, context);
        }

        private void requireText(JWTClaimsSet claims, String name) throws Refused {
            Object value = claims.getClaim(name);
            if (value == null) {
                throw new Refused("token has no " + name + " claim");
            }
            if (!(value instanceof String text) || text.isBlank()) {
                throw new Refused("token claim " + name + " is not a non-blank string");
            }
        }

        @Override
        protected Date currentTime() {
            return Date.from(clock.instant());
        }
    }

    /** Settings for {@link Tokens}; every one has a default. */
    public static final class Builder {
        private final SigningKey key;
        private String issuer = DEFAULT_ISSUER;
        private String audience = DEFAULT_AUDIENCE;
        private Duration ttl = DEFAULT_TTL;
        private Clock clock = Clock.systemUTC();

        private Builder(SigningKey key) {
            this.key = Objects.requireNonNull(key, "key");
        }

        /** The {@code iss} claim; {@value #DEFAULT_ISSUER} by default. */
        public Builder issuer(String issuer) {
            this.issuer = nonBlank(issuer, "issuer");
            return this;
        }

        /** The {@code aud} claim; {@value #DEFAULT_AUDIENCE} by default. */
        public Builder audience(String audience) {
            this.audience = nonBlank(audience, "audience");
            return this;
        }

        /** The token lifetime, whole seconds from 1s to 24h; 15 minutes by default. */
        public Builder ttl(Duration ttl) {
            if (ttl.compareTo(Duration.ofSeconds(1)) < 0 || ttl.compareTo(MAX_TTL) > 0 || ttl.getNano() != 0) {
                throw new IllegalArgumentException("ttl must be whole seconds from 1s to 24h, got " + ttl);
            }
            this.ttl = ttl;
            return this;
        }

        /** The clock for {@code iat}, {@code exp} and their checks; the system UTC clock by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        public Tokens build() {
            return new Tokens(this);
        }

        private static String nonBlank(String value, String what) {
            if (value.isBlank()) {
                throw new IllegalArgumentException(what + " must not be blank");
            }
            return value.strip();
        }
    }
}
