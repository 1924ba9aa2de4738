package dev.chorus.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One Lua script, run with EVALSHA so only its digest travels; the full text goes by EVAL only when the server
 * answers NOSCRIPT (a new or restarted server, a failover, SCRIPT FLUSH), and that EVAL caches it again.
 */
final class LuaScript {

    private final String name;
    private final String source;
    private final String sha1;

    LuaScript(String name, String source) {
        this.name = name;
        this.source = source;
        this.sha1 = sha1(source);
    }

    /** The script's name, for messages. */
    String name() {
        return name;
    }

    /** The SHA-1 digest Redis knows the script by. */
    String sha1() {
        return sha1;
    }

    /** Runs the script; blocks for at most the connection's command timeout. */
    <T> T run(RedisCommands<String, String> redis, ScriptOutputType type, String[] keys, String... args) {
        try {
            return redis.evalsha(sha1, type, keys, args);
        } catch (RedisNoScriptException e) {
            // NOSCRIPT means the script did not run, so running it now cannot run it twice.
            return redis.eval(source, type, keys, args);
        }
    }

    @Override
    public String toString() {
        return "LuaScript{" + name + " " + sha1 + "}";
    }

    private static String sha1(String source) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-1");
            return HexFormat.of().formatHex(digest.digest(source.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-1", e);
        }
    }
}
