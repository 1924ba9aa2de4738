/** Tokens every replica can check: the shared RS256 signing key, its JWKS, clients and bearer-token checks. */
@NullMarked
package dev.chorus.server.auth;

import org.jspecify.annotations.NullMarked;
