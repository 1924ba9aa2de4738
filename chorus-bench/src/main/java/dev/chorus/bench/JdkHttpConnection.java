package dev.chorus.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/**
 * A generator connection made of the JDK's {@link HttpClient}: one client per generator thread, HTTP/1.1,
 * so its pool holds the one keep-alive connection that thread's sequential requests reuse.
 */
final class JdkHttpConnection implements HttpLoad.Connection {

    private final HttpClient client;
    private final HttpRequest request;

    private JdkHttpConnection(HttpClient client, HttpRequest request) {
        this.client = client;
        this.request = request;
    }

    /** A client that sends {@code GET uri} with {@code headers}; it connects on the first request. */
    static JdkHttpConnection open(URI uri, Map<String, String> headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).GET().timeout(Duration.ofSeconds(30));
        headers.forEach(request::header);
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        return new JdkHttpConnection(client, request.build());
    }

    @Override
    public HttpLoad.Response exchange() throws IOException, InterruptedException {
        HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
        return new HttpLoad.Response(response.statusCode(), response.body().length, true);
    }

    @Override
    public void close() {
        client.close();
    }
}
