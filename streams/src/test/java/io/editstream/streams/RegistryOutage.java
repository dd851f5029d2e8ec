package io.editstream.streams;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay on 127.0.0.1 in front of the schema registry: clients configured with {@link #apiUrl} reach the real
 * registry while the relay is up, and get connection refused (what a stopped registry gives) after {@link #stop},
 * until {@link #start} listens on the same port again. The registry itself keeps its schemas and ids, which a
 * restarted in-memory registry would not.
 */
final class RegistryOutage implements AutoCloseable {
    private final InetSocketAddress target;
    private final String path;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private int port;
    private volatile ServerSocket server;

    RegistryOutage(String registryApiUrl) {
        URI uri = URI.create(registryApiUrl);
        this.target = new InetSocketAddress(uri.getHost(), uri.getPort());
        this.path = uri.getRawPath();
        start();
    }

    String apiUrl() {
        return "http://127.0.0.1:" + port + path;
    }

    synchronized void start() {
        try {
            ServerSocket listening = new ServerSocket();
            listening.setReuseAddress(true);
            listening.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            port = listening.getLocalPort();
            server = listening;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on 127.0.0.1:" + port, e);
        }
        ServerSocket listening = server;
        Thread acceptor = new Thread(() -> {
            while (!listening.isClosed()) {
                try {
                    Socket client = listening.accept();
                    Socket upstream = new Socket(target.getAddress(), target.getPort());
                    open.add(client);
                    open.add(upstream);
                    pump(client, upstream);
                    pump(upstream, client);
                } catch (IOException e) {
                    // closed by stop()
                }
            }
        }, "registry-relay-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Stops listening and cuts every open connection. */
    synchronized void stop() {
        closeQuietly(server);
        for (Socket socket : open) {
            closeQuietly(socket);
        }
        open.clear();
    }

    private void pump(Socket from, Socket to) {
        Thread pump = new Thread(() -> {
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                in.transferTo(out);
            } catch (IOException e) {
                // connection cut
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "registry-relay-pump");
        pump.setDaemon(true);
        pump.start();
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            if (closeable != null) {
                closeable.close();
            }
        } catch (Exception e) {
            // already closed
        }
    }

    @Override
    public void close() {
        stop();
    }
}
