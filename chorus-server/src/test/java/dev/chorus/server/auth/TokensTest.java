package dev.chorus.server.auth;

import static dev.chorus.server.auth.TestKeys.env;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.chorus.ConfigurationException;
import dev.chorus.server.auth.TestKeys.MutableClock;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class TokensTest {

    private static final Instant T0 = Instant.parse("2030-01-01T12:00:00Z");
    private static final Principal ALICE = new Principal("web", "alice", "acme", Set.of("reader", "writer"));
    private static final String PEM = SigningKey.toPem(TestKeys.RSA_A.getPrivate());

    private final MutableClock clock = new MutableClock(T0);
    private final SigningKey key = SigningKey.of(TestKeys.RSA_A);
    private final Tokens tokens = Tokens.builder(key).clock(clock).build();

    @Test
    void issuedToken_verifiesToTheSamePrincipal() throws Exception {
        Tokens.Issued issued = tokens.issue(ALICE);

        assertThat(issued.expiresIn()).isEqualTo(900);
        assertThat(issued.toString()).doesNotContain(issued.token()).contains("expiresIn=900");
        assertThat(tokens.verify(issued.token())).isEqualTo(ALICE);

        SignedJWT jwt = SignedJWT.parse(issued.token());
        assertThat(jwt.getHeader().getAlgorithm()).isEqualTo(JWSAlgorithm.RS256);
        assertThat(jwt.getHeader().getKeyID()).isEqualTo(key.keyId());
        assertThat(jwt.getHeader().getType()).isEqualTo(JOSEObjectType.JWT);
        JWTClaimsSet claims = jwt.getJWTClaimsSet();
        assertThat(claims.getIssuer()).isEqualTo("chorus");
        assertThat(claims.getAudience()).containsExactly("chorus");
        assertThat(claims.getSubject()).isEqualTo("alice");
        assertThat(claims.getIssueTime().toInstant()).isEqualTo(T0);
        assertThat(claims.getNotBeforeTime().toInstant()).isEqualTo(T0);
        assertThat(claims.getExpirationTime().toInstant()).isEqualTo(T0.plus(Duration.ofMinutes(15)));
        assertThat(claims.getJWTID()).isNotBlank();
        assertThat(claims.getStringClaim("tenant")).isEqualTo("acme");
        assertThat(claims.getStringListClaim("roles")).containsExactly("reader", "writer");
        assertThat(claims.getStringClaim("client_id")).isEqualTo("web");
        assertThat(SignedJWT.parse(tokens.issue(ALICE).token())
                        .getJWTClaimsSet()
                        .getJWTID())
                .isNotEqualTo(claims.getJWTID());
    }

    @Test
    void replicasWithTheSamePem_acceptEachOthersTokens() {
        SigningKey replica1 = SigningKey.fromEnvironment(env(Map.of(SigningKey.PRIVATE_KEY, PEM)));
        SigningKey replica2 = SigningKey.fromEnvironment(env(Map.of(SigningKey.PRIVATE_KEY, PEM)));
        Tokens tokens1 = Tokens.builder(replica1).clock(clock).build();
        Tokens tokens2 = Tokens.builder(replica2).clock(clock).build();

        assertThat(replica1.fingerprint()).isEqualTo(replica2.fingerprint());
        assertThat(tokens2.verify(tokens1.issue(ALICE).token())).isEqualTo(ALICE);
        assertThat(tokens1.verify(tokens2.issue(ALICE).token())).isEqualTo(ALICE);
    }

    @Test
    void aTokenFromADifferentKey_isRejectedAsUnknownKey() {
        Tokens other =
                Tokens.builder(SigningKey.of(TestKeys.RSA_B)).clock(clock).build();

        assertRejected(other.issue(ALICE).token(), "token was signed by an unknown key");
    }

    @Test
    void ourKidOnAnotherKeysSignature_isRejectedAsInvalidSignature() {
        String forged = sign(TestKeys.RSA_B.getPrivate(), header(JWSAlgorithm.RS256), validClaims());

        assertRejected(forged, "token signature is invalid");
    }

    @Test
    void anAlteredPayload_isRejectedAsInvalidSignature() {
        String[] parts = tokens.issue(ALICE).token().split("\\.");
        String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8)
                .replace("\"acme\"", "\"evil\"");
        String altered = parts[0] + "." + base64url(payload) + "." + parts[2];

        assertRejected(altered, "token signature is invalid");
    }

    @Test
    void algNone_craftedByHand_isRejected() {
        String payload = base64url(
                "{\"iss\":\"chorus\",\"aud\":\"chorus\",\"sub\":\"alice\",\"tenant\":\"acme\",\"client_id\":\"web\","
                        + "\"exp\":" + T0.plusSeconds(600).getEpochSecond() + "}");

        assertRejected(base64url("{\"alg\":\"none\"}") + "." + payload + ".", "token is not signed (alg none)");
        assertRejected(
                base64url("{\"alg\":\"none\",\"kid\":\"" + key.keyId() + "\"}") + "." + payload + ".",
                "token is not signed (alg none)");
    }

    @Test
    void hs256SignedWithThePublicKeyAsSecret_isRejected() throws Exception {
        // The classic confusion attack: a verifier that takes alg from the header would check this HMAC
        // with the (public) RSA key bytes and accept it.
        JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.HS256)
                .keyID(key.keyId())
                .type(JOSEObjectType.JWT)
                .build();
        SignedJWT jwt = new SignedJWT(header, validClaims());
        jwt.sign(new MACSigner(key.publicKey().getEncoded()));

        assertRejected(jwt.serialize(), "token algorithm HS256 is not accepted; only RS256");
    }

    @Test
    void otherRsaAlgorithms_andMissingKid_areRejected() {
        String ps256 = sign(TestKeys.RSA_A.getPrivate(), header(JWSAlgorithm.PS256), validClaims());
        String rs512 = sign(TestKeys.RSA_A.getPrivate(), header(JWSAlgorithm.RS512), validClaims());
        String noKid = sign(TestKeys.RSA_A.getPrivate(), new JWSHeader(JWSAlgorithm.RS256), validClaims());

        assertRejected(ps256, "token algorithm PS256 is not accepted");
        assertRejected(rs512, "token algorithm RS512 is not accepted");
        assertRejected(noKid, "token has no key id (kid)");
    }

    @Test
    void expiry_isEnforcedWithThirtySecondsOfSkew() {
        String token = tokens.issue(ALICE).token();

        clock.advance(Duration.ofMinutes(15).plusSeconds(29));
        assertThat(tokens.verify(token)).isEqualTo(ALICE);

        clock.advance(Duration.ofSeconds(1));
        assertRejected(token, "token expired at 2030-01-01T12:15:00Z");
    }

    @Test
    void aTokenFromTheFuture_isNotYetValid() {
        clock.advance(Duration.ofSeconds(30));
        String fromAheadReplica = tokens.issue(ALICE).token();
        clock.set(T0.plusSeconds(1));
        assertThat(tokens.verify(fromAheadReplica)).isEqualTo(ALICE);

        clock.set(T0);
        assertRejected(fromAheadReplica, "token is not valid before 2030-01-01T12:00:30Z");
    }

    @Test
    void wrongIssuerOrAudience_isRejected() {
        Tokens otherIssuer = Tokens.builder(key).issuer("other").clock(clock).build();
        Tokens otherAudience =
                Tokens.builder(key).audience("billing").clock(clock).build();

        assertRejected(otherIssuer.issue(ALICE).token(), "token issuer 'other' is not the expected 'chorus'");
        assertRejected(
                otherAudience.issue(ALICE).token(),
                "token audience '[billing]' does not include the expected" + " 'chorus'");
        assertThat(otherAudience.verify(otherAudience.issue(ALICE).token())).isEqualTo(ALICE);
    }

    @Test
    void missingOrMistypedClaims_areRejected() {
        Map<String, UnaryOperator<JWTClaimsSet.Builder>> cases = Map.of(
                "token has no tenant claim", b -> b.claim("tenant", null),
                "token has no subject (sub)", b -> b.subject(null),
                "token has no client_id claim", b -> b.claim("client_id", null),
                "token has no expiry (exp)", b -> b.expirationTime(null),
                "token has no issuer (iss)", b -> b.issuer(null),
                "token has no audience (aud)", b -> b.audience((String) null),
                "token claim tenant is not a non-blank string", b -> b.claim("tenant", 42),
                "token claim roles is not an array of strings", b -> b.claim("roles", "reader"));

        cases.forEach((reason, change) -> {
            JWTClaimsSet claims =
                    change.apply(new JWTClaimsSet.Builder(validClaims())).build();
            assertRejected(sign(TestKeys.RSA_A.getPrivate(), header(JWSAlgorithm.RS256), claims), reason);
        });
    }

    @Test
    void aPayloadThatIsNotAClaimsObject_isMalformed() {
        String header = tokens.issue(ALICE).token().split("\\.")[0];
        String signature = tokens.issue(ALICE).token().split("\\.")[2];

        assertRejected(header + "." + base64url("[1,2]") + "." + signature, "malformed token: its payload is not");
        assertRejected(
                header + "." + base64url("{\"exp\":\"soon\"}") + "." + signature,
                "malformed token: its payload is not");
    }

    @Test
    void aHandSignedTokenWithEveryClaim_isAccepted() {
        String token = sign(TestKeys.RSA_A.getPrivate(), header(JWSAlgorithm.RS256), validClaims());

        assertThat(tokens.verify(token)).isEqualTo(new Principal("web", "alice", "acme", Set.of("reader")));
    }

    @Test
    void malformedInput_onlyEverRaisesAuthenticationException() {
        String good = tokens.issue(ALICE).token();
        String[] parts = good.split("\\.");
        List<String> inputs = new ArrayList<>(List.of(
                "",
                "   ",
                "abc",
                "a.b",
                "a.b.c",
                "a.b.c.d.e",
                "...",
                "Bearer " + good,
                good + ".",
                good.substring(0, good.length() / 2),
                parts[0] + "." + parts[1],
                parts[0] + ".!!!." + parts[2],
                "!!!." + parts[1] + "." + parts[2],
                base64url("[]") + "." + parts[1] + "." + parts[2],
                base64url("{\"alg\":42}") + "." + parts[1] + "." + parts[2],
                base64url("{\"alg\":\"RS256\",\"kid\":\"" + key.keyId() + "\",\"crit\":[\"exp\"]}") + "." + parts[1]
                        + "." + parts[2],
                base64url("{\"alg\":\"RS256\",\"kid\":\"" + key.keyId() + "\"}") + "." + base64url("not json") + "."
                        + parts[2],
                base64url("{\"alg\":\"RS256\",\"kid\":\"" + key.keyId() + "\"}") + "." + base64url("[1,2]") + "."
                        + parts[2],
                base64url("{\"alg\":\"RS256\",\"kid\":\"" + key.keyId() + "\"}") + "." + base64url("{\"exp\":\"soon\"}")
                        + "." + parts[2],
                base64url("[".repeat(3000)) + "." + parts[1] + "." + parts[2],
                "x".repeat(Tokens.MAX_TOKEN_LENGTH + 1)));
        Random random = new Random(20300101L);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"";
        for (int i = 0; i < 300; i++) {
            StringBuilder s = new StringBuilder();
            int length = random.nextInt(200);
            for (int j = 0; j < length; j++) {
                s.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            inputs.add(s.toString());
            inputs.add(good.substring(0, random.nextInt(good.length())));
            // Not the last character: its low bits are padding, so some changes decode to the same signature.
            char[] flipped = good.toCharArray();
            int at = random.nextInt(flipped.length - 1);
            char replacement = alphabet.charAt(random.nextInt(64));
            flipped[at] = replacement == flipped[at] ? (replacement == 'A' ? 'B' : 'A') : replacement;
            inputs.add(new String(flipped));
        }

        for (String input : inputs) {
            assertThatThrownBy(() -> tokens.verify(input))
                    .as("input %s", input.length() > 80 ? input.substring(0, 80) + "..." : input)
                    .isExactlyInstanceOf(AuthenticationException.class)
                    .hasMessageNotContaining("Exception");
        }
        assertThatThrownBy(() -> tokens.verify(null)).isInstanceOf(AuthenticationException.class);
    }

    @Test
    void fromEnvironment_readsIssuerAudienceAndTtl() {
        for (String ttl : List.of("PT10M", "600s", "10m", "600", "pt10m")) {
            Tokens configured = Tokens.fromEnvironment(
                    env(Map.of(Tokens.ISSUER, "orders", Tokens.AUDIENCE, "orders-api", Tokens.TTL, ttl)), key);

            assertThat(configured.issuer()).isEqualTo("orders");
            assertThat(configured.audience()).isEqualTo("orders-api");
            assertThat(configured.ttl()).as(ttl).isEqualTo(Duration.ofMinutes(10));
        }
        Tokens defaults = Tokens.fromEnvironment(env(Map.of()), key);
        assertThat(defaults.issuer()).isEqualTo("chorus");
        assertThat(defaults.audience()).isEqualTo("chorus");
        assertThat(defaults.ttl()).isEqualTo(Duration.ofMinutes(15));
        assertThat(defaults.issue(ALICE).expiresIn()).isEqualTo(900);
    }

    @Test
    void fromEnvironment_refusesABadTtlNamingTheVariable() {
        for (String ttl : List.of("soon", "0s", "25h", "PT0.5S", "-5m", "P2D")) {
            assertThatThrownBy(() -> Tokens.fromEnvironment(env(Map.of(Tokens.TTL, ttl)), key))
                    .as(ttl)
                    .isInstanceOfSatisfying(
                            ConfigurationException.class,
                            e -> assertThat(e.variable()).isEqualTo(Tokens.TTL))
                    .hasMessageStartingWith("CHORUS_TOKEN_TTL='" + ttl + "'")
                    .hasMessageContaining("CHORUS_TOKEN_TTL=15m");
        }
    }

    private void assertRejected(String token, String reason) {
        assertThatThrownBy(() -> tokens.verify(token))
                .isExactlyInstanceOf(AuthenticationException.class)
                .hasMessageContaining(reason);
    }

    private static JWTClaimsSet validClaims() {
        return new JWTClaimsSet.Builder()
                .issuer("chorus")
                .audience("chorus")
                .subject("alice")
                .issueTime(Date.from(T0))
                .expirationTime(Date.from(T0.plusSeconds(600)))
                .claim("tenant", "acme")
                .claim("client_id", "web")
                .claim("roles", List.of("reader"))
                .build();
    }

    private JWSHeader header(JWSAlgorithm alg) {
        return new JWSHeader.Builder(alg)
                .keyID(key.keyId())
                .type(JOSEObjectType.JWT)
                .build();
    }

    private static String sign(PrivateKey privateKey, JWSHeader header, JWTClaimsSet claims) {
        try {
            SignedJWT jwt = new SignedJWT(header, claims);
            jwt.sign(new RSASSASigner(privateKey));
            return jwt.serialize();
        } catch (com.nimbusds.jose.JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String base64url(String json) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }
}
