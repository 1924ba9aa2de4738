package dev.chorus.jgroups;

import java.io.DataInput;
import java.io.DataOutput;
import java.util.function.Supplier;
import org.jgroups.Header;

/** The plaintext tag on every JGroups message of a Chorus member: wire-format version and secret tag. */
public final class GuardHeader extends Header {

    /** The magic id registered with JGroups' class configurator (user ids start at 1024). */
    static final short MAGIC = 3117;

    int wireVersion;
    long secretTag;

    /** For JGroups' deserialisation. */
    public GuardHeader() {}

    GuardHeader(int wireVersion, long secretTag) {
        this.wireVersion = wireVersion;
        this.secretTag = secretTag;
    }

    @Override
    public short getMagicId() {
        return MAGIC;
    }

    @Override
    public Supplier<? extends Header> create() {
        return GuardHeader::new;
    }

    @Override
    public int serializedSize() {
        return Short.BYTES + Long.BYTES;
    }

    @Override
    public void writeTo(DataOutput out) throws java.io.IOException {
        out.writeShort(wireVersion);
        out.writeLong(secretTag);
    }

    @Override
    public void readFrom(DataInput in) throws java.io.IOException {
        wireVersion = in.readUnsignedShort();
        secretTag = in.readLong();
    }

    @Override
    public String toString() {
        return "wire=" + wireVersion + " secretTag=" + (secretTag == 0 ? "none" : "set");
    }
}
