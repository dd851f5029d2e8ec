package io.editstream.checkpoint.objects;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Objects as files under a root directory. Every write goes to a temporary file in the target's directory, is
 * fsynced, then linked (create-only) or renamed (replace) into place, and the directory is fsynced: after a crash a
 * key holds its old bytes or its new ones, never a torn file. Temporary files start with {@value #TEMP_PREFIX} and
 * are never listed.
 */
public final class FileSystemObjectStore implements ObjectStore {

    static final String TEMP_PREFIX = ".tmp-";

    private final Path root;

    public FileSystemObjectStore(Path root) throws IOException {
        this.root = Files.createDirectories(root).toRealPath();
    }

    public Path root() {
        return root;
    }

    @Override
    public boolean putIfAbsent(String key, byte[] bytes) throws IOException {
        Path target = resolve(key);
        if (Files.exists(target)) {
            return false;
        }
        Path temp = writeTemp(target, bytes);
        try {
            // link(2) fails when the name exists, so of two writers exactly one creates it
            Files.createLink(target, temp);
        } catch (FileAlreadyExistsException e) {
            return false;
        } finally {
            Files.deleteIfExists(temp);
        }
        syncDirectory(target.getParent());
        return true;
    }

    @Override
    public void put(String key, byte[] bytes) throws IOException {
        Path target = resolve(key);
        Path temp = writeTemp(target, bytes);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
        syncDirectory(target.getParent());
    }

    @Override
    public Optional<byte[]> get(String key) throws IOException {
        try {
            return Optional.of(Files.readAllBytes(resolve(key)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<Reading> open(String key) throws IOException {
        Path path = resolve(key);
        try {
            InputStream content = Files.newInputStream(path);
            try {
                return Optional.of(new Reading(Files.size(path), content));
            } catch (IOException | RuntimeException e) {
                content.close();
                throw e;
            }
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        Path start = prefix.isEmpty() ? root : resolve(ObjectStore.checkPrefix(prefix).substring(0, prefix.length() - 1));
        if (!Files.isDirectory(start)) {
            return List.of();
        }
        List<StoredObject> objects = new ArrayList<>();
        Files.walkFileTree(start, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                if (attributes.isRegularFile() && !file.getFileName().toString().startsWith(TEMP_PREFIX)) {
                    String key = root.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
                    objects.add(new StoredObject(key, attributes.size(), attributes.lastModifiedTime().toInstant()));
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                // a writer's temporary file renamed or a blob deleted while the directory was read: not an object now
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }
        });
        objects.sort(Comparator.comparing(StoredObject::key));
        return objects;
    }

    @Override
    public void delete(String key) throws IOException {
        Path target = resolve(key);
        if (Files.deleteIfExists(target)) {
            syncDirectory(target.getParent());
        }
    }

    @Override
    public String uri(String key) {
        return resolve(key).toUri().toString();
    }

    @Override
    public void close() {
        // nothing held open between calls
    }

    private Path resolve(String key) {
        Path path = root.resolve(ObjectStore.checkKey(key)).normalize();
        if (!path.startsWith(root)) {
            throw new IllegalArgumentException("object key '" + key + "' leaves the store's root");
        }
        return path;
    }

    private static Path writeTemp(Path target, byte[] bytes) throws IOException {
        Files.createDirectories(target.getParent());
        Path temp = target.resolveSibling(TEMP_PREFIX + UUID.randomUUID());
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            channel.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        return temp;
    }

    /** Makes a link, rename or unlink in {@code directory} durable. */
    private static void syncDirectory(Path directory) throws IOException {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }
}
