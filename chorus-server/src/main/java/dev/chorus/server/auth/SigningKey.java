package dev.chorus.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import dev.chorus.ConfigurationException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replica's RS256 key pair that signs tokens, read from {@value #PRIVATE_KEY} or {@value #PRIVATE_KEY_FILE}.
 *
 * <p>Every replica must be given the same key: a token issued by one replica is then accepted by all of them,
 * and they all advertise the same {@link #fingerprint()}. Key material never appears in a message, a log
 * line or {@link #toString()}.
 */
public final class SigningKey {

    /** PEM text of the RSA private key (PKCS#8 or PKCS#1); literal {@code \n} sequences count as newlines. */
    public static final String PRIVATE_KEY = "CHORUS_JWT_PRIVATE_KEY";
    /** Path to a PEM file holding the RSA private key. */
    public static final String PRIVATE_KEY_FILE = "CHORUS_JWT_PRIVATE_KEY_FILE";
    /** Smallest accepted modulus: RS256 with less than 2048 bits is considered breakable (NIST SP 800-131A). */
    public static final int MIN_BITS = 2048;

    private static final Logger log = LoggerFactory.getLogger(SigningKey.class);

    private static final String GENERATE_COMMAND =
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out chorus-jwt.pem";
    private static final Pattern PEM_BLOCK =
            Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);
    private static final Pattern PEM_HEADER = Pattern.compile("(?m)^[A-Za-z-]+:.*$");
    // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }, to wrap PKCS#1 as PKCS#8.
    private static final byte[] RSA_ALGORITHM_ID = {
        0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00
    };

    private final RSAPublicKey publicKey;
    private final RSAPrivateKey privateKey;
    private final RSAKey publicJwk;
    private final String keyId;
    private final boolean generated;

    private SigningKey(RSAPublicKey publicKey, RSAPrivateKey privateKey, boolean generated) {
        this.publicKey = publicKey;
        this.privateKey = privateKey;
        this.generated = generated;
        RSAKey thumbprintInput = new RSAKey.Builder(publicKey).build();
        try {
            this.keyId = thumbprintInput.computeThumbprint().toString();
        } catch (JOSEException e) {
            throw new IllegalStateException("every JDK ships SHA-256", e);
        }
        this.publicJwk = new RSAKey.Builder(publicKey)
                .keyUse(KeyUse.SIGNATURE)
                .algorithm(JWSAlgorithm.RS256)
                .keyID(keyId)
                .build();
    }

    /**
     * Reads the key from {@value #PRIVATE_KEY} or {@value #PRIVATE_KEY_FILE}, or, when neither is set,
     * generates a key that only this replica knows and logs a warning saying so.
     *
     * @throws ConfigurationException if both are set, or the key is unreadable, not RSA or under 2048 bits
     */
    public static SigningKey fromEnvironment(Function<String, @Nullable String> env) {
        Objects.requireNonNull(env, "env");
        String pem = get(env, PRIVATE_KEY);
        String file = get(env, PRIVATE_KEY_FILE);
        if (pem != null && file != null) {
            throw new ConfigurationException(
                    PRIVATE_KEY,
                    PRIVATE_KEY + " and " + PRIVATE_KEY_FILE + " are both set; set only one of them (for example "
                            + PRIVATE_KEY_FILE + "=/run/secrets/chorus-jwt.pem)");
        }
        if (pem != null) {
            return fromPem(pem, PRIVATE_KEY, PRIVATE_KEY);
        }
        if (file != null) {
            return fromPem(readFile(file), PRIVATE_KEY_FILE, "the file " + PRIVATE_KEY_FILE + "='" + file + "'");
        }
        SigningKey key = generate();
        log.warn(
                "Neither {} nor {} is set: generated a signing key (kid {}) that only this replica knows. Tokens"
                        + " issued by this replica will not validate on other replicas; set {} or {} with the same"
                        + " key on every replica (generate one with '{}').",
                PRIVATE_KEY,
                PRIVATE_KEY_FILE,
                key.keyId(),
                PRIVATE_KEY,
                PRIVATE_KEY_FILE,
                GENERATE_COMMAND);
        return key;
    }

    /** Wraps an existing RSA key pair of at least 2048 bits, for tests. */
    public static SigningKey of(KeyPair pair) {
        if (!(pair.getPublic() instanceof RSAPublicKey pub) || !(pair.getPrivate() instanceof RSAPrivateKey priv)) {
            throw new IllegalArgumentException(
                    "RS256 needs an RSA key pair, got " + pair.getPublic().getAlgorithm());
        }
        if (pub.getModulus().bitLength() < MIN_BITS) {
            throw new IllegalArgumentException("RS256 needs an RSA key of at least " + MIN_BITS + " bits, got "
                    + pub.getModulus().bitLength());
        }
        return new SigningKey(pub, priv, false);
    }

    /** Encodes a private key as PKCS#8 PEM ({@code -----BEGIN PRIVATE KEY-----}), to give replicas one key. */
    public static String toPem(PrivateKey key) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(key.getEncoded());
        return "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n";
    }

    /** The RFC 7638 SHA-256 thumbprint (base64url) of the public key, sent as {@code kid} in every token. */
    public String keyId() {
        return keyId;
    }

    /**
     * The value replicas advertise so a key mismatch between them is visible; the same as {@link #keyId()},
     * and like it derived from the public key only.
     */
    public String fingerprint() {
        return keyId;
    }

    /** Whether this key was generated at startup because no key was configured. */
    public boolean generated() {
        return generated;
    }

    /** The public key, as published in {@link #jwks()}. */
    public RSAPublicKey publicKey() {
        return publicKey;
    }

    /**
     * The JWK Set document ({@code {"keys":[{kty, n, e, kid, use, alg}]}}) for {@code /.well-known/jwks.json}:
     * public parameters only.
     */
    public Map<String, Object> jwks() {
        return Map.of("keys", List.of(Map.copyOf(publicJwk.toPublicJWK().toJSONObject())));
    }

    RSAPrivateKey privateKey() {
        return privateKey;
    }

    RSAKey publicJwk() {
        return publicJwk;
    }

    @Override
    public String toString() {
        return "SigningKey[kid=" + keyId + ", bits=" + publicKey.getModulus().bitLength()
                + (generated ? ", generated" : "") + "]";
    }

    private static SigningKey generate() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(MIN_BITS);
            KeyPair pair = generator.generateKeyPair();
            return new SigningKey((RSAPublicKey) pair.getPublic(), (RSAPrivateKey) pair.getPrivate(), true);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK ships RSA", e);
        }
    }

    private static @Nullable String get(Function<String, @Nullable String> env, String variable) {
        String value = env.apply(variable);
        return value == null || value.isBlank() ? null : value.strip();
    }

    private static String readFile(String file) {
        try {
            // ISO-8859-1 never fails to decode, so a binary (DER) file is reported as "not PEM" below.
            return Files.readString(Path.of(file), StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw fileProblem(file, "does not exist");
        } catch (AccessDeniedException e) {
            throw fileProblem(file, "is not readable by this process");
        } catch (IOException | InvalidPathException e) {
            throw fileProblem(file, "cannot be read (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static ConfigurationException fileProblem(String file, String what) {
        return new ConfigurationException(
                PRIVATE_KEY_FILE,
                PRIVATE_KEY_FILE + "='" + file + "' " + what + "; point it at a PEM file holding the RSA private key"
                        + " that every replica shares (create one with '" + GENERATE_COMMAND + "')");
    }

    /** Parses PEM text; {@code source} names where it came from in messages, never the text itself. */
    private static SigningKey fromPem(String text, String variable, String source) {
        String pem = unquote(text).replace("\\r", "").replace("\\n", "\n");
        List<String> labels = new ArrayList<>();
        Matcher block = PEM_BLOCK.matcher(pem);
        while (block.find()) {
            String label = block.group(1);
            labels.add(label);
            switch (label) {
                case "PRIVATE KEY" -> {
                    return fromPkcs8(base64(block.group(2), variable, source), variable, source);
                }
                case "RSA PRIVATE KEY" -> {
                    if (block.group(2).contains("Proc-Type:")) {
                        throw encrypted(variable, source);
                    }
                    return fromPkcs8(pkcs1ToPkcs8(base64(block.group(2), variable, source)), variable, source);
                }
                case "ENCRYPTED PRIVATE KEY" -> throw encrypted(variable, source);
                case "EC PRIVATE KEY", "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY" ->
                    throw problem(
                            variable,
                            source + " holds a key of type " + label.replace(" PRIVATE KEY", "")
                                    + "; Chorus signs tokens with RS256 and needs an RSA key");
                default -> {
                    // a certificate or public key before the private key: keep looking
                }
            }
        }
        if (labels.isEmpty()) {
            throw problem(variable, source + " is not PEM text: it has no -----BEGIN PRIVATE KEY----- block");
        }
        throw problem(
                variable,
                source + " holds "
                        + labels.stream().map(l -> "-----BEGIN " + l + "-----").toList()
                        + " but no private key; it needs the RSA private key, not a public key or certificate");
    }

    private static SigningKey fromPkcs8(byte[] der, String variable, String source) {
        PrivateKey key;
        try {
            key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (GeneralSecurityException | RuntimeException e) {
            String other = otherAlgorithm(der);
            throw problem(
                    variable,
                    other == null
                            ? source + " is not a valid RSA private key (the PEM body does not decode)"
                            : source + " holds a key of type " + other
                                    + "; Chorus signs tokens with RS256 and needs an RSA key");
        }
        if (!(key instanceof RSAPrivateCrtKey crt)) {
            throw problem(
                    variable,
                    source + " is an RSA key without its public exponent (not in CRT form), which cannot"
                            + " be published in the JWKS");
        }
        int bits = crt.getModulus().bitLength();
        if (bits < MIN_BITS) {
            throw problem(
                    variable, source + " is a " + bits + "-bit RSA key; RS256 needs at least " + MIN_BITS + " bits");
        }
        RSAPublicKey pub;
        try {
            pub = (RSAPublicKey) KeyFactory.getInstance("RSA")
                    .generatePublic(new RSAPublicKeySpec(crt.getModulus(), crt.getPublicExponent()));
        } catch (GeneralSecurityException e) {
            throw problem(variable, source + " has an RSA public part that the JDK rejects");
        }
        if (!signsAndVerifies(crt, pub)) {
            // The CRT parameters are inconsistent: every signature would be rejected, so fail at startup.
            throw problem(variable, source + " is a corrupted RSA key: a test signature does not verify");
        }
        return new SigningKey(pub, crt, false);
    }

    private static boolean signsAndVerifies(PrivateKey priv, PublicKey pub) {
        try {
            byte[] probe = "chorus-signing-key-check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance("SHA256withRSA");
            signer.initSign(priv);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance("SHA256withRSA");
            verifier.initVerify(pub);
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** Names the algorithm of a PKCS#8 key that is not RSA, so the message can say what was given instead. */
    private static @Nullable String otherAlgorithm(byte[] der) {
        for (String algorithm : List.of("RSASSA-PSS", "EC", "Ed25519", "Ed448", "DSA", "X25519", "X448")) {
            try {
                KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
                return algorithm;
            } catch (GeneralSecurityException | RuntimeException ignored) {
                // not this one either
            }
        }
        return null;
    }

    private static byte[] base64(String body, String variable, String source) {
        String stripped = PEM_HEADER.matcher(body).replaceAll("").replaceAll("\\s", "");
        try {
            return Base64.getDecoder().decode(stripped);
        } catch (IllegalArgumentException e) {
            throw problem(variable, source + " is not valid PEM: its body is not base64");
        }
    }

    /** Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo so the JDK's KeyFactory reads it. */
    static byte[] pkcs1ToPkcs8(byte[] pkcs1) {
        ByteArrayOutputStream octets = new ByteArrayOutputStream();
        octets.write(0x04);
        writeLength(octets, pkcs1.length);
        octets.writeBytes(pkcs1);
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        content.writeBytes(new byte[] {0x02, 0x01, 0x00});
        content.writeBytes(RSA_ALGORITHM_ID);
        content.writeBytes(octets.toByteArray());
        ByteArrayOutputStream info = new ByteArrayOutputStream();
        info.write(0x30);
        writeLength(info, content.size());
        info.writeBytes(content.toByteArray());
        return info.toByteArray();
    }

    private static void writeLength(ByteArrayOutputStream out, int length) {
        if (length < 0x80) {
            out.write(length);
            return;
        }
        int bytes = (Integer.SIZE - Integer.numberOfLeadingZeros(length) + 7) / 8;
        out.write(0x80 | bytes);
        for (int i = bytes - 1; i >= 0; i--) {
            out.write(length >>> (8 * i));
        }
    }

    /** Drops one pair of quotes around the whole value, which env files and compose files often keep. */
    private static String unquote(String text) {
        if (text.length() >= 2
                && (text.startsWith("\"") && text.endsWith("\"") || text.startsWith("'") && text.endsWith("'"))) {
            return text.substring(1, text.length() - 1);
        }
        return text;
    }

    private static ConfigurationException encrypted(String variable, String source) {
        return problem(
                variable,
                source + " is an encrypted private key; Chorus reads unencrypted PEM only, so keep the file secret"
                        + " instead (decrypt it with 'openssl pkey -in encrypted.pem -out chorus-jwt.pem')");
    }

    private static ConfigurationException problem(String variable, String what) {
        String fix = variable.equals(PRIVATE_KEY_FILE)
                ? "Point " + variable + " at a PEM file holding"
                : "Set " + variable + " to";
        return new ConfigurationException(
                variable,
                what + ". " + fix + " an unencrypted RSA private key of at least " + MIN_BITS
                        + " bits, the same on every replica (create one with '" + GENERATE_COMMAND + "')");
    }
}
