package dev.chorus.server.http;

import dev.chorus.server.auth.AuthenticationException;
import dev.chorus.server.auth.Clients;
import dev.chorus.server.auth.FailureThrottle;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.SigningKey;
import dev.chorus.server.auth.Tokens;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Tokens and keys: {@code POST /oauth/token} issues a token for client credentials (OAuth 2 errors, not
 * problems, as RFC 6749 says; repeated failures slow down), and {@code /.well-known/jwks.json} publishes the
 * keys that verify them.
 */
final class TokenRoutes {

    private final SigningKey key;
    private final Clients clients;
    private final Tokens tokens;
    private final FailureThrottle throttle = new FailureThrottle(Clock.systemUTC());

    TokenRoutes(SigningKey key, Clients clients, Tokens tokens) {
        this.key = key;
        this.clients = clients;
        this.tokens = tokens;
    }

    void register(RoutesConfig routes) {
        routes.get(
                "/.well-known/jwks.json",
                ctx -> ctx.header("Cache-Control", "max-age=300").json(key.jwks()));
        routes.post("/oauth/token", this::token);
    }

    private void token(Context ctx) {
        ctx.header("Cache-Control", "no-store");
        String grant = ctx.formParam("grant_type");
        String id = ctx.formParam("client_id");
        String secret = ctx.formParam("client_secret");
        String authorization = ctx.header("Authorization");
        if (authorization != null && authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
            String decoded;
            try {
                decoded = new String(
                        Base64.getDecoder().decode(authorization.substring(6).strip()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                oauthError(ctx, 401, "invalid_client", "the Basic credentials are not valid base64");
                return;
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                oauthError(ctx, 401, "invalid_client", "the Basic credentials must be 'client_id:client_secret'");
                return;
            }
            id = decoded.substring(0, colon);
            secret = decoded.substring(colon + 1);
        }
        if (grant == null) {
            oauthError(
                    ctx,
                    400,
                    "invalid_request",
                    "grant_type is required (grant_type=client_credentials),"
                            + " sent as application/x-www-form-urlencoded");
            return;
        }
        if (!grant.equals("client_credentials")) {
            oauthError(ctx, 400, "unsupported_grant_type", "only grant_type=client_credentials is supported");
            return;
        }
        if (id == null || secret == null) {
            oauthError(ctx, 401, "invalid_client", "send client_id and client_secret (form fields or HTTP Basic)");
            return;
        }
        String address = ctx.req().getRemoteAddr();
        Duration wait = throttle.waitFor(id, address);
        if (!wait.isZero()) {
            ctx.header("Retry-After", Long.toString(Math.max(1, (wait.toMillis() + 999) / 1000)));
            oauthError(
                    ctx,
                    429,
                    "slow_down",
                    "too many failed attempts for this client or from this address; retry after the Retry-After"
                            + " seconds");
            return;
        }
        Principal principal;
        try {
            principal = clients.authenticate(id, secret);
        } catch (AuthenticationException e) {
            throttle.failed(id, address);
            oauthError(ctx, 401, "invalid_client", e.getMessage());
            return;
        }
        throttle.succeeded(id);
        Tokens.Issued issued = tokens.issue(principal);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("access_token", issued.token());
        body.put("token_type", "Bearer");
        body.put("expires_in", issued.expiresIn());
        ctx.json(body);
    }

    private static void oauthError(Context ctx, int status, String error, String description) {
        if (status == 401) {
            ctx.header("WWW-Authenticate", "Basic realm=\"chorus\"");
        }
        ctx.status(status).json(Map.of("error", error, "error_description", description));
    }
}
