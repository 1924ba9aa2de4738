package dev.chorus.server;

import dev.chorus.server.http.HttpApi;

/** Header names the tests read. */
final class HttpApiHeaders {

    static final String WARNING = HttpApi.WARNING_HEADER;

    private HttpApiHeaders() {}
}
