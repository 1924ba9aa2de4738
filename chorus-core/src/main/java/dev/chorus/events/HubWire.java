package dev.chorus.events;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;

/*
 * The payload of a hub's backplane messages (the backplane adds origin replica, epoch and its own
 * per-topic sequence around it):
 *
 *   version (1) | kind (1: EVENT, 2: POSITION, 3: SYNC) | origin hub (8) | seq (8)
 *   EVENT only: audience (1: 0 everyone, 1 user, 2 group, 3 tenant) | [tenant (UTF)] | [target (UTF)]
 *               | type (UTF) | length (4) | data
 *
 * The tenant and the target are two fields (version 2; version 1 had no tenant), so no tenant or user name
 * can be made to read as another's.
 *
 * POSITION says "my last event has seq"; SYNC says the same and asks every other hub to answer with its
 * POSITION, which is how a new or reconnected hub learns where the others stand.
 */

/** Encodes and decodes the messages hubs send each other. */
final class HubWire {

    static final int VERSION = 2;

    enum Kind {
        EVENT,
        POSITION,
        SYNC
    }

    record Decoded(Kind kind, long origin, long seq, Audience audience, Event event) {}

    private static final Event NONE = new Event("-", new byte[0]);

    private HubWire() {}

    static byte[] event(long origin, long seq, Audience audience, Event event) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + event.size());
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            header(out, Kind.EVENT, origin, seq);
            out.writeByte(audience.kind().ordinal());
            if (audience.kind() != Audience.Kind.BROADCAST) {
                out.writeUTF(audience.tenant());
            }
            if (audience.kind() == Audience.Kind.USER || audience.kind() == Audience.Kind.GROUP) {
                out.writeUTF(audience.target());
            }
            out.writeUTF(event.type());
            byte[] data = event.data();
            out.writeInt(data.length);
            out.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static byte[] position(Kind kind, long origin, long seq) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(18);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            header(out, kind, origin, seq);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static void header(DataOutputStream out, Kind kind, long origin, long seq) throws IOException {
        out.writeByte(VERSION);
        out.writeByte(kind.ordinal() + 1);
        out.writeLong(origin);
        out.writeLong(seq);
    }

    /** Decodes a hub message; throws {@link IllegalArgumentException} naming what is wrong. */
    static Decoded decode(byte[] payload) {
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(payload))) {
            int version = in.readUnsignedByte();
            if (version != VERSION) {
                throw new IllegalArgumentException("hub message version " + version + ", expected " + VERSION);
            }
            int kindCode = in.readUnsignedByte();
            if (kindCode < 1 || kindCode > Kind.values().length) {
                throw new IllegalArgumentException("unknown hub message kind " + kindCode);
            }
            Kind kind = Kind.values()[kindCode - 1];
            long origin = in.readLong();
            long seq = in.readLong();
            if (seq < 0 || (kind == Kind.EVENT && seq == 0)) {
                throw new IllegalArgumentException("hub message with sequence " + seq);
            }
            if (kind != Kind.EVENT) {
                requireEnd(in);
                return new Decoded(kind, origin, seq, Audience.EVERYONE, NONE);
            }
            int audienceCode = in.readUnsignedByte();
            if (audienceCode >= Audience.Kind.values().length) {
                throw new IllegalArgumentException("unknown audience " + audienceCode);
            }
            Audience.Kind audienceKind = Audience.Kind.values()[audienceCode];
            Audience audience = switch (audienceKind) {
                case BROADCAST -> Audience.EVERYONE;
                case TENANT -> Audience.tenant(in.readUTF());
                case USER -> Audience.user(in.readUTF(), in.readUTF());
                case GROUP -> Audience.group(in.readUTF(), in.readUTF());
            };
            String type = in.readUTF();
            int length = in.readInt();
            if (length < 0 || length > in.available()) {
                throw new IllegalArgumentException("event data length " + length + " beyond the message");
            }
            byte[] data = in.readNBytes(length);
            requireEnd(in);
            return new Decoded(kind, origin, seq, audience, new Event(type, data));
        } catch (EOFException e) {
            throw new IllegalArgumentException("hub message ends early");
        } catch (IOException | RuntimeException e) {
            if (e instanceof IllegalArgumentException iae) {
                throw iae;
            }
            throw new IllegalArgumentException("malformed hub message: " + e.getMessage());
        }
    }

    private static void requireEnd(DataInputStream in) throws IOException {
        if (in.available() > 0) {
            throw new IllegalArgumentException(in.available() + " trailing bytes in hub message");
        }
    }
}
