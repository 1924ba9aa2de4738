package dev.chorus.server.http;

import dev.chorus.server.auth.AuthenticationException;
import dev.chorus.server.auth.Principal;
import dev.chorus.server.auth.Tokens;
import io.javalin.http.Context;
import org.jspecify.annotations.Nullable;

/** Reads and checks the bearer token of a request; answers 401 with the RFC 6750 challenge when it fails. */
final class Bearer {

    static final String PRINCIPAL = "chorus.principal";

    private final Tokens tokens;

    Bearer(Tokens tokens) {
        this.tokens = tokens;
    }

    /** The caller, from {@code Authorization: Bearer …} or, where headers cannot be set, {@code access_token}. */
    Principal require(Context ctx, @Nullable String queryToken) {
        Principal principal = verify(ctx.header("Authorization"), queryToken);
        ctx.attribute(PRINCIPAL, principal);
        return principal;
    }

    /** Checks a token given as an {@code Authorization} header value or a query parameter; 401 otherwise. */
    Principal verify(@Nullable String header, @Nullable String queryToken) {
        return grant(header, queryToken).principal();
    }

    /** Like {@link #verify}, with the token's expiry. */
    Tokens.Grant grant(@Nullable String header, @Nullable String queryToken) {
        String token;
        if (header != null) {
            if (!header.regionMatches(true, 0, "Bearer ", 0, 7) || header.length() <= 7) {
                throw unauthorized("invalid_request", "the Authorization header must be 'Bearer <token>'");
            }
            token = header.substring(7).strip();
        } else if (queryToken != null && !queryToken.isBlank()) {
            token = queryToken;
        } else {
            throw unauthorized(
                    null,
                    "this endpoint needs a bearer token: POST /oauth/token with your client"
                            + " credentials, then send 'Authorization: Bearer <access_token>'");
        }
        try {
            return tokens.grant(token);
        } catch (AuthenticationException e) {
            throw unauthorized("invalid_token", e.getMessage());
        }
    }

    /** The caller, who must hold {@code role}: 403 otherwise. */
    Principal requireRole(Context ctx, String role) {
        Principal principal = require(ctx, null);
        if (!principal.roles().contains(role)) {
            throw Problem.of(
                    403,
                    "Forbidden",
                    "client '" + principal.clientId() + "' lacks the role '" + role + "' this request needs");
        }
        return principal;
    }

    private static Problem unauthorized(@Nullable String error, String detail) {
        String challenge = error == null
                ? "Bearer realm=\"chorus\""
                : "Bearer realm=\"chorus\", error=\"" + error + "\", error_description=\"" + detail.replace('"', '\'')
                        + "\"";
        return Problem.of(401, "Unauthorized", detail).header("WWW-Authenticate", challenge);
    }
}
