package dev.chorus.server.auth;

import dev.chorus.ChorusException;

/**
 * A token or client credential that is refused (HTTP 401). The message is safe to show the caller: it says
 * what is wrong (expired, wrong audience, unknown key...) and never echoes a secret.
 */
public final class AuthenticationException extends ChorusException {

    private static final long serialVersionUID = 1L;

    public AuthenticationException(String message) {
        super(message);
    }
}
